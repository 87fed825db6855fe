-- quality: the accounting of every ingest run and input file, from the lake's ledger.
-- grain: one row per ingest run and input file
-- column ingest_run: the run's sequence number
-- column started_at: when the run started, UTC
-- column finished_at: when it committed, UTC
-- column source_file: the input file
-- column sha256: sha256 of the file's bytes
-- column already_ingested: the file's content had been ingested before: skipped, counts are 0
-- column lines: lines in the file
-- column landed: lines landed as events
-- column duplicates: exact re-sends of events already landed
-- column quarantined: lines quarantined, all reasons
-- column blank: empty or whitespace-only lines
-- column by_reason: quarantined lines by reason code
-- column dropped_fields: fields dropped (not in the contract for the event type), by name
-- column balanced: lines = landed + duplicates + quarantined + blank
create or replace table quality as
with files as (
  select * from ledger_files
),
final as (
  select ingest_run, started_at, finished_at, source_file, sha256, already_ingested, lines, landed, duplicates,
    quarantined, blank, by_reason, dropped_fields,
    lines = landed + duplicates + quarantined + blank as balanced
  from files
)
select * from final order by ingest_run, source_file;
