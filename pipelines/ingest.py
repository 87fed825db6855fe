"""Ingest: validate, quarantine, dedupe, pseudonymize and land usage events as hive-partitioned Parquet.

The pipeline, in two stages:

1. **Validate and stage** (Apache Beam). Input files are cut into byte ranges (`pipelines/blocks.py`);
   ranges are spread over the workers (`Reshuffle`); each worker reads its range in bounded blocks, splits
   a block into an Arrow array of lines without copying, and runs the row rules of SPEC §2 on the whole
   block as one DuckDB query compiled from the contract (`pipelines/validate.py`). Actor ids are replaced
   by their HMAC on distinct ids; free-text and unknown fields are dropped and counted. Each block's good
   rows, its quarantined lines and its counts are written to the run's staging folder under names that
   depend only on the input, so a retried bundle overwrites rather than adds.
2. **Commit** (DuckDB, on the launcher). Duplicates are decided over the whole run and against the ledger
   of earlier runs (first copy by file path order, then line order; earlier runs win), landed rows are
   written partitioned by tool and event date, and the run becomes visible through an atomic manifest
   (`pipelines/lake.py`).

Run it:

    uptake ingest landing/ --lake lake                                  # DirectRunner, this machine
    uptake ingest landing/ --lake lake -- --runner=DaskRunner --dask_client_address=tcp://host:8786
    uptake ingest gs://…  -- --runner=FlinkRunner --flink_master=host:8081 --environment_type=LOOPBACK
    uptake ingest … -- --runner=DataflowRunner --project=P --region=R --temp_location=gs://…/tmp

On a cluster, the lake and staging folder must be on storage every worker sees (a shared file system).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.blocks import Block, Range, is_gzip, plan_ranges, read_range, split_lines
from pipelines.lake import Lake, LakeError, file_sha256, pseudonymize
from pipelines.validate import validation_sql
from schemas import events as contract
from uptake.progress import Progress

RANGE_BYTES = 64 << 20
COMMIT_MEMORY = "1GB"
# Beam resolves only its built-in runners by short name.
RUNNER_ALIASES = {"--runner=DaskRunner": "--runner=apache_beam.runners.dask.dask_runner.DaskRunner"}
BLOCK_BYTES = 16 << 20
SCAN_BATCH_ROWS = 8192
COUNT_KEYS = ("lines", "landed", "duplicates", "quarantined", "blank")
# Content hash of a landed row (pseudonymized, normalized, org unit as sent): what a re-send must repeat.
# DuckDB's hash() is fast but may change between DuckDB versions: the ledger records the version, and
# the index is rebuilt from the landed events when it changes (Lake.index_files).
CONTENT_HASH = "hash"


class IngestError(RuntimeError):
    pass


# ------------------------------------------------------------------------------------------- stage 1
def _connect(threads: int | None = None):
    import duckdb

    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    if threads:
        con.execute(f"set threads = {int(threads)}")
    return con


def _roster_table(path: str | None) -> pa.Table:
    """actor_id, org_unit, valid_from, valid_to from roster.csv (checked against its contract)."""
    from schemas.reference import TABLES_BY_FILE, ReferenceError, read_table

    cols = ["actor_id", "org_unit", "valid_from", "valid_to"]
    if not path:
        return pa.table({c: pa.array([], pa.string() if c in cols[:2] else pa.date32()) for c in cols})
    table, errors = read_table(Path(path), TABLES_BY_FILE["roster.csv"])
    if errors:
        raise ReferenceError("\n".join(errors))
    return table.select(cols)


class BlockValidator:
    """Validates blocks of lines on one DuckDB connection (one per worker)."""

    def __init__(self, now: dt.datetime, threads: int | None = None):
        self.params = {"now": now}
        self.con = _connect(threads)
        self.sql = validation_sql()

    def validate(self, block: Block) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
        """(good rows, quarantined lines, counts) of one block. Line numbers are local to the range.

        Good rows still carry the raw actor id: they stay in the restricted staging folder, and the
        commit replaces the id by its pseudonym before anything lands."""
        if block.long_line:
            q = pa.table({
                "line_no": pa.array([block.line0 + 1], pa.int64()),
                "reason": pa.array(["line_too_long"]),
                "raw_line": pa.array([block.data], pa.binary()),
            })
            return _empty_good(), q, {"lines": 1, "blank": 0, "good": 0,
                                      "by_reason": {"line_too_long": 1}, "dropped_fields": {}}
        lines, length, offs = split_lines(block.data)
        n = len(lines)
        line_no = np.arange(block.line0 + 1, block.line0 + 1 + n, dtype=np.int64)
        too_long = length > contract.MAX_LINE_BYTES
        utf8 = _utf8_mask(lines)
        blank = _blank_mask(block.data, offs, length) & utf8 & ~too_long
        parse = utf8 & ~too_long & ~blank
        raw = pa.table({"line_no": line_no[parse], "line": lines.filter(pa.array(parse)).cast(pa.string())})
        # several record batches, so DuckDB scans the block on all its threads
        raw = pa.Table.from_batches(raw.to_batches(max_chunksize=SCAN_BATCH_ROWS), raw.schema)
        self.con.register("raw", raw)
        try:
            res = self.con.sql(self.sql, params=self.params).to_arrow_table()
        finally:
            self.con.unregister("raw")
        ok = pc.is_null(res.column("reason"))
        good = res.filter(ok)
        bad = res.filter(pc.invert(ok)).select(["line_no", "reason"])

        # quarantine: pre-parse reasons, then the rule the line broke; raw bytes without the line end
        pre_idx = np.flatnonzero(too_long | ~utf8)
        pre_reason = np.where(too_long[pre_idx], "line_too_long", "invalid_utf8")
        bad_idx = bad.column("line_no").to_numpy() - block.line0 - 1
        q_idx = np.concatenate([pre_idx, bad_idx]).astype(np.int64)
        q_reason = np.concatenate([pre_reason, bad.column("reason").to_numpy(zero_copy_only=False)])
        raws = [block.data[offs[i]: offs[i] + min(length[i], contract.MAX_LINE_BYTES)] for i in q_idx]
        q = pa.table({
            "line_no": pa.array(line_no[q_idx], pa.int64()),
            "reason": pa.array(q_reason.astype(str) if len(q_reason) else [], pa.string()),
            "raw_line": pa.array(raws, pa.binary()),
        })
        counts = {
            "lines": int(n),
            "blank": int(blank.sum()),
            "good": good.num_rows,
            "by_reason": dict(Counter(q_reason.tolist())),
            "dropped_fields": dict(_value_counts(pc.list_flatten(good.column("dropped")))),
        }
        idx = good.column("line_no").to_numpy() - block.line0 - 1
        good = good.drop_columns(["reason", "dropped"])
        good = good.append_column("src_offset", pa.array(block.offset + offs[idx], pa.int64()))
        good = good.append_column("src_length", pa.array(length[idx], pa.int64()))
        return good, q, counts


def _utf8_mask(lines: pa.BinaryArray) -> np.ndarray:
    """Which lines are valid UTF-8: one vectorized check, halving only around the bad lines."""
    n = len(lines)
    ok = np.ones(n, bool)
    todo = [(0, n)]
    while todo:
        lo, hi = todo.pop()
        try:
            lines.slice(lo, hi - lo).cast(pa.string())
        except pa.ArrowInvalid:
            if hi - lo <= 64:
                ok[lo:hi] = [_is_utf8(b) for b in lines.slice(lo, hi - lo).to_pylist()]
            else:
                mid = (lo + hi) // 2
                todo += [(lo, mid), (mid, hi)]
    return ok


_WHITESPACE = np.zeros(256, bool)
_WHITESPACE[[9, 10, 11, 12, 13, 32]] = True


def _blank_mask(data: bytes, offs: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Empty or whitespace-only lines. Only lines whose first byte is whitespace are looked at closely."""
    buf = np.frombuffer(data, np.uint8)
    blank = length == 0
    maybe = np.flatnonzero(~blank & _WHITESPACE[buf[np.minimum(offs, len(buf) - 1)]]) if len(buf) else np.zeros(0, int)
    for i in maybe:
        blank[i] = not data[offs[i]: offs[i] + length[i]].strip()
    return blank


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _value_counts(arr: pa.Array) -> Iterable[tuple[str, int]]:
    if len(arr) == 0:
        return []
    vc = pc.value_counts(arr)
    return zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True)


