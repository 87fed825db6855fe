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
in_force as (  -- decisions in force at the time of each use; whether their scope covers the use's unit, and their
              -- rank: the most specific scope first ('*' the least), then the most restrictive status
  select u.event_id, g.status, g.decision_ref,
    g.scope_org_unit = '*' or s.ancestor is not null as covers,
    (case when g.scope_org_unit = '*' then -1 else s.ancestor_depth end) * 10
      + case g.status when 'retired' then 4 when 'restricted' then 3 when 'pilot' then 2 else 1 end as rank
  from uses u
  join ref_governance g on g.capability = u.capability
    and u.occurred_at >= g.effective_from::timestamptz
    and (g.effective_to is null or u.occurred_at < g.effective_to::timestamptz)
  left join org_subtree s on s.org_unit = u.org_unit and s.ancestor = g.scope_org_unit
),
governing as (  -- one row per use with a decision in force: the governing one among those covering it (none: null)
  select event_id, arg_max(status, rank) filter (where covers) as status,
    arg_max(decision_ref, rank) filter (where covers) as decision_ref
  from in_force group by event_id
),
final as (
  select u.event_id, u.month, u.capability, u.org_unit, u.actor_key, u.week_start, g.status, g.decision_ref,
    case
      when g.event_id is null then 'no_decision'
      when g.status is null then 'not_cleared_for_scope'
      when g.status in ('restricted', 'retired') then g.status
    end as reason
  from uses u
  left join governing g using (event_id)
)
select * from final;
