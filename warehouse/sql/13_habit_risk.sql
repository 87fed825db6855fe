-- habit_risk: people forming habits around capabilities still in pilot: sustained users, per month.
-- grain: one row per month, capability in pilot, and org unit (every level, distinct people of its subtree)
-- column month: YYYY-MM
-- column capability: a capability whose governing decision is pilot
-- column org_unit: the org unit; people of its whole subtree
-- column level: the org unit's level
-- column sustained_users: people using it in at least 3 of the 4 ISO weeks ending with the week of the month's last day
-- column active_users: people using it in the month
-- column decision_ref: the pilot decision
create or replace table habit_risk as
with pilot_uses as (
  select * from event_governance where status = 'pilot'
),
windows as (
  select distinct month, date_trunc('week', last_day(strptime(month, '%Y-%m')::date))::date as last_week
  from pilot_uses
),
uses_up as (
  select p.*, s.ancestor from pilot_uses p join org_subtree s on s.org_unit = p.org_unit
),
sustained as (
  select capability, ancestor, month, count(*) as sustained_users from (
    select u.capability, u.ancestor, w.month, u.actor_key
    from uses_up u join windows w on u.week_start between w.last_week - interval 21 day and w.last_week
    group by all having count(distinct u.week_start) >= 3)
  group by all
),
active as (
  select capability, ancestor, month, count(distinct actor_key) as active_users,
    any_value(decision_ref) as decision_ref
  from uses_up group by all
),
final as (
  select a.month, a.capability, a.ancestor as org_unit, o.level, coalesce(s.sustained_users, 0) as sustained_users,
    a.active_users, a.decision_ref
  from active a
  join org_units o on o.org_unit = a.ancestor
  left join sustained s using (capability, ancestor, month)
)
select * from final where sustained_users > 0 order by month, capability, org_unit;
