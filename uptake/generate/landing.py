"""The landing files: each source's good lines of a month with planted faults, written as the source would.

One file per source and month (`landing/YYYY-MM-<source>.jsonl`, gzip for m365-copilot, CRLF line ends in
one file). Into every file go a few lines of every fault kind of `faults.py` (at least a few per file,
about 2 per 10,000 good lines), exact and conflicting re-sends (some in next month's file), PHI-like free
text on good lines; each is counted as it is planted, so the returned `FileTruth`s are exactly what an
ingest must report.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uptake.generate.events import SOURCES, format_lines
from uptake.generate.faults import (
    FAULT_KINDS,
    FAULT_RATE,
    FREE_TEXT_FIELD,
    PHI_TEXT,
    conflict,
    duplicate,
    fault,
    fields_dropped,
)
from uptake.generate.truth import FileTruth
from uptake.progress import Progress

GZIP_SOURCES = frozenset({"m365-copilot"})


def write_landing(out: Path, ev: pa.Table, month_starts: list[dt.date], rng: np.random.Generator,
                  bar: Progress) -> dict[str, FileTruth]:
    """Write every landing file of `ev` (good events with `event_num`, `schema_version`, `month_idx`);
    returns the truth of each file, by path relative to `out`."""
    con = duckdb.connect()
    con.execute("set threads to 2")
    truth_files: dict[str, FileTruth] = {}
    carry: dict[str, list[tuple[bytes, str]]] = {s: [] for s in SOURCES}  # re-sends for next month's file
    months = len(month_starts)
    crlf_file = f"{month_starts[min(1, months - 1)].strftime('%Y-%m')}-github-copilot"
    for mi in range(months):
        month = month_starts[mi].strftime("%Y-%m")
        sub = ev.filter(pc.equal(ev.column("month_idx"), mi))
        lines_t = format_lines(con, sub)
        files = lines_t.column("file").to_numpy(zero_copy_only=False)
        phi = lines_t.column("phi").to_numpy(zero_copy_only=False)
        tools = lines_t.column("tool").to_numpy(zero_copy_only=False)
        lines = lines_t.column("line").cast(pa.binary()).to_pylist()
        bounds = np.flatnonzero(files[1:] != files[:-1]) + 1
        starts = np.concatenate([[0], bounds]) if len(files) else np.array([], int)
        stops = np.concatenate([bounds, [len(files)]]) if len(files) else np.array([], int)
        for a, b in zip(starts, stops, strict=True):
            name = files[a]
            source = name[len(month) + 1:]
            good = lines[a:b]
            t = FileTruth()
            # PHI-like free text on a few good lines: landed without it, counted as dropped
            for i in np.flatnonzero(phi[a:b]):
                field_name = FREE_TEXT_FIELD[tools[a + i]]
                text = PHI_TEXT[int(rng.integers(0, len(PHI_TEXT)))]
                good[i] = good[i][:-1] + b',"' + field_name.encode() + b'":' + json.dumps(text).encode() + b"}"
                t.dropped_fields[field_name] += 1
            t.landed = len(good)
            inserts: list[tuple[int, bytes]] = []
            for line, kind in carry[source]:  # re-sends of last month's events come early in this file
                inserts.append((int(rng.integers(0, max(1, len(good) // 10))), line))
                if kind == "conflicting_duplicate":
                    t.quarantined += 1
                    t.by_reason[kind] += 1
                else:
                    t.duplicates += 1
                for fld in fields_dropped(line):
                    t.dropped_fields[fld] += 1
            carry[source] = []
            for kind in FAULT_KINDS:
                rate = 0.0 if kind == "line_too_long" else FAULT_RATE  # a 1 MiB line is planted rarely
                k = int(rng.poisson(max(0.5, len(good) * rate)))
                for _ in range(k):
                    j = int(rng.integers(0, len(good)))
                    if kind in ("duplicate", "conflicting_duplicate"):
                        if kind == "duplicate":
                            line, dropped = duplicate(good[j], rng)
                            t.duplicates += 1
                        else:
                            line, dropped = conflict(good[j]), fields_dropped(good[j])
                            t.quarantined += 1
                            t.by_reason[kind] += 1
                        for fld in dropped:
                            t.dropped_fields[fld] += 1
                        if mi + 1 < months and rng.random() < 0.3:
                            carry[source].append((line, kind))
                            if kind == "duplicate":
                                t.duplicates -= 1
                            else:
                                t.quarantined -= 1
                                t.by_reason[kind] -= 1
                            for fld in dropped:
                                t.dropped_fields[fld] -= 1
                            continue
                        inserts.append((int(rng.integers(j + 1, len(good) + 1)), line))
                        continue
                    line, reason = fault(kind, good[j], rng)
                    inserts.append((int(rng.integers(0, len(good) + 1)), line))
                    if reason is None:
                        t.blank += 1
                    else:
                        t.quarantined += 1
                        t.by_reason[reason] += 1
            inserts.sort(key=lambda x: x[0])
            body: list[bytes] = []
            prev = 0
            for pos, line in inserts:
                body.extend(good[prev:pos])
                body.append(line)
                prev = pos
            body.extend(good[prev:])
            t.lines = len(body)
            t.by_reason = +t.by_reason
            t.dropped_fields = +t.dropped_fields
            nl = b"\r\n" if name == crlf_file else b"\n"
            data = nl.join(body) + nl
            rel = f"landing/{name}.jsonl" + (".gz" if source in GZIP_SOURCES else "")
            target = out / rel
            tmp = target.with_name(target.name + ".tmp")
            if source in GZIP_SOURCES:
                with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as gz:
                    gz.write(data)
            else:
                tmp.write_bytes(data)
            os.replace(tmp, target)
            truth_files[rel] = t
        bar.advance()
    return truth_files
