-- workflow_attribution_monthly: what a workflow-integrated AI tool saved in staff time, per org unit, month and
-- method, with 95 % intervals, hours, value, license cost over the same units, net value and ROI. Staff time
-- only (turnaround is in service_level_monthly); workflow-measured value only. Each method is its own model in
-- the common estimate shape (estimate_<method>), united with its diagnostics and the recommended method in
-- attribution_estimates; this table adds the money. Exactly one row per workflow, org unit and month is the
-- recommended one: did when it has a control unit and passes its pre-trend test; else within_actor when at least
-- 11 people have both kinds of items; else concurrent_control when its arms balance; else pre_go_live (the rule
-- in the column recommended). Every figure of a suppressed row is null, diagnostics included.
-- grain: one row per workflow, org unit (every level, items pooled over its subtree), month and method
-- column workflow: the workflow (workflows.csv)
-- column org_unit: the org unit; figures pool the items of its whole subtree
-- column level: the org unit's level
-- column month: YYYY-MM (calls: month completed; letters: month submitted)
-- column method: concurrent_control (baseline: unassisted items of live units, same month), pre_go_live (baseline: all items of the 3 full months before each unit's go-live), within_actor (each person's own unassisted items of the month; person fixed effects) or did (staggered difference-in-differences against units never or not yet live)
-- column metric: the staff-time metric (workflows.csv metric): acw_seconds or work_seconds
-- column attribution: always workflow_measured
-- column units_covered: the org units whose items the row counts; cost_usd covers exactly these
-- column n_assisted: assisted work items with the metric
-- column n_baseline: baseline work items with the metric
-- column n_without_metric: work items the method would count that carry no value of the metric (e.g. letters without work_seconds): counted, never imputed
-- column assisted_mean: mean metric of assisted items, in the metric's unit
-- column baseline_mean: mean metric of baseline items, in the metric's unit
-- column saving_per_item: baseline_mean − assisted_mean, in the metric's unit
-- column saving_ci_low: lower bound of the 95 % interval of saving_per_item (Welch for concurrent_control and pre_go_live: saving − t(0.975, df) × se, df rounded down; clustered by person for within_actor and did, t with people − 1 df)
-- column saving_ci_high: upper bound of the 95 % interval of saving_per_item
-- column hours_saved: saving per item in hours × n_assisted (staff hours)
-- column hours_saved_ci_low: lower bound of hours_saved (95 %)
-- column hours_saved_ci_high: upper bound of hours_saved (95 %)
-- column hourly_cost_usd: mean hourly cost of the assisted items' actors (item-weighted, roster rate at each item), USD
-- column value_usd: hours_saved × hourly_cost_usd
-- column cost_usd: license cost of the workflow's tool allocated to units_covered in the month (license_allocation: a license is shared among the units of its holder's subtree by their share of the holder's active users; a holder whose subtree had no active user keeps it)
-- column net_value_usd: value_usd − cost_usd
-- column roi: net_value_usd / cost_usd; null when cost is 0
-- column total_saving_per_item: calls: the same method's saving in total agent time (handle + ACW) per assisted call, seconds, beside the ACW saving: a summary reviewed outside ACW moves work rather than saving it; null for letters
-- column total_saving_ci_low: lower bound of its 95 % interval
-- column total_saving_ci_high: upper bound of its 95 % interval
-- column share_assisted: assisted items / items where the tool was available (live or assisted) in the subtree and month; the same on every method's row
-- column balance_max_smd: largest absolute standardized difference of the kind of work (queue for calls, letter type for letters) between the two arms the method compares (concurrent_control: assisted vs unassisted live items; pre_go_live: assisted vs pre-period items; within_actor: assisted vs unassisted items of the people with both; did: the treated units' items in the month vs their base months); 0 = the same mix, 0.1 or more = imbalanced
-- column pretrend_p: did only: p-value of the joint pre-trend placebo test (chi-square; below 0.05: the live units drifted apart from their controls before go-live)
-- column n_control_units: did only: units never or not yet live that the month compares with
-- column n_people_both: within_actor only: people with both assisted and unassisted items in the month
-- column methods_disagree: the row's 95 % interval does not overlap another shown method's for the same workflow, org unit and month; null when no other method's row is shown
-- column diagnostics: the checks the row fails, by name: pretrend_failed (did: pretrend_p < 0.05), no_pretrend_periods (did: no month before the base month to test), few_people_both_arms (within_actor: under 11), imbalanced_arms (balance_max_smd >= 0.1), low_share_assisted (under 5 %), no_interval, disagrees_with_<method> (its interval excludes that method's); empty when it passes every check that applies
-- column recommended: the one row per workflow, org unit and month to use, first rule that applies: (1) did when not suppressed, with a control unit, at least one pre-period placebo and pretrend_p >= 0.05; (2) within_actor when not suppressed (at least 11 people with both kinds of items); (3) concurrent_control when not suppressed and balance_max_smd < 0.1; (4) pre_go_live when not suppressed; (5) otherwise the first of did, within_actor, concurrent_control, pre_go_live (suppressed, but still one row); a step needs an interval
-- column suppressed: fewer than 11 assisted items, baseline items or assisted people (within_actor: or people with both kinds of items): every figure built from items or people is null
create or replace table workflow_attribution_monthly as
with estimates as (  -- every method's model in the common estimate shape, with its diagnostics
  select * from attribution_estimates
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
    i.suppressed,
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
    case when not suppressed then total_saving_per_item end as total_saving_per_item,
    case when not suppressed then total_saving_ci_low end as total_saving_ci_low,
    case when not suppressed then total_saving_ci_high end as total_saving_ci_high,
    case when not suppressed then share_assisted end as share_assisted,
    case when not suppressed then balance_max_smd end as balance_max_smd,
    case when not suppressed then pretrend_p end as pretrend_p,
    case when not suppressed then n_control_units end as n_control_units,
    case when not suppressed then n_people_both end as n_people_both,
    case when not suppressed then methods_disagree end as methods_disagree,
    case when not suppressed then diagnostics end as diagnostics,
    recommended,
    suppressed
  from figures f join org_units o using (org_unit)
)
select * from final order by workflow, month, org_unit, method;
