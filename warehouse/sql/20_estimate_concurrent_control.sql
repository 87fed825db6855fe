-- estimate_concurrent_control: the concurrent_control method in the common estimate shape: assisted items against
-- the unassisted items of live units, same workflow, metric, subtree and month, with Welch's standard error and
-- degrees of freedom. One of the method models that workflow_attribution_monthly and service_level_monthly unite.
-- grain: one row per workflow, metric, org unit (every level, items pooled over its subtree) and month with assisted items
-- column workflow: the workflow
-- column metric: the measure compared (work_items.metric): staff time or a service level
-- column org_unit: the org unit; items of its whole subtree
-- column month: YYYY-MM of the items
-- column method: always concurrent_control
-- column n_assisted: assisted items with the metric
-- column n_baseline: unassisted items of live units with the metric
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
-- column units_covered: the org units whose items the row counts (assisted and baseline arms), sorted
-- column total_saving_per_item: the same comparison on total agent time (handle + ACW, work_items.total_value); null when the metric has none (letters)
-- column total_saving_se: its Welch standard error
-- column total_saving_df: its Welch–Satterthwaite degrees of freedom
-- column balance_max_smd: largest absolute standardized difference, over the kinds of work (work_items.stratum: queue, letter type), between the two arms: |p_a − p_b| / sqrt(p̄(1 − p̄)), p̄ the kind's share over both arms
create or replace table estimate_concurrent_control as
with items as (
  select i.workflow, i.metric, i.metric_kind, i.org_unit, i.actor_key, i.month, i.assisted, i.value,
    case when i.value is not null then i.total_value end as total_value, coalesce(i.stratum, '') as stratum,
    c.hourly_cost_usd
  from work_items i
  left join item_costs c on c.workflow = i.workflow and c.item_id = i.item_id
  where i.assisted or i.live
),
per_actor as (  -- exact decimal sums per person and unit: the same figures whatever the order of a parallel
  -- aggregation, and additive up the tree, so the roll-up joins people, not items
  select workflow, metric, org_unit, month, assisted, actor_key,
    count(value) as n, count(*) - count(value) as n_without,
    sum(value::decimal(18, 6)) as s1,
    sum(value::decimal(38, 6) * value::decimal(38, 6)) as s2,
    count(total_value) as nt, sum(total_value::decimal(18, 6)) as t1,
    sum(total_value::decimal(38, 6) * total_value::decimal(38, 6)) as t2,
    sum(hourly_cost_usd::decimal(18, 6)) filter (where value is not null) as cost_sum,
    count(hourly_cost_usd) filter (where value is not null) as cost_n
  from items group by all
),
rolled as (
  select p.workflow, p.metric, s.ancestor, p.month, p.assisted,
    sum(p.n)::bigint as n, sum(p.n_without)::bigint as n_without, sum(p.s1) as s1, sum(p.s2) as s2,
    sum(p.nt)::bigint as nt, sum(p.t1) as t1, sum(p.t2) as t2,
    count(distinct p.actor_key) filter (where p.n > 0) as actors,
    sum(p.cost_sum) as cost_sum, sum(p.cost_n)::bigint as cost_n,
    list(distinct p.org_unit order by p.org_unit) as units
  from per_actor p join org_subtree s on s.org_unit = p.org_unit
  group by all
),
quantiles as (  -- medians and 90th percentiles, for service-level metrics (turnaround) only
  select i.workflow, i.metric, s.ancestor, i.month, i.assisted,
    quantile_cont(i.value, 0.5) as median, quantile_cont(i.value, 0.9) as p90
  from items i join org_subtree s on s.org_unit = i.org_unit
  where i.metric_kind = 'service_level'
  group by all
),
arms as (
  select r.*, q.median, q.p90
  from rolled r left join quantiles q using (workflow, metric, ancestor, month, assisted)
),
stats as (
  select *, s1::double / nullif(n, 0) as mean,
    (s2::double - s1::double * s1::double / nullif(n, 0)) / nullif(n - 1, 0) as var,
    t1::double / nullif(nt, 0) as mean_t,
    (t2::double - t1::double * t1::double / nullif(nt, 0)) / nullif(nt - 1, 0) as var_t
  from arms
),
strata as (  -- balance: the kinds of work (queue, letter type) in each arm, per unit, rolled up the tree
  select x.workflow, x.metric, s.ancestor, x.month, x.assisted, x.stratum, sum(x.n)::bigint as n
  from (select workflow, metric, org_unit, month, assisted, stratum, count(value) as n from items group by all) x
  join org_subtree s on s.org_unit = x.org_unit
  group by all
),
strata_pairs as (
  select workflow, metric, ancestor, month, stratum, coalesce(a.n, 0) as n_a, coalesce(b.n, 0) as n_b
  from (select * from strata where assisted) a
  full join (select * from strata where not assisted) b using (workflow, metric, ancestor, month, stratum)
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
paired as (
  select a.workflow, a.metric, a.ancestor, a.month,
    a.n as n_a, coalesce(b.n, 0) as n_b, a.n_without + coalesce(b.n_without, 0) as n_without,
    a.mean as mean_a, b.mean as mean_b, a.var / nullif(a.n, 0) as v_a, b.var / nullif(b.n, 0) as v_b,
    a.median as median_a, a.p90 as p90_a, b.median as median_b, b.p90 as p90_b,
    a.actors, a.cost_sum, a.cost_n, list_sort(list_distinct(a.units || coalesce(b.units, []))) as units,
    a.nt as nt_a, b.nt as nt_b, a.mean_t as mean_t_a, b.mean_t as mean_t_b,
    a.var_t / nullif(a.nt, 0) as vt_a, b.var_t / nullif(b.nt, 0) as vt_b
  from stats a left join stats b on b.workflow = a.workflow and b.metric = a.metric and b.ancestor = a.ancestor
    and b.month = a.month and not b.assisted
  where a.assisted
),
final as (
  select workflow, metric, ancestor as org_unit, month, 'concurrent_control' as method,
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
