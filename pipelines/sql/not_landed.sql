-- not_landed: every staged copy that does not land, and why.
-- grain: one row per copy that repeats an earlier run's event (in_prior), or is not the first copy in this run
-- fate: duplicate (same content as the copy that landed or lands) or conflicting_duplicate (other content).
-- The copies of an event sent more than once in this run are found first (almost every event is sent once),
-- so ranking copies works on a few rows, not the whole run; and found by event_key first (numbers group
-- faster than text), then by event_id among the few rows whose key repeats (a collision only adds rows to
-- look at). A copy of an event landed before is judged against what landed (in_prior), whatever this run holds.
-- Every step is a join or an aggregate DuckDB can spill: no `in (subquery)`, whose mark join cannot.
create temp table not_landed as
with key_repeated as (
  select event_key
  from staged
  group by event_key
  having count(*) > 1
),
copies as (
  select s.*
  from staged s
  semi join key_repeated using (event_key)
),
first as (
  select event_id, min(pos) as pos, arg_min(content_hash, pos) as first_hash
  from copies
  group by event_id
  having count(*) > 1
),
run_repeats as (
  select c.file_idx, c.line, c.source_line, c.src_offset, c.src_length, c.content_hash,
    f.first_hash as landed_hash
  from copies c
  join first f using (event_id)
  where c.pos <> f.pos
),
final as (
  select * from in_prior
  union all
  select * from run_repeats r anti join in_prior i using (file_idx, line)
)
select file_idx, line, source_line, src_offset, src_length,
  case when landed_hash = content_hash then 'duplicate' else 'conflicting_duplicate' end as fate
from final
