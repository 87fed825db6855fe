-- staged: every row a run staged to land, from the index the workers wrote, in the order copies are ranked.
-- grain: one row per staged copy of an event (file_idx, line is unique)
-- pos ranks copies: files in path order, then lines in file order (derived lines for vendor exports).
create temp table staged as
with indexed as (
  select * from read_parquet($files)
),
final as (
  select event_id, content_hash, file_idx, line, source_line, src_offset, src_length, part, "row",
    (file_idx::bigint << 40) + line as pos
  from indexed
)
select * from final
