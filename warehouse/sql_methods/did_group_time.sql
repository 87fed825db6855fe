-- did_group_time: staggered difference-in-differences over go-live dates (Callaway & Sant'Anna, unconditional):
-- for every org unit, the effect of going live on its units' mean item metric, per go-live cohort and month
-- (with the pre-period placebos) and per month over every cohort live in it; the saving per assisted item with a
-- 95 % interval clustered by person, and the joint pre-trend placebo test.
-- Units are the org units that hold items; cells are unit × month means. Controls: units never live or not yet
-- live in the month (set variable did_control_group = 'never_treated' for never-live units only).
-- grain: one row per workflow, org unit (every level), month and cohort; cohort null: the month's estimate
-- column workflow: the workflow
-- column metric: the workflow's metric (acw_seconds, work_seconds)
-- column org_unit: the org unit; its treated units are the units of its subtree (controls come from the whole organization)
-- column month: YYYY-MM
-- column cohort: go-live month of the treated units (YYYY-MM); null on the month's row, which pools every cohort live in the month
-- column kind: pre (placebo: a month before the cohort's go-live against the month before it), post (a month from go-live on against the month before go-live) or month (the month's estimate: post rows pooled, each unit weighted by its items in the month)
-- column base_month: the month compared with (YYYY-MM); null on month rows (each cohort has its own)
-- column n_treated_units: treated units (org units holding items) in the estimate
-- column n_control_units: distinct control units (never or not yet live, items in both months)
-- column n_items: items of the treated units in the month
-- column n_assisted: assisted items among them
-- column n_people: people with items in any cell of the estimate (the clusters of the interval)
-- column share_assisted: n_assisted / n_items (pooled with the same unit weights as att)
-- column att: effect of going live on the mean item metric of the treated units, in the metric's unit (difference-in-differences; negative when the metric drops)
-- column att_se: standard error of att, clustered by person
-- column saving_per_item: saving per assisted item = −att / share_assisted (post and month rows)
-- column saving_se: standard error of saving_per_item (delta method for the ratio, clustered by person)
-- column df: degrees of freedom of the interval: n_people − 1
-- column saving_ci_low: lower bound of the 95 % interval of saving_per_item (t with df)
-- column saving_ci_high: upper bound of the 95 % interval of saving_per_item
-- column total_saving_per_item: the same saving measured on total agent time (handle + ACW); null for letters
-- column total_saving_ci_low: lower bound of its 95 % interval
-- column total_saving_ci_high: upper bound of its 95 % interval
-- column pretrend_p: p-value of the joint Wald test that every pre row of the contributing cohorts is zero (chi-square); null without pre rows
-- column pretrend_periods: pre rows in that test
create or replace table did_group_time as
with params as (
  select coalesce(getvariable('did_control_group'), 'not_yet_treated') as control_group
),
items as (
  select workflow, metric, org_unit as unit, actor_key, month_start, value, total_value, assisted::int as d,
    date_trunc('month', go_live_date)::date as cohort
  from work_items
),
-- cells: unit × month means; person_cells: each person's share of a cell (the interval clusters by person).
-- CTEs read more than once are materialized.
cells as materialized (
  select workflow, unit, month_start, any_value(cohort) as cohort, count(*) as n, avg(value) as y,
    avg(total_value) as z, avg(d) as d
  from items group by workflow, unit, month_start
),
person_cells as materialized (
  select workflow, unit, month_start, actor_key, count(*) as n, sum(value) as sy, sum(total_value) as sz,
    sum(d) as sd
  from items group by workflow, unit, month_start, actor_key
),
periods as (
  select distinct workflow, metric, month_start from items
),
-- comparisons: for each cohort and month, the base period: the last month with items before the cohort's go-live
-- (post) or before the month (pre; the varying base period of Callaway & Sant'Anna)
comparisons as (
  select c.workflow, c.cohort, p.month_start, p.month_start >= c.cohort as post,
    (select max(b.month_start) from periods b where b.workflow = c.workflow
       and b.month_start < least(p.month_start, c.cohort)) as base_month
  from (select distinct workflow, cohort from cells where cohort is not null) c
  join periods p on p.workflow = c.workflow
),
control_units as materialized (
  select k.workflow, k.cohort, k.month_start, k.base_month, ct.unit, ct.y - cb.y as dy, ct.z - cb.z as dz
  from comparisons k
  cross join params
  join cells ct on ct.workflow = k.workflow and ct.month_start = k.month_start
  join cells cb on cb.workflow = k.workflow and cb.unit = ct.unit and cb.month_start = k.base_month
  where ct.cohort is null
    or (params.control_group = 'not_yet_treated' and ct.cohort > k.month_start and ct.cohort <> k.cohort)
),
control_trend as materialized (
  select workflow, cohort, month_start, count(*) as n_controls
  from control_units group by workflow, cohort, month_start
),
-- treated units: each unit of a cohort with items in the month and the base month, for each of its ancestors
treated_units as materialized (
  select s.ancestor as org_unit, k.workflow, k.cohort as unit_cohort, k.month_start, k.base_month, k.post, ut.unit,
    ut.n, ut.n * ut.d as n_assisted
  from comparisons k
  join control_trend c on c.workflow = k.workflow and c.cohort = k.cohort and c.month_start = k.month_start
  join cells ut on ut.workflow = k.workflow and ut.cohort = k.cohort and ut.month_start = k.month_start
  join cells ub on ub.workflow = k.workflow and ub.unit = ut.unit and ub.month_start = k.base_month
  join org_subtree s on s.org_unit = ut.unit
),
-- estimates: per cohort (pre and post), and per month over the post cohorts (cohort key 9999-01-01);
-- a treated unit weighs its items in the month (one each in a one-item-per-cell panel, as Callaway & Sant'Anna)
estimates as materialized (
  select org_unit, workflow, month_start, unit_cohort as cohort, unit_cohort, base_month, post, unit, n, n_assisted,
    n / sum(n) over (partition by org_unit, workflow, month_start, unit_cohort) as w
  from treated_units
  union all
  select org_unit, workflow, month_start, date '9999-01-01', unit_cohort, base_month, post, unit, n, n_assisted,
    n / sum(n) over (partition by org_unit, workflow, month_start) as w
  from treated_units where post
),
cohort_weights as materialized (
  select org_unit, workflow, month_start, cohort, unit_cohort, any_value(base_month) as base_month, sum(w) as w
  from estimates group by org_unit, workflow, month_start, cohort, unit_cohort
),
-- cell weights: att = Σ w · cell mean; share_assisted = Σ wd · cell share
cell_weights as materialized (
  select org_unit, workflow, month_start, cohort, unit, cell_month, sum(w) as w, sum(wd) as wd
  from (
    select org_unit, workflow, month_start, cohort, unit, month_start as cell_month, w, w as wd from estimates
    union all
    select org_unit, workflow, month_start, cohort, unit, base_month, -w, 0 from estimates
    union all
    select cw.org_unit, cw.workflow, cw.month_start, cw.cohort, cu.unit, cw.month_start, -cw.w / ct.n_controls, 0
    from cohort_weights cw
    join control_trend ct on ct.workflow = cw.workflow and ct.cohort = cw.unit_cohort
      and ct.month_start = cw.month_start
    join control_units cu on cu.workflow = cw.workflow and cu.cohort = cw.unit_cohort
      and cu.month_start = cw.month_start
    union all
    select cw.org_unit, cw.workflow, cw.month_start, cw.cohort, cu.unit, cw.base_month, cw.w / ct.n_controls, 0
    from cohort_weights cw
    join control_trend ct on ct.workflow = cw.workflow and ct.cohort = cw.unit_cohort
      and ct.month_start = cw.month_start
    join control_units cu on cu.workflow = cw.workflow and cu.cohort = cw.unit_cohort
      and cu.month_start = cw.month_start
  )
  group by org_unit, workflow, month_start, cohort, unit, cell_month
),
points as materialized (
  select w.org_unit, w.workflow, w.month_start, w.cohort, sum(w.w * c.y) as att, sum(w.w * c.z) as att_z,
    sum(w.wd * c.d) as share
  from cell_weights w
  join cells c on c.workflow = w.workflow and c.unit = w.unit and c.month_start = w.cell_month
  group by w.org_unit, w.workflow, w.month_start, w.cohort
),
-- scores: each person's influence on the estimate (Σ over the person's cells of weight × residual sum / cell size)
scores as materialized (
  select w.org_unit, w.workflow, w.month_start, w.cohort, pc.actor_key,
    sum(w.w * (pc.sy - pc.n * c.y) / c.n) as s_y,
    sum(w.w * (pc.sz - pc.n * c.z) / c.n) as s_z,
    sum(w.wd * (pc.sd - pc.n * c.d) / c.n) as s_d
  from cell_weights w
  join cells c on c.workflow = w.workflow and c.unit = w.unit and c.month_start = w.cell_month
  join person_cells pc on pc.workflow = w.workflow and pc.unit = w.unit and pc.month_start = w.cell_month
  group by w.org_unit, w.workflow, w.month_start, w.cohort, pc.actor_key
),
-- saving = −att / share; its score (−s_y − saving · s_d) / share (delta method); CR1 factor G / (G − 1)
variances as (
  select p.org_unit, p.workflow, p.month_start, p.cohort, count(*) as n_people,
    count(*) / nullif(count(*) - 1, 0) as cr1,
    sum(s.s_y * s.s_y) as ss_att,
    sum(pow(-s.s_y + p.att / p.share * s.s_d, 2)) / pow(p.share, 2) as ss_saving,
    sum(pow(-s.s_z + p.att_z / p.share * s.s_d, 2)) / pow(p.share, 2) as ss_total
  from points p
  join scores s on s.org_unit = p.org_unit and s.workflow = p.workflow and s.month_start = p.month_start
    and s.cohort = p.cohort
  group by p.org_unit, p.workflow, p.month_start, p.cohort, p.att, p.att_z, p.share
),
-- the pre-trend test: pre rows of the contributing cohorts, their covariance from the person scores
pre_rows as (
  select p.org_unit, p.workflow, p.month_start, p.cohort, p.att
  from points p where p.cohort <> date '9999-01-01' and p.month_start < p.cohort
),
pre_scores as materialized (
  select s.* from scores s
  join pre_rows r on r.org_unit = s.org_unit and r.workflow = s.workflow and r.month_start = s.month_start
    and r.cohort = s.cohort
),
pre_people as (
  select org_unit, workflow, count(distinct actor_key) as g from pre_scores group by org_unit, workflow
),
pre_cov as (
  select a.org_unit, a.workflow, a.cohort as c1, a.month_start as m1, b.cohort as c2, b.month_start as m2,
    sum(a.s_y * b.s_y) * any_value(g.g) / nullif(any_value(g.g) - 1, 0) as cov
  from pre_scores a
  join pre_scores b on b.org_unit = a.org_unit and b.workflow = a.workflow and b.actor_key = a.actor_key
  join pre_people g on g.org_unit = a.org_unit and g.workflow = a.workflow
  group by a.org_unit, a.workflow, a.cohort, a.month_start, b.cohort, b.month_start
),
test_members as materialized (  -- post rows test their cohort; month rows every cohort live in the month
  select cw.org_unit, cw.workflow, cw.month_start, cw.cohort, r.cohort as pc, r.month_start as pm, r.att
  from (select distinct org_unit, workflow, month_start, cohort, unit_cohort from cohort_weights) cw
  join pre_rows r on r.org_unit = cw.org_unit and r.workflow = cw.workflow and r.cohort = cw.unit_cohort
  where cw.month_start >= cw.unit_cohort
),
test_vectors as (
  select org_unit, workflow, month_start, cohort, list(att order by pc, pm) as b, count(*) as k
  from test_members group by org_unit, workflow, month_start, cohort
),
test_matrices as (
  select a.org_unit, a.workflow, a.month_start, a.cohort, list(coalesce(v.cov, 0) order by a.pc, a.pm, b.pc, b.pm) as m
  from test_members a
  join test_members b on b.org_unit = a.org_unit and b.workflow = a.workflow and b.month_start = a.month_start
    and b.cohort = a.cohort
  left join pre_cov v on v.org_unit = a.org_unit and v.workflow = a.workflow and v.c1 = a.pc and v.m1 = a.pm
    and v.c2 = b.pc and v.m2 = b.pm
  group by a.org_unit, a.workflow, a.month_start, a.cohort
),
tests as (
  select v.org_unit, v.workflow, v.month_start, v.cohort, wald_pvalue(v.b, m.m) as pretrend_p, v.k
  from test_vectors v
  join test_matrices m on m.org_unit = v.org_unit and m.workflow = v.workflow and m.month_start = v.month_start
    and m.cohort = v.cohort
),
sizes as (
  select e.org_unit, e.workflow, e.month_start, e.cohort, count(distinct e.unit) as n_treated_units,
    sum(e.n) as n_items, sum(e.n_assisted) as n_assisted, any_value(e.base_month) as base_month,
    count(distinct e.unit_cohort) as cohorts
  from estimates e group by e.org_unit, e.workflow, e.month_start, e.cohort
),
controls as (
  select cw.org_unit, cw.workflow, cw.month_start, cw.cohort, count(distinct cu.unit) as n_control_units
  from cohort_weights cw
  join control_units cu on cu.workflow = cw.workflow and cu.cohort = cw.unit_cohort
    and cu.month_start = cw.month_start
  group by cw.org_unit, cw.workflow, cw.month_start, cw.cohort
),
figures as (
  select p.*, z.n_treated_units, z.n_items, z.n_assisted, z.base_month, c.n_control_units, v.n_people, v.cr1,
    v.ss_att, v.ss_saving, v.ss_total, t.pretrend_p, t.k,
    case when p.cohort = date '9999-01-01' then 'month' when p.month_start < p.cohort then 'pre' else 'post' end
      as kind,
    q.t975
  from points p
  join sizes z on z.org_unit = p.org_unit and z.workflow = p.workflow and z.month_start = p.month_start
    and z.cohort = p.cohort
  join controls c on c.org_unit = p.org_unit and c.workflow = p.workflow and c.month_start = p.month_start
    and c.cohort = p.cohort
  join variances v on v.org_unit = p.org_unit and v.workflow = p.workflow and v.month_start = p.month_start
    and v.cohort = p.cohort
  left join tests t on t.org_unit = p.org_unit and t.workflow = p.workflow and t.month_start = p.month_start
    and t.cohort = p.cohort
  left join t_quantiles q on q.df = least(greatest(v.n_people - 1, 1), 1000)
),
final as (
  select f.workflow, m.metric, f.org_unit, strftime(f.month_start, '%Y-%m') as month,
    case when f.kind <> 'month' then strftime(f.cohort, '%Y-%m') end as cohort,
    f.kind,
    case when f.kind <> 'month' then strftime(f.base_month, '%Y-%m') end as base_month,
    f.n_treated_units, f.n_control_units, f.n_items, f.n_assisted, f.n_people,
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
    case when f.kind <> 'pre' then coalesce(f.k, 0) end as pretrend_periods
  from figures f
  join (select distinct workflow, metric from periods) m on m.workflow = f.workflow
)
select * from final order by workflow, org_unit, month, kind, cohort
