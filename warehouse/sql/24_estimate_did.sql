-- estimate_did: the did method in the common estimate shape: the month rows of did_group_time (staggered
-- difference-in-differences over go-live dates, Callaway & Sant'Anna; controls never or not yet live), the saving
-- per assisted item (the effect on the treated units' mean, divided by their share of assisted items) with its
-- person-clustered interval, the pre-trend placebo test and the count of control units. Robust to who chooses
-- the tool and to trends shared by all units; broken by trends that differ between units (what the pre-trend
-- test looks for).
-- grain: one row per workflow, metric, org unit (every level) and month with assisted items in units that have a base month and a control
-- column workflow: the workflow
-- column metric: the measure compared (work_items.metric): staff time or a service level
-- column org_unit: the org unit; its treated units are the live units of its subtree with items in the month and in the month before their go-live
-- column month: YYYY-MM of the items
-- column method: always did
-- column n_assisted: assisted items with the metric of the treated units in the month (hours saved = saving × this)
-- column n_baseline: items with the metric the month's effect is compared with: the treated units' base months and the control units' month and base months (each cell once)
-- column n_without_metric: items without the metric in all those cells (counted, never imputed)
-- column assisted_mean: mean metric of the treated units' assisted items in the month
-- column baseline_mean: assisted_mean + saving_per_item: what those items would have taken without the AI (the counterfactual mean)
-- column saving_per_item: −att / share_assisted of the month row: the saving per assisted item, in the metric's unit
-- column saving_se: its standard error, clustered by person (delta method)
-- column saving_df: people in the estimate − 1
-- column saving_ci_low: lower bound of the 95 % interval (t with saving_df)
-- column saving_ci_high: upper bound of the 95 % interval
-- column assisted_actors: distinct people behind the treated units' assisted items of the month
-- column hourly_cost_usd: mean hourly cost of those items' actors (item-weighted, roster rate at the item), USD; null under 11 people
-- column units_covered: the treated units (the org units whose assisted items the saving is for); control units are compared with, not covered
-- column n_control_units: distinct control units (never or not yet live) the month compares with
-- column pretrend_p: p-value of the joint pre-trend placebo test of the cohorts live in the month; null without placebo periods
-- column pretrend_periods: placebo (pre-period) effects in that test; 0 when no cohort has a month before its base month
-- column balance_max_smd: largest absolute standardized difference of the kinds of work (queue, letter type) between the treated units' items in the month and in their base months
-- column total_saving_per_item: the same saving on total agent time (handle + ACW); null for letters
-- column total_saving_ci_low: lower bound of its 95 % interval
-- column total_saving_ci_high: upper bound of its 95 % interval
create or replace table estimate_did as
with months as (
  select * from did_group_time where kind = 'month' and n_assisted > 0
),
treated as (
  select workflow, metric, org_unit, month, unnest(treated_units) as unit from months
),
unit_actors as (  -- per unit, month and person: assisted items with the metric, their cost sums
  select i.workflow, i.metric, i.org_unit as unit, i.month, i.actor_key,
    sum(c.hourly_cost_usd::decimal(18, 6)) as cost_sum, count(c.hourly_cost_usd) as cost_n
  from work_items i
  left join item_costs c on c.workflow = i.workflow and c.item_id = i.item_id
  where i.assisted and i.value is not null
  group by all
),
people as (
  select t.workflow, t.metric, t.org_unit, t.month, count(distinct u.actor_key) as actors,
    sum(u.cost_sum) as cost_sum, sum(u.cost_n)::bigint as cost_n
  from treated t
  join unit_actors u on u.workflow = t.workflow and u.metric = t.metric and u.unit = t.unit and u.month = t.month
  group by all
),
final as (
  select m.workflow, m.metric, m.org_unit, m.month, 'did' as method,
    m.n_assisted, m.n_comparison as n_baseline, m.n_without_metric,
    m.assisted_mean, m.assisted_mean + m.saving_per_item as baseline_mean,
    m.saving_per_item, m.saving_se, m.df as saving_df, m.saving_ci_low, m.saving_ci_high,
    coalesce(p.actors, 0) as assisted_actors,
    case when p.actors >= 11 then p.cost_sum::double / nullif(p.cost_n, 0) end as hourly_cost_usd,
    m.treated_units as units_covered,
    m.n_control_units, m.pretrend_p, m.pretrend_periods, m.balance_max_smd,
    m.total_saving_per_item, m.total_saving_ci_low, m.total_saving_ci_high
  from months m
  left join people p using (workflow, metric, org_unit, month)
)
select * from final order by workflow, metric, month, org_unit
