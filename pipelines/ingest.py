"""`uptake ingest`: usage events (and vendor exports) validated, deduplicated, pseudonymized and landed.

This module only wires the parts together, in the order a run goes:

1. **Inputs** (`pipelines/inputs.py`): the files in path order, each hashed once (a file ingested before is
   skipped as `already_ingested`); vendor exports are translated to derived event files
   (`pipelines/vendors/`).
2. **Stage** (`pipelines/stage.py`, Apache Beam): every range of every new file validated, pseudonymized
   and staged in its landed form, with its content hash and where each row came from.
3. **Commit** (`pipelines/commit.py`, DuckDB): duplicates decided over the run and against the lake, each
   partition written once, everything made visible through the lake's atomic manifest.

A file that cannot be read fails alone (named, nothing of it lands); a full disk ends the run with one line.

Run it:

    uptake ingest landing/ --lake lake                                  # in this process
    uptake ingest landing/ --lake lake -- --runner=DaskRunner --dask_client_address=tcp://host:8786
    uptake ingest /mnt/landing --lake /mnt/lake -- --runner=FlinkRunner --flink_master=host:8081 \\
        --environment_type=LOOPBACK

On a cluster the lake (its staging folder) must be on storage every worker sees.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import importlib
import json
import os
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipelines.accounting import Counts, public, total
from pipelines.inputs import Input, InputError, cores, is_input, list_inputs, probe, scan, tasks
from pipelines.lake import Lake, LakeError
from pipelines.validate import BlockValidator
from uptake.progress import Progress

__all__ = ["BlockValidator", "IngestError", "ingest", "is_input", "list_inputs"]


class IngestError(RuntimeError):
    """An operational failure: one line that says what and where."""


def ingest(paths: Sequence[str | Path], lake: str | Path, reference: str | Path | None = None,
           beam_args: Sequence[str] = (), progress: bool | None = None, now: dt.datetime | None = None,
           wait: bool = False, fmt: str = "auto") -> dict[str, Any]:
    """Ingest files into the lake; returns the SPEC §5 summary. Raises IngestError on operational failure.

    `fmt`: `auto` tells each file's format from its first bytes; `events` (SPEC §2) or a vendor format
    (`pipelines/vendors`) applies to every file."""
    from pipelines import vendors

    # importing Apache Beam takes seconds: let it overlap listing and hashing the inputs
    threading.Thread(target=importlib.import_module, args=("pipelines.stage",), daemon=True).start()
    if fmt not in vendors.FORMATS:
        raise IngestError(f"unknown format {fmt!r}: one of {', '.join(vendors.FORMATS)}")
    try:
        paths_found = list_inputs(paths)
    except InputError as exc:
        raise IngestError(str(exc)) from exc
    # a file that cannot be read, or whose format cannot be told, fails alone, later
    errors = {p: probe(p) for p in paths_found}
    formats = [fmt if fmt != "auto" else "events" if errors[p] else _detect(p, errors) for p in paths_found]
    lk = Lake(lake)
    try:
        with lk.locked(wait=wait):
            lk.ensure()
            lk.recover()
            lk.check()  # the lake is what its ledger says (pipelines/verify.py), before anything is added
            key = lk.pseudonym_key()
            known = lk.ingested_hashes()
            clock = time.perf_counter()
            inputs = scan(paths_found, formats, known.__contains__, errors)
            phases = {"hash_inputs_s": time.perf_counter() - clock}
            todo = [i for i in inputs if not i.already_ingested and not i.error]
            if not todo:
                from pipelines.commit import records

                _nothing_readable(inputs)
                files = records(inputs)
                return {"run": None, "files": public(files), "total": total(files)}
            return _run(lk, inputs, todo, key, reference, beam_args, progress, now, phases)
    except LakeError as exc:
        raise IngestError(str(exc)) from exc
    except OSError as exc:  # the lake's storage refused (full, read-only) before this run staged anything
        raise IngestError(f"{_os_error(exc)} under {lk.root}: nothing new was ingested (a run committed before "
                          "completes at the next ingest); fix it and run it again") from exc


def _detect(path: Path, errors: dict[Path, str | None]) -> str:
    """The file's format; when none or several fit, the file's error says so (it is read as events: not at all)."""
    from pipelines import vendors

    try:
        return vendors.detect(path)
    except vendors.VendorError as exc:
        errors[path] = str(exc).removeprefix(f"{path}: ")
        return "events"


def _run(lk: Lake, inputs: list[Input], todo: list[Input], key: bytes, reference: str | Path | None,
         beam_args: Sequence[str], progress: bool | None, now: dt.datetime | None,
         phases: dict[str, float]) -> dict[str, Any]:
    """One run over the new inputs: translate vendor exports, stage, commit."""
    run = lk.next_run()
    staging = lk.staging_dir(run)
    staging.mkdir(parents=True, exist_ok=True)
    os.chmod(staging, 0o700)
    try:
        return _stage_and_commit(lk, run, staging, inputs, todo, key, reference, beam_args, progress, now, phases)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (the command turns it into one): say where the run stands
        raise KeyboardInterrupt(_run_stands(lk, run, staging)[0]) from exc
    except Exception as exc:
        full = _disk_full(exc)
        if not full and not isinstance(exc, OSError):
            raise
        what = "no space left on device" if full else _os_error(exc)
        stands, committed = _run_stands(lk, run, staging)
        then = "" if committed else "; free some space and run it again" if full else "; fix it and run it again"
        raise IngestError(f"{what} under {lk.root}: {stands}{then}") from exc


def _run_stands(lk: Lake, run: int, staging: Path) -> tuple[str, bool]:
    """(where a run that stopped stands, whether it is committed): past its commit point it completes at the next
    ingest; before it, nothing of it is visible and its staging is removed."""
    if (lk.runs / f"run-{run:06d}.json").exists():  # its ledger entry written: done, the clean-up aside
        return f"run {run} is committed", True
    if (staging / "MANIFEST.json").exists():
        return f"run {run} is committed and completes at the next ingest", True
    shutil.rmtree(staging, ignore_errors=True)
    return f"nothing of run {run} was committed", False


def _os_error(exc: BaseException) -> str:
    """An OSError as one line: what, and on which file."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc)


