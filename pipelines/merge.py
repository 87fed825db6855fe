"""The staged files of a run, and their merge into the lake's partitions.

A worker stages the rows of a task (a range, or a pack of small files) that pass as Arrow IPC files
(`write_staged`), each sorted by partition (tool, event date), then file and line. At commit,
`write_partitions` merges them into one Parquet file per partition, without the copies that do not land nor
the rows of a file that failed, rows in file then line order: each staged file is read a record batch at a
time and only the partition being filled is held, so the run is never sorted whole.

The merge holds one record batch per staged file it reads from; past MERGE_FAN_IN staged files (a run of
hundreds of small input files), groups of them are first merged into intermediate staged files, so memory
depends on the fan-in, not on how many files the run had.
"""

from __future__ import annotations

import heapq
import shutil
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from pipelines.lake import written
from schemas import events as contract

# Staged files: Arrow IPC, LZ4-compressed, in record batches of STAGED_ROW_GROUP rows. Read once, batch by
# batch: cheaper to write and read than Parquet, for a file that lives minutes.
STAGED_ROW_GROUP = 4096
STAGED_SUFFIX = ".arrow"
IPC_OPTIONS = ipc.IpcWriteOptions(compression="lz4")
# staged files read at once by one merge: 517 input files of 4,000 lines, each read at once, took the 2 M
# ingest's peak RSS to 1,676 MB (one file: 856 MB); merged 64 at a time first, 604 MB
MERGE_FAN_IN = 64
Runs = Iterator[tuple[tuple[str, str], pa.Table]]  # runs of one partition key, in order
# columns nearly unique per event: no dictionary in the partition files (pyarrow tries one on every column, then
# falls back): the 2 M-event run's 446 files 11 % smaller (106.1 -> 94.3 MB), written in the same time
UNIQUE_COLUMNS = ("event_id", "occurred_at", "work_item_id", "source_line")
# a staged row's place in the run: its input, then its line (as `sql/staged.sql` ranks copies)
POSITION = "(file_idx::bigint << 40) + line"


def write_staged(table: pa.Table, path: Path, batch_rows: int = STAGED_ROW_GROUP) -> None:
    """A staged file, written whole or not at all, readable by its owner only."""
    with written(path, restricted=True) as tmp, ipc.new_file(tmp, table.schema, options=IPC_OPTIONS) as out:
        out.write_table(table, max_chunksize=batch_rows)


def staged_batches(path: str | Path, columns: list[str]) -> Iterator[pa.RecordBatch]:
    """A staged file's record batches, in order, with `columns` only, each read when it is used. Read, not
    memory-mapped: the pages of a mapped file stay in the process's RSS until it is closed (the 8 M merge
    held 250 MB of them; read, 130 MB), and read() of the page cache is no slower."""
    with pa.OSFile(str(path)) as source:
        reader = ipc.open_file(source)
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i).select(columns)


def write_partitions(staged: list[str], drop: np.ndarray, failed: set[int], root: Path, name: str) -> None:
    """The staged files (each sorted by tool, event date, input, line; in input then range order) merged → one
    Parquet file per partition, `root/tool=…/event_date=…/name`, without the copies that do not land (`drop`:
    their positions, `POSITION`, sorted) nor the rows of inputs that `failed`; within a partition, rows in
    file then line order."""
    files = pa.schema([(n, t) for n, t, _ in contract.landed_columns() if n not in ("tool", "event_date")])
    columns = [*files.names, "tool", "event_date", "file_idx", "line"]
    dictionary = [c for c in files.names if c not in UNIQUE_COLUMNS]
    sources = [_staged_runs(f, columns, drop, failed) for f in staged]
    work = root.parent / "merge"
    level = 0
    fan_in = max(2, MERGE_FAN_IN)
    while len(sources) > fan_in:  # merged in consecutive groups: ties stay in file then line order
        merged = [_merge_to_staged(sources[i:i + fan_in], work / f"m{level}-{i:06d}{STAGED_SUFFIX}")
                  for i in range(0, len(sources), fan_in)]
        sources = [_staged_runs(str(p), columns, np.zeros(0, np.int64), set()) for p in merged if p.exists()]
        level += 1

    def write(key: tuple[str, str], table: pa.Table) -> None:
        path = root / f"tool={key[0]}" / f"event_date={key[1]}" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, compression="snappy", use_dictionary=dictionary)

    def flush(key: tuple[str, str], tables: list[pa.Table]) -> None:
        # not copied: a write in flight holds the few staged batches its rows were sliced from
        writes.append(pool.submit(write, key, pa.concat_tables(tables).select(files.names).cast(files)))
        while len(writes) > 2:  # bounded: at most a few partitions in flight
            writes.popleft().result()

    writes: deque[Future] = deque()
    with ThreadPoolExecutor(2, thread_name_prefix="partition") as pool:
        _merge(sources, flush)
        for w in writes:
            w.result()
    shutil.rmtree(work, ignore_errors=True)


