-- prior: no event landed before this run.
-- grain: none
create temp view prior as
select null::varchar as event_id, null::ubigint as content_hash
where false
