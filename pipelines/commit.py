"""The commit of an ingest run: duplicates decided, the run's files moved into the lake, the ledger written.

Runs on the launcher, in DuckDB, after every range is staged (`pipelines/stage.py`). From the index the
workers wrote it decides which staged copies do not land (`sql/not_landed.sql`): a repeat of an event an
earlier run landed, or not the first copy in this run (files in path order, then lines); a copy with the
same content is a duplicate, one with other content is quarantined as `conflicting_duplicate` (its raw
line read back from its source, streamed). The rest is written once, partitioned by tool and event date (the
staged files, each already sorted by partition, merged: the run is never sorted whole), with the run's index
and quarantine; the run becomes visible through the lake's atomic manifest (`pipelines/lake.py`). Memory is
bounded whatever the run holds: a month re-sent whole, every line bad or every copy conflicting included.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from pipelines.accounting import Counts, total
from pipelines.blocks import open_input
from pipelines.inputs import Input
from pipelines.lake import Lake
from pipelines.merge import POSITION, STAGED_SUFFIX, write_partitions
from pipelines.sql import lit, lit_list, load
from pipelines.validate import connect
from schemas import events as contract

# DuckDB's memory in the commit; beyond it, it spills to staging/tmp. At 512 MB the 8 M-event commit held
# 500 MB of staged rows and the ingest's peak RSS grew 1.31x from 2 M to 8 M events; at 256 MB, 1.19x, as fast.
COMMIT_MEMORY = "256MB"
CONFLICT_COLUMNS = ("file_idx", "source_line", "src_offset", "src_length")  # where to read a line back from
READ_BACK_ROWS = 16_384  # raw lines held at once while conflicting duplicates are read back
# the quarantine's row groups: at DuckDB's default (122,880 rows) a file of 8 M bad lines ran it out of memory
QUARANTINE_GROUPS = "row_group_size 16384, row_group_size_bytes '16MB'"
# Content hash of a landed row (pseudonymized, normalized, org unit as sent): what a re-send must repeat. DuckDB's
# hash() may change between versions: the ledger records it; prior runs are rehashed from their events if it does.
CONTENT_HASH = "hash"


def hash_version() -> str:
    import duckdb

    return f"duckdb {duckdb.__version__} {CONTENT_HASH}()"


def staged_counts(inputs: list[Input], staging: Path) -> tuple[dict[int, Counts], list[Input]]:
    """Per input: what translation decided plus the counts of its staged ranges; and the inputs, each
    marked failed when one of its ranges could not be read."""
    counts = {i.idx: Counts().add(i.translated) if i.translated else Counts() for i in inputs}
    errors: dict[int, str] = {}
    for p in sorted((staging / "ranges").glob("*.json")):
        for s in json.loads(p.read_text()):  # a task's file: the counts of each of its ranges
            counts[s["file_idx"]].add(Counts.from_dict(s))
            if s.get("error"):
                errors.setdefault(s["file_idx"], s["error"])
    return counts, [i.failed(errors[i.idx]) if i.idx in errors and not i.error else i for i in inputs]


def records(inputs: list[Input], counts: dict[int, Counts] | None = None) -> list[dict[str, Any]]:
    """Per-file ledger records: a file that failed counts nothing."""
    return [{**i.record(), **(Counts() if i.error or counts is None else counts[i.idx]).as_dict()} for i in inputs]


def commit_run(lake: Lake, run: int, staging: Path, inputs: list[Input], started: dt.datetime,
               phases: dict[str, float]) -> dict[str, Any]:
    """Decide duplicates, write index and quarantine, move the run's files into the lake; the ledger entry."""
    clock = time.perf_counter()
    con = connect()
    con.execute(f"set temp_directory = {lit(staging / 'tmp')}; set memory_limit = '{COMMIT_MEMORY}'; "
                "set preserve_insertion_order = false")
    counts, inputs = staged_counts(inputs, staging)
    failed = {i.idx for i in inputs if i.error}
    landing = [i for i in inputs if not i.error]  # a file that failed lands nothing, whatever it staged
    con.register("input_files", pa.table({
        "file_idx": pa.array([i.idx for i in landing], pa.int32()),
        "source_file": pa.array([i.path for i in landing], pa.string()),
    }))
    out = staging / "out"
    out.mkdir(parents=True, exist_ok=True)
    moves: list[tuple[str, str]] = []

    def rel(p: Path) -> str:
        return str(p.relative_to(lake.root))

    staged = [str(p) for p in sorted((staging / "staged").glob(f"*{STAGED_SUFFIX}"))]
    conflicts = pa.table({c: pa.array([], pa.int64()) for c in CONFLICT_COLUMNS})
    drop = np.zeros(0, np.int64)
    if staged:
        rows = ds.dataset(staged, format="ipc")
        if failed:  # a file that failed lands nothing, whatever it staged
            rows = rows.filter(~pc.field("file_idx").isin(sorted(failed)))
        con.register("staged_rows", rows)
        con.execute(load("staged"))
        _prior_view(con, lake)
        con.execute(load("in_prior"))
        con.execute(load("not_landed"))
        con.execute(f"copy ({load('landed_index')}) to {lit(out / 'index.parquet')} (format parquet)")
        moves.append((rel(out / "index.parquet"), f"ledger/index/run-{run:06d}.parquet"))
        # as an array: a file re-sent whole after it landed does not land at all (millions of rows)
        drop = np.sort(np.asarray(con.execute(f"select {POSITION} as pos from not_landed").fetchnumpy()["pos"],
                                  np.int64))
        found: dict[int, Counter[str]] = {}
        for f, fate, n in con.execute("select file_idx, fate, count(*) from not_landed group by all").fetchall():
            found.setdefault(f, Counter())[fate] = n
        for f, c in found.items():
            counts[f].settle(c["duplicate"], c["conflicting_duplicate"])
        conflicts = con.sql(f"""select {", ".join(CONFLICT_COLUMNS)} from not_landed
                                where fate = 'conflicting_duplicate' order by file_idx, src_offset""").to_arrow_table()
        con.execute("drop table staged; drop table in_prior; drop table not_landed")  # done with: memory freed

    q_files = [str(p) for p in sorted(staging.glob("quarantine/*.parquet"))]
    if q_files:
        con.execute(f"create temp view staged_quarantine as select * from read_parquet({lit_list(q_files)})")
    else:
        con.execute("create temp view staged_quarantine as select null::int as file_idx, null::bigint as source_line,"
                    " null::varchar as reason, null::blob as raw_line where false")
    con.register("conflicts", _read_back(conflicts, {i.idx: i.read_path for i in inputs}))
    q_out = out / "quarantine.parquet"
    con.execute("set preserve_insertion_order = true")  # the quarantine's rows in the order read: never sorted
    con.execute(f"copy ({load('quarantine')}) to {lit(q_out)} (format parquet, {QUARANTINE_GROUPS})",
                {"run": run, "started": started})
    os.chmod(q_out, 0o600)
    con.close()  # DuckDB's memory released before the partitions are merged
    if staged:
        write_partitions(staged, drop, failed, out / "events", f"run-{run:06d}-0.parquet")
    for p in sorted(out.glob("events/**/*.parquet")):
        moves.append((rel(p), str(p.relative_to(out))))
    moves.append((rel(q_out), f"quarantine/run-{run:06d}.parquet"))

    per_file = records([i for i in inputs if not i.error], counts)
    ledger = {
        "run": run,
        "started_at": started.isoformat(),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(),
        "hash": hash_version(),
        "phases": {**{k: round(v, 3) for k, v in phases.items()}, "commit_s": round(time.perf_counter() - clock, 3)},
        "files": per_file,  # what a later run treats as ingested: never a file that failed
        "failed": [i.record() for i in inputs if i.error],
        "total": total(per_file),
        "outputs": {
            "events": [m[1] for m in moves if m[1].startswith("events/")],
            "index": f"ledger/index/run-{run:06d}.parquet" if staged else None,
            "quarantine": f"quarantine/run-{run:06d}.parquet",
        },
    }
    lake.commit(run, {"run": run, "moves": moves, "restricted": [f"quarantine/run-{run:06d}.parquet"],
                      "ledger": ledger})
    return {**ledger, "files": records(inputs, counts)}