def _merge_to_staged(sources: list[Runs], path: Path) -> Path:
    """`sources` merged into one staged file at `path` (none when no row lands)."""
    writer: ipc.RecordBatchFileWriter | None = None

    def append(key: tuple[str, str], tables: list[pa.Table]) -> None:
        nonlocal writer
        table = pa.concat_tables(tables)
        if writer is None:  # the schema is the first run's: every staged file has the same
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = ipc.new_file(str(path), table.schema, options=IPC_OPTIONS)
        writer.write_table(table, max_chunksize=STAGED_ROW_GROUP)

    try:
        _merge(sources, append)
    finally:
        if writer is not None:
            writer.close()
    return path


def _merge(sources: list[Runs], emit: Callable[[tuple[str, str], list[pa.Table]], None]) -> None:
    """Each partition key's runs, from every source, in key order: ties in source order, then a source's next
    run (in line order). `emit(key, runs)` once per key."""
    heap = [(run[0], i, run[1]) for i, c in enumerate(sources) if (run := next(c, None)) is not None]
    heapq.heapify(heap)
    emitted: set[tuple[str, str]] = set()
    held: list[pa.Table] = []
    key: tuple[str, str] | None = None
    while heap:
        k, i, t = heapq.heappop(heap)
        if key is not None and k != key:
            _emit_once(emit, emitted, key, held)
            held = []
        key = k
        held.append(t)
        if (run := next(sources[i], None)) is not None:
            heapq.heappush(heap, (run[0], i, run[1]))
    if key is not None and held:
        _emit_once(emit, emitted, key, held)


def _emit_once(emit: Callable[[tuple[str, str], list[pa.Table]], None], emitted: set[tuple[str, str]],
               key: tuple[str, str], held: list[pa.Table]) -> None:
    if key in emitted:  # a staged file was not in partition order: never overwrite what was written
        raise RuntimeError(f"partition {key} met twice while merging the staged files")
    emitted.add(key)
    emit(key, held)


def _staged_runs(path: str, columns: list[str], drop: np.ndarray, failed: set[int]) -> Runs:
    """A staged file's rows that land, as runs of one partition key, in the file's order (`drop`: the sorted
    positions of the run's rows that do not land; `failed`: inputs none of whose rows land)."""
    for batch in staged_batches(path, columns):
        t = pa.Table.from_batches([batch])
        f = t.column("file_idx").to_numpy()
        if failed and len(f) and np.isin(f, list(failed)).any():
            t = t.filter(pa.array(~np.isin(f, list(failed))))
            f = t.column("file_idx").to_numpy()
        pos = (f.astype(np.int64) << 40) + t.column("line").to_numpy()
        if len(drop) and len(pos) and np.searchsorted(drop, pos.min()) < np.searchsorted(drop, pos.max(), "right"):
            # some of the batch's rows do not land: found by binary search (np.isin sorted all of drop per batch)
            at = np.minimum(np.searchsorted(drop, pos), len(drop) - 1)
            t = t.filter(pa.array(drop[at] != pos))
        if t.num_rows:
            for k, lo, hi in _runs(t):
                yield k, t.slice(lo, hi - lo)


def _runs(t: pa.Table) -> list[tuple[tuple[str, str], int, int]]:
    """((tool, event date), first row, end row) of each run of equal keys in a table sorted by them."""
    tool = pc.dictionary_encode(t.column("tool")).combine_chunks()
    day = t.column("event_date").combine_chunks()
    key = (tool.indices.to_numpy().astype(np.int64) << 32) | (day.cast(pa.int32()).to_numpy().astype(np.int64)
                                                                 + (1 << 31))
    bounds = [0, *(np.flatnonzero(np.diff(key)) + 1).tolist(), t.num_rows]
    return [((tool.dictionary[tool.indices[lo].as_py()].as_py(), str(day[lo].as_py())), lo, hi)
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True) if hi > lo]
