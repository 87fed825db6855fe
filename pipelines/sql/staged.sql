-- staged: every row the run staged to land (from the workers' staged files), ranked the way copies are.
-- grain: one row per staged copy of an event (file_idx, line is unique)
-- pos ranks copies: files in path order, then lines in file order (derived lines for vendor exports).
-- event_key: a 64-bit hash of event_id, which finds the few repeated events faster than the text does.
create temp table staged as
with rows as (
  select event_id, content_hash, file_idx, line, source_line, src_offset, src_length
  from staged_rows
),
final as (
  select *, (file_idx::bigint << 40) + line as pos, hash(event_id) as event_key
  from rows
)
select * from final
