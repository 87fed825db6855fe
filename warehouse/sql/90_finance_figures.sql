-- finance_figures: every figure of the finance and leader tables, one per row, as text: what `uptake close`
-- publishes for a month and what restatements compares with. New columns of a table appear here by themselves.
-- grain: one row per table, month, row key and column
-- column table_name: the finance table (workflow_attribution_monthly, service_level_monthly, productivity_estimate_monthly, license_utilization_monthly, adoption_monthly, leader_scorecard_monthly)
-- column month: YYYY-MM
-- column key: the row's key within the table and month, as name=value pairs joined by |
-- column org_unit: the row's org unit
-- column tool: the row's tool (a workflow's tool); null for the scorecard, which spans tools
-- column column_name: the column
-- column value: the figure as text (DuckDB's cast to VARCHAR; doubles print exactly as stored); null when null
create or replace table finance_figures as
with attribution as (
  select 'workflow_attribution_monthly' as table_name, f.month,
    concat('workflow=', f.workflow, '|org_unit=', f.org_unit, '|method=', f.method) as key, f.org_unit, w.tool,
    columns(f.* exclude (workflow, org_unit, month, method))::varchar
  from workflow_attribution_monthly f join ref_workflows w using (workflow)
),
service as (
  select 'service_level_monthly' as table_name, f.month,
    concat('workflow=', f.workflow, '|org_unit=', f.org_unit, '|method=', f.method) as key, f.org_unit, w.tool,
    columns(f.* exclude (workflow, org_unit, month, method))::varchar
  from service_level_monthly f join ref_workflows w using (workflow)
),
estimate as (
  select 'productivity_estimate_monthly' as table_name, f.month,
    concat('org_unit=', f.org_unit, '|tool=', f.tool) as key, f.org_unit, f.tool,
    columns(f.* exclude (org_unit, tool, month))::varchar
  from productivity_estimate_monthly f
),
utilization as (
  select 'license_utilization_monthly' as table_name, f.month,
    concat('tool=', f.tool, '|org_unit=', f.org_unit) as key, f.org_unit, f.tool,
    columns(f.* exclude (tool, org_unit, month))::varchar
  from license_utilization_monthly f
),
adoption as (
  select 'adoption_monthly' as table_name, f.month,
    concat('tool=', f.tool, '|org_unit=', f.org_unit) as key, f.org_unit, f.tool,
    columns(f.* exclude (tool, org_unit, month))::varchar
  from adoption_monthly f
),
scorecard as (
  select 'leader_scorecard_monthly' as table_name, f.month, concat('org_unit=', f.org_unit) as key, f.org_unit,
    null::varchar as tool, columns(f.* exclude (org_unit, month))::varchar
  from leader_scorecard_monthly f
),
final as (
  from attribution unpivot include nulls (value for column_name in (columns(* exclude (table_name, month, key, org_unit, tool))))
  union all by name
  from service unpivot include nulls (value for column_name in (columns(* exclude (table_name, month, key, org_unit, tool))))
  union all by name
  from estimate unpivot include nulls (value for column_name in (columns(* exclude (table_name, month, key, org_unit, tool))))
  union all by name
  from utilization unpivot include nulls (value for column_name in (columns(* exclude (table_name, month, key, org_unit, tool))))
  union all by name
  from adoption unpivot include nulls (value for column_name in (columns(* exclude (table_name, month, key, org_unit, tool))))
  union all by name
  from scorecard unpivot include nulls (value for column_name in (columns(* exclude (table_name, month, key, org_unit, tool))))
)
select table_name, month, key, org_unit, tool, column_name, value from final
order by table_name, month, key, column_name;
