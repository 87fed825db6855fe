-- landed_index: the run's entry in the ledger index, how later runs recognise a re-sent event.
-- grain: one row per event the run lands (event_id is unique)
select event_id, content_hash
from staged s
anti join not_landed n on n.file_idx = s.file_idx and n.line = s.line