def _prior_view(con: Any, lake: Lake) -> None:
    """`prior(event_id, content_hash)`: every event landed by earlier runs. From the index, unless an
    earlier run hashed with another DuckDB version: then rehashed from the landed events themselves."""
    runs = lake.committed_runs()
    index = [str(lake.root / r["outputs"]["index"]) for r in runs if r["outputs"].get("index")]
    if not index:
        con.execute(load("prior_none"))
    elif all(r.get("hash") == hash_version() for r in runs):
        con.execute(load("prior_index").format(files=lit_list(index)))
    else:
        con.execute(load("prior_rehash").format(files=lit_list(lake.event_files()),
                                                content=", ".join(contract.content_columns())))


def _read_back(rows: pa.Table, paths: dict[int, str]) -> pa.RecordBatchReader:
    """Raw bytes of the lines at `rows` (CONFLICT_COLUMNS, in file then offset order), read from the files they
    were read from, streamed: READ_BACK_ROWS lines at a time, each file read forward once (gzip seeks by
    decompressing). DuckDB reads the stream once, so memory stays flat however many copies conflict."""
    schema = pa.schema([("file_idx", pa.int32()), ("source_line", pa.int64()), ("reason", pa.string()),
                        ("raw_line", pa.binary())])

    def batches() -> Iterator[pa.RecordBatch]:
        with contextlib.ExitStack() as files:
            fh: BinaryIO | None = None
            open_idx = None
            for batch in rows.to_batches(max_chunksize=READ_BACK_ROWS):
                f_col, line_col, off_col, len_col = (batch.column(c).to_pylist() for c in CONFLICT_COLUMNS)
                raw = []
                for f, off, length in zip(f_col, off_col, len_col, strict=True):
                    if fh is None or f != open_idx:
                        files.close()  # the previous file: done with
                        fh, open_idx = files.enter_context(open_input(paths[f])), f
                    fh.seek(off)
                    raw.append(fh.read(length))
                yield pa.record_batch([pa.array(f_col, pa.int32()), pa.array(line_col, pa.int64()),
                                       pa.array(["conflicting_duplicate"] * len(raw), pa.string()),
                                       pa.array(raw, pa.binary())], schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())