def _stage_and_commit(lk: Lake, run: int, staging: Path, inputs: list[Input], todo: list[Input], key: bytes,
                      reference: str | Path | None, beam_args: Sequence[str], progress: bool | None,
                      now: dt.datetime | None, phases: dict[str, float]) -> dict[str, Any]:
    from pipelines.commit import commit_run, staged_counts
    from pipelines.stage import StageContext, run_stage

    started = dt.datetime.now(dt.UTC)
    if any(i.format != "events" for i in todo):
        clock = time.perf_counter()
        translated = _translate_vendor_files(todo, staging, reference, key)
        inputs = [translated.get(i.idx, i) for i in inputs]
        todo = [translated.get(i.idx, i) for i in todo if not translated.get(i.idx, i).error]
        phases["translate_vendor_s"] = time.perf_counter() - clock
    work = tasks(todo, cores())
    ctx = StageContext(str(staging), run, now or started, key, {i.idx: i.path for i in todo})
    bar = Progress("ingest", enabled=progress, unit="lines")
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(staging, bar, stop), daemon=True)
    watcher.start()
    clock = time.perf_counter()
    try:
        if work:
            run_stage(work, ctx, beam_args)
    except Exception as exc:  # a worker's error surfaces here, wrapped by the runner
        if _disk_full(exc):
            raise
        if _interrupted(exc):  # the runner reports Ctrl-C as a worker's error
            raise KeyboardInterrupt from exc
        raise IngestError(f"pipeline failed: {_root_cause(exc)}") from exc
    finally:
        stop.set()
        watcher.join()
    phases["validate_and_stage_s"] = time.perf_counter() - clock
    if all(i.error for i in staged_counts(inputs, staging)[1] if not i.already_ingested):
        shutil.rmtree(staging, ignore_errors=True)
        _nothing_readable(staged_counts(inputs, staging)[1])
    ledger = commit_run(lk, run, staging, inputs, started, phases)
    bar.close()
    return {"run": run, "files": public(ledger["files"]), "total": ledger["total"]}


