-- roster: who is where, when, at what hourly cost; actor ids pseudonymized with the lake's key.
-- grain: one row per actor and validity period
-- column actor_key: pseudonym of the actor (HMAC-SHA256 of the actor id, as in events)
-- column org_unit: the actor's org unit in the period
-- column role: the actor's role
-- column site: the actor's site
-- column hourly_cost_usd: fully loaded cost of an hour of the actor's time, USD
-- column valid_from: first day of the period
-- column valid_to: first day after the period; null while open
create or replace table roster as
with final as (
  select actor_key, org_unit, role, site, hourly_cost_usd, valid_from, valid_to from ref_roster
)
select * from final;
