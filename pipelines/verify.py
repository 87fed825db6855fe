"""`uptake verify`: does the lake still hold what its ledger says was committed?

Two depths, each problem one line naming the file, what is wrong and what to do:

- **quick**, run at the start of every ingest and build: every ledger entry parses; every committed file
  exists with the size recorded at commit; no events, index or quarantine file lies in the lake that no
  ledger entry lists (a deleted entry would let the same events land twice, and the next run reuse its run
  number and overwrite its files); the pseudonym key is there, and its fingerprint is the one the ledger
  recorded (a deleted key must not be re-created, a replaced one must not be used). Stats and directory
  listings only, no file is read but the ledger.
- **full** (`uptake verify`): also the sha256 of every committed file, and the index against the landed
  events: per run, the index lists exactly the event ids that landed, as many as the ledger counts, and no
  event id landed twice.

Runs committed before checksums were recorded are checked for presence only (and in full, against the index).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.lake import KEY_ENV, KEY_FILE, Lake, LakeError, file_sha256, key_fingerprint, read_ledger_entry

RUN_IN_NAME = re.compile(r"run-(\d{6})")
RESTORE = "restore it from your backup"


@dataclass
class Report:
    runs: int = 0
    files: int = 0
    bytes: int = 0
    events: int | None = None  # landed events checked against the index (full only)
    unchecked_runs: list[int] = field(default_factory=list)  # committed before checksums were recorded
    seconds: float = 0.0
    full: bool = False
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        what = "sizes and sha256" if self.full else "sizes"
        line = (f"{self.runs} run(s), {self.files} committed file(s) ({self.bytes / 1e6:,.1f} MB): {what} as "
                "recorded")
        if self.events is not None:
            line += f"; {self.events:,} landed events match the index"
        if self.unchecked_runs:
            line += f"; run(s) {', '.join(map(str, self.unchecked_runs))} predate checksums: presence only"
        return f"{line} ({self.seconds:.2f} s)"


def _committed(entry: dict[str, Any]) -> list[str]:
    """Paths (relative to the lake) of the files a run committed: its outputs, and whatever it checksummed."""
    out = entry.get("outputs", {})
    listed = [*out.get("events", []), *(p for p in (out.get("index"), out.get("quarantine")) if p)]
    return sorted({*listed, *entry.get("checksums", {})})


def check(lake: Lake, full: bool = False) -> Report:
    started = time.perf_counter()
    rep = Report(full=full)
    entries: dict[int, dict[str, Any]] = {}
    unreadable: set[int] = set()
    for p in sorted(lake.runs.glob("run-*.json")):
        n = _run_number(p.name)
        try:
            entries[n] = read_ledger_entry(p)
        except LakeError as exc:
            rep.problems.append(str(exc))
            unreadable.add(n)
    rep.runs = len(entries) + len(unreadable)

    # committed files: present, with the size (and sha256) recorded at commit
    listed: set[str] = set()
    for n, entry in sorted(entries.items()):
        sums = entry.get("checksums")
        if sums is None:
            rep.unchecked_runs.append(n)
        for rel in _committed(entry):
            listed.add(rel)
            path = lake.root / rel
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                rep.problems.append(f"{path}: missing (committed by run {n}); {RESTORE}")
                continue
            rep.files += 1
            rep.bytes += size
            want = (sums or {}).get(rel)
            if want is None:
                continue
            if size != want["bytes"]:
                rep.problems.append(f"{path}: {size:,} bytes, but run {n} committed {want['bytes']:,} "
                                    f"(truncated or replaced); {RESTORE}")
            elif full and file_sha256(path) != want["sha256"]:
                rep.problems.append(f"{path}: its sha256 is not the one run {n} recorded at commit (changed "
                                    f"since); {RESTORE}")

    _orphans(lake, listed, entries, unreadable, rep)
    _key(lake, entries, rep)
    if full and not rep.problems:
        _index_against_events(lake, entries, rep)
    rep.seconds = time.perf_counter() - started
    return rep


def quick(lake: Lake) -> Report:
    """The check run before every ingest and build: raises LakeError with the first problem (one line)."""
    rep = check(lake, full=False)
    if rep.problems:
        more = f" (and {len(rep.problems) - 1} more problem(s): see `uptake verify`)" if len(rep.problems) > 1 else ""
        raise LakeError(rep.problems[0] + more)
    return rep


def _run_number(name: str) -> int:
    m = RUN_IN_NAME.search(name)
    return int(m.group(1)) if m else -1


def _orphans(lake: Lake, listed: set[str], entries: dict[int, dict[str, Any]], unreadable: set[int],
             rep: Report) -> None:
    """Files in the committed zones that no ledger entry lists."""
    found = [*lake.events.rglob("*.parquet"), *lake.index.glob("*.parquet"), *lake.quarantine.glob("*.parquet")]
    by_run: dict[int, list[Path]] = {}
    for path in sorted(found):
        rel = str(path.relative_to(lake.root))
        if rel not in listed:
            by_run.setdefault(_run_number(path.name), []).append(path)
    for n, paths in sorted(by_run.items()):
        entry_path = lake.runs / f"run-{n:06d}.json"
        if n in unreadable:
            continue  # reported as unreadable already
        if n >= 0 and (lake.staging_dir(n) / "MANIFEST.json").exists():
            continue  # a run being committed (or to be rolled forward by the next ingest)
        if n < 0:
            rep.problems.append(f"{paths[0]}: committed by no run ({len(paths)} such file(s)); remove them, or "
                                "restore the lake from your backup")
        elif n in entries:
            rep.problems.append(f"{paths[0]}: not listed by the ledger entry of run {n} ({len(paths)} such "
                                "file(s)); remove them, or restore the lake from your backup")
        elif not entry_path.exists():  # (an entry that exists now was committed while we looked)
            rep.problems.append(
                f"{entry_path}: missing, but run {n} committed {len(paths)} file(s) to the lake (e.g. "
                f"{paths[0].relative_to(lake.root)}); restore the ledger entry from your backup: without it "
                "the same events could land twice")


def _key(lake: Lake, entries: dict[int, dict[str, Any]], rep: Report) -> None:
    """The key is there when the lake holds events, and is the one the ledger recorded."""
    recorded: dict[str, list[int]] = {}
    for n, e in sorted(entries.items()):
        if e.get("key_fingerprint"):
            recorded.setdefault(e["key_fingerprint"], []).append(n)
    env = os.environ.get(KEY_ENV)
    source = f"${KEY_ENV}" if env else str(lake.key_file)
    if env:
        key: bytes | None = env.encode()
    elif lake.key_file.exists():
        key = lake.key_file.read_text().strip().encode() or None
    else:
        key = None
    if key is None:
        if entries or lake.holds_events():
            rep.problems.append(f"{source}: the pseudonym key is missing or empty, but this lake holds events "
                                f"pseudonymized with it; restore {KEY_FILE} from your backup (or set ${KEY_ENV})")
        return
    if len(recorded) > 1:
        spread = "; ".join(f"{fp}: run(s) {', '.join(map(str, runs))}" for fp, runs in recorded.items())
        rep.problems.append(f"{lake.runs}: runs were pseudonymized with {len(recorded)} different keys ({spread}); "
                            "restore the lake from a backup made before the key changed")
        return
    fp = key_fingerprint(key)
    if recorded and fp not in recorded:
        ((want, runs),) = recorded.items()
        which = f"run {runs[0]}" if len(runs) == 1 else f"runs {runs[0]}–{runs[-1]}"
        rep.problems.append(f"{source}: not the key this lake's events were pseudonymized with (fingerprint {fp}; "
                            f"{which} recorded {want}); restore the original key from your backup")


def _index_against_events(lake: Lake, entries: dict[int, dict[str, Any]], rep: Report) -> None:
    """Per run: the index lists exactly the landed event ids, as many as the ledger counts; none twice."""
    import duckdb
    import pyarrow as pa

    index = [str(lake.root / e["outputs"]["index"]) for e in entries.values() if e["outputs"].get("index")]
    events = [str(lake.root / p) for e in entries.values() for p in e["outputs"].get("events", [])]
    con = duckdb.connect()
    try:
        con.register("ledger", pa.table({
            "run": pa.array(list(entries), pa.int64()),
            "counted": pa.array([e.get("total", {}).get("landed") for e in entries.values()], pa.int64()),
        }))
        con.execute("create temp table idx (event_id varchar, run bigint)")
        con.execute("create temp table ev (event_id varchar, run bigint)")
        if index:
            con.execute(r"""insert into idx select event_id, regexp_extract(filename, 'run-(\d{6})', 1)::bigint
                            from read_parquet($files, filename = true)""", {"files": index})
        if events:
            con.execute("""insert into ev select event_id, ingest_run
                           from read_parquet($files, hive_partitioning = false)""", {"files": events})
        rows = con.execute("""
            with i as (select run, count(*) as indexed from idx group by run),
                 e as (select run, count(*) as landed from ev group by run),
                 unmatched as (
                   select coalesce(i.run, e.run) as run, count(*) as n
                   from idx i full join ev e on i.event_id = e.event_id and i.run = e.run
                   where i.event_id is null or e.event_id is null group by 1)
            select l.run, l.counted, coalesce(i.indexed, 0), coalesce(e.landed, 0), coalesce(u.n, 0)
            from ledger l left join i using (run) left join e using (run) left join unmatched u using (run)
            order by l.run""").fetchall()
        (twice,) = con.execute("select count(*) - count(distinct event_id) from ev").fetchall()[0]
        rep.events = int(con.execute("select count(*) from ev").fetchall()[0][0])
    except duckdb.Error as exc:
        rep.problems.append(f"{lake.root}: the landed events or the index cannot be read ({exc}); {RESTORE}")
        return
    finally:
        con.close()
    for run, counted, indexed, landed, unmatched in rows:
        if (counted is not None and not counted == indexed == landed) or unmatched:
            rep.problems.append(
                f"{lake.index / f'run-{run:06d}.parquet'}: run {run} counted {counted} landed events, its index "
                f"lists {indexed}, its event files hold {landed} ({unmatched} event id(s) in one but not the "
                f"other); restore run {run}'s files from your backup")
    if twice:
        rep.problems.append(f"{lake.events}: {twice} event id(s) landed twice; restore the lake from your backup")
