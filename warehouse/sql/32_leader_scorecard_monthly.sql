-- leader_scorecard_monthly: each business unit's month for its accountable leader: adoption, staff time saved and
-- its value (workflow-measured), estimated assisted hours (their own column, never added in), target and
-- attainment, the service-level change of its letter workflows and its open governance exceptions. Small cells
-- are suppressed per figure: a figure whose every cell is small is null; cells left out of a figure are named.
-- grain: one row per business unit and month
-- column org_unit: the business unit
-- column name: its name
-- column leader: the accountable leader as org_units.csv publishes them, shown as given
-- column month: YYYY-MM
-- column seats: seats of all tools held in the business unit
-- column active_rate: Σ active users / Σ seats over the tools whose adoption cells are not suppressed (people counted once per tool); above 1 when users exceed seats
-- column sustained_rate: Σ sustained users / Σ seats over the same tools
-- column hours_saved: staff hours saved, workflow-measured (each workflow's recommended method), Σ over workflows whose recommended cells are not suppressed
-- column value_usd: value of those hours, USD (staff time only; estimates excluded)
-- column assisted_hours: estimated assisted hours of personal-productivity tools (business_unit_estimate), never added to hours_saved
-- column target_hours_saved: the month's target (targets.csv)
-- column attainment: hours_saved / target_hours_saved (staff time, workflow-measured only)
-- column turnaround_saving_hours: turnaround saved per AI-drafted letter (service_level_monthly, each workflow's recommended method), mean over the unit's service-level workflows weighted by assisted letters; a service level, not dollars
-- column backlog_over_sla: cases open longer than their SLA at month end, Σ over workflows whose backlog is not suppressed
-- column governance_exceptions: distinct capability and reason pairs with exceptions in the unit's subtree in the month (governance_exceptions)
-- column suppressed_figures: figures of the row that are null because every cell behind them rests on fewer than 11 people or items
-- column cells_left_out: the suppressed cells behind the row's figures (e.g. adoption:copilot): a figure that is shown covers the other cells only
-- column suppressed: every figure of the row built from people or items is suppressed (nothing but keys, seats, target and exceptions); filter on suppressed_figures for one figure
create or replace table leader_scorecard_monthly as
with units as (
  select org_unit, name, leader from org_units where level = 'business_unit'
),
adoption as (  -- over the tools whose cells are not suppressed
  select org_unit, month, sum(seats)::bigint as seats,
    sum(active_users) filter (where not suppressed) / nullif(sum(seats) filter (where not suppressed), 0)
      as active_rate,
    sum(sustained_users) filter (where not suppressed) / nullif(sum(seats) filter (where not suppressed), 0)
      as sustained_rate,
    bool_and(suppressed) as all_suppressed,
    list('adoption:' || tool order by tool) filter (where suppressed) as left_out
  from adoption_monthly group by all
),
workflow as (  -- exact decimal sums over workflows (the same figures on every rebuild)
  select org_unit, month,
    sum(hours_saved::decimal(38, 9)) filter (where not suppressed) as hours_saved,
    sum(value_usd::decimal(38, 9)) filter (where not suppressed) as value_usd,
    bool_and(suppressed) as all_suppressed,
    list('workflow:' || workflow order by workflow) filter (where suppressed) as left_out
  from workflow_attribution_monthly where recommended group by all
),
estimate as (
  select org_unit, month, sum(assisted_hours::decimal(38, 9)) filter (where not suppressed) as assisted_hours,
    bool_and(suppressed) as all_suppressed,
    list('estimate:' || tool order by tool) filter (where suppressed) as left_out
  from productivity_estimate_monthly group by all
),
service as (
  select org_unit, month,
    sum(saving_hours::decimal(38, 9) * n_assisted) filter (where not suppressed)
      / nullif(sum(n_assisted) filter (where not suppressed), 0) as turnaround_saving_hours,
    (sum(backlog_over_sla) filter (where not backlog_suppressed))::bigint as backlog_over_sla,
    bool_and(suppressed) as all_suppressed, bool_and(backlog_suppressed) as backlog_all_suppressed,
    list('service_level:' || workflow order by workflow) filter (where suppressed) as left_out
  from service_level_monthly where recommended group by all
),
exceptions as (
  select org_unit, month, count(distinct (capability, reason)) as governance_exceptions
  from governance_exceptions group by all
),
months as (
  select distinct month from adoption_monthly
),
joined as (
  select u.org_unit, u.name, u.leader, m.month, a.seats, a.active_rate, a.sustained_rate,
    w.hours_saved::double as hours_saved, w.value_usd::double as value_usd, e.assisted_hours::double as assisted_hours,
    t.target_hours_saved, (w.hours_saved::double / nullif(t.target_hours_saved, 0)) as attainment,
    s.turnaround_saving_hours, s.backlog_over_sla, coalesce(x.governance_exceptions, 0) as governance_exceptions,
    a.all_suppressed as adoption_suppressed, w.all_suppressed as workflow_suppressed,
    e.all_suppressed as estimate_suppressed, s.all_suppressed as service_suppressed,
    s.backlog_all_suppressed as backlog_suppressed,
    list_concat(coalesce(a.left_out, []), coalesce(w.left_out, []), coalesce(e.left_out, []),
                coalesce(s.left_out, [])) as left_out
  from units u cross join months m
  left join adoption a on a.org_unit = u.org_unit and a.month = m.month
  left join workflow w on w.org_unit = u.org_unit and w.month = m.month
  left join estimate e on e.org_unit = u.org_unit and e.month = m.month
  left join service s on s.org_unit = u.org_unit and s.month = m.month
  left join exceptions x on x.org_unit = u.org_unit and x.month = m.month
  left join ref_targets t on t.org_unit = u.org_unit and t.month = m.month
),
final as (
  select org_unit, name, leader, month, seats, active_rate, sustained_rate, hours_saved, value_usd,
    assisted_hours, target_hours_saved, attainment, turnaround_saving_hours, backlog_over_sla,
    governance_exceptions,
    [x for x in [
      case when adoption_suppressed then 'active_rate' end, case when adoption_suppressed then 'sustained_rate' end,
      case when workflow_suppressed then 'hours_saved' end, case when workflow_suppressed then 'value_usd' end,
      case when workflow_suppressed then 'attainment' end,
      case when estimate_suppressed then 'assisted_hours' end,
      case when service_suppressed then 'turnaround_saving_hours' end,
      case when backlog_suppressed then 'backlog_over_sla' end] if x is not null] as suppressed_figures,
    left_out as cells_left_out,
    -- every group of figures the row has is suppressed (a group with no cells at all is absent, not suppressed)
    coalesce(adoption_suppressed, true) and coalesce(workflow_suppressed, true)
      and coalesce(estimate_suppressed, true) and coalesce(service_suppressed, true)
      and coalesce(backlog_suppressed, true)
      and coalesce(adoption_suppressed or workflow_suppressed or estimate_suppressed or service_suppressed
                   or backlog_suppressed, false) as suppressed
  from joined
)
select * from final order by month, org_unit;
