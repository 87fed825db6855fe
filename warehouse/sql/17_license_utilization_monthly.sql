-- license_utilization_monthly: seats as measured, per tool, business unit (and the enterprise) and month: what
-- finance can reclaim (idle seats) or must true up (users over seats). Rates above 1 are findings, not errors.
-- grain: one row per tool, org unit at business_unit level or above, and month
-- column tool: the licensed tool
-- column org_unit: a business unit or the enterprise; seats and people of its whole subtree
-- column level: business_unit or enterprise
-- column month: YYYY-MM
-- column seats: seats held in the subtree (licenses.csv); safe to sum across business units
-- column cost_usd: license cost of those seats, USD; safe to sum across business units
-- column active_users: people with a use of the tool in the month (as adoption_monthly); null when suppressed
-- column sustained_users: people with a use in at least 3 of the 4 ISO weeks ending with the week of the month's last day; null when suppressed
-- column idle_seats: max(seats − active_users, 0): seats nobody used in the month; null when suppressed
-- column idle_seat_cost_usd: idle_seats × cost_usd / seats (the mean seat price), USD; null when suppressed or no seats
-- column users_over_seats: max(active_users − seats, 0): people using the tool beyond the seats counted (free tiers, a late license file, movers); null when suppressed
-- column suppressed: fewer than 11 active people: the figures built from people are null (seats and cost stay)
create or replace table license_utilization_monthly as
with adoption as (
  select * from adoption_monthly where level in ('business_unit', 'enterprise')
),
costs as (
  select l.tool, s.ancestor as org_unit, l.month, sum(l.cost_usd::decimal(18, 6))::double as cost_usd
  from ref_licenses l join org_subtree s on s.org_unit = l.org_unit
  where s.ancestor_level in ('business_unit', 'enterprise')
  group by all
),
final as (
  select a.tool, a.org_unit, a.level, a.month, coalesce(a.seats, 0) as seats, coalesce(c.cost_usd, 0) as cost_usd,
    a.active_users, a.sustained_users,
    case when not a.suppressed then greatest(coalesce(a.seats, 0) - a.active_users, 0) end as idle_seats,
    case when not a.suppressed and a.seats > 0
         then greatest(a.seats - a.active_users, 0) * c.cost_usd / a.seats end as idle_seat_cost_usd,
    case when not a.suppressed then greatest(a.active_users - coalesce(a.seats, 0), 0) end as users_over_seats,
    a.suppressed
  from adoption a
  left join costs c using (tool, org_unit, month)
)
select * from final order by tool, month, org_unit;
