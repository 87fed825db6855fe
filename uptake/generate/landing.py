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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uptake.generate.events import SOURCES
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
from uptake.generate.lines import EventText, Lines
from uptake.generate.truth import FileTruth
from uptake.progress import Progress

GZIP_SOURCES = frozenset({"m365-copilot"})
RENDER_AHEAD = 2  # files whose lines are rendered ahead of the one being planted


def in_file_order(ev: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """The rows of `ev` in the order of the files and their lines (month, source, time, event id), and the file
    number (month × sources + source) of each of them."""
    source = pc.index_in(ev.column("source"), pa.array(SOURCES)).to_numpy()
    month = ev.column("month_idx").to_numpy()
    ts = ev.column("ts").to_numpy().view(np.int64)
    order = np.lexsort((ev.column("event_num").to_numpy(), ts, source, month))
    return order, (month * len(SOURCES) + source)[order]


def write_landing(out: Path, ev: pa.Table, month_starts: list[dt.date], rng: np.random.Generator,
                  bar: Progress) -> dict[str, FileTruth]:
    """Write every landing file of `ev` (good events with `event_num`, `schema_version`, `month_idx`);
    returns the truth of each file, by path relative to `out`.

    Files are planted one after the other in this thread (the faults draw from `rng` in file order); two
    worker threads render the next files' lines and write the planted ones meanwhile (Arrow, numpy and file
    writes run outside the GIL), which changes nothing in what is written."""
    truth_files: dict[str, FileTruth] = {}
    carry: dict[str, list[tuple[bytes, str]]] = {s: [] for s in SOURCES}  # re-sends for next month's file
    months = len(month_starts)
    crlf_file = f"{month_starts[min(1, months - 1)].strftime('%Y-%m')}-github-copilot"
    order, file_of = in_file_order(ev)
    text = EventText(ev)
    phi_all = ev.column("phi").to_numpy()
    files = []  # (month index, source, name, row numbers in line order)
    for mi in range(months):
        for si, source in enumerate(SOURCES):
            a, b = np.searchsorted(file_of, [mi * len(SOURCES) + si, mi * len(SOURCES) + si + 1])
            if a < b:
                files.append((mi, source, f"{month_starts[mi].strftime('%Y-%m')}-{source}", order[a:b]))
    with ThreadPoolExecutor(max_workers=2) as pool:
        rendered = [pool.submit(text.render, rows, b"\r\n" if name == crlf_file else b"\n")
                    for _, _, name, rows in files[:RENDER_AHEAD]]
        written = []
        for k, (mi, source, name, rows) in enumerate(files):
            lines = rendered[k].result()
            rendered[k] = None  # type: ignore[call-overload]  # (its memory goes with the write)
            if k + RENDER_AHEAD < len(files):
                _, _, next_name, next_rows = files[k + RENDER_AHEAD]
                rendered.append(pool.submit(text.render, next_rows, b"\r\n" if next_name == crlf_file else b"\n"))
            phi = np.flatnonzero(phi_all[rows])
            tools = ev.column("tool").take(pa.array(rows[phi])).to_pylist()
            t, chunks, carry[source] = plant(lines, phi, tools, carry[source], mi + 1 < months, rng)
            rel = f"landing/{name}.jsonl" + (".gz" if source in GZIP_SOURCES else "")
            written.append(pool.submit(write_file, out / rel, chunks, source in GZIP_SOURCES))
            truth_files[rel] = t
            if k + 1 == len(files) or files[k + 1][0] != mi:
                bar.advance()
        for w in written:
            w.result()
    return truth_files


def plant(lines: Lines, phi: np.ndarray, tools: list[str], resent: list[tuple[bytes, str]], more: bool,
          rng: np.random.Generator) -> tuple[FileTruth, list[bytes | memoryview], list[tuple[bytes, str]]]:
    """A file's good lines with its faults planted: PHI-like free text on the `phi` lines (of tools `tools`),
    last month's re-sends (`resent`) early on, and every fault kind; returns the file's truth, its content in
    pieces, and the re-sends it leaves for next month's file (none when `more` is false: no next month)."""
    t = FileTruth()
    n = len(lines)
    replaced: dict[int, bytes] = {}
    # PHI-like free text on a few good lines: landed without it, counted as dropped
    for i, tool in zip(phi.tolist(), tools, strict=True):
        field_name = FREE_TEXT_FIELD[tool]
        text = PHI_TEXT[int(rng.integers(0, len(PHI_TEXT)))]
        replaced[i] = lines.line(i)[:-1] + b',"' + field_name.encode() + b'":' + json.dumps(text).encode() + b"}"
        t.dropped_fields[field_name] += 1

    def good(j: int) -> bytes:
        return replaced[j] if j in replaced else lines.line(j)

    t.landed = n
    inserts: list[tuple[int, bytes]] = []
    carry: list[tuple[bytes, str]] = []
    for line, kind in resent:  # re-sends of last month's events come early in this file
        inserts.append((int(rng.integers(0, max(1, n // 10))), line))
        if kind == "conflicting_duplicate":
            t.quarantined += 1
            t.by_reason[kind] += 1
        else:
            t.duplicates += 1
        for fld in fields_dropped(line):
            t.dropped_fields[fld] += 1
    for kind in FAULT_KINDS:
        rate = 0.0 if kind == "line_too_long" else FAULT_RATE  # a 1 MiB line is planted rarely
        k = int(rng.poisson(max(0.5, n * rate)))
        for _ in range(k):
            j = int(rng.integers(0, n))
            if kind in ("duplicate", "conflicting_duplicate"):
                if kind == "duplicate":
                    line, dropped = duplicate(good(j), rng)
                else:
                    line, dropped = conflict(good(j)), fields_dropped(good(j))
                if more and rng.random() < 0.3:  # re-sent in next month's file, counted there
                    carry.append((line, kind))
                    continue
                if kind == "duplicate":
                    t.duplicates += 1
                else:
                    t.quarantined += 1
                    t.by_reason[kind] += 1
                for fld in dropped:
                    t.dropped_fields[fld] += 1
                inserts.append((int(rng.integers(j + 1, n + 1)), line))
                continue
            line, reason = fault(kind, good(j), rng)
            inserts.append((int(rng.integers(0, n + 1)), line))
            if reason is None:
                t.blank += 1
            else:
                t.quarantined += 1
                t.by_reason[reason] += 1
    inserts.sort(key=lambda x: x[0])
    t.lines = n + len(inserts)
    t.by_reason = +t.by_reason
    t.dropped_fields = +t.dropped_fields
    return t, assemble(lines, replaced, inserts), carry


def assemble(lines: Lines, replaced: dict[int, bytes], inserts: list[tuple[int, bytes]]) -> list[bytes | memoryview]:
    """The file's content in order: the good lines (`replaced` ones rewritten), each insert before the good line
    at its position (after the last for position len(lines))."""
    out: list[bytes | memoryview] = []
    swaps = sorted(replaced)
    next_swap = 0

    def good_span(start: int, stop: int) -> None:
        nonlocal next_swap
        while next_swap < len(swaps) and swaps[next_swap] < stop:
            i = swaps[next_swap]
            out.append(lines.span(start, i))
            out.append(replaced[i] + lines.nl)
            start, next_swap = i + 1, next_swap + 1
        out.append(lines.span(start, stop))

    prev = 0
    for pos, line in inserts:
        good_span(prev, pos)
        out.append(line + lines.nl)
        prev = pos
    good_span(prev, len(lines))
    return out


def write_file(target: Path, chunks: list[bytes | memoryview], gzipped: bool) -> None:
    """Write `chunks` to `target` atomically (a temporary file, then renamed), gzip-compressed if `gzipped`."""
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "wb") as raw:
        if gzipped:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as gz:
                gz.write(b"".join(chunks))
        else:
            raw.writelines(chunks)
    os.replace(tmp, target)
