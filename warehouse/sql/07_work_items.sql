-- work_items: calls and submitted letters in one shape, each with its workflow's metric and go-live.
-- grain: one row per work item with a metric value
-- column workflow: the workflow
-- column tool: the workflow's tool
-- column metric: acw_seconds or turnaround_hours
-- column item_id: call id or case id
-- column org_unit: the item's org unit
-- column actor_key: pseudonym of the agent or submitter
-- column item_at: when the metric was complete (call completed, letter submitted), UTC
-- column month: month of item_at, YYYY-MM
-- column month_start: first day of that month
-- column value: the metric's value (seconds of ACW, hours of turnaround)
-- column assisted: the AI was used on the item
-- column hourly_cost_usd: hourly cost of the item's actor
-- column go_live_unit: the org unit whose go-live applies (the nearest ancestor-or-self in go_live.csv)
-- column go_live_date: that go-live date; null when the workflow is not live there
-- column exposed_at: when the AI could be used on the item (call completed; letter requested), UTC
-- column live: exposed_at is on or after go_live_date (a letter requested before go-live is never live)
create or replace table work_items as
with items as (
  select workflow, call_id as item_id, org_unit, actor_key, completed_at as item_at, completed_at as exposed_at,
    month, acw_seconds as value, assisted, hourly_cost_usd
  from calls where acw_seconds is not null
  union all
  select workflow, case_id, org_unit, actor_key, submitted_at, requested_at, month, turnaround_hours, assisted,
    hourly_cost_usd
  from letters where status = 'submitted' and turnaround_hours is not null
),
go_live as (
  -- for every unit and workflow: the go-live of its nearest ancestor-or-self that has one
  select s.org_unit, g.workflow, arg_max(g.org_unit, s.ancestor_depth) as go_live_unit,
    arg_max(g.go_live_date, s.ancestor_depth) as go_live_date
  from org_subtree s join ref_go_live g on g.org_unit = s.ancestor
  group by all
),
final as (
  select i.workflow, w.tool, w.metric, i.item_id, i.org_unit, i.actor_key, i.item_at, i.month,
    date_trunc('month', i.item_at)::date as month_start, i.value, i.assisted, i.hourly_cost_usd,
    g.go_live_unit, g.go_live_date, i.exposed_at,
    coalesce(i.exposed_at >= g.go_live_date::timestamptz, false) as live
  from items i
  join ref_workflows w using (workflow)
  left join go_live g on g.org_unit = i.org_unit and g.workflow = i.workflow
)
select * from final;