def _nothing_readable(inputs: list[Input]) -> None:
    """Every new file failed: the run fails, naming each file and why."""
    bad = [i for i in inputs if i.error]
    if bad:
        raise IngestError(f"pipeline failed: {len(bad)} of {len(bad)} new file(s) could not be read: "
                          + "; ".join(f"{i.path}: {i.error}" for i in bad))


def _disk_full(exc: BaseException | None) -> bool:
    """Whether the device filled up (an OSError's errno, or DuckDB's and Beam's messages of one)."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(exc) or "Disk quota exceeded" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _translate_vendor_files(todo: list[Input], staging: Path, reference: str | Path | None,
                            key: bytes) -> dict[int, Input]:
    """Vendor exports → derived event files in staging (read by the pipeline like any event file); what
    translation decided itself (records quarantined whole, blank, superseded) is staged and counted here."""
    import numpy as np
    import pyarrow as pa

    from pipelines import vendors
    from pipelines.lake import write_parquet
    from schemas.reference import ReferenceError

    if reference is None:
        raise IngestError("vendor exports need the reference folder (identities.csv maps their users to actors): "
                          "pass --reference")
    try:
        mapping = vendors.load_mapping(reference, key)
    except ReferenceError as exc:
        raise IngestError(f"bad vendor reference data:\n{exc}") from exc
    chosen = [(i.idx, i.read_path, i.format) for i in todo if i.format != "events"]
    out: dict[int, Input] = {}
    while True:  # an export that cannot be read fails alone: the others are translated without it
        try:
            done = vendors.translate(chosen, mapping, staging / "vendor")
            break
        except vendors.UnreadableExport as exc:
            bad = next(i for i in todo if i.read_path == str(exc.path))
            out[bad.idx] = bad.failed(exc.reason)
            chosen = [c for c in chosen if c[0] != bad.idx]
    for i in todo:
        t = done.get(i.idx)
        if t is None:
            continue
        counts = Counts(lines=len(t.quarantine) + t.blank + t.superseded, blank=t.blank, duplicates=t.superseded)
        counts.quarantine(x[1] for x in t.quarantine)
        counts.drop(t.dropped_fields)
        if t.quarantine:
            write_parquet(pa.table({
                "file_idx": pa.array([i.idx] * len(t.quarantine), pa.int32()),
                "source_line": pa.array([x[0] for x in t.quarantine], pa.int64()),
                "reason": pa.array([x[1] for x in t.quarantine], pa.string()),
                "raw_line": pa.array([x[2] for x in t.quarantine], pa.binary()),
            }), staging / "quarantine" / f"f{i.idx:05d}-vendor.parquet", restricted=True)
        out[i.idx] = i.derived(str(staging / "vendor" / f"f{i.idx:05d}.jsonl"), np.array(t.line_map, np.int64),
                               counts, t.records)
    return out


def _watch(staging: Path, bar: Progress, stop: threading.Event) -> None:
    """Advance the bar by the lines of each task's counts as they appear (each file read once: a run of 5,000
    small files reread every summary twice a second)."""
    counted: set[str] = set()
    while not stop.wait(0.5):
        for p in (staging / "ranges").glob("*.json"):
            if p.name not in counted:
                with contextlib.suppress(OSError, ValueError):  # a summary being written: next time
                    bar.advance(sum(s.get("lines", 0) for s in json.loads(p.read_text())))
                    counted.add(p.name)


def _interrupted(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, KeyboardInterrupt) or "KeyboardInterrupt" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _root_cause(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return msg[-1] if msg else type(exc).__name__
