-- estimate_pre_go_live: the pre_go_live method in the common estimate shape: the month's assisted items against
-- all items of the same go-live units in the 3 full months before their go-live (Welch). Biased by any trend
-- over time. A go-live unit qualifies when it has items with the metric in each of those 3 months.
-- grain: one row per workflow, metric, org unit (every level, items pooled over its subtree) and month with assisted items of qualifying go-live units
-- column workflow: the workflow
-- column metric: the measure compared (work_items.metric): staff time or a service level
-- column org_unit: the org unit; items of its whole subtree under qualifying go-live units
-- column month: YYYY-MM of the assisted items
-- column method: always pre_go_live
-- column n_assisted: assisted items of the month with the metric
-- column n_baseline: items with the metric of the 3 full months before each covered go-live unit's go-live
-- column n_without_metric: items of either arm that carry no value of the metric (counted, never imputed)
-- column assisted_mean: mean metric of the assisted items, in the metric's unit
-- column baseline_mean: mean metric of the baseline items
-- column assisted_median: median metric of the assisted items (service-level metrics only; null for staff time)
-- column assisted_p90: 90th percentile of the metric over the assisted items (service-level metrics only)
-- column baseline_median: median metric of the baseline items (service-level metrics only)
-- column baseline_p90: 90th percentile of the metric over the baseline items (service-level metrics only)
-- column saving_per_item: baseline_mean − assisted_mean
-- column saving_se: Welch standard error of saving_per_item: sqrt(var_a / n_a + var_b / n_b)
-- column saving_df: Welch–Satterthwaite degrees of freedom
-- column saving_ci_low: lower 95 % bound when the method computes its own interval; null here (the t interval from saving_se and saving_df applies)
-- column saving_ci_high: upper 95 % bound when the method computes its own interval; null here
-- column assisted_actors: distinct people behind the assisted items
-- column hourly_cost_usd: mean hourly cost of the assisted items' actors (item-weighted, roster rate at the item), USD; null under 11 people
-- column units_covered: the org units whose assisted items the row counts (their baselines are the same units' earlier items), sorted
-- column total_saving_per_item: the same comparison on total agent time (handle + ACW, work_items.total_value); null when the metric has none (letters)
-- column total_saving_se: its Welch standard error
-- column total_saving_df: its Welch–Satterthwaite degrees of freedom
-- column balance_max_smd: largest absolute standardized difference, over the kinds of work (work_items.stratum: queue, letter type), between the assisted items and the baseline items: |p_a − p_b| / sqrt(p̄(1 − p̄)), p̄ the kind's share over both arms
create or replace table estimate_pre_go_live as
with pre_period as (  -- go-live units with items in each of the 3 full months before go-live
  select workflow, metric, go_live_unit, date_trunc('month', go_live_date)::date as go_live_month
  from work_items
  where go_live_date is not null and value is not null
    and month_start >= date_trunc('month', go_live_date)::date - interval 3 month
    and month_start < date_trunc('month', go_live_date)::date
  group by all
  having count(distinct month_start) = 3
),
items as (  -- the items of qualifying go-live units; baseline: those of the 3 months before go-live
  select i.workflow, i.metric, i.metric_kind, i.org_unit, i.actor_key, i.month, i.assisted, i.value,
    i.go_live_unit, c.hourly_cost_usd,
    case when i.value is not null then i.total_value end as total_value, coalesce(i.stratum, '') as stratum,
    i.month_start >= p.go_live_month - interval 3 month and i.month_start < p.go_live_month as in_baseline
  from work_items i
  join pre_period p using (workflow, metric, go_live_unit)
  left join item_costs c on c.workflow = i.workflow and c.item_id = i.item_id
),
assisted_per_actor as (  -- exact decimal sums per person and unit (the same figures in any order; additive up
  -- the tree, so the roll-up joins people, not items)
  select workflow, metric, org_unit, go_live_unit, month, actor_key,
    count(value) as n, count(*) - count(value) as n_without,
    sum(value::decimal(18, 6)) as s1,
    sum(value::decimal(38, 6) * value::decimal(38, 6)) as s2,
    count(total_value) as nt, sum(total_value::decimal(18, 6)) as t1,
    sum(total_value::decimal(38, 6) * total_value::decimal(38, 6)) as t2,
    sum(hourly_cost_usd::decimal(18, 6)) filter (where value is not null) as cost_sum,
    count(hourly_cost_usd) filter (where value is not null) as cost_n
  from items where assisted group by all
),
baseline_per_unit as (
  select workflow, metric, org_unit, go_live_unit,
    count(value) as n, count(*) - count(value) as n_without,
    sum(value::decimal(18, 6)) as s1,
    sum(value::decimal(38, 6) * value::decimal(38, 6)) as s2,
    count(total_value) as nt, sum(total_value::decimal(18, 6)) as t1,
    sum(total_value::decimal(38, 6) * total_value::decimal(38, 6)) as t2
  from items where in_baseline group by all
),
pre_units as (  -- for each subtree and month: the go-live units whose assisted items count
  select distinct a.workflow, a.metric, s.ancestor, a.month, a.go_live_unit
  from assisted_per_actor a join org_subtree s on s.org_unit = a.org_unit
),
assisted_rolled as (
  select a.workflow, a.metric, s.ancestor, a.month,
    sum(a.n)::bigint as n, sum(a.n_without)::bigint as n_without, sum(a.s1) as s1, sum(a.s2) as s2,
    sum(a.nt)::bigint as nt, sum(a.t1) as t1, sum(a.t2) as t2,
    count(distinct a.actor_key) filter (where a.n > 0) as actors,
    sum(a.cost_sum) as cost_sum, sum(a.cost_n)::bigint as cost_n,
    list(distinct a.org_unit order by a.org_unit) as units
  from assisted_per_actor a join org_subtree s on s.org_unit = a.org_unit
  group by all
),
baseline_rolled as (  -- the baselines of the go-live units covered, within the subtree
  select u.workflow, u.metric, u.ancestor, u.month,
    sum(b.n)::bigint as n, sum(b.n_without)::bigint as n_without, sum(b.s1) as s1, sum(b.s2) as s2,
    sum(b.nt)::bigint as nt, sum(b.t1) as t1, sum(b.t2) as t2
  from pre_units u
  join baseline_per_unit b on b.workflow = u.workflow and b.metric = u.metric and b.go_live_unit = u.go_live_unit
  join org_subtree s on s.org_unit = b.org_unit and s.ancestor = u.ancestor
  group by all
),
assisted_quantiles as (  -- medians and 90th percentiles, for service-level metrics (turnaround) only
  select i.workflow, i.metric, s.ancestor, i.month,
    quantile_cont(i.value, 0.5) as median, quantile_cont(i.value, 0.9) as p90
  from items i join org_subtree s on s.org_unit = i.org_unit
  where i.assisted and i.metric_kind = 'service_level'
  group by all
),
baseline_quantiles as (
  select u.workflow, u.metric, u.ancestor, u.month,
    quantile_cont(i.value, 0.5) as median, quantile_cont(i.value, 0.9) as p90
  from pre_units u
  join items i on i.workflow = u.workflow and i.metric = u.metric and i.go_live_unit = u.go_live_unit
    and i.in_baseline and i.metric_kind = 'service_level'
  join org_subtree s on s.org_unit = i.org_unit and s.ancestor = u.ancestor
  group by all
),
assisted as (
  select r.*, q.median, q.p90
  from assisted_rolled r left join assisted_quantiles q using (workflow, metric, ancestor, month)
),
baseline as (
  select r.*, q.median, q.p90
  from baseline_rolled r left join baseline_quantiles q using (workflow, metric, ancestor, month)
),
paired as (
  select a.workflow, a.metric, a.ancestor, a.month,
    a.n as n_a, coalesce(b.n, 0) as n_b, a.n_without + coalesce(b.n_without, 0) as n_without,
    a.s1::double / nullif(a.n, 0) as mean_a, b.s1::double / nullif(b.n, 0) as mean_b,
    (a.s2::double - a.s1::double * a.s1::double / nullif(a.n, 0)) / nullif(a.n - 1, 0) / nullif(a.n, 0) as v_a,
    (b.s2::double - b.s1::double * b.s1::double / nullif(b.n, 0)) / nullif(b.n - 1, 0) / nullif(b.n, 0) as v_b,
    a.median as median_a, a.p90 as p90_a, b.median as median_b, b.p90 as p90_b,
    a.actors, a.cost_sum, a.cost_n, a.units,
    a.nt as nt_a, b.nt as nt_b, a.t1::double / nullif(a.nt, 0) as mean_t_a, b.t1::double / nullif(b.nt, 0) as mean_t_b,
    (a.t2::double - a.t1::double * a.t1::double / nullif(a.nt, 0)) / nullif(a.nt - 1, 0) / nullif(a.nt, 0) as vt_a,
    (b.t2::double - b.t1::double * b.t1::double / nullif(b.nt, 0)) / nullif(b.nt - 1, 0) / nullif(b.nt, 0) as vt_b
  from assisted a left join baseline b using (workflow, metric, ancestor, month)
),
strata_unit as (  -- balance: the kinds of work (queue, letter type) of each arm, per unit and go-live unit
  select workflow, metric, org_unit, go_live_unit, month, assisted, in_baseline, stratum, count(value) as n
  from items where assisted or in_baseline group by all
),
strata_assisted as (
  select x.workflow, x.metric, s.ancestor, x.month, x.stratum, sum(x.n) as n
  from strata_unit x join org_subtree s on s.org_unit = x.org_unit
  where x.assisted group by all
),
strata_baseline as (  -- the baseline items of the go-live units covered, within the subtree
  select u.workflow, u.metric, u.ancestor, u.month, x.stratum, sum(x.n) as n
  from pre_units u
  join strata_unit x on x.workflow = u.workflow and x.metric = u.metric and x.go_live_unit = u.go_live_unit
    and x.in_baseline
  join org_subtree s on s.org_unit = x.org_unit and s.ancestor = u.ancestor
  group by all
),
strata_pairs as (
  select workflow, metric, ancestor, month, stratum, coalesce(a.n, 0) as n_a, coalesce(b.n, 0) as n_b
  from strata_assisted a full join strata_baseline b using (workflow, metric, ancestor, month, stratum)
),
balance as (
  select workflow, metric, ancestor, month,
    max(case when pooled > 0 and pooled < 1 then abs(p_a - p_b) / sqrt(pooled * (1 - pooled)) else 0 end)
      as balance_max_smd
  from (select *, n_a / nullif(sum(n_a) over arms, 0) as p_a, n_b / nullif(sum(n_b) over arms, 0) as p_b,
          (n_a + n_b) / sum(n_a + n_b) over arms as pooled
        from strata_pairs window arms as (partition by workflow, metric, ancestor, month))
  group by all
),
final as (
  select workflow, metric, ancestor as org_unit, month, 'pre_go_live' as method,
    n_a as n_assisted, n_b as n_baseline, n_without as n_without_metric,
    mean_a as assisted_mean, mean_b as baseline_mean,
    median_a as assisted_median, p90_a as assisted_p90, median_b as baseline_median, p90_b as baseline_p90,
    mean_b - mean_a as saving_per_item,
    sqrt(v_a + v_b) as saving_se,
    welch_df(v_a, v_b, n_a, n_b) as saving_df,
    null::double as saving_ci_low, null::double as saving_ci_high,
    actors as assisted_actors,
    case when actors >= 11 then cost_sum::double / nullif(cost_n, 0) end as hourly_cost_usd,
    units as units_covered,
    mean_t_b - mean_t_a as total_saving_per_item,
    sqrt(vt_a + vt_b) as total_saving_se,
    welch_df(vt_a, vt_b, nt_a, nt_b) as total_saving_df,
    b.balance_max_smd
  from paired
  left join balance b using (workflow, metric, ancestor, month)
)
select * from final order by workflow, metric, month, org_unit;
