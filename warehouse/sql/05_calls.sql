-- calls: one row per call of a call-summarization workflow, with its ACW and whether AI was offered.
-- grain: one row per workflow and call (work_item_id); the first call_completed event wins
-- column workflow: the workflow
-- column call_id: the call's id (work_item_id)
-- column org_unit: org unit of the agent when the call completed
-- column actor_key: pseudonym of the agent
-- column completed_at: when the call completed, UTC
-- column month: month of completed_at, YYYY-MM
-- column acw_seconds: after-call work, seconds (the workflow's metric)
-- column handle_seconds: handle time, seconds
-- column queue: contact-center queue of the call (null when the source gives none)
-- column assisted: an AI summary was offered
-- column reviewed: a summary_reviewed event exists for the call
-- column review_outcome: outcome of the first review
create or replace table calls as
with completed as (
  select * from events
  where tool = 'call_summarization' and event_type = 'call_completed'
  qualify row_number() over (partition by workflow, work_item_id order by occurred_at, event_id) = 1
),
reviews as (
  select workflow, work_item_id, arg_min(outcome, occurred_at) as review_outcome
  from events where tool = 'call_summarization' and event_type = 'summary_reviewed'
  group by all
),
final as (
  select c.workflow, c.work_item_id as call_id, c.org_unit, c.actor_key, c.occurred_at as completed_at,
    c.month, c.acw_seconds, c.handle_seconds, c.queue, c.ai_summary_offered as assisted,
    r.review_outcome is not null as reviewed, r.review_outcome
  from completed c left join reviews r using (workflow, work_item_id)
)
select * from final;
