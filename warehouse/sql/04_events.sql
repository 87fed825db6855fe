-- events: every landed usage event, deduplicated at ingest, with its org unit resolved and calendar keys.
-- grain: one row per event (event_id is unique)
-- column event_id: the source's event id
-- column occurred_at: when it happened, UTC
-- column month: calendar month of occurred_at (UTC), YYYY-MM
-- column week_start: Monday of the ISO week of occurred_at
-- column source: the emitting system
-- column tool: copilot, call_summarization or lmn_drafting
-- column event_type: the tool's event type
-- column actor_key: pseudonym of the actor
-- column capability: the AI capability used
-- column org_unit: the org unit as sent, else the actor's org unit in the roster at occurred_at
-- column org_unit_source: event (as sent), roster (filled) or null (unresolved)
-- column org_unit_known: the org unit is one of org_units
-- column actor_in_roster: the actor has a roster period covering occurred_at
-- column site: site as sent
-- column workflow: the workflow (workflow-integrated tools)
-- column work_item_id: the call id or the letter's case id
-- column app: copilot app
-- column action: copilot action
-- column outcome: accepted/discarded (copilot) or accepted/edited/rejected (reviews, drafts)
-- column count: actions the event stands for (pre-aggregated copilot exports)
-- column handle_seconds: call handle time, seconds
-- column acw_seconds: after-call work, seconds
-- column ai_summary_offered: the call was offered an AI summary
-- column queue: contact-center queue
-- column edit_ratio: share of the AI text edited, 0 to 1
-- column letter_type: lmn, appeal, denial_response or prior_auth
-- column payer: payer of the letter
-- column ai_drafted: the letter draft was written by the AI
-- column decision: approved or denied
-- column work_seconds: active staff time on the letter case, seconds (letter_submitted, since schema 1.1)
-- column schema_version: the event's schema version
-- column ingest_run: the ingest run that landed the event
-- column source_file: the input file it came from
-- column source_line: its line in that file
create or replace table events as
with landed as (
  select * from landed_events
),
resolved as (
  select l.*, r.org_unit as roster_org_unit, r.actor_key is not null as actor_in_roster
  from landed l
  left join roster r on r.actor_key = l.actor_key
    and l.occurred_at >= r.valid_from::timestamptz
    and (r.valid_to is null or l.occurred_at < r.valid_to::timestamptz)
),
final as (
  select
    event_id, occurred_at, strftime(occurred_at, '%Y-%m') as month,
    date_trunc('week', occurred_at)::date as week_start,
    source, tool, event_type, actor_key, capability,
    coalesce(org_unit, roster_org_unit) as org_unit,
    case when org_unit is not null then 'event' when roster_org_unit is not null then 'roster' end
      as org_unit_source,
    coalesce(org_unit, roster_org_unit) in (select org_unit from org_units) as org_unit_known,
    actor_in_roster, site, workflow, work_item_id, app, action, outcome, count,
    handle_seconds, acw_seconds, ai_summary_offered, queue, edit_ratio, letter_type, payer, ai_drafted,
    decision, work_seconds, schema_version, ingest_run, source_file, source_line
  from resolved
)
select * from final;
