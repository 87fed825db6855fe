-- leader_scorecard_monthly: each business-unit leader's month: adoption, workflow hours and value, estimated
-- assisted hours (its own column, never added in), target and attainment.
-- grain: one row per business unit and month
-- column org_unit: the business unit
-- column name: its name
-- column leader_key: pseudonym of its leader
-- column month: YYYY-MM
-- column seats: seats of all tools in the business unit
-- column active_rate: Σ active users / Σ seats over the tools whose cells are not suppressed (people counted once per tool)
-- column sustained_rate: Σ sustained users / Σ seats over the same tools
-- column hours_saved: workflow-measured hours saved (concurrent_control), Σ over workflows
-- column value_usd: workflow-measured value of those hours, USD (estimates excluded)
-- column assisted_hours: estimated assisted hours of personal-productivity tools (business_unit_estimate)
-- column target_hours_saved: the month's target (targets.csv)
-- column attainment: hours_saved / target_hours_saved (workflow-measured hours only)
-- column suppressed: every cell behind one of the row's figures rests on fewer than 11 people or items: that figure is null
create or replace table leader_scorecard_monthly as
with units as (
  select org_unit, name, leader_key from org_units where level = 'business_unit'
),
adoption as (  -- over the tools whose cells are not suppressed; suppressed when every tool's is
  select org_unit, month, sum(seats)::bigint as seats,
    sum(active_users) filter (where not suppressed) / nullif(sum(seats) filter (where not suppressed), 0)
      as active_rate,
    sum(sustained_users) filter (where not suppressed) / nullif(sum(seats) filter (where not suppressed), 0)
      as sustained_rate,
    bool_and(suppressed) as suppressed
  from adoption_monthly group by all
),
workflow as (
  select org_unit, month, sum(hours_saved) filter (where not suppressed) as hours_saved,
    sum(value_usd) filter (where not suppressed) as value_usd, bool_and(suppressed) as suppressed
  from workflow_attribution_monthly where method = 'concurrent_control' group by all
),
estimate as (
  select org_unit, month, sum(assisted_hours) filter (where not suppressed) as assisted_hours,
    bool_and(suppressed) as suppressed
  from productivity_estimate_monthly group by all
),
months as (
  select distinct month from adoption_monthly
),
final as (
  select u.org_unit, u.name, u.leader_key, m.month, a.seats,
    a.active_rate, a.sustained_rate, w.hours_saved, w.value_usd, e.assisted_hours, t.target_hours_saved,
    w.hours_saved / nullif(t.target_hours_saved, 0) as attainment,
    coalesce(a.suppressed, true) or coalesce(w.suppressed, false) or coalesce(e.suppressed, false) as suppressed
  from units u cross join months m
  left join adoption a on a.org_unit = u.org_unit and a.month = m.month
  left join workflow w on w.org_unit = u.org_unit and w.month = m.month
  left join estimate e on e.org_unit = u.org_unit and e.month = m.month
  left join ref_targets t on t.org_unit = u.org_unit and t.month = m.month
)
select * from final order by month, org_unit;
