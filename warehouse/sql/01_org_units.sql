-- org_units: the organization's hierarchy, each unit with its path from the root and its accountable leader.
-- grain: one row per org unit
-- column org_unit: the org unit's code (org_units.csv)
-- column name: the org unit's name
-- column parent_org_unit: the parent's code; null at the root
-- column level: enterprise, business_unit, department or team
-- column leader: the accountable leader as org_units.csv publishes them (name and title), shown as given; null when none is published
-- column path: codes from the root down to this unit
-- column path_text: the path as text, root first
-- column depth: 0 at the root
create or replace table org_units as
with recursive paths(org_unit, path) as (
  select org_unit, [org_unit] from ref_org_units where parent_org_unit is null
  union all
  select c.org_unit, list_append(p.path, c.org_unit)
  from ref_org_units c join paths p on c.parent_org_unit = p.org_unit
),
final as (
  select u.org_unit, u.name, u.parent_org_unit, u.level, u.leader, p.path,
    array_to_string(p.path, ' > ') as path_text, len(p.path) - 1 as depth
  from ref_org_units u join paths p using (org_unit)
)
select * from final order by path_text;
