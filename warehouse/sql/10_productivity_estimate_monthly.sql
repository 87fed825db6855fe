-- productivity_estimate_monthly: assisted hours of personal-productivity tools, estimated in aggregate per
-- business unit (and the enterprise) from finance's minutes-per-action assumptions. Never per person.
-- grain: one row per org unit at business_unit level or above, month and tool
-- column org_unit: a business unit or the enterprise; people of its whole subtree
-- column level: business_unit or enterprise
-- column month: YYYY-MM
-- column tool: a tool whose workflow is accounted per business unit (workflows.csv accountability)
-- column active_users: people with at least one action in the month
-- column actions: Σ count of the actions, discarded ones included
-- column actions_discarded: Σ count of the actions whose outcome is discarded (saved nothing: not valued)
-- column assisted_hours: Σ count × minutes_saved / 60 over actions not discarded (minutes_per_action.csv)
-- column actions_without_assumption: kept actions whose app and action have no minutes_saved row (counted, not valued)
-- column value_usd: Σ count × minutes_saved / 60 × the actor's hourly cost, over actions not discarded
-- column cost_usd: license cost of the tool held in the subtree and month (licenses.csv)
-- column attribution: always business_unit_estimate
-- column suppressed: fewer than 11 active people: every figure built from people is null
create or replace table productivity_estimate_monthly as
with tools as (
  select distinct tool from ref_workflows where accountability = 'business_unit'
),
daily as (  -- actions per person, unit, day, app and action: fewer rows to price
  select e.org_unit, e.month, e.tool, e.actor_key, e.occurred_at::date as day, e.app, e.action,
    sum(coalesce(e.count, 1))::bigint as n,
    sum(case when e.outcome = 'discarded' then coalesce(e.count, 1) else 0 end)::bigint as n_discarded
  from events e join tools using (tool)
  where e.event_type = 'assist'
  group by all
),
priced as (  -- the person's hourly cost that day (roster, restricted) and finance's minutes per action
  select d.*, (d.n - d.n_discarded) as n_kept, m.minutes_saved::decimal(38, 6) as minutes,
    arg_max(r.hourly_cost_usd, r.valid_from)::decimal(38, 6) as hourly_cost
  from daily d
  left join ref_minutes_per_action m on m.app = d.app and m.action = d.action
  left join roster r on r.actor_key = d.actor_key and d.day >= r.valid_from
    and (r.valid_to is null or d.day < r.valid_to)
  group by all
),
rolled as (  -- exact decimal sums: the same figures whatever the order of a parallel aggregation
  select s.ancestor, p.month, p.tool, count(distinct p.actor_key) as active_users, sum(p.n)::bigint as actions,
    sum(p.n_discarded)::bigint as actions_discarded,
    sum(p.n_kept * coalesce(p.minutes, 0)) / 60 as assisted_hours,
    sum(case when p.minutes is null then p.n_kept else 0 end)::bigint as actions_without_assumption,
    sum(p.n_kept * coalesce(p.minutes, 0) * p.hourly_cost) / 60 as value_usd
  from priced p join org_subtree s on s.org_unit = p.org_unit
  where s.ancestor_level in ('business_unit', 'enterprise')
  group by all
),
costs as (
  select s.ancestor, l.tool, l.month, sum(l.cost_usd::decimal(18, 6))::double as cost_usd
  from ref_licenses l join org_subtree s on s.org_unit = l.org_unit group by all
),
final as (
  select r.ancestor as org_unit, o.level, r.month, r.tool,
    case when r.active_users >= 11 then r.active_users end as active_users,
    case when r.active_users >= 11 then r.actions end as actions,
    case when r.active_users >= 11 then r.actions_discarded end as actions_discarded,
    case when r.active_users >= 11 then r.assisted_hours::double end as assisted_hours,
    case when r.active_users >= 11 then r.actions_without_assumption end as actions_without_assumption,
    case when r.active_users >= 11 then r.value_usd::double end as value_usd,
    coalesce(c.cost_usd, 0) as cost_usd,
    'business_unit_estimate' as attribution,
    r.active_users < 11 as suppressed
  from rolled r
  join org_units o on o.org_unit = r.ancestor
  left join costs c on c.ancestor = r.ancestor and c.tool = r.tool and c.month = r.month
)
select * from final order by month, org_unit, tool;
