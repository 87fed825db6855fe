-- in_prior: the staged copies of events that earlier runs landed, with the content that landed.
-- grain: one row per staged copy whose event_id is in prior (file_idx, line is unique)
-- A plain join, so DuckDB can spill it: a file re-sent whole after it landed makes every staged copy one of
-- these (8.3 M rows against 8.3 M landed events, under the commit's memory limit).
create temp table in_prior as
select s.file_idx, s.line, s.source_line, s.src_offset, s.src_length, s.content_hash,
  p.content_hash as landed_hash
from staged s
join prior p using (event_id)
