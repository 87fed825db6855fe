"""Staged events: each input range validated, pseudonymized and written in its landed form, ready to commit.

The Beam part of the ingest, written like Beam's examples: a module-level DoFn (`StageRange`) and a
composite transform (`StageInputs`: Create → Reshuffle → ParDo) that the pipeline applies; the work itself
is a plain function (`RangeStager.stage`) that tests call directly.

A task is one range of a file, or a pack of small files (`pipelines.inputs.tasks`). A worker reads it in
bounded blocks (`pipelines/blocks.py`; a pack's files' blocks joined into one, each line keeping its file,
line and offset), validates each block (`pipelines/validate.py`), replaces actor ids by their keyed hash,
computes each row's content hash, and writes, under the run's staging folder, everything the commit needs:

    staged/fF-rR-KKKK.arrow     the rows that passed, in their landed form (pseudonym, content hash, lineage),
                                sorted by partition (tool, event date), then file and line (Arrow IPC: read once)
    quarantine/fF-rR.parquet    the task's quarantined lines (raw bytes)
    ranges/fF-rR.json           the counts of each of the task's ranges, written last (the task is done)

fF-rR names the task's first range. Names depend only on the run and the inputs, so a retried bundle
overwrites what a failed one left; a file that fails part-way leaves rows behind that the commit leaves out. Raw
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
from apache_beam.metrics import Metrics

from pipelines.accounting import Counts
from pipelines.blocks import Block, Pack, Packed, Range, read_range
from pipelines.inputs import cores, reason
from pipelines.lake import pseudonymize, write_parquet, written
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
STAGED_ORDER = [("tool", "ascending"), ("event_date", "ascending"), ("file_idx", "ascending"), ("line", "ascending")]


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


class RangeStager:
    """Stages ranges on one thread: one DuckDB connection (of `duckdb_threads`), one pseudonym cache."""

    def __init__(self, ctx: StageContext, duckdb_threads: int | None = None):
        self.ctx = ctx
        self.root = Path(ctx.staging)
        self.validator = BlockValidator(ctx.now, threads=duckdb_threads)
        self.con = self.validator.con
        self.keys: dict[str, str] = {}
        self.pending: list[pa.Table] = []  # the task's good rows, not yet written
        self.quarantined: list[pa.Table] = []
        self.flushes = self.held = 0

    def stage(self, task: Range | Pack) -> list[dict[str, Any]]:
        """Validate the task's ranges (one, or a pack of small files) and write their outputs; returns each
        range's counts (with its file and range numbers)."""
        ranges = task.ranges if isinstance(task, Pack) else (task,)
        counts = [Counts() for _ in ranges]
        errors: dict[int, str] = {}
        self.pending, self.quarantined, self.flushes, self.held = [], [], 0, 0  # a task's, on this thread
        parts: list[tuple[int, Block]] = []  # blocks read, not yet validated: validated together
        size = 0
        for i, r in enumerate(ranges):
            blocks = read_range(r, self.ctx.block_bytes)
            while True:
                try:
                    block = next(blocks, None)
                except (OSError, EOFError, zlib.error) as exc:  # the input cannot be read: the file fails, alone
                    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
                        raise
                    errors[i] = reason(exc)  # what it staged is left out by the commit (the file failed)
                    parts = [p for p in parts if p[0] != i]
                    size = sum(len(b.data) for _, b in parts)
                    break
                if block is None:
                    break
                if parts and (block.long_line or size + len(block.data) > self.ctx.block_bytes):
                    self._validate(task, ranges, parts, counts)
                    parts, size = [], 0
                parts.append((i, block))
                size += len(block.data)
                if block.long_line:  # its kept prefix alone: it is one line, however long its prefix
                    self._validate(task, ranges, parts, counts)
                    parts, size = [], 0
        if parts:
            self._validate(task, ranges, parts, counts)
        if self.pending:
            self._flush(task)
        if self.quarantined:
            self._quarantine(task, pa.concat_tables(self.quarantined))
        out = []
        for i, r in enumerate(ranges):
            failed = {"error": errors[i]} if i in errors else {}
            out.append({"file_idx": r.file_idx, "range_idx": r.range_idx,
                        **(Counts() if failed else counts[i]).as_dict(), **failed})
        # written last: the task is done. One file per task (5,000 files of 10 lines: a file per range took 1.5 s)
        with written(self.root / "ranges" / f"{task.stem}.json") as tmp:
            tmp.write_text(json.dumps(out))
        return out

    def _validate(self, task: Range | Pack, ranges: Sequence[Range], parts: list[tuple[int, Block]],
                  counts: list[Counts]) -> None:
        """Validate blocks of the task's ranges as one; their rows, with the file and line each came from, held."""
        packed = Packed.of(parts)
        good, q, per_part = self.validator.validate(packed.block, packed.first_line)
        for k, c in enumerate(per_part):
            got = counts[packed.part_range[k]]
            got.add(Counts(lines=c["lines"], blank=c["blank"], landed=c["good"]))
            got.drop(c["dropped_fields"])
            got.quarantine([r for r, n in c["by_reason"].items() for _ in range(n)])
        if q.num_rows:
            self.quarantined.append(packed.lineage(ranges, q))
        if good.num_rows:
            good = packed.lineage(ranges, good)
            self.pending.append(good)
            self.held += good.num_rows
        if self.held >= self.ctx.flush_rows:
            self._flush(task)

    def _flush(self, task: Range | Pack) -> None:
        """Write held rows in their landed form (pseudonym, content hash, lineage) to one staged file."""
        good = pa.concat_tables(self.pending)
        self.pending, self.held = [], 0
        ids = pc.unique(good.column("actor_id"))
        new = [a for a in ids.to_pylist() if a not in self.keys]
        self.keys.update(zip(new, pseudonymize(self.ctx.key, new), strict=True))
        keys = pa.array([self.keys[a] for a in ids.to_pylist()], pa.string())
        good = good.append_column("actor_key", keys.take(pc.index_in(good.column("actor_id"), value_set=ids)))
        self.con.register("good", good)
        try:
            content_hash = self.con.sql(HASH_SQL).to_arrow_table().column(0)
        finally:
            self.con.unregister("good")
        n = good.num_rows
        rows = pa.table({
            **{c: good.column(c) for c in CONTENT}, "event_date": good.column("event_date"),
            "ingest_run": pa.array(np.full(n, self.ctx.run), pa.int64()),
            "source_file": self._sources(task, good.column("file_idx")),
            "source_line": good.column("source_line"), "content_hash": content_hash,
            "file_idx": good.column("file_idx"), "line": good.column("line"),
            "src_offset": good.column("src_offset"), "src_length": good.column("src_length")})
        rows = rows.take(pc.sort_indices(rows, sort_keys=STAGED_ORDER))
        write_staged(rows, self.root / "staged" / f"{task.stem}-{self.flushes:04d}{STAGED_SUFFIX}")
        self.flushes += 1

    def _sources(self, task: Range | Pack, file_idx: pa.ChunkedArray) -> pa.Array:
        """Each row's input, as reported (its path)."""
        paths = {r.file_idx: self.ctx.sources.get(r.file_idx, r.path)
                 for r in (task.ranges if isinstance(task, Pack) else (task,))}
        known = np.array(sorted(paths))
        return pa.array([paths[f] for f in known.tolist()], pa.string()).take(
            pa.array(np.searchsorted(known, file_idx.to_numpy())))

    def _quarantine(self, task: Range | Pack, q: pa.Table) -> None:
        write_parquet(q.select(["file_idx", "source_line", "reason", "raw_line"]),
                      self.root / "quarantine" / f"{task.stem}.parquet", restricted=True)


