-- event_governance: for each use of a capability, the governance decision in force for the actor's unit.
-- grain: one row per event
-- column event_id: the event
-- column month: YYYY-MM
-- column capability: the capability used
-- column org_unit: the event's org unit
-- column actor_key: pseudonym of the actor
-- column week_start: Monday of the event's ISO week
-- column status: status of the governing decision (the most specific scope covering the unit; on a tie the most restrictive); null when none covers it
-- column decision_ref: reference of that decision
-- column reason: the exception, or null when the use is cleared or a pilot in scope
create or replace table event_governance as
with uses as (
  select event_id, month, capability, org_unit, actor_key, week_start, occurred_at from events
),
in_force as (  -- decisions in force at the time of each use
  select u.event_id, g.status, g.scope_org_unit, g.decision_ref
  from uses u join ref_governance g on g.capability = u.capability
    and u.occurred_at >= g.effective_from::timestamptz
    and (g.effective_to is null or u.occurred_at < g.effective_to::timestamptz)
),
covering as (  -- of those, the ones whose scope covers the unit; '*' is the least specific
  select f.event_id, f.status, f.decision_ref,
    case when f.scope_org_unit = '*' then -1 else s.ancestor_depth end as specificity,
    case f.status when 'retired' then 4 when 'restricted' then 3 when 'pilot' then 2 else 1 end as severity
  from in_force f join uses u using (event_id)
  left join org_subtree s on s.org_unit = u.org_unit and s.ancestor = f.scope_org_unit
  where f.scope_org_unit = '*' or s.ancestor is not null
),
governing as (
  select event_id, arg_max(status, specificity * 10 + severity) as status,
    arg_max(decision_ref, specificity * 10 + severity) as decision_ref
  from covering group by event_id
),
any_in_force as (
  select distinct event_id from in_force
),
final as (
  select u.event_id, u.month, u.capability, u.org_unit, u.actor_key, u.week_start, g.status, g.decision_ref,
    case
      when a.event_id is null then 'no_decision'
      when g.status is null then 'not_cleared_for_scope'
      when g.status in ('restricted', 'retired') then g.status
    end as reason
  from uses u
  left join governing g using (event_id)
  left join any_in_force a using (event_id)
)
select * from final;
