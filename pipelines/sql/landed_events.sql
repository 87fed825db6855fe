-- landed_events: the run's events as they land, in partition order (tool, event date) for the writer.
-- grain: one row per event the run lands (event_id is unique)
-- {files}: the run's staged files (the staging folder's own paths, as literals like every file list here).
with rows as (
  select * from read_parquet({files})
),
final as (
  select {columns}
  from rows s
  anti join not_landed n on n.file_idx = s.file_idx and n.line = s.line
)
select * from final
order by tool, event_date
