"""Staged events: each input range validated, pseudonymized and written as final Parquet, ready to commit.

The Beam part of the ingest, written like Beam's examples: a module-level DoFn (`StageRange`) and a
composite transform (`StageInputs`: Create → Reshuffle → ParDo) that the pipeline applies; the work itself
is a plain function (`RangeStager.stage`) that tests call directly.

A worker reads its range in bounded blocks (`pipelines/blocks.py`), validates each block
(`pipelines/validate.py`), replaces actor ids by their keyed hash, computes each row's content hash, and
writes, under the run's staging folder, everything the commit needs:

    events/tool=…/event_date=…/run-N-fF-rR-K.parquet   the rows to land, in their final form and place
    index/fF-rR-K.parquet                               per row: event id, content hash, where it came from
    quarantine/fF-rR.parquet                            the range's quarantined lines (raw bytes)
    ranges/fF-rR.json                                   the range's counts, written last (the range is done)

Names depend only on the run and the input, so a retried bundle overwrites what a failed one left. The
commit (`pipelines/commit.py`) decides duplicates over the whole run from the index and moves the event
files into the lake; only files holding a duplicate are rewritten.

Run on the DirectRunner (in-process) by default, or on a cluster with Beam options, e.g.
`uptake ingest landing/ -- --runner=DaskRunner --dask_client_address=tcp://scheduler:8786`: the staging
folder must then be on storage every worker sees, and workers receive the pseudonym key with the pipeline.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator, Sequence
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
from pipelines.lake import pseudonymize
from pipelines.validate import BlockValidator
from schemas import events as contract

BLOCK_BYTES = 16 << 20
FLUSH_ROWS = 262_144  # rows held before they are written: memory stays bounded, whatever the range
# Beam resolves only its built-in runners by short name. The default runs in this process: the plain
# DirectRunner first tries the Prism runner, which downloads a binary and serves gRPC on every interface.
RUNNER_ALIASES = {"--runner=DaskRunner": "--runner=apache_beam.runners.dask.dask_runner.DaskRunner"}
DEFAULT_RUNNER = "--runner=apache_beam.runners.portability.fn_api_runner.FnApiRunner"
FILE_COLUMNS = [(n, t) for n, t, _ in contract.landed_columns() if n not in ("tool", "event_date")]
FILE_SCHEMA = pa.schema(FILE_COLUMNS)
CONTENT = contract.content_columns()


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


class RangeStager:
    """Stages ranges on one worker: one DuckDB connection, one pseudonym cache."""

    def __init__(self, ctx: StageContext):
        self.ctx = ctx
        self.root = Path(ctx.staging)
        self.validator = BlockValidator(ctx.now)
        self.con = self.validator.con
        self.keys: dict[str, str] = {}

    def stage(self, r: Range) -> dict[str, Any]:
        """Validate range `r` and write its outputs; returns its counts (with file and range numbers)."""
        counts, pending, quarantine, flushes, held = Counts(), [], [], 0, 0
        for block in read_range(r, self.ctx.block_bytes):
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
        good = pa.concat_tables(pending)
        line, source_line = self._lines(r, good.column("line_no"))
        ids = pc.unique(good.column("actor_id")).to_pylist()
        new = [a for a in ids if a not in self.keys]
        self.keys.update(zip(new, pseudonymize(self.ctx.key, new), strict=True))
        good = good.append_column("actor_key", pa.array([self.keys[a] for a in ids], pa.string()).take(
            pc.index_in(good.column("actor_id"), value_set=pa.array(ids, pa.string()))))
        good = good.append_column("line", pa.array(line, pa.int64()))
        good = good.append_column("source_line", pa.array(source_line, pa.int64()))
        self.con.register("good", good)
        try:
            rows = self.con.sql(f"""
                select {", ".join(CONTENT)}, event_date, hash({", ".join(CONTENT)}) as content_hash,
                       line, source_line, src_offset, src_length
                from good order by tool, event_date, line""").to_arrow_table()
        finally:
            self.con.unregister("good")
        rows = rows.append_column("ingest_run", pa.array(np.full(rows.num_rows, self.ctx.run), pa.int64()))
        rows = rows.append_column("source_file", pa.array([self.ctx.sources.get(r.file_idx, r.path)] * rows.num_rows,
                                                          pa.string()))
        index = []
        for tool, day, lo, hi in _partitions(rows):
            part = (f"events/tool={tool}/event_date={day}/"
                    f"run-{self.ctx.run:06d}-{r.stem}-{k}.parquet")
            chunk = rows.slice(lo, hi - lo)
            write_parquet(chunk.select([n for n, _ in FILE_COLUMNS]).cast(FILE_SCHEMA), self.root / part)
            index.append(chunk.select(["event_id", "content_hash", "line", "source_line", "src_offset",
                                       "src_length"]).append_column("part", pa.array([part] * (hi - lo)))
                         .append_column("row", pa.array(np.arange(hi - lo), pa.int64())))
        idx = pa.concat_tables(index)
        idx = idx.append_column("file_idx", pa.array(np.full(idx.num_rows, r.file_idx), pa.int32()))
        write_parquet(idx, self.root / "index" / f"{r.stem}-{k}.parquet")

    def _quarantine(self, r: Range, q: pa.Table) -> None:
        _, source_line = self._lines(r, q.column("line_no"))
        write_parquet(pa.table({
            "file_idx": pa.array(np.full(q.num_rows, r.file_idx), pa.int32()),
            "source_line": pa.array(source_line, pa.int64()),
            "reason": q.column("reason"),
            "raw_line": q.column("raw_line"),
        }), self.root / "quarantine" / f"{r.stem}.parquet", restricted=True)


def _partitions(rows: pa.Table) -> Iterator[tuple[str, str, int, int]]:
    """(tool, event_date, first row, end row) of each run of rows sorted by tool and event date."""
    tool = pc.dictionary_encode(rows.column("tool")).combine_chunks()
    day = rows.column("event_date").combine_chunks()
    days = day.cast(pa.int32()).to_numpy().astype(np.int64) + (1 << 31)
    key = (tool.indices.to_numpy().astype(np.int64) << 32) | days
    bounds = [0, *(np.flatnonzero(np.diff(key)) + 1).tolist(), rows.num_rows]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        yield tool.dictionary[tool.indices[lo].as_py()].as_py(), str(day[lo].as_py()), lo, hi


def write_parquet(table: pa.Table, path: Path, restricted: bool = False) -> None:
    """A Parquet file written whole or not at all (0600 in a 0700 folder when `restricted`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if restricted:
        os.chmod(path.parent, 0o700)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, compression="snappy")
    if restricted:
        os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------- Beam
class StageRange(beam.DoFn):
    """Validates and stages one range (on a worker); emits the range's counts."""

    def __init__(self, ctx: StageContext):
        self.ctx = ctx
        self.lines = Metrics.counter("uptake", "lines")
        self.quarantined = Metrics.counter("uptake", "quarantined")

    def setup(self) -> None:
        self.stager = RangeStager(self.ctx)

    def process(self, r: Range) -> Iterator[dict[str, Any]]:
        summary = self.stager.stage(r)
        self.lines.inc(summary["lines"])
        self.quarantined.inc(summary["quarantined"])
        yield summary


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
    """Stage every range with Apache Beam (one pipeline for the whole run)."""
    with beam.Pipeline(options=pipeline_options(beam_args)) as p:
        _ = p | "StageInputs" >> StageInputs(ranges, ctx)
