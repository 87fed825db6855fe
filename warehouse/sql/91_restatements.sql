-- restatements: every figure of a closed month (uptake close) that the current data no longer gives as
-- published, and what caused it: the ingest runs landed after the close with events that feed the figure
-- (its tool, its org unit's subtree, the month or earlier, or the first week of the next month), and the
-- reference files changed since. What `uptake roi --month M` warns about; the published month never changes.
-- grain: one row per closed month, table, row key and column whose current value differs from the published one
-- column month: the closed month, YYYY-MM
-- column table_name: the finance table
-- column key: the row's key within the table and month (as in finance_figures)
-- column column_name: the column
-- column published: the value published at the close, as text; null when the row did not exist then
-- column current: the value the current data gives, as text; null when the row no longer exists
-- column ingest_runs: ingest runs committed after the close whose events feed the figure
-- column reference_files: reference files whose content changed since the close (e.g. licenses.csv, roster.csv)
-- column version: the version of the month's close the figure was published in (the latest)
-- column closed_at: when that version was published, UTC
create or replace table restatements as
with closes as (  -- the latest version of each closed month
  select * from published_closes qualify row_number() over (partition by month order by version desc) = 1
),
published as (
  select f.*, c.version from published_figures f join closes c using (month, version)
),
published_columns as (  -- a column added to a table after the close is not a restatement
  select distinct table_name, column_name from published
),
now_figures as (
  select f.* from finance_figures f
  join closes c using (month)
  join published_columns p using (table_name, column_name)
),
changed as (
  select coalesce(p.month, n.month) as month, coalesce(p.table_name, n.table_name) as table_name,
    coalesce(p.key, n.key) as key, coalesce(p.column_name, n.column_name) as column_name,
    coalesce(p.org_unit, n.org_unit) as org_unit, coalesce(p.tool, n.tool) as tool,
    p.value as published, n.value as current
  from published p
  full join now_figures n on n.month = p.month and n.table_name = p.table_name and n.key = p.key
    and n.column_name = p.column_name
  where p.value is distinct from n.value
),
late as (  -- events landed after each close that can feed the month's figures, by tool and subtree
  select c.month, s.ancestor as org_unit, e.tool, list(distinct e.ingest_run order by e.ingest_run) as runs
  from closes c
  join events e on e.ingest_run > c.last_ingest_run
    and e.occurred_at < (strptime(c.month, '%Y-%m') + interval 1 month + interval 7 day)::timestamptz
  join org_subtree s on s.org_unit = e.org_unit
  group by all
),
causes as (
  select x.month, x.table_name, x.key, x.column_name,
    list_sort(list_distinct(flatten(list(l.runs) filter (where l.runs is not null)))) as ingest_runs
  from changed x
  left join late l on l.month = x.month and l.org_unit = x.org_unit and (x.tool is null or l.tool = x.tool)
  group by all
),
reference_then as (
  select p.month, p.file, p.sha256 from published_reference p join closes c using (month, version)
),
reference_now as (
  select c.month, r.file, r.sha256 from closes c cross join reference_files r
),
reference_changes as (
  select coalesce(t.month, n.month) as month,
    list(distinct coalesce(t.file, n.file) order by coalesce(t.file, n.file)) as files
  from reference_then t full join reference_now n on n.month = t.month and n.file = t.file
  where t.sha256 is distinct from n.sha256
  group by all
),
final as (
  select x.month, x.table_name, x.key, x.column_name, x.published, x.current, k.ingest_runs,
    coalesce(r.files, []) as reference_files, c.version, c.closed_at
  from changed x
  join causes k using (month, table_name, key, column_name)
  join closes c using (month)
  left join reference_changes r using (month)
)
select * from final order by month, table_name, key, column_name;
