-- roster_cells: head count and mean hourly cost per org unit, role and site and month, so that no published
-- cell singles out fewer than 11 people: a (unit, role, site) cell under 11 people is folded into its unit and
-- role with site null ("other sites"); what is still under 11 into its unit with role and site null ("other
-- roles"); a cell still under 11 shows neither its people nor its cost. Person-level cost never leaves the build.
-- grain: one row per month, org unit (people placed directly in it, not its subtree) and published role and site
-- column month: YYYY-MM (months with events or licenses)
-- column org_unit: the org unit people are placed in (roster.csv), not its subtree
-- column role: the role; null = the unit's other roles, each under 11 people on its own
-- column site: the site; null = the role's other sites (or, with role null, any site)
-- column people: distinct people in the roster of the unit, role and site at any time of the month; null when under 11
-- column hourly_cost_usd: mean hourly cost of those people (each at their latest rate of the month), USD; null when under 11
-- column suppressed: the cell holds fewer than 11 people: people and hourly_cost_usd are null
create or replace table roster_cells as
with months as (
  select distinct month, strptime(month, '%Y-%m')::date as month_start from (
    select month from events union select month from ref_licenses)
),
people as (  -- each person once per month, unit, role and site, at their latest rate of the month
  select m.month, r.org_unit, r.role, coalesce(r.site, '') as site, r.actor_key,
    arg_max(r.hourly_cost_usd, r.valid_from) as hourly_cost_usd
  from roster r join months m
    on r.valid_from < m.month_start + interval 1 month and (r.valid_to is null or r.valid_to > m.month_start)
  group by all
),
exact as (
  select month, org_unit, role, site, count(*) >= 11 as shown from people group by all
),
by_role as (  -- people of cells under 11, pooled over sites
  select p.month, p.org_unit, p.role, count(*) >= 11 as shown
  from people p join exact e using (month, org_unit, role, site)
  where not e.shown group by all
),
placed as (
  select p.month, p.org_unit, p.hourly_cost_usd,
    case when e.shown or r.shown then p.role end as role,
    case when e.shown then nullif(p.site, '') end as site
  from people p
  join exact e using (month, org_unit, role, site)
  left join by_role r on not e.shown and r.month = p.month and r.org_unit = p.org_unit and r.role = p.role
),
cells as (
  select month, org_unit, role, site, count(*) as people,
    sum(hourly_cost_usd::decimal(18, 6)) / count(*) as hourly_cost_usd
  from placed group by all
),
final as (
  select month, org_unit, role, site,
    case when people >= 11 then people end as people,
    case when people >= 11 then hourly_cost_usd end as hourly_cost_usd,
    people < 11 as suppressed
  from cells
)
select * from final order by month, org_unit, role nulls last, site nulls last;
