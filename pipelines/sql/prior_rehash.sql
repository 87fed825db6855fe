-- prior: every event landed by earlier runs, its content hash recomputed from the landed events (used when
-- an earlier run hashed with another DuckDB version, whose hash() may differ).
-- grain: one row per landed event (event_id is unique across runs)
-- {files} is a list of the lake's own files, written as literals: a view cannot hold bound parameters.
create temp view prior as
select event_id, hash({content}) as content_hash
from read_parquet({files}, hive_partitioning = true)