def _empty_good() -> pa.Table:
    return pa.table({"line_no": pa.array([], pa.int64())})


def stage_range(r: Range, staging: Path, validator: BlockValidator, block_bytes: int = BLOCK_BYTES) -> dict:
    """Validate one range and write its blocks' outputs to `staging`; returns the range's counts."""
    total: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for b, block in enumerate(read_range(r, block_bytes)):
        good, q, counts = validator.validate(block)
        stem = f"f{r.file_idx:05d}-r{r.range_idx:05d}-b{b:06d}"
        if good.num_rows:
            good = good.append_column("file_idx", pa.array(np.full(good.num_rows, r.file_idx, np.int32)))
            good = good.append_column("range_idx", pa.array(np.full(good.num_rows, r.range_idx, np.int32)))
            _write(good, staging / "events" / f"{stem}.parquet")
        if q.num_rows:
            q = q.append_column("file_idx", pa.array(np.full(q.num_rows, r.file_idx, np.int32)))
            q = q.append_column("range_idx", pa.array(np.full(q.num_rows, r.range_idx, np.int32)))
            _write(q, staging / "quarantine" / f"{stem}.parquet", restricted=True)
        total.update({k: counts[k] for k in ("lines", "blank", "good")})
        reasons.update(counts["by_reason"])
        dropped.update(counts["dropped_fields"])
    summary = {**asdict(r), **dict(total), "by_reason": dict(reasons), "dropped_fields": dict(dropped)}
    _write_summary(summary, staging / "ranges" / f"f{r.file_idx:05d}-r{r.range_idx:05d}.json")
    return summary


