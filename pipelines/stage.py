"""Staged events: each input range validated, pseudonymized and written as final Parquet, ready to commit.

The Beam part of the ingest, written like Beam's examples: a module-level DoFn (`StageRange`) and a
composite transform (`StageInputs`: Create → Reshuffle → ParDo) that the pipeline applies; the work itself
is a plain function (`RangeStager.stage`) that tests call directly.

A worker reads its range in bounded blocks (`pipelines/blocks.py`), validates each block
(`pipelines/validate.py`), replaces actor ids by their keyed hash, computes each row's content hash, and
writes, under the run's staging folder, everything the commit needs:

    staged/fF-rR-K.arrow        the rows that passed, in their landed form (pseudonym, content hash, lineage),
                                sorted by partition (tool, event date), then line (Arrow IPC: read once)
    quarantine/fF-rR.parquet    the range's quarantined lines (raw bytes)
    ranges/fF-rR.json           the range's counts, written last (the range is done)

Names depend only on the run and the input, so a retried bundle overwrites what a failed one left. Raw
actor ids are never written: rows are pseudonymized on the worker. The commit (`pipelines/commit.py`)
decides duplicates over the whole run and writes each partition of the lake once.

Run on the DirectRunner (in-process) by default, or on a cluster with Beam options, e.g.
`uptake ingest landing/ -- --runner=DaskRunner --dask_client_address=tcp://scheduler:8786`: the staging
folder must then be on storage every worker sees, and workers receive the pseudonym key with the pipeline.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import logging
import os
import queue
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.metrics import Metrics

from pipelines.accounting import Counts
from pipelines.blocks import Range, read_range
from pipelines.inputs import reason
from pipelines.lake import pseudonymize, written
from pipelines.merge import STAGED_SUFFIX, write_staged
from pipelines.validate import BlockValidator
from schemas import events as contract

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
BLOCK_BYTES = 16 << 20  # bytes validated at once: what bounds a worker's memory
FLUSH_ROWS = 262_144  # rows held before they are written: memory stays bounded, whatever the range
# Beam resolves only its built-in runners by short name. The default runs in this process: the plain
# DirectRunner first tries the Prism runner, which downloads a binary and serves gRPC on every interface.
RUNNER_ALIASES = {"--runner=DaskRunner": "--runner=apache_beam.runners.dask.dask_runner.DaskRunner"}
DEFAULT_RUNNER = "--runner=apache_beam.runners.portability.fn_api_runner.FnApiRunner"
CONTENT = contract.content_columns()
# a staged row: every landed column, and what the commit needs to rank copies and read a line back; sorted by
# partition, then line. Only the content hash is computed by DuckDB (the ledger records its hash function).
HASH_SQL = f"select hash({', '.join(CONTENT)}) as content_hash from good"
STAGED_ORDER = [("tool", "ascending"), ("event_date", "ascending"), ("line", "ascending")]


@dataclass(frozen=True)
class StageContext:
    """What every worker of a run needs: where to write, the run, the ingest time, the pseudonym key."""

    staging: str
    run: int
    now: dt.datetime
    key: bytes
    sources: dict[int, str] = field(default_factory=dict)  # file_idx -> the input's path, as reported
    block_bytes: int = BLOCK_BYTES
    flush_rows: int = FLUSH_ROWS
    threads: int = 0  # ranges a worker stages at once (one DuckDB connection each); 0: one per core


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class RangeStager:
    """Stages ranges on one thread: one DuckDB connection (of `duckdb_threads`), one pseudonym cache."""

    def __init__(self, ctx: StageContext, duckdb_threads: int | None = None):
        self.ctx = ctx
        self.root = Path(ctx.staging)
        self.validator = BlockValidator(ctx.now, threads=duckdb_threads)
        self.con = self.validator.con
        self.keys: dict[str, str] = {}

    def stage(self, r: Range) -> dict[str, Any]:
        """Validate range `r` and write its outputs; returns its counts (with file and range numbers)."""
        counts, pending, quarantine, flushes, held = Counts(), [], [], 0, 0
        blocks = read_range(r, self.ctx.block_bytes)
        while True:
            try:
                block = next(blocks, None)
            except (OSError, EOFError, zlib.error) as exc:  # the input cannot be read: the file fails, alone
                if isinstance(exc, OSError) and exc.errno in DISK_FULL:
                    raise
                summary = {"file_idx": r.file_idx, "range_idx": r.range_idx, **Counts().as_dict(),
                           "error": reason(exc)}
                write_atomic(self.root / "ranges" / f"{r.stem}.json", json.dumps(summary).encode())
                return summary
            if block is None:
                break
            good, q, c = self.validator.validate(block)
            counts.add(Counts(lines=c["lines"], blank=c["blank"], landed=c["good"]))
            counts.quarantine(q.column("reason").to_pylist())
            counts.drop(c["dropped_fields"])
            if q.num_rows:
                quarantine.append(q)
            if good.num_rows:
                pending.append(good)
                held += good.num_rows
            if held >= self.ctx.flush_rows:
                self._flush(r, pending, flushes)
                pending, flushes, held = [], flushes + 1, 0
        if pending:
            self._flush(r, pending, flushes)
        if quarantine:
            self._quarantine(r, pa.concat_tables(quarantine))
        summary = {"file_idx": r.file_idx, "range_idx": r.range_idx, **counts.as_dict()}
        write_atomic(self.root / "ranges" / f"{r.stem}.json", json.dumps(summary).encode())
        return summary

    def _lines(self, r: Range, line_no: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(line in the file read, line in the source): they differ for events derived from a vendor export."""
        line = line_no.to_numpy() + r.line0
        return line, (r.line_map[line - 1] if r.line_map is not None else line)

    def _flush(self, r: Range, pending: list[pa.Table], k: int) -> None:
        """Write held rows in their landed form (pseudonym, content hash, lineage) to one staged file."""
        good = pa.concat_tables(pending)
        line, source_line = self._lines(r, good.column("line_no"))
        ids = pc.unique(good.column("actor_id"))
        new = [a for a in ids.to_pylist() if a not in self.keys]
        self.keys.update(zip(new, pseudonymize(self.ctx.key, new), strict=True))
        keys = pa.array([self.keys[a] for a in ids.to_pylist()], pa.string())
        good = good.append_column("actor_key", keys.take(pc.index_in(good.column("actor_id"), value_set=ids)))
        good = good.append_column("line", pa.array(line, pa.int64()))
        good = good.append_column("source_line", pa.array(source_line, pa.int64()))
        self.con.register("good", good)
        try:
            content_hash = self.con.sql(HASH_SQL).to_arrow_table().column(0)
        finally:
            self.con.unregister("good")
        n = good.num_rows
        rows = pa.table({
            **{c: good.column(c) for c in CONTENT}, "event_date": good.column("event_date"),
            "ingest_run": pa.array(np.full(n, self.ctx.run), pa.int64()),
            "source_file": pa.repeat(pa.scalar(self.ctx.sources.get(r.file_idx, r.path), pa.string()), n),
            "source_line": good.column("source_line"), "content_hash": content_hash,
            "file_idx": pa.array(np.full(n, r.file_idx), pa.int32()), "line": good.column("line"),
            "src_offset": good.column("src_offset"), "src_length": good.column("src_length")})
        rows = rows.take(pc.sort_indices(rows, sort_keys=STAGED_ORDER))
        write_staged(rows, self.root / "staged" / f"{r.stem}-{k}{STAGED_SUFFIX}")

    def _quarantine(self, r: Range, q: pa.Table) -> None:
        _, source_line = self._lines(r, q.column("line_no"))
        write_parquet(pa.table({
            "file_idx": pa.array(np.full(q.num_rows, r.file_idx), pa.int32()),
            "source_line": pa.array(source_line, pa.int64()),
            "reason": q.column("reason"),
            "raw_line": q.column("raw_line"),
        }), self.root / "quarantine" / f"{r.stem}.parquet", restricted=True)


