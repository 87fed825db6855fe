-- workflow_attribution_monthly: what a workflow-integrated AI tool saved in staff time, per org unit, month and
-- method, with 95 % intervals, hours, value, license cost over the same units, net value and ROI. Staff time
-- only (turnaround is in service_level_monthly); workflow-measured value only. Each method is its own model in
-- the common estimate shape (estimate_<method>); this table unites them and adds the money.
-- grain: one row per workflow, org unit (every level, items pooled over its subtree), month and method
-- column workflow: the workflow (workflows.csv)
-- column org_unit: the org unit; figures pool the items of its whole subtree
-- column level: the org unit's level
-- column month: YYYY-MM (calls: month completed; letters: month submitted)
-- column method: concurrent_control (baseline: unassisted items of live units, same month) or pre_go_live (baseline: all items of the 3 full months before each unit's go-live)
-- column metric: the staff-time metric (workflows.csv metric): acw_seconds or work_seconds
-- column attribution: always workflow_measured
-- column units_covered: the org units whose items the row counts; cost_usd covers exactly these
-- column n_assisted: assisted work items with the metric
-- column n_baseline: baseline work items with the metric
-- column n_without_metric: work items the method would count that carry no value of the metric (e.g. letters without work_seconds): counted, never imputed
-- column assisted_mean: mean metric of assisted items, in the metric's unit
-- column baseline_mean: mean metric of baseline items, in the metric's unit
-- column saving_per_item: baseline_mean − assisted_mean, in the metric's unit
-- column saving_ci_low: lower bound of the 95 % interval of saving_per_item (Welch: saving − t(0.975, df) × se, df rounded down)
-- column saving_ci_high: upper bound of the 95 % interval of saving_per_item
-- column hours_saved: saving per item in hours × n_assisted (staff hours)
-- column hours_saved_ci_low: lower bound of hours_saved (95 %)
-- column hours_saved_ci_high: upper bound of hours_saved (95 %)
-- column hourly_cost_usd: mean hourly cost of the assisted items' actors (item-weighted, roster rate at each item), USD
-- column value_usd: hours_saved × hourly_cost_usd
-- column cost_usd: license cost of the workflow's tool allocated to units_covered in the month (license_allocation: a license is shared among the units of its holder's subtree by their share of the holder's active users; a holder whose subtree had no active user keeps it)
-- column net_value_usd: value_usd − cost_usd
-- column roi: net_value_usd / cost_usd; null when cost is 0
-- column suppressed: fewer than 11 assisted items, baseline items or assisted people: every figure built from items or people is null
create or replace table workflow_attribution_monthly as
with estimates as (  -- one model per method, all in the common estimate shape
  select * from estimate_concurrent_control
  union all by name
  select * from estimate_pre_go_live
),
staff_time as (
  select e.*, w.tool,
    case when e.metric like '%_seconds' then 1 / 3600.0 when e.metric like '%_minutes' then 1 / 60.0
         else 1.0 end as to_hours
  from estimates e join ref_workflows w on w.workflow = e.workflow and w.metric = e.metric
),
intervals as (  -- the method's own interval, else saving ± t(0.975, df) × se with df rounded down
  select s.*,
    coalesce(s.saving_ci_low, s.saving_per_item - t.t975 * s.saving_se) as ci_low,
    coalesce(s.saving_ci_high, s.saving_per_item + t.t975 * s.saving_se) as ci_high
  from staff_time s
  left join t_quantiles t on t.df = least(greatest(floor(s.saving_df + 1e-9), 1), 1000)::int
),
covered as (
  select workflow, org_unit, month, method, tool, unnest(units_covered) as unit from staff_time
),
costs as (  -- exact decimal sums of the allocated license cost over the units covered
  select c.workflow, c.org_unit, c.month, c.method, sum(a.cost_usd::decimal(38, 10))::double as cost_usd
  from covered c join license_allocation a on a.tool = c.tool and a.month = c.month and a.org_unit = c.unit
  group by all
),
figures as (
  select i.*, coalesce(c.cost_usd, 0) as cost_usd,
    i.n_assisted < 11 or i.n_baseline < 11 or i.assisted_actors < 11 as suppressed,
    i.saving_per_item * i.to_hours * i.n_assisted as hours,
    i.saving_per_item * i.to_hours * i.n_assisted * i.hourly_cost_usd as value
  from intervals i
  left join costs c using (workflow, org_unit, month, method)
),
final as (
  select
    f.workflow, f.org_unit, o.level, f.month, f.method, f.metric, 'workflow_measured' as attribution,
    f.units_covered,
    case when not suppressed then n_assisted end as n_assisted,
    case when not suppressed then n_baseline end as n_baseline,
    case when not suppressed then n_without_metric end as n_without_metric,
    case when not suppressed then assisted_mean end as assisted_mean,
    case when not suppressed then baseline_mean end as baseline_mean,
    case when not suppressed then saving_per_item end as saving_per_item,
    case when not suppressed then ci_low end as saving_ci_low,
    case when not suppressed then ci_high end as saving_ci_high,
    case when not suppressed then hours end as hours_saved,
    case when not suppressed then ci_low * to_hours * n_assisted end as hours_saved_ci_low,
    case when not suppressed then ci_high * to_hours * n_assisted end as hours_saved_ci_high,
    case when not suppressed then hourly_cost_usd end as hourly_cost_usd,
    case when not suppressed then value end as value_usd,
    cost_usd,
    case when not suppressed then value - cost_usd end as net_value_usd,
    case when not suppressed then (value - cost_usd) / nullif(cost_usd, 0) end as roi,
    suppressed
  from figures f join org_units o using (org_unit)
)
select * from final order by workflow, month, org_unit, method;
