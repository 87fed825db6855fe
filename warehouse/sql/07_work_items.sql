-- work_items: the work items of workflow-integrated tools, once per measure: a call's ACW; a letter's staff time
-- (work_seconds) and its turnaround (a service level). Each with its assisted flag and go-live.
-- grain: one row per work item and metric (a metric of the workflow in workflows.csv: metric or service_metric)
-- column workflow: the workflow
-- column tool: the workflow's tool
-- column metric: acw_seconds, work_seconds (staff time) or turnaround_hours (service level)
-- column metric_kind: staff_time (the workflow's metric, valued in dollars) or service_level (its service_metric, never valued)
-- column item_id: call id or case id
-- column org_unit: the item's org unit
-- column actor_key: pseudonym of the agent or submitter
-- column item_at: when the metric was complete (call completed, letter submitted), UTC
-- column month: month of item_at, YYYY-MM
-- column month_start: first day of that month
-- column value: the metric's value (seconds of ACW or staff time, hours of turnaround); null when the item does not carry it (counted as n_without_metric, never imputed)
-- column total_value: total agent time of a call, handle_seconds + acw_seconds (on its acw_seconds row), so that a method can show whether ACW saved was work moved into the call; null for other metrics
-- column stratum: the kind of work the item is, for the balance of a method's arms: the call's queue, the letter's type; null when the source gives none
-- column assisted: the AI was used on the item (call: AI summary offered; letter: any draft by the AI)
-- column go_live_unit: the org unit whose go-live applies (the nearest ancestor-or-self in go_live.csv)
-- column go_live_date: that go-live date; null when the workflow is not live there
-- column exposed_at: when the AI could be used on the item (call completed; letter requested), UTC
-- column live: exposed_at is on or after go_live_date (a letter requested before go-live is never live)
create or replace table work_items as
with measures as (
  select workflow, call_id as item_id, org_unit, actor_key, completed_at as item_at, completed_at as exposed_at,
    month, assisted, 'acw_seconds' as metric, acw_seconds::double as value,
    (handle_seconds + acw_seconds)::double as total_value, queue as stratum
  from calls
  union all
  select workflow, case_id, org_unit, actor_key, submitted_at, requested_at, month, assisted, 'work_seconds',
    work_seconds::double, null, letter_type
  from letters where status = 'submitted'
  union all
  select workflow, case_id, org_unit, actor_key, submitted_at, requested_at, month, assisted, 'turnaround_hours',
    turnaround_hours, null, letter_type
  from letters where status = 'submitted'
),
of_workflow as (  -- keep the measures workflows.csv names for the workflow
  select m.*, w.tool, case when m.metric = w.metric then 'staff_time' else 'service_level' end as metric_kind
  from measures m join ref_workflows w on w.workflow = m.workflow
    and m.metric in (w.metric, coalesce(w.service_metric, ''))
),
go_live as (
  -- for every unit and workflow: the go-live of its nearest ancestor-or-self that has one
  select s.org_unit, g.workflow, arg_max(g.org_unit, s.ancestor_depth) as go_live_unit,
    arg_max(g.go_live_date, s.ancestor_depth) as go_live_date
  from org_subtree s join ref_go_live g on g.org_unit = s.ancestor
  group by all
),
final as (
  select i.workflow, i.tool, i.metric, i.metric_kind, i.item_id, i.org_unit, i.actor_key, i.item_at, i.month,
    date_trunc('month', i.item_at)::date as month_start, i.value, i.total_value, i.stratum, i.assisted,
    g.go_live_unit, g.go_live_date, i.exposed_at,
    coalesce(i.exposed_at >= g.go_live_date::timestamptz, false) as live
  from of_workflow i
  left join go_live g on g.org_unit = i.org_unit and g.workflow = i.workflow
)
select * from final;
