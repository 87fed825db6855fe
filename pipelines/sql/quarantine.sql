-- quarantine: the run's quarantined lines, raw and replayable: staged bad lines and conflicting duplicates.
-- grain: one row per quarantined line (source_file, source_line)
-- Not sorted: DuckDB's sort of raw lines under the commit's memory limit ran out of memory now and then
-- (2 M conflicting copies), and no reader needs an order. Rows come as read: the staged bad lines by file and
-- range, then the conflicting duplicates by file and byte offset. Query with `order by source_file, source_line`.
with lines as (
  select file_idx, source_line, reason, raw_line from staged_quarantine
  union all
  select file_idx, source_line, reason, raw_line from conflicts
),
final as (
  select $run::bigint as ingest_run, i.source_file, l.source_line, l.reason, l.raw_line,
    $started::timestamptz as ingested_at
  from lines l
  join input_files i using (file_idx)
)
select * from final
