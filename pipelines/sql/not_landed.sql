-- not_landed: every staged copy that does not land, and why.
-- grain: one row per copy that repeats an earlier run's event, or is not the first copy in this run
-- fate: duplicate (same content as the copy that landed or lands) or conflicting_duplicate (other content).
-- Only the copies of an event sent more than once in this run, or landed before, can fail to land: they are
-- found first (almost every event is sent once), so ranking copies works on a few rows, not the whole run;
-- and found by event_key first (numbers group faster than text), then by event_id among the few rows whose
-- key repeats (a hash collision only adds rows to look at).
create temp table not_landed as
with key_repeated as (
  select event_key
  from staged
  group by event_key
  having count(*) > 1
),
repeated as (
  select event_id
  from staged
  semi join key_repeated using (event_key)
  group by event_id
  having count(*) > 1
),
copies as (
  select * from staged semi join repeated using (event_id)
  union all
  select * from staged s
  where s.event_id in (select event_id from prior) and s.event_id not in (select event_id from repeated)
),
first as (
  select event_id, min(pos) as pos, arg_min(content_hash, pos) as first_hash
  from copies
  group by event_id
),
final as (
  select s.file_idx, s.line, s.source_line, s.src_offset, s.src_length,
    case when coalesce(p.content_hash, f.first_hash) = s.content_hash then 'duplicate'
         else 'conflicting_duplicate' end as fate
  from copies s
  join first f using (event_id)
  left join prior p using (event_id)
  where p.event_id is not null or s.pos <> f.pos
)
select * from final