def write_parquet(table: pa.Table, path: Path, restricted: bool = False) -> None:
    """A Parquet file written whole or not at all (0600 in a 0700 folder when `restricted`)."""
    with written(path, restricted) as tmp:
        pq.write_table(table, tmp, compression="snappy")


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------- Beam
class StageRange(beam.DoFn):
    """Validates and stages ranges on a worker, `ctx.threads` at a time; emits each range's counts.

    A range is staged on one thread with its own DuckDB connection (one DuckDB thread each), so a worker
    stages as many ranges at once as it has cores: DuckDB, numpy and Arrow release the GIL for their work.
    Ranges run while the bundle's next ones arrive; each range's counts are emitted when it is done, the
    last ones when the bundle finishes."""

    def __init__(self, ctx: StageContext):
        self.ctx = ctx
        self.lines = Metrics.counter("uptake", "lines")
        self.quarantined = Metrics.counter("uptake", "quarantined")

    def setup(self) -> None:
        self.n = self.ctx.threads or cores()
        self.pool = ThreadPoolExecutor(self.n, thread_name_prefix="stage")
        self.stagers: queue.SimpleQueue[RangeStager] = queue.SimpleQueue()
        for _ in range(self.n):
            self.stagers.put(RangeStager(self.ctx, duckdb_threads=1 if self.n > 1 else None))

    def start_bundle(self) -> None:
        self.running: deque[Future[dict[str, Any]]] = deque()

    def _stage(self, r: Range) -> dict[str, Any]:
        stager = self.stagers.get()
        try:
            return stager.stage(r)
        finally:
            self.stagers.put(stager)

    def _done(self, future: Future[dict[str, Any]]) -> dict[str, Any]:
        summary = future.result()  # a range's error (a full disk) raises here, failing the bundle
        self.lines.inc(summary["lines"])
        self.quarantined.inc(summary["quarantined"])
        return summary

    def process(self, r: Range) -> Iterator[dict[str, Any]]:
        self.running.append(self.pool.submit(self._stage, r))
        while self.running and (self.running[0].done() or len(self.running) > self.n):
            yield self._done(self.running.popleft())

    def finish_bundle(self) -> Iterator[Any]:
        from apache_beam.transforms.window import GlobalWindow
        from apache_beam.utils.timestamp import MIN_TIMESTAMP
        from apache_beam.utils.windowed_value import WindowedValue

        while self.running:
            yield WindowedValue(self._done(self.running.popleft()), MIN_TIMESTAMP, (GlobalWindow(),))

    def teardown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class StageInputs(beam.PTransform):
    """Ranges → staged files; a PCollection of each range's counts."""

    def __init__(self, ranges: Sequence[Range], ctx: StageContext):
        super().__init__()
        self.ranges, self.ctx = list(ranges), ctx

    def expand(self, pbegin: Any) -> Any:
        return (pbegin
                | "Ranges" >> beam.Create(self.ranges)
                | "Distribute" >> beam.Reshuffle()
                | "ValidateAndStage" >> beam.ParDo(StageRange(self.ctx)))


def pipeline_options(beam_args: Sequence[str]) -> Any:
    from apache_beam.options.pipeline_options import PipelineOptions

    args = [RUNNER_ALIASES.get(a, a) for a in beam_args]
    if not any(a.startswith("--runner") for a in args):
        args.insert(0, DEFAULT_RUNNER)
    return PipelineOptions(args)


def run_stage(ranges: Sequence[Range], ctx: StageContext, beam_args: Sequence[str] = ()) -> None:
    """Stage every range with Apache Beam (one pipeline for the whole run). A worker's error reaches the caller,
    which reports it in one line: Beam's own log of it (a traceback, in this process on the local runner) is
    left out while the pipeline runs."""
    beam_errors = logging.getLogger("apache_beam.runners.common")
    level = beam_errors.level
    beam_errors.setLevel(logging.CRITICAL)
    try:
        with beam.Pipeline(options=pipeline_options(beam_args)) as p:
            _ = p | "StageInputs" >> StageInputs(ranges, ctx)
    finally:
        beam_errors.setLevel(level)