# ----------------------------------------------------------------------------------------------- Beam
class StageRange(beam.DoFn):
    """Validates and stages tasks (a range, or a pack of small files) on a worker, `ctx.threads` at a time;
    emits each range's counts.

    A task is staged on one thread with its own DuckDB connection (one DuckDB thread each), so a worker
    stages as many tasks at once as it has cores: DuckDB, numpy and Arrow release the GIL for their work.
    Tasks run while the bundle's next ones arrive; each task's counts are emitted when it is done, the
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
        self.running: deque[Future[list[dict[str, Any]]]] = deque()

    def _stage(self, task: Range | Pack) -> list[dict[str, Any]]:
        stager = self.stagers.get()
        try:
            return stager.stage(task)
        finally:
            self.stagers.put(stager)

    def _done(self, future: Future[list[dict[str, Any]]]) -> list[dict[str, Any]]:
        summaries = future.result()  # a task's error (a full disk) raises here, failing the bundle
        for s in summaries:
            self.lines.inc(s["lines"])
            self.quarantined.inc(s["quarantined"])
        return summaries

    def process(self, task: Range | Pack) -> Iterator[dict[str, Any]]:
        self.running.append(self.pool.submit(self._stage, task))
        while self.running and (self.running[0].done() or len(self.running) > self.n):
            yield from self._done(self.running.popleft())

    def finish_bundle(self) -> Iterator[Any]:
        from apache_beam.transforms.window import GlobalWindow
        from apache_beam.utils.timestamp import MIN_TIMESTAMP
        from apache_beam.utils.windowed_value import WindowedValue

        while self.running:
            for summary in self._done(self.running.popleft()):
                yield WindowedValue(summary, MIN_TIMESTAMP, (GlobalWindow(),))

    def teardown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class StageInputs(beam.PTransform):
    """Tasks (ranges, packs of small files) → staged files; a PCollection of each range's counts."""

    def __init__(self, tasks: Sequence[Range | Pack], ctx: StageContext):
        super().__init__()
        self.tasks, self.ctx = list(tasks), ctx

    def expand(self, pbegin: Any) -> Any:
        return (pbegin
                | "Ranges" >> beam.Create(self.tasks)
                | "Distribute" >> beam.Reshuffle()
                | "ValidateAndStage" >> beam.ParDo(StageRange(self.ctx)))


def pipeline_options(beam_args: Sequence[str]) -> Any:
    from apache_beam.options.pipeline_options import PipelineOptions

    args = [RUNNER_ALIASES.get(a, a) for a in beam_args]
    if not any(a.startswith("--runner") for a in args):
        args.insert(0, DEFAULT_RUNNER)
    return PipelineOptions(args)


def run_stage(tasks: Sequence[Range | Pack], ctx: StageContext, beam_args: Sequence[str] = ()) -> None:
    """Stage every range with Apache Beam (one pipeline for the whole run). A worker's error reaches the caller,
    which reports it in one line: Beam's own log of it (a traceback, in this process on the local runner) is
    left out while the pipeline runs."""
    beam_errors = logging.getLogger("apache_beam.runners.common")
    level = beam_errors.level
    beam_errors.setLevel(logging.CRITICAL)
    try:
        with beam.Pipeline(options=pipeline_options(beam_args)) as p:
            _ = p | "StageInputs" >> StageInputs(tasks, ctx)
    finally:
        beam_errors.setLevel(level)
