-- prior: every event landed by earlier runs, with its content hash, from their ledger index files.
-- grain: one row per landed event (event_id is unique across runs)
-- {files} is a list of the lake's own files, written as literals: a view cannot hold bound parameters.
create temp view prior as
select event_id, content_hash from read_parquet({files})
