-- did_group_time: staggered difference-in-differences over go-live dates (Callaway & Sant'Anna, unconditional):
-- for every org unit, the effect of going live on its units' mean item metric, per go-live cohort and month
-- (with the pre-period placebos) and per month over every cohort live in it; the saving per assisted item with a
-- 95 % interval clustered by person, and the joint pre-trend placebo test. The month rows are the did method
-- (estimate_did); the cohort rows are here for reviewers: which go-live cohort drives a month, and which placebo
-- fails. Units are the org units that hold items; cells are unit × month means of the items with the metric.
-- Controls: units never live or not yet live in the month (set variable did_control_group = 'never_treated' for
-- never-live units only). Unsuppressed: an analyst's table; the finance tables suppress small cells.
-- grain: one row per workflow, metric, org unit (every level), month and cohort; cohort null: the month's estimate
-- column workflow: the workflow
-- column metric: the measure compared (work_items.metric): staff time or a service level
-- column org_unit: the org unit; its treated units are the units of its subtree (controls come from the whole organization)
-- column month: YYYY-MM
-- column cohort: go-live month of the treated units (YYYY-MM); null on the month's row, which pools every cohort live in the month
-- column kind: pre (placebo: a month before the cohort's go-live against the month before it), post (a month from go-live on against the month before go-live) or month (the month's estimate: post rows pooled, each unit weighted by its items in the month)
-- column base_month: the month compared with (YYYY-MM); null on month rows (each cohort has its own)
-- column treated_units: the treated units (org units holding items) in the estimate, sorted
-- column n_treated_units: how many
-- column n_control_units: distinct control units (never or not yet live, items in both months)
-- column n_items: items with the metric of the treated units in the month
-- column n_assisted: assisted items among them
-- column n_comparison: items with the metric of the other cells the estimate compares with: the treated units' base months, the control units' month and base months (each cell once)
-- column n_without_metric: items without the metric in all the estimate's cells (counted, never imputed)
-- column n_people: people with items in any cell of the estimate (the clusters of the interval)
-- column assisted_mean: mean metric of the treated units' assisted items in the month
-- column share_assisted: n_assisted / n_items, pooled with the same unit weights as att
-- column att: effect of going live on the mean item metric of the treated units, in the metric's unit (difference-in-differences; negative when the metric drops)
-- column att_se: standard error of att, clustered by person
-- column saving_per_item: saving per assisted item = −att / share_assisted (post and month rows)
-- column saving_se: standard error of saving_per_item (delta method for the ratio, clustered by person)
-- column df: degrees of freedom of the interval: n_people − 1
-- column saving_ci_low: lower bound of the 95 % interval of saving_per_item (t with df)
-- column saving_ci_high: upper bound of the 95 % interval of saving_per_item
-- column total_saving_per_item: the same saving measured on total agent time (handle + ACW, work_items.total_value); null for letters
-- column total_saving_ci_low: lower bound of its 95 % interval
-- column total_saving_ci_high: upper bound of its 95 % interval
-- column pretrend_p: p-value of the joint Wald test that every pre row of the contributing cohorts is zero (chi-square, covariance from the person scores); null without pre rows
-- column pretrend_periods: pre rows in that test
-- column balance_max_smd: largest absolute standardized difference, over the kinds of work (work_items.stratum), between the treated units' items in the month and in their base months: |p₁ − p₀| / sqrt(p̄(1 − p̄)), p̄ the kind's share over both
create or replace table did_group_time as
with params as (
  select coalesce(getvariable('did_control_group'), 'not_yet_treated') as control_group
),
items as (  -- items with the metric; a unit's cohort is the month its go-live falls in
  select workflow, metric, org_unit as unit, actor_key, month_start, value, total_value, assisted::int as d,
    coalesce(stratum, '') as stratum, date_trunc('month', go_live_date)::date as cohort
  from work_items where value is not null
),
missing as (  -- items without the metric, per cell
  select workflow, metric, org_unit as unit, month_start, count(*) as n_missing
  from work_items where value is null group by all
),
-- cells: unit × month means from exact decimal sums (the same bits whatever the order of a parallel
-- aggregation); person_cells: each person's share of a cell (the interval clusters by person).
-- CTEs read more than once are materialized; every sum of doubles below is an exact decimal sum too.
cells as materialized (
  select workflow, metric, unit, month_start, min(cohort) as cohort, count(*) as n,
    sum(value::decimal(38, 18))::double / count(*) as y,
    sum(total_value::decimal(38, 18))::double / count(*) as z,
    sum(d) / count(*) as d, sum(d)::bigint as n1,
    sum(value::decimal(38, 18)) filter (where d = 1) as sy1
  from items group by all
),
person_cells as materialized (
  select workflow, metric, unit, month_start, actor_key, count(*) as n, sum(value::decimal(38, 18))::double as sy,
    sum(total_value::decimal(38, 18))::double as sz, sum(d) as sd
  from items group by all
),
cell_strata as materialized (
  select workflow, metric, unit, month_start, stratum, count(*) as n from items group by all
),
periods as (
  select distinct workflow, metric, month_start from cells
),
-- comparisons: for each cohort and month, the base period: the last month with items before the cohort's go-live
-- (post) or before the month (pre; the varying base period of Callaway & Sant'Anna)
comparisons as (
  select c.workflow, c.metric, c.cohort, p.month_start, p.month_start >= c.cohort as post,
    (select max(b.month_start) from periods b where b.workflow = c.workflow and b.metric = c.metric
       and b.month_start < least(p.month_start, c.cohort)) as base_month
  from (select distinct workflow, metric, cohort from cells where cohort is not null) c
  join periods p on p.workflow = c.workflow and p.metric = c.metric
),
control_units as materialized (
  select k.workflow, k.metric, k.cohort, k.month_start, k.base_month, ct.unit
  from comparisons k
  cross join params
  join cells ct on ct.workflow = k.workflow and ct.metric = k.metric and ct.month_start = k.month_start
  join cells cb on cb.workflow = k.workflow and cb.metric = k.metric and cb.unit = ct.unit
    and cb.month_start = k.base_month
  where ct.cohort is null
    or (params.control_group = 'not_yet_treated' and ct.cohort > k.month_start and ct.cohort <> k.cohort)
),
control_trend as materialized (
  select workflow, metric, cohort, month_start, count(*) as n_controls
  from control_units group by all
),
-- treated units: each unit of a cohort with items in the month and the base month, for each of its ancestors
treated_units as materialized (
  select s.ancestor as org_unit, k.workflow, k.metric, k.cohort as unit_cohort, k.month_start, k.base_month,
    k.post, ut.unit, ut.n, ut.n1, ut.sy1
  from comparisons k
  join control_trend c on c.workflow = k.workflow and c.metric = k.metric and c.cohort = k.cohort
    and c.month_start = k.month_start
  join cells ut on ut.workflow = k.workflow and ut.metric = k.metric and ut.cohort = k.cohort
    and ut.month_start = k.month_start
  join cells ub on ub.workflow = k.workflow and ub.metric = k.metric and ub.unit = ut.unit
    and ub.month_start = k.base_month
  join org_subtree s on s.org_unit = ut.unit
),
-- estimates: per cohort (pre and post), and per month over the post cohorts (cohort key 9999-01-01);
-- a treated unit weighs its items in the month (one each in a one-item-per-cell panel, as Callaway & Sant'Anna)
estimates as materialized (
  select org_unit, workflow, metric, month_start, unit_cohort as cohort, unit_cohort, base_month, post, unit, n,
    n1, sy1, n / sum(n) over (partition by org_unit, workflow, metric, month_start, unit_cohort) as w
  from treated_units
  union all
  select org_unit, workflow, metric, month_start, date '9999-01-01', unit_cohort, base_month, post, unit, n,
    n1, sy1, n / sum(n) over (partition by org_unit, workflow, metric, month_start) as w
  from treated_units where post
),
cohort_weights as materialized (
  select org_unit, workflow, metric, month_start, cohort, unit_cohort, any_value(base_month) as base_month,
    sum(w::decimal(38, 18))::double as w
  from estimates group by all
),
-- cell weights: att = Σ w · cell mean; share_assisted = Σ wd · cell share
cell_weights as materialized (
  select org_unit, workflow, metric, month_start, cohort, unit, cell_month,
    sum(w::decimal(38, 18))::double as w, sum(wd::decimal(38, 18))::double as wd
  from (
    select org_unit, workflow, metric, month_start, cohort, unit, month_start as cell_month, w, w as wd
    from estimates
    union all
    select org_unit, workflow, metric, month_start, cohort, unit, base_month, -w, 0 from estimates
    union all
    select cw.org_unit, cw.workflow, cw.metric, cw.month_start, cw.cohort, cu.unit, cw.month_start,
      -cw.w / ct.n_controls, 0
    from cohort_weights cw
    join control_trend ct on ct.workflow = cw.workflow and ct.metric = cw.metric and ct.cohort = cw.unit_cohort
      and ct.month_start = cw.month_start
    join control_units cu on cu.workflow = cw.workflow and cu.metric = cw.metric and cu.cohort = cw.unit_cohort
      and cu.month_start = cw.month_start
    union all
    select cw.org_unit, cw.workflow, cw.metric, cw.month_start, cw.cohort, cu.unit, cw.base_month,
      cw.w / ct.n_controls, 0
    from cohort_weights cw
    join control_trend ct on ct.workflow = cw.workflow and ct.metric = cw.metric and ct.cohort = cw.unit_cohort
      and ct.month_start = cw.month_start
    join control_units cu on cu.workflow = cw.workflow and cu.metric = cw.metric and cu.cohort = cw.unit_cohort
      and cu.month_start = cw.month_start
  )
  group by all
),
points as materialized (
  select w.org_unit, w.workflow, w.metric, w.month_start, w.cohort,
    sum((w.w * c.y)::decimal(38, 18))::double as att,
    sum((w.w * c.z)::decimal(38, 18))::double as att_z,
    sum((w.wd * c.d)::decimal(38, 18))::double as share
  from cell_weights w
  join cells c on c.workflow = w.workflow and c.metric = w.metric and c.unit = w.unit and c.month_start = w.cell_month
  group by all
),
-- scores: each person's influence on the estimate (Σ over the person's cells of weight × residual sum / cell size)
scores as materialized (
  select w.org_unit, w.workflow, w.metric, w.month_start, w.cohort, pc.actor_key,
    sum((w.w * (pc.sy - pc.n * c.y) / c.n)::decimal(38, 18))::double as s_y,
    sum((w.w * (pc.sz - pc.n * c.z) / c.n)::decimal(38, 18))::double as s_z,
    sum((w.wd * (pc.sd - pc.n * c.d) / c.n)::decimal(38, 18))::double as s_d
  from cell_weights w
  join cells c on c.workflow = w.workflow and c.metric = w.metric and c.unit = w.unit and c.month_start = w.cell_month
  join person_cells pc on pc.workflow = w.workflow and pc.metric = w.metric and pc.unit = w.unit
    and pc.month_start = w.cell_month
  group by all
),
-- saving = −att / share; its score (−s_y − saving · s_d) / share (delta method); CR1 factor G / (G − 1)
variances as (
  select p.org_unit, p.workflow, p.metric, p.month_start, p.cohort, count(*) as n_people,
    count(*) / nullif(count(*) - 1, 0) as cr1,
    sum((s.s_y * s.s_y)::decimal(38, 12))::double as ss_att,
    sum(pow(-s.s_y + p.att / nullif(p.share, 0) * s.s_d, 2)::decimal(38, 12))::double / pow(p.share, 2)
      as ss_saving,
    sum(pow(-s.s_z + p.att_z / nullif(p.share, 0) * s.s_d, 2)::decimal(38, 12))::double / pow(p.share, 2)
      as ss_total
  from points p
  join scores s on s.org_unit = p.org_unit and s.workflow = p.workflow and s.metric = p.metric
    and s.month_start = p.month_start and s.cohort = p.cohort
  group by p.org_unit, p.workflow, p.metric, p.month_start, p.cohort, p.att, p.att_z, p.share
),
-- the pre-trend test: pre rows of the contributing cohorts, their covariance from the person scores
pre_rows as (
  select p.org_unit, p.workflow, p.metric, p.month_start, p.cohort, p.att
  from points p where p.cohort <> date '9999-01-01' and p.month_start < p.cohort
),
pre_scores as materialized (
  select s.* from scores s
  join pre_rows r on r.org_unit = s.org_unit and r.workflow = s.workflow and r.metric = s.metric
    and r.month_start = s.month_start and r.cohort = s.cohort
),
pre_people as (
  select org_unit, workflow, metric, count(distinct actor_key) as g from pre_scores group by all
),
pre_cov as (
  select a.org_unit, a.workflow, a.metric, a.cohort as c1, a.month_start as m1, b.cohort as c2, b.month_start as m2,
    sum((a.s_y * b.s_y)::decimal(38, 12))::double * any_value(g.g) / nullif(any_value(g.g) - 1, 0) as cov
  from pre_scores a
  join pre_scores b on b.org_unit = a.org_unit and b.workflow = a.workflow and b.metric = a.metric
    and b.actor_key = a.actor_key
  join pre_people g on g.org_unit = a.org_unit and g.workflow = a.workflow and g.metric = a.metric
  group by a.org_unit, a.workflow, a.metric, a.cohort, a.month_start, b.cohort, b.month_start
),
test_members as materialized (  -- post rows test their cohort; month rows every cohort live in the month
  select cw.org_unit, cw.workflow, cw.metric, cw.month_start, cw.cohort, r.cohort as pc, r.month_start as pm, r.att
  from (select distinct org_unit, workflow, metric, month_start, cohort, unit_cohort from cohort_weights) cw
  join pre_rows r on r.org_unit = cw.org_unit and r.workflow = cw.workflow and r.metric = cw.metric
    and r.cohort = cw.unit_cohort
  where cw.month_start >= cw.unit_cohort
),
test_vectors as (
  select org_unit, workflow, metric, month_start, cohort, list(att order by pc, pm) as b, count(*) as k
  from test_members group by all
),
test_matrices as (
  select a.org_unit, a.workflow, a.metric, a.month_start, a.cohort,
    list(coalesce(v.cov, 0) order by a.pc, a.pm, b.pc, b.pm) as m
  from test_members a
  join test_members b on b.org_unit = a.org_unit and b.workflow = a.workflow and b.metric = a.metric
    and b.month_start = a.month_start and b.cohort = a.cohort
  left join pre_cov v on v.org_unit = a.org_unit and v.workflow = a.workflow and v.metric = a.metric
    and v.c1 = a.pc and v.m1 = a.pm and v.c2 = b.pc and v.m2 = b.pm
  group by a.org_unit, a.workflow, a.metric, a.month_start, a.cohort
),
tests as (
  select v.org_unit, v.workflow, v.metric, v.month_start, v.cohort, wald_pvalue(v.b, m.m) as pretrend_p, v.k
  from test_vectors v
  join test_matrices m using (org_unit, workflow, metric, month_start, cohort)
),
sizes as (
  select org_unit, workflow, metric, month_start, cohort, count(distinct unit) as n_treated_units,
    list(distinct unit order by unit) as treated_units,
    sum(n)::bigint as n_items, sum(n1)::bigint as n_assisted, sum(sy1)::double / nullif(sum(n1), 0) as assisted_mean,
    any_value(base_month) as base_month
  from estimates group by all
),
cells_used as (  -- every cell of each estimate, once; the treated units' cells of the month are its items
  select w.org_unit, w.workflow, w.metric, w.month_start, w.cohort, c.n, coalesce(m.n_missing, 0) as n_missing,
    w.cell_month = w.month_start and e.unit is not null as treated_now
  from cell_weights w
  join cells c on c.workflow = w.workflow and c.metric = w.metric and c.unit = w.unit and c.month_start = w.cell_month
  left join missing m on m.workflow = w.workflow and m.metric = w.metric and m.unit = w.unit
    and m.month_start = w.cell_month
  left join (select distinct org_unit, workflow, metric, month_start, cohort, unit from estimates) e
    on e.org_unit = w.org_unit and e.workflow = w.workflow and e.metric = w.metric
    and e.month_start = w.month_start and e.cohort = w.cohort and e.unit = w.unit
),
comparison_sizes as (
  select org_unit, workflow, metric, month_start, cohort,
    coalesce(sum(n) filter (where not treated_now), 0)::bigint as n_comparison,
    sum(n_missing)::bigint as n_without_metric
  from cells_used group by all
),
controls as (
  select cw.org_unit, cw.workflow, cw.metric, cw.month_start, cw.cohort, count(distinct cu.unit) as n_control_units
  from cohort_weights cw
  join control_units cu on cu.workflow = cw.workflow and cu.metric = cw.metric and cu.cohort = cw.unit_cohort
    and cu.month_start = cw.month_start
  group by all
),
-- balance: the kinds of work of the treated units' items in the month against their base months
strata_arms as (
  select e.org_unit, e.workflow, e.metric, e.month_start, e.cohort, x.stratum,
    coalesce(sum(x.n) filter (where x.month_start = e.month_start), 0) as a,
    coalesce(sum(x.n) filter (where x.month_start = e.base_month), 0) as b
  from estimates e
  join cell_strata x on x.workflow = e.workflow and x.metric = e.metric and x.unit = e.unit
    and (x.month_start = e.month_start or x.month_start = e.base_month)
  group by all
),
strata_shares as (
  select *, a / sum(a) over arms as p1, b / sum(b) over arms as p0, (a + b) / sum(a + b) over arms as pooled
  from strata_arms
  window arms as (partition by org_unit, workflow, metric, month_start, cohort)
),
balance as (
  select org_unit, workflow, metric, month_start, cohort,
    max(case when pooled > 0 and pooled < 1 then abs(p1 - p0) / sqrt(pooled * (1 - pooled)) else 0 end)
      as balance_max_smd
  from strata_shares group by all
),
figures as (
  select p.*, z.n_treated_units, z.treated_units, z.n_items, z.n_assisted, z.assisted_mean, z.base_month,
    x.n_comparison, x.n_without_metric, c.n_control_units, v.n_people, v.cr1, v.ss_att, v.ss_saving, v.ss_total,
    t.pretrend_p, t.k, b.balance_max_smd,
    case when p.cohort = date '9999-01-01' then 'month' when p.month_start < p.cohort then 'pre' else 'post' end
      as kind,
    q.t975
  from points p
  join sizes z using (org_unit, workflow, metric, month_start, cohort)
  join comparison_sizes x using (org_unit, workflow, metric, month_start, cohort)
  join controls c using (org_unit, workflow, metric, month_start, cohort)
  join variances v using (org_unit, workflow, metric, month_start, cohort)
  left join tests t using (org_unit, workflow, metric, month_start, cohort)
  left join balance b using (org_unit, workflow, metric, month_start, cohort)
  left join t_quantiles q on q.df = least(greatest(v.n_people - 1, 1), 1000)
),
final as (
  select f.workflow, f.metric, f.org_unit, strftime(f.month_start, '%Y-%m') as month,
    case when f.kind <> 'month' then strftime(f.cohort, '%Y-%m') end as cohort,
    f.kind,
    case when f.kind <> 'month' then strftime(f.base_month, '%Y-%m') end as base_month,
    f.treated_units, f.n_treated_units, f.n_control_units, f.n_items, f.n_assisted, f.n_comparison,
    f.n_without_metric, f.n_people, f.assisted_mean,
    f.share as share_assisted, f.att, sqrt(f.cr1 * f.ss_att) as att_se,
    case when f.kind <> 'pre' then -f.att / nullif(f.share, 0) end as saving_per_item,
    case when f.kind <> 'pre' and f.share > 0 then sqrt(f.cr1 * f.ss_saving) end as saving_se,
    f.n_people - 1 as df,
    case when f.kind <> 'pre' and f.share > 0 then -f.att / f.share - f.t975 * sqrt(f.cr1 * f.ss_saving) end
      as saving_ci_low,
    case when f.kind <> 'pre' and f.share > 0 then -f.att / f.share + f.t975 * sqrt(f.cr1 * f.ss_saving) end
      as saving_ci_high,
    case when f.kind <> 'pre' then -f.att_z / nullif(f.share, 0) end as total_saving_per_item,
    case when f.kind <> 'pre' and f.share > 0 then -f.att_z / f.share - f.t975 * sqrt(f.cr1 * f.ss_total) end
      as total_saving_ci_low,
    case when f.kind <> 'pre' and f.share > 0 then -f.att_z / f.share + f.t975 * sqrt(f.cr1 * f.ss_total) end
      as total_saving_ci_high,
    case when f.kind <> 'pre' then f.pretrend_p end as pretrend_p,
    case when f.kind <> 'pre' then coalesce(f.k, 0) end as pretrend_periods,
    f.balance_max_smd
  from figures f
)
select * from final order by workflow, metric, org_unit, month, kind, cohort
