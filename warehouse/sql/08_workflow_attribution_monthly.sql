-- workflow_attribution_monthly: what a workflow-integrated AI tool saved, per org unit and month, by two methods,
-- with 95 % Welch intervals, hours, value, license cost, net value and ROI. Workflow-measured value only.
-- grain: one row per workflow, org unit (every level, items pooled over its subtree), month and method
-- column workflow: the workflow (workflows.csv)
-- column org_unit: the org unit; figures pool the items of its whole subtree
-- column level: the org unit's level
-- column month: YYYY-MM (calls: month completed; letters: month submitted)
-- column method: concurrent_control (baseline: unassisted items of live units, same month) or pre_go_live (baseline: all items of the 3 full months before each unit's go-live)
-- column metric: acw_seconds or turnaround_hours
-- column attribution: always workflow_measured
-- column n_assisted: assisted work items
-- column n_baseline: baseline work items
-- column assisted_mean: mean metric of assisted items, in the metric's unit
-- column baseline_mean: mean metric of baseline items, in the metric's unit
-- column saving_per_item: baseline_mean − assisted_mean, in the metric's unit
-- column saving_ci_low: lower bound of the 95 % Welch interval of saving_per_item
-- column saving_ci_high: upper bound of the 95 % Welch interval of saving_per_item
-- column hours_saved: saving per item in hours × n_assisted
-- column hours_saved_ci_low: lower bound of hours_saved (95 %)
-- column hours_saved_ci_high: upper bound of hours_saved (95 %)
-- column value_usd: hours_saved × mean hourly cost of the assisted items' actors
-- column cost_usd: license cost of the workflow's tool in the subtree and month (licenses.csv)
-- column net_value_usd: value_usd − cost_usd
-- column roi: net_value_usd / cost_usd; null when cost is 0
-- column suppressed: fewer than 11 assisted or baseline items: every figure built from items is null
create or replace table workflow_attribution_monthly as
with items as (
  select i.*, s.ancestor from work_items i join org_subtree s on s.org_unit = i.org_unit
),
cc_assisted as (
  select workflow, ancestor, month, metric, count(*) as n, avg(value) as mean, var_samp(value) as var,
    avg(hourly_cost_usd) as hourly_cost
  from items where assisted group by all
),
cc_baseline as (
  select workflow, ancestor, month, count(*) as n, avg(value) as mean, var_samp(value) as var
  from items where not assisted and live group by all
),
concurrent as (
  select a.workflow, a.ancestor, a.month, 'concurrent_control' as method, a.metric,
    a.n as n_a, a.mean as mean_a, a.var as var_a, a.hourly_cost,
    coalesce(b.n, 0) as n_b, b.mean as mean_b, b.var as var_b
  from cc_assisted a left join cc_baseline b using (workflow, ancestor, month)
),
-- pre_go_live: a go-live unit qualifies when it has items in each of the 3 full months before go-live
pre_period as (
  select workflow, go_live_unit, date_trunc('month', go_live_date)::date as go_live_month
  from work_items
  where go_live_date is not null
    and month_start >= date_trunc('month', go_live_date)::date - interval 3 month
    and month_start < date_trunc('month', go_live_date)::date
  group by all
  having count(distinct month_start) = 3
),
pre_assisted_items as (
  select i.* from items i join pre_period p using (workflow, go_live_unit) where i.assisted
),
pre_baseline_items as (
  select i.* from items i join pre_period p using (workflow, go_live_unit)
  where i.month_start >= p.go_live_month - interval 3 month and i.month_start < p.go_live_month
),
pre_units as (  -- for each subtree and month: the go-live units whose assisted items count
  select distinct workflow, ancestor, month, go_live_unit from pre_assisted_items
),
pre_assisted as (
  select workflow, ancestor, month, metric, count(*) as n, avg(value) as mean, var_samp(value) as var,
    avg(hourly_cost_usd) as hourly_cost
  from pre_assisted_items group by all
),
pre_baseline as (
  select u.workflow, u.ancestor, u.month, count(*) as n, avg(b.value) as mean, var_samp(b.value) as var
  from pre_units u
  join pre_baseline_items b on b.workflow = u.workflow and b.go_live_unit = u.go_live_unit
    and b.ancestor = u.ancestor
  group by all
),
pre_go_live as (
  select a.workflow, a.ancestor, a.month, 'pre_go_live' as method, a.metric,
    a.n as n_a, a.mean as mean_a, a.var as var_a, a.hourly_cost,
    coalesce(b.n, 0) as n_b, b.mean as mean_b, b.var as var_b
  from pre_assisted a left join pre_baseline b using (workflow, ancestor, month)
),
both_methods as (
  select * from concurrent union all select * from pre_go_live
),
welch as (
  select *,
    mean_b - mean_a as saving,
    sqrt(var_b / n_b + var_a / n_a) as se,
    pow(var_b / n_b + var_a / n_a, 2)
      / nullif(pow(var_b / n_b, 2) / (n_b - 1) + pow(var_a / n_a, 2) / (n_a - 1), 0) as df,
    case metric when 'acw_seconds' then 1 / 3600.0 else 1.0 end as to_hours
  from both_methods
),
with_t as (
  select w.*, t.t975
  from welch w left join t_quantiles t on t.df = least(greatest(floor(w.df + 1e-9), 1), 1000)::int  -- df rounded down
),
costs as (
  select s.ancestor, l.tool, l.month, sum(l.cost_usd) as cost_usd
  from ref_licenses l join org_subtree s on s.org_unit = l.org_unit group by all
),
figures as (
  select w.workflow, w.ancestor as org_unit, w.month, w.method, w.metric, w.n_a, w.n_b,
    w.mean_a, w.mean_b, w.saving, w.saving - w.t975 * w.se as ci_low, w.saving + w.t975 * w.se as ci_high,
    w.to_hours, w.hourly_cost, coalesce(c.cost_usd, 0) as cost_usd,
    w.n_a < 11 or w.n_b < 11 as suppressed
  from with_t w
  join ref_workflows f on f.workflow = w.workflow
  left join costs c on c.ancestor = w.ancestor and c.tool = f.tool and c.month = w.month
),
final as (
  select
    f.workflow, f.org_unit, o.level, f.month, f.method, f.metric, 'workflow_measured' as attribution,
    case when not suppressed then n_a end as n_assisted,
    case when not suppressed then n_b end as n_baseline,
    case when not suppressed then mean_a end as assisted_mean,
    case when not suppressed then mean_b end as baseline_mean,
    case when not suppressed then saving end as saving_per_item,
    case when not suppressed then ci_low end as saving_ci_low,
    case when not suppressed then ci_high end as saving_ci_high,
    case when not suppressed then saving * to_hours * n_a end as hours_saved,
    case when not suppressed then ci_low * to_hours * n_a end as hours_saved_ci_low,
    case when not suppressed then ci_high * to_hours * n_a end as hours_saved_ci_high,
    case when not suppressed then saving * to_hours * n_a * hourly_cost end as value_usd,
    cost_usd,
    case when not suppressed then saving * to_hours * n_a * hourly_cost - cost_usd end as net_value_usd,
    case when not suppressed then (saving * to_hours * n_a * hourly_cost - cost_usd) / nullif(cost_usd, 0) end
      as roi,
    suppressed
  from figures f join org_units o using (org_unit)
)
select * from final order by workflow, month, org_unit, method;
