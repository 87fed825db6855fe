-- productivity_estimate_monthly: assisted hours of personal-productivity tools, estimated in aggregate per
-- business unit (and the enterprise) from finance's minutes-per-action assumptions. Never per person.
-- grain: one row per org unit at business_unit level or above, month and tool
-- column org_unit: a business unit or the enterprise; people of its whole subtree
-- column level: business_unit or enterprise
-- column month: YYYY-MM
-- column tool: a tool whose workflow is accounted per business unit (workflows.csv accountability)
-- column active_users: people with at least one action in the month
-- column actions: Σ count of the actions
-- column assisted_hours: Σ count × minutes_saved / 60 (minutes_per_action.csv)
-- column actions_without_assumption: actions whose app and action have no minutes_saved row (counted, not valued)
-- column value_usd: Σ count × minutes_saved / 60 × the actor's hourly cost
-- column cost_usd: license cost of the tool in the subtree and month
-- column attribution: always business_unit_estimate
-- column suppressed: fewer than 11 active people: every figure built from people is null
create or replace table productivity_estimate_monthly as
with tools as (
  select distinct tool from ref_workflows where accountability = 'business_unit'
),
actions as (
  select e.org_unit, e.month, e.tool, e.actor_key, coalesce(e.count, 1) as n, m.minutes_saved, e.hourly_cost_usd
  from events e
  join tools using (tool)
  left join ref_minutes_per_action m on m.app = e.app and m.action = e.action
  where e.event_type = 'assist'
),
rolled as (
  select s.ancestor, a.month, a.tool, count(distinct a.actor_key) as active_users, sum(a.n)::bigint as actions,
    sum(a.n * coalesce(a.minutes_saved, 0)) / 60.0 as assisted_hours,
    sum(case when a.minutes_saved is null then a.n else 0 end)::bigint as actions_without_assumption,
    sum(a.n * coalesce(a.minutes_saved, 0) / 60.0 * a.hourly_cost_usd) as value_usd
  from actions a join org_subtree s on s.org_unit = a.org_unit
  where s.ancestor_level in ('business_unit', 'enterprise')
  group by all
),
costs as (
  select s.ancestor, l.tool, l.month, sum(l.cost_usd) as cost_usd
  from ref_licenses l join org_subtree s on s.org_unit = l.org_unit group by all
),
final as (
  select r.ancestor as org_unit, o.level, r.month, r.tool,
    case when r.active_users >= 11 then r.active_users end as active_users,
    case when r.active_users >= 11 then r.actions end as actions,
    case when r.active_users >= 11 then r.assisted_hours end as assisted_hours,
    case when r.active_users >= 11 then r.actions_without_assumption end as actions_without_assumption,
    case when r.active_users >= 11 then r.value_usd end as value_usd,
    coalesce(c.cost_usd, 0) as cost_usd,
    'business_unit_estimate' as attribution,
    r.active_users < 11 as suppressed
  from rolled r
  join org_units o on o.org_unit = r.ancestor
  left join costs c on c.ancestor = r.ancestor and c.tool = r.tool and c.month = r.month
)
select * from final order by month, org_unit, tool;
