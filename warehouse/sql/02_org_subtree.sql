-- org_subtree: every (ancestor, unit) pair, a unit being its own ancestor: joins roll figures up a subtree.
-- grain: one row per org unit and each of its ancestors (itself included)
-- column ancestor: the org unit whose subtree holds org_unit
-- column org_unit: a unit in the ancestor's subtree
-- column ancestor_level: level of the ancestor
-- column ancestor_depth: depth of the ancestor (0 at the root)
create or replace table org_subtree as
with pairs as (
  select unnest(path) as ancestor, org_unit from org_units
),
final as (
  select p.ancestor, p.org_unit, a.level as ancestor_level, a.depth as ancestor_depth
  from pairs p join org_units a on a.org_unit = p.ancestor
)
select * from final;
