-- roster: who is where, when, in what role, at what hourly cost (restricted: payroll and quasi-identifiers,
-- so a temporary table of the build, never written to the warehouse file; analysts query roster_cells).
-- grain: one row per actor and validity period
-- column actor_key: pseudonym of the actor (HMAC-SHA256 of the actor id, as in events)
-- column org_unit: the actor's org unit in the period
-- column role: the actor's role
-- column site: the actor's site
-- column hourly_cost_usd: fully loaded cost of an hour of the actor's time, USD
-- column valid_from: first day of the period
-- column valid_to: first day after the period; null while open
create or replace temp table roster as
with final as (
  select actor_key, org_unit, role, site, hourly_cost_usd, valid_from, valid_to from ref_roster
)
select * from final;
