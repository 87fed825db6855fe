-- license_allocation: each license's cost (licenses.csv), allocated to the org units that used the tool, so a
-- figure can carry the cost of exactly the units it covers. Rule: a license held by a unit is shared among the
-- units of the holder's subtree in proportion to the holder's active users in each (people with a use of the
-- tool in the month, counted once per unit they used it in); a holder whose subtree had no active user that
-- month keeps its whole cost. A holder's allocations sum to its license cost.
-- grain: one row per tool, license holder, month and org unit allocated to
-- column tool: the licensed tool
-- column holder_org_unit: the org unit that holds the license in licenses.csv
-- column org_unit: the org unit the cost is allocated to (the holder or a unit of its subtree)
-- column month: YYYY-MM
-- column active_users: active users of the tool in org_unit, within the holder's subtree (0 when the holder keeps an unused license)
-- column share: active_users / the holder's active users over its subtree (1 when the holder keeps the license)
-- column cost_usd: the license cost × share, USD (exact to 1e-10; safe to sum)
-- column basis: active_users (shared by use) or held (nobody in the holder's subtree used the tool: the holder keeps it)
create or replace table license_allocation as
with uses as (
  select distinct tool, month, org_unit, actor_key from events
  where (tool = 'copilot' and event_type = 'assist')
     or (tool = 'call_summarization' and event_type = 'summary_reviewed')
     or (tool = 'lmn_drafting' and event_type = 'letter_drafted' and ai_drafted)
),
by_unit as (  -- each license holder's active users, by the unit of its subtree they used the tool in
  select l.tool, l.org_unit as holder_org_unit, u.org_unit, l.month, count(*) as active_users
  from ref_licenses l
  join org_subtree s on s.ancestor = l.org_unit
  join uses u on u.tool = l.tool and u.month = l.month and u.org_unit = s.org_unit
  group by all
),
totals as (
  select tool, holder_org_unit, month, sum(active_users) as holder_users from by_unit group by all
),
shared as (
  select b.tool, b.holder_org_unit, b.org_unit, b.month, b.active_users,
    b.active_users / t.holder_users as share,
    (l.cost_usd::decimal(18, 6) * b.active_users / t.holder_users)::decimal(38, 10) as cost_usd,
    'active_users' as basis
  from by_unit b
  join totals t using (tool, holder_org_unit, month)
  join ref_licenses l on l.tool = b.tool and l.org_unit = b.holder_org_unit and l.month = b.month
),
held as (
  select l.tool, l.org_unit as holder_org_unit, l.org_unit, l.month, 0 as active_users, 1.0::double as share,
    l.cost_usd::decimal(38, 10) as cost_usd, 'held' as basis
  from ref_licenses l
  anti join totals t on t.tool = l.tool and t.holder_org_unit = l.org_unit and t.month = l.month
),
final as (
  select tool, holder_org_unit, org_unit, month, active_users, share, cost_usd::double as cost_usd, basis
  from shared
  union all
  select tool, holder_org_unit, org_unit, month, active_users, share, cost_usd::double, basis from held
)
select * from final order by tool, month, holder_org_unit, org_unit;
