-- letters: one row per letter case: its staff time, its turnaround, whether the AI drafted it.
-- grain: one row per workflow and case (work_item_id)
-- column workflow: the workflow
-- column case_id: the letter's case id (work_item_id)
-- column letter_type: type, from the request
-- column org_unit: org unit of the submitter at submission, else of the requester
-- column requested_org_unit: org unit of the requester at the request (where an open case waits)
-- column actor_key: pseudonym of the submitter, else of the requester
-- column requested_at: first letter_requested, UTC
-- column submitted_at: first letter_submitted, UTC; null while in backlog
-- column month: month of submission (YYYY-MM); null for backlog
-- column status: submitted, backlog (requested, not submitted) or unmatched (submitted, never requested)
-- column work_seconds: active staff time on the case, seconds, from the first letter_submitted (the staff-time metric); null when the submission carries none (never imputed)
-- column turnaround_hours: submitted_at − requested_at in hours (a service level, never valued); submitted cases only
-- column assisted: any letter_drafted of the case has ai_drafted
-- column drafts: letter_drafted events of the case
-- column decision: the latest decision (approved/denied), if any
create or replace table letters as
with ev as (
  select * from events where tool = 'lmn_drafting'
),
requested as (
  select workflow, work_item_id, min(occurred_at) as requested_at, arg_min(letter_type, occurred_at) as letter_type,
    arg_min(org_unit, occurred_at) as org_unit, arg_min(actor_key, occurred_at) as actor_key
  from ev where event_type = 'letter_requested' group by all
),
submitted as (
  select workflow, work_item_id, min(occurred_at) as submitted_at, arg_min(org_unit, occurred_at) as org_unit,
    arg_min(actor_key, occurred_at) as actor_key,
    arg_min_null(work_seconds, (occurred_at, event_id)) as work_seconds  -- the first submission's, even when null
  from ev where event_type = 'letter_submitted' group by all
),
drafted as (
  select workflow, work_item_id, bool_or(coalesce(ai_drafted, false)) as assisted, count(*) as drafts
  from ev where event_type = 'letter_drafted' group by all
),
decided as (
  select workflow, work_item_id, arg_max(decision, occurred_at) as decision
  from ev where event_type = 'letter_decided' group by all
),
final as (
  select
    coalesce(r.workflow, s.workflow) as workflow,
    coalesce(r.work_item_id, s.work_item_id) as case_id,
    r.letter_type,
    coalesce(s.org_unit, r.org_unit) as org_unit,
    r.org_unit as requested_org_unit,
    coalesce(s.actor_key, r.actor_key) as actor_key,
    r.requested_at, s.submitted_at,
    strftime(s.submitted_at, '%Y-%m') as month,
    case when r.requested_at is null then 'unmatched' when s.submitted_at is null then 'backlog'
         else 'submitted' end as status,
    s.work_seconds,
    case when r.requested_at is not null and s.submitted_at >= r.requested_at
         then epoch_ms(s.submitted_at - r.requested_at) / 3600000.0 end as turnaround_hours,
    coalesce(d.assisted, false) as assisted,
    coalesce(d.drafts, 0) as drafts,
    x.decision
  from requested r
  full join submitted s using (workflow, work_item_id)
  left join drafted d on d.workflow = coalesce(r.workflow, s.workflow)
    and d.work_item_id = coalesce(r.work_item_id, s.work_item_id)
  left join decided x on x.workflow = coalesce(r.workflow, s.workflow)
    and x.work_item_id = coalesce(r.work_item_id, s.work_item_id)
)
select * from final;