def _write_summary(summary: dict, path: Path) -> None:
    """A range's counts, written whole or not at all (the commit and the progress bar read them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary))
    os.replace(tmp, path)


def _write(table: pa.Table, path: Path, restricted: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if restricted:
        os.chmod(path.parent, 0o700)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, compression="snappy")
    if restricted:
        os.chmod(tmp, 0o600)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------- Beam
def _beam_stage(ranges: list[Range], staging: Path, now: dt.datetime, beam_args: Sequence[str]) -> None:
    import apache_beam as beam
    from apache_beam.metrics import Metrics
    from apache_beam.options.pipeline_options import PipelineOptions

    class ValidateRange(beam.DoFn):
        """Reads one range in blocks, validates each block with Arrow and DuckDB, stages the results."""

        def __init__(self) -> None:
            self.lines = Metrics.counter("uptake", "lines")
            self.quarantined = Metrics.counter("uptake", "quarantined")

        def setup(self) -> None:
            self.validator = BlockValidator(now)

        def process(self, element: dict):
            summary = stage_range(Range(**element), staging, self.validator)
            self.lines.inc(summary.get("lines", 0))
            self.quarantined.inc(sum(summary["by_reason"].values()))
            yield summary["file_idx"], summary.get("lines", 0)

    options = PipelineOptions([RUNNER_ALIASES.get(a, a) for a in beam_args])
    with beam.Pipeline(options=options) as p:
        _ = (
            p
            | "Ranges" >> beam.Create([asdict(r) for r in ranges])
            | "Distribute" >> beam.Reshuffle()
            | "ValidateAndStage" >> beam.ParDo(ValidateRange())
        )


# ------------------------------------------------------------------------------------------- stage 2
def _q(path: Path | str) -> str:
    """A path as a SQL string literal (COPY targets and globs cannot be bound parameters)."""
    return "'" + str(path).replace("'", "''") + "'"


def _q_list(paths: Iterable[Path | str]) -> str:
    return "[" + ", ".join(_q(p) for p in paths) + "]"


def _commit_run(lake: Lake, run: int, staging: Path, files: list[dict], started: dt.datetime,
                key: bytes, roster: pa.Table, phases: dict[str, float]) -> dict:
    """Decide duplicates, pseudonymize, fill org units, write partitions, quarantine and index; commit."""
    commit_clock = time.perf_counter()
    con = _connect()
    con.execute(f"set temp_directory = {_q(staging / 'tmp')}")
    con.execute(f"set memory_limit = '{COMMIT_MEMORY}'")  # beyond it DuckDB spills to staging/tmp
    con.execute("set preserve_insertion_order = false")
    summaries = [json.loads(p.read_text()) for p in sorted((staging / "ranges").glob("*.json"))]
    # absolute line numbers: a range's lines come after all lines of the file's earlier ranges
    offsets: list[tuple[int, int, int]] = []
    running: Counter[int] = Counter()
    for s in sorted(summaries, key=lambda s: (s["file_idx"], s["range_idx"])):
        if s["range_idx"] < 0:  # a vendor file's items decided at translation: lines numbered at source
            offsets.append((s["file_idx"], s["range_idx"], 0))
            continue
        offsets.append((s["file_idx"], s["range_idx"], running[s["file_idx"]]))
        running[s["file_idx"]] += s.get("lines", 0)
    con.register("range_offsets", pa.table({
        "file_idx": pa.array([o[0] for o in offsets], pa.int32()),
        "range_idx": pa.array([o[1] for o in offsets], pa.int32()),
        "line_offset": pa.array([o[2] for o in offsets], pa.int64()),
    }))
    con.register("input_files", pa.table({
        "file_idx": pa.array([f["file_idx"] for f in files], pa.int32()),
        "source_file": pa.array([f["path"] for f in files], pa.string()),
    }))
    con.register("roster", roster)
    # a vendor file's events were derived: their line in the derived file → the vendor record's line
    maps = sorted((staging / "vendor").glob("*.lines.parquet")) if (staging / "vendor").exists() else []
    if maps:
        con.execute(f"create temp table vendor_lines as select * from read_parquet({_q_list(maps)})")
    else:
        con.execute("create temp table vendor_lines (file_idx int, derived_line bigint, source_line bigint)")
    has_events = any((staging / "events").glob("*.parquet"))
    has_q = any((staging / "quarantine").glob("*.parquet"))
    if has_events:
        raw_glob = _q(staging / "events" / "*.parquet")
        # Pseudonyms: the HMAC of each distinct actor id of the run, computed once per id.
        ids = [r[0] for r in con.execute(f"select distinct actor_id from read_parquet({raw_glob})").fetchall()]
        con.register("pseudonyms", pa.table({"actor_id": pa.array(ids, pa.string()),
                                             "actor_key": pa.array(pseudonymize(key, ids), pa.string())}))
        content = ", ".join("k.actor_key" if c == "actor_key" else f"s.{c}" for c in contract.content_columns())
        con.execute(f"""
            create temp table staged as
            select s.* exclude (actor_id), k.actor_key, s.actor_id as raw_actor_id,
                   s.line_no + o.line_offset as line,
                   coalesce(v.source_line, s.line_no + o.line_offset) as source_line,
                   (s.file_idx::bigint << 40) + s.line_no + o.line_offset as pos,
                   {CONTENT_HASH}({content}) as content_hash
            from read_parquet({raw_glob}) s
            join range_offsets o using (file_idx, range_idx)
            join pseudonyms k using (actor_id)
            left join vendor_lines v on v.file_idx = s.file_idx and v.derived_line = s.line_no + o.line_offset""")
    else:
        con.execute("""create view staged as select null::int as file_idx, null::bigint as line,
                       null::bigint as source_line,
                       null::bigint as pos, null::varchar as event_id, null::ubigint as content_hash,
                       null::bigint as src_offset, null::bigint as src_length where false""")
    _prior_view(con, lake)
    # Every copy that does not land: a repeat of an earlier run's event, or not the first copy in this
    # run (files in path order, then lines). Same content as the first copy: duplicate; else conflict.
    con.execute("""
        create temp table not_landed as
        with first as (
          select event_id, min(pos) as pos, arg_min(content_hash, pos) as first_hash
          from staged group by event_id
        )
        select s.file_idx, s.line, s.source_line, s.src_offset, s.src_length,
          case when coalesce(p.content_hash, f.first_hash) = s.content_hash then 'duplicate'
               else 'conflicting_duplicate' end as fate
        from staged s join first f using (event_id)
        left join prior p using (event_id)
        where p.event_id is not null or s.pos <> f.pos""")
    out = staging / "out"
    (out / "events").mkdir(parents=True, exist_ok=True)
    moves: list[tuple[str, str]] = []

    def rel(p: Path) -> str:
        return str(p.relative_to(lake.root))

    if has_events:
        select = []
        for c in contract.content_columns() + ["event_date"]:
            if c == "org_unit":  # as given, else the roster's unit at occurred_at
                select.append("coalesce(s.org_unit, case when r.valid_to is null or s.occurred_at < "
                              "r.valid_to::timestamptz then r.org_unit end) as org_unit")
            else:
                select.append(f"s.{c}")
        con.execute(f"""
            copy (
              select {", ".join(select)}, $run::bigint as ingest_run, i.source_file, s.source_line
              from staged s
              join input_files i using (file_idx)
              left join roster r on s.org_unit is null and s.raw_actor_id = r.actor_id
                and s.occurred_at >= r.valid_from::timestamptz
                and (r.valid_to is null or s.occurred_at < r.valid_to::timestamptz)
              anti join not_landed n on n.file_idx = s.file_idx and n.line = s.line
            ) to {_q(out / "events")} (format parquet, partition_by (tool, event_date), compression snappy,
                                      filename_pattern 'run-{run:06d}-{{i}}', overwrite_or_ignore)""",
                    {"run": run})
        con.execute(f"""
            copy (select event_id, content_hash from staged s
                  anti join not_landed n on n.file_idx = s.file_idx and n.line = s.line)
            to {_q(out / "index.parquet")} (format parquet)""")
        for p in sorted((out / "events").rglob("*.parquet")):
            moves.append((rel(p), str(Path("events") / p.relative_to(out / "events"))))
        moves.append((rel(out / "index.parquet"), f"ledger/index/run-{run:06d}.parquet"))

    # quarantine: staged bad lines, plus conflicting duplicates read back from their source
    conflicts = con.execute("""select file_idx, source_line, src_offset, src_length from not_landed
                               where fate = 'conflicting_duplicate' order by file_idx, source_line""").fetchall()
    con.register("conflicts", _read_back(conflicts, {f["file_idx"]: f.get("read_path", f["path"]) for f in files}))
    parts = ["select file_idx, source_line, reason, raw_line from conflicts"]
    if has_q:
        # a vendor file's own quarantine (range -1, offset 0) is numbered at source already
        parts.insert(0, f"""select q.file_idx, coalesce(v.source_line, q.line_no + o.line_offset) as source_line,
                                   q.reason, q.raw_line
                            from read_parquet({_q(staging / "quarantine" / "*.parquet")}) q
                            join range_offsets o using (file_idx, range_idx)
                            left join vendor_lines v on q.range_idx >= 0 and v.file_idx = q.file_idx
                              and v.derived_line = q.line_no + o.line_offset""")
    q_out = out / "quarantine.parquet"
    con.execute(f"""
        copy (select $run::bigint as ingest_run, i.source_file, source_line, reason, raw_line,
                     $started::timestamptz as ingested_at
              from ({' union all '.join(parts)}) join input_files i using (file_idx)
              order by i.source_file, source_line)
        to {_q(q_out)} (format parquet)""", {"run": run, "started": started})
    os.chmod(q_out, 0o600)
    moves.append((rel(q_out), f"quarantine/run-{run:06d}.parquet"))

    fates = {(f, k): n for f, k, n in con.execute(
        "select file_idx, fate, count(*) from not_landed group by all").fetchall()}
    con.close()
    per_file = _file_counts(files, summaries, fates)
    ledger = {
        "run": run,
        "started_at": started.isoformat(),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(),
        "hash": _hash_version(),
        "phases": {**{k: round(v, 3) for k, v in phases.items()},
                   "commit_s": round(time.perf_counter() - commit_clock, 3)},
        "files": per_file,
        "total": _total(per_file),
        "outputs": {
            "events": [m[1] for m in moves if m[1].startswith("events/")],
            "index": f"ledger/index/run-{run:06d}.parquet" if has_events else None,
            "quarantine": f"quarantine/run-{run:06d}.parquet",
        },
    }
    lake.commit(run, {"run": run, "moves": moves, "restricted": [f"quarantine/run-{run:06d}.parquet"],
                      "ledger": ledger})
    return ledger


def _hash_version() -> str:
    import duckdb

    return f"duckdb {duckdb.__version__} {CONTENT_HASH}()"


def _prior_view(con, lake: Lake) -> None:
    """`prior(event_id, content_hash)`: every event landed by earlier runs. From the index, unless an
    earlier run hashed with another DuckDB version: then rehashed from the landed events themselves."""
    runs = lake.committed_runs()
    index = [str(lake.root / r["outputs"]["index"]) for r in runs if r["outputs"].get("index")]
    if not index:
        con.execute("create view prior as select null::varchar as event_id, null::ubigint as content_hash "
                    "where false")
    elif all(r.get("hash") == _hash_version() for r in runs):
        con.execute(f"create view prior as select event_id, content_hash from read_parquet({_q_list(index)})")
    else:
        cols = ", ".join(contract.content_columns())
        con.execute(f"create view prior as select event_id, {CONTENT_HASH}({cols}) as content_hash "
                    f"from read_parquet({_q_list(lake.event_files())}, hive_partitioning = true)")


def _read_back(rows: list[tuple[int, int, int, int]], paths: dict[int, str]) -> pa.Table:
    """Raw bytes of a few lines, by byte offset, from their source files (streamed for gzip)."""
    out_f, out_l, out_raw = [], [], []
    by_file: dict[int, list[tuple[int, int, int]]] = {}
    for f, line, off, length in rows:
        by_file.setdefault(f, []).append((off, length, line))
    for f, items in by_file.items():
        items.sort()
        path = paths[f]
        opener = __import__("gzip").open if is_gzip(path) else open
        with opener(path, "rb") as fh:
            for off, length, line in items:
                fh.seek(off)  # forward only; gzip seeks by decompressing
                out_f.append(f)
                out_l.append(line)
                out_raw.append(fh.read(length))
    return pa.table({
        "file_idx": pa.array(out_f, pa.int32()),
        "source_line": pa.array(out_l, pa.int64()),
        "reason": pa.array(["conflicting_duplicate"] * len(out_f), pa.string()),
        "raw_line": pa.array(out_raw, pa.binary()),
    })


def _file_counts(files: list[dict], summaries: list[dict], fates: dict[tuple[int, str], int]) -> list[dict]:
    out = []
    for f in files:
        rec: dict[str, Any] = {"path": f["path"], "sha256": f["sha256"], "bytes": f["bytes"],
                               "already_ingested": f["already_ingested"], "format": f.get("format", "events")}
        c: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        dropped: Counter[str] = Counter()
        for s in summaries:
            if s["file_idx"] == f["file_idx"]:
                c.update({k: s.get(k, 0) for k in ("lines", "blank", "good", "duplicates", "records")})
                reasons.update(s["by_reason"])
                dropped.update(s["dropped_fields"])
        dup = fates.get((f["file_idx"], "duplicate"), 0)
        conflict = fates.get((f["file_idx"], "conflicting_duplicate"), 0)
        if conflict:
            reasons["conflicting_duplicate"] += conflict
        if rec["format"] != "events":
            rec["records"] = c["records"]  # vendor records read; `lines` counts the items they became
        rec.update(lines=c["lines"], landed=c["good"] - dup - conflict, duplicates=dup + c["duplicates"],
                   quarantined=sum(reasons.values()), blank=c["blank"],
                   by_reason=dict(sorted(reasons.items())), dropped_fields=dict(sorted(dropped.items())))
        out.append(rec)
    return out


def _total(per_file: list[dict]) -> dict:
    t: dict[str, Any] = {k: sum(f[k] for f in per_file) for k in COUNT_KEYS}
    t["already_ingested"] = sum(1 for f in per_file if f["already_ingested"])
    reasons: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for f in per_file:
        reasons.update(f["by_reason"])
        dropped.update(f["dropped_fields"])
    t["by_reason"] = dict(sorted(reasons.items()))
    t["dropped_fields"] = dict(sorted(dropped.items()))
    return t


# ---------------------------------------------------------------------------------------- the command
# what a folder's files must end with to be read: event files, and vendor exports (told by their content)
INPUT_SUFFIXES = tuple(s + gz for s in (".jsonl", ".ndjson", ".json", ".csv") for gz in ("", ".gz"))


def is_input(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(INPUT_SUFFIXES)


def list_inputs(paths: Sequence[str | Path]) -> list[Path]:
    """Files named, and the input files of folders named (`*.jsonl[.gz]`, and vendor exports
    `*.ndjson`, `*.json`, `*.csv`, gzipped or not), in path order."""
    out: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            out.update(x for x in p.iterdir() if x.is_file() and is_input(x.name))
        elif p.is_file():
            out.add(p)
        else:
            raise IngestError(f"{p}: no such file or folder")
    return sorted(out, key=str)


def _watch(staging: Path, bar: Progress, stop: threading.Event) -> None:
    seen = 0
    while not stop.wait(0.5):
        lines = 0
        for p in (staging / "ranges").glob("*.json"):
            with contextlib.suppress(OSError, ValueError):  # a summary being written: next time
                lines += json.loads(p.read_text()).get("lines", 0)
        if lines > seen:
            bar.advance(lines - seen)
            seen = lines


def ingest(paths: Sequence[str | Path], lake: str | Path, reference: str | Path | None = None,
           beam_args: Sequence[str] = (), progress: bool | None = None, now: dt.datetime | None = None,
           wait: bool = False, fmt: str = "auto") -> dict[str, Any]:
    """Ingest files into the lake; returns the SPEC §5 summary. Raises IngestError on operational failure.

    `fmt`: `auto` tells each file's format from its first bytes; `events` (SPEC §2) or a vendor format
    (`pipelines/vendors`) applies to every file."""
    from pipelines import vendors

    if fmt not in vendors.FORMATS:
        raise IngestError(f"unknown format {fmt!r}: one of {', '.join(vendors.FORMATS)}")
    inputs = list_inputs(paths)
    try:
        formats = [fmt if fmt != "auto" else vendors.detect(p) for p in inputs]
    except vendors.VendorError as exc:
        raise IngestError(str(exc)) from exc
    lk = Lake(lake)
    roster_csv = None
    if reference:
        roster_csv = Path(reference) / "roster.csv"
        if not roster_csv.exists():
            raise IngestError(f"{roster_csv}: no roster in the reference folder")
    try:
        roster = _roster_table(str(roster_csv) if roster_csv else None)
    except ValueError as exc:
        raise IngestError(f"bad roster:\n{exc}") from exc
    try:
        with lk.locked(wait=wait):
            lk.ensure()
            lk.recover()
            lk.check()  # the lake is what its ledger says (pipelines/verify.py), before anything is added
            key = lk.pseudonym_key()
            known = lk.ingested_hashes()
            clock = time.perf_counter()
            files: list[dict[str, Any]] = []
            seen: set[str] = set()
            for i, p in enumerate(inputs):
                digest = file_sha256(p)
                files.append({"file_idx": i, "path": str(p), "sha256": digest, "bytes": p.stat().st_size,
                              "already_ingested": digest in known or digest in seen, "format": formats[i]})
                seen.add(digest)
            todo = [f for f in files if not f["already_ingested"]]
            if not todo:
                per_file = _file_counts(files, [], {})
                return {"run": None, "files": _public(per_file), "total": _total(per_file)}
            phases = {"hash_inputs_s": time.perf_counter() - clock}
            run = lk.next_run()
            staging = lk.staging_dir(run)
            staging.mkdir(parents=True, exist_ok=True)
            os.chmod(staging, 0o700)
            started = dt.datetime.now(dt.UTC)
            if any(f["format"] != "events" for f in todo):
                clock = time.perf_counter()
                _translate_vendor_files(todo, staging, reference, key)
                phases["translate_vendor_s"] = time.perf_counter() - clock
            ranges = [r for f in todo for r in plan_ranges(f["file_idx"], f.get("read_path", f["path"]), RANGE_BYTES)]
            bar = Progress("ingest", enabled=progress, unit="lines")
            stop = threading.Event()
            watcher = threading.Thread(target=_watch, args=(staging, bar, stop), daemon=True)
            watcher.start()
            clock = time.perf_counter()
            try:
                _beam_stage(ranges, staging, now or started, beam_args)
            except Exception as exc:  # a worker's error surfaces here, wrapped by the runner
                raise IngestError(f"pipeline failed: {_root_cause(exc)}") from exc
            finally:
                stop.set()
                watcher.join()
            phases["validate_and_stage_s"] = time.perf_counter() - clock
            clock = time.perf_counter()
            ledger = _commit_run(lk, run, staging, files, started, key, roster, phases)
            bar.close()
            return {"run": run, "files": _public(ledger["files"]), "total": ledger["total"]}
    except LakeError as exc:
        raise IngestError(str(exc)) from exc


def _translate_vendor_files(todo: list[dict[str, Any]], staging: Path, reference: str | Path | None,
                            key: bytes) -> None:
    """Vendor exports → derived event files in staging (read by the pipeline like any event file), plus
    what translation decided itself: records quarantined whole, blank records, superseded copies."""
    from pipelines import vendors
    from schemas.reference import ReferenceError

    if reference is None:
        raise IngestError("vendor exports need the reference folder (identities.csv maps their users to actors): "
                          "pass --reference")
    try:
        mapping = vendors.load_mapping(reference, key)
    except ReferenceError as exc:
        raise IngestError(f"bad vendor reference data:\n{exc}") from exc
    chosen = [(f["file_idx"], f["path"], f["format"]) for f in todo if f["format"] != "events"]
    try:
        done = vendors.translate(chosen, mapping, staging / "vendor")
    except (OSError, EOFError, vendors.VendorError) as exc:
        raise IngestError(f"cannot read vendor export: {exc}") from exc
    for f in todo:
        t = done.get(f["file_idx"])
        if t is None:
            continue
        idx = f["file_idx"]
        f["read_path"] = str(staging / "vendor" / f"f{idx:05d}.jsonl")
        _write(pa.table({
            "file_idx": pa.array([idx] * len(t.line_map), pa.int32()),
            "derived_line": pa.array(range(1, len(t.line_map) + 1), pa.int64()),
            "source_line": pa.array(t.line_map, pa.int64()),
        }), staging / "vendor" / f"f{idx:05d}.lines.parquet")
        if t.quarantine:
            _write(pa.table({
                "line_no": pa.array([x[0] for x in t.quarantine], pa.int64()),
                "reason": pa.array([x[1] for x in t.quarantine], pa.string()),
                "raw_line": pa.array([x[2] for x in t.quarantine], pa.binary()),
                "file_idx": pa.array([idx] * len(t.quarantine), pa.int32()),
                "range_idx": pa.array([-1] * len(t.quarantine), pa.int32()),
            }), staging / "quarantine" / f"f{idx:05d}-vendor.parquet", restricted=True)
        summary = {"file_idx": idx, "path": f["path"], "range_idx": -1, "start": 0, "end": None,
                   "lines": len(t.quarantine) + t.blank + t.superseded, "blank": t.blank, "good": 0,
                   "duplicates": t.superseded, "records": t.records,
                   "by_reason": dict(Counter(x[1] for x in t.quarantine)), "dropped_fields": dict(t.dropped_fields)}
        _write_summary(summary, staging / "ranges" / f"f{idx:05d}-vendor.json")


def _public(per_file: list[dict]) -> list[dict]:
    keys = ("path", "format", "records", "already_ingested", *COUNT_KEYS, "by_reason", "dropped_fields")
    return [{k: f[k] for k in keys if k in f} for f in per_file]


def _root_cause(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return msg[-1] if msg else type(exc).__name__
