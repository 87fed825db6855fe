-- service_level_monthly: the service level of workflows that have one (workflows.csv service_metric; letters:
-- turnaround, submission − request), per org unit, month and method: assisted and baseline turnaround, the
-- saving with its 95 % interval, and the backlog at month end. Elapsed time, never staff time: never in dollars.
-- grain: one row per workflow, org unit (every level, its whole subtree), month and method
-- column workflow: the workflow
-- column org_unit: the org unit; letters of its whole subtree
-- column level: the org unit's level
-- column month: YYYY-MM (month of submission; backlog at the end of the month)
-- column method: concurrent_control, pre_go_live, within_actor or did, as in workflow_attribution_monthly, on the service metric (the backlog columns are the same on every method's row: do not add them up across methods)
-- column metric: the service metric (turnaround_hours)
-- column sla_hours: the workflow's service-level agreement (workflows.csv), hours; null when none
-- column submitted: letters submitted in the month (every letter, assisted or not); null when fewer than 11
-- column n_assisted: assisted letters compared (AI-drafted)
-- column n_baseline: baseline letters compared (as the method defines them)
-- column assisted_mean_hours: mean turnaround of the assisted letters, hours
-- column assisted_median_hours: median turnaround of the assisted letters, hours (concurrent_control and pre_go_live, which compare two sets of letters; null for within_actor and did)
-- column assisted_p90_hours: 90th percentile turnaround of the assisted letters, hours
-- column baseline_mean_hours: mean turnaround of the baseline letters, hours
-- column baseline_median_hours: median turnaround of the baseline letters, hours
-- column baseline_p90_hours: 90th percentile turnaround of the baseline letters, hours
-- column saving_hours: baseline_mean_hours − assisted_mean_hours: turnaround saved per assisted letter, hours
-- column saving_ci_low: lower bound of the 95 % interval of saving_hours (as in workflow_attribution_monthly)
-- column saving_ci_high: upper bound of the 95 % interval of saving_hours
-- column backlog_open: cases requested and not yet submitted at the end of the month (by the requester's org unit)
-- column backlog_over_sla: of those, cases open longer than sla_hours at the end of the month; null without an SLA
-- column oldest_open_hours: age of the oldest open case at the end of the month, hours
-- column diagnostics: the checks the row fails on the service metric, as in workflow_attribution_monthly; null when suppressed
-- column recommended: the one method per workflow, org unit and month to use for the service level, by the rule of workflow_attribution_monthly.recommended applied to the service metric's estimates
-- column suppressed: fewer than 11 assisted letters, baseline letters or assisted people (within_actor: or people with both kinds of letters): the comparison figures are null
-- column backlog_suppressed: fewer than 11 cases open at month end: backlog_open, backlog_over_sla and oldest_open_hours are null
create or replace table service_level_monthly as
with estimates as (  -- the same method models as workflow_attribution_monthly, on the service metric
  select * from attribution_estimates
),
service as (
  select e.*, w.sla_hours
  from estimates e join ref_workflows w on w.workflow = e.workflow and w.service_metric = e.metric
),
intervals as (
  select s.*,
    coalesce(s.saving_ci_low, s.saving_per_item - t.t975 * s.saving_se) as ci_low,
    coalesce(s.saving_ci_high, s.saving_per_item + t.t975 * s.saving_se) as ci_high
  from service s
  left join t_quantiles t on t.df = least(greatest(floor(s.saving_df + 1e-9), 1), 1000)::int
),
letters_up as (
  select l.*, s.ancestor from letters l join org_subtree s on s.org_unit = l.org_unit
),
submitted as (
  select workflow, ancestor, month, count(*) as submitted from letters_up where submitted_at is not null group by all
),
month_ends as (
  select distinct workflow, month, (strptime(month, '%Y-%m') + interval 1 month)::timestamptz as month_end
  from service
),
backlog as (  -- open at month end: requested before it, not submitted by it; by the requester's unit
  select m.workflow, s.ancestor, m.month, count(*) as backlog_open,
    count(*) filter (where epoch_ms(m.month_end - l.requested_at) / 3600000.0 > w.sla_hours) as backlog_over_sla,
    max(epoch_ms(m.month_end - l.requested_at)) / 3600000.0 as oldest_open_hours
  from month_ends m
  join letters l on l.workflow = m.workflow and l.requested_at < m.month_end
    and (l.submitted_at is null or l.submitted_at >= m.month_end)
  join org_subtree s on s.org_unit = l.requested_org_unit
  join ref_workflows w on w.workflow = m.workflow
  group by all
),
figures as (
  select i.*,
    i.suppressed,
    coalesce(sb.submitted, 0) as submitted, coalesce(b.backlog_open, 0) as backlog_open,
    case when i.sla_hours is not null then coalesce(b.backlog_over_sla, 0) end as backlog_over_sla,
    b.oldest_open_hours
  from intervals i
  left join submitted sb on sb.workflow = i.workflow and sb.ancestor = i.org_unit and sb.month = i.month
  left join backlog b on b.workflow = i.workflow and b.ancestor = i.org_unit and b.month = i.month
),
final as (
  select f.workflow, f.org_unit, o.level, f.month, f.method, f.metric, f.sla_hours,
    case when submitted >= 11 then submitted end as submitted,
    case when not suppressed then n_assisted end as n_assisted,
    case when not suppressed then n_baseline end as n_baseline,
    case when not suppressed then assisted_mean end as assisted_mean_hours,
    case when not suppressed then assisted_median end as assisted_median_hours,
    case when not suppressed then assisted_p90 end as assisted_p90_hours,
    case when not suppressed then baseline_mean end as baseline_mean_hours,
    case when not suppressed then baseline_median end as baseline_median_hours,
    case when not suppressed then baseline_p90 end as baseline_p90_hours,
    case when not suppressed then saving_per_item end as saving_hours,
    case when not suppressed then ci_low end as saving_ci_low,
    case when not suppressed then ci_high end as saving_ci_high,
    case when backlog_open >= 11 then backlog_open end as backlog_open,
    case when backlog_open >= 11 then backlog_over_sla end as backlog_over_sla,
    case when backlog_open >= 11 then oldest_open_hours end as oldest_open_hours,
    case when not suppressed then diagnostics end as diagnostics,
    recommended,
    suppressed,
    backlog_open < 11 as backlog_suppressed
  from figures f join org_units o using (org_unit)
)
select * from final order by workflow, month, org_unit, method;
