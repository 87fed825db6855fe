-- not_landed: every staged copy that does not land, and why.
-- grain: one row per copy that repeats an earlier run's event, or is not the first copy in this run
-- fate: duplicate (same content as the copy that landed or lands) or conflicting_duplicate (other content).
create temp table not_landed as
with first as (
  select event_id, min(pos) as pos, arg_min(content_hash, pos) as first_hash
  from staged
  group by event_id
),
final as (
  select s.file_idx, s.line, s.source_line, s.src_offset, s.src_length,
    case when coalesce(p.content_hash, f.first_hash) = s.content_hash then 'duplicate'
         else 'conflicting_duplicate' end as fate
  from staged s
  join first f using (event_id)
  left join prior p using (event_id)
  where p.event_id is not null or s.pos <> f.pos
)
select * from final
