-- item_costs: the hourly cost of each work item's actor when the item was done (restricted: person-level
-- payroll, so a temporary table of the build, never written to the warehouse file). The methods value
-- savings with it; what they publish is a mean over at least 11 people.
-- grain: one row per workflow and work item
-- column workflow: the workflow
-- column item_id: call id or case id
-- column hourly_cost_usd: the actor's hourly cost (roster) at item_at; null when the actor has no roster period then
create or replace temp table item_costs as
with items as (
  select distinct workflow, item_id, actor_key, item_at from work_items
),
final as (
  select i.workflow, i.item_id, arg_max(r.hourly_cost_usd, r.valid_from) as hourly_cost_usd  -- overlapping periods: the latest
  from items i
  left join roster r on r.actor_key = i.actor_key
    and i.item_at >= r.valid_from::timestamptz
    and (r.valid_to is null or i.item_at < r.valid_to::timestamptz)
  group by all
)
select * from final;
