-- governance_exceptions: use of AI capabilities that governance has not cleared where and when they were used.
-- grain: one row per month, capability, org unit (every level, its whole subtree) and reason
-- column month: YYYY-MM
-- column capability: the AI capability used
-- column org_unit: the org unit; events of its whole subtree
-- column level: the org unit's level
-- column reason: no_decision (no decision for the capability in force), not_cleared_for_scope (decisions exist, none covers the unit), restricted, retired (the decision covering the unit says so)
-- column events: events of the month with that reason
-- column users: distinct people behind them
-- column decision_ref: the governing decision (restricted, retired), if any
create or replace table governance_exceptions as
with decided as (
  select * from event_governance
),
exceptions as (
  select * from decided where reason is not null
),
final as (
  select x.month, x.capability, s.ancestor as org_unit, o.level, x.reason,
    count(*) as events, count(distinct x.actor_key) as users, any_value(x.decision_ref) as decision_ref
  from exceptions x
  join org_subtree s on s.org_unit = x.org_unit
  join org_units o on o.org_unit = s.ancestor
  group by all
)
select * from final order by month, capability, org_unit, reason;
