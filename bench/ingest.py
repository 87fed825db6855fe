"""Benchmark: `uptake ingest` against DuckDB's own JSON → Parquet copy, on the same file, in the same run.

    .venv/bin/python bench/ingest.py --events 2000000            # per-event ratio at 2 M events
    .venv/bin/python bench/ingest.py --events 2000000 8000000    # and end to end at 8 M, peak memory 8 M vs 2 M

For each size: `uptake generate` writes an organization of about that many events; its landing files are
joined into one plain `.jsonl`; then, alternating for `--rounds` rounds, the baseline
`COPY (SELECT * FROM read_json(f, ignore_errors=true)) TO 'x.parquet'` (which validates nothing; without
ignore_errors it refuses the planted bad lines) and `uptake ingest f --lake <fresh>` run as separate
processes, and so do both on a file of the first line only (their start-up: Python, imports, Beam).
Printed per size: best wall time of each, the end-to-end ratio, the per-event ratio
`(ingest − ingest on one line) / (copy − copy on one line)` (SPEC §6), start-up, and peak RSS.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
PY = sys.executable
UPTAKE = str(Path(PY).parent / "uptake")
EVENTS_PER_PERSON = 811  # default months and volume (measured: 486,521 events for 600 people)

MEASURE = """
import resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
wall = time.perf_counter() - t
print(wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, rc)
"""

BASELINE = """
import duckdb, sys
src, dst = sys.argv[1], sys.argv[2]
duckdb.execute(f"copy (select * from read_json('{src}', ignore_errors=true)) to '{dst}' (format parquet)")
"""


def measure(cmd: list[str]) -> tuple[float, int]:
    out = subprocess.run([PY, "-c", MEASURE, *cmd], capture_output=True, text=True, check=True).stdout.split()
    if out[2] != "0":
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return float(out[0]), int(out[1])


def prepare(events: int, seed: int) -> tuple[Path, int]:
    folder = OUT / f"org-{events}"
    joined = OUT / f"events-{events}.jsonl"
    if not joined.exists():
        shutil.rmtree(folder, ignore_errors=True)
        people = max(300, round(events / EVENTS_PER_PERSON))
        t = time.perf_counter()
        subprocess.run([UPTAKE, "generate", "--out", str(folder), "--seed", str(seed), "--people", str(people)],
                       check=True, stdout=subprocess.DEVNULL)
        gen = time.perf_counter() - t
        n = json.loads((folder / "truth.json").read_text())["events"]
        print(f"generated {n:,} events in {gen:.1f}s ({n / gen:,.0f} events/s, including start-up)")
        with joined.open("wb") as out:
            for p in sorted((folder / "landing").iterdir()):
                data = p.read_bytes()
                out.write(gzip.decompress(data) if p.name.endswith(".gz") else data)
        shutil.rmtree(folder)
    lines = sum(1 for _ in joined.open("rb"))
    return joined, lines


def copy(path: Path) -> tuple[float, int]:
    target = OUT / "baseline.parquet"
    try:
        return measure([PY, "-c", BASELINE, str(path), str(target)])
    finally:
        target.unlink(missing_ok=True)


def ingest(path: Path) -> tuple[float, int]:
    lake = OUT / "lake"
    shutil.rmtree(lake, ignore_errors=True)
    try:
        return measure([UPTAKE, "ingest", str(path), "--lake", str(lake)])
    finally:
        shutil.rmtree(lake, ignore_errors=True)


def bench(events: int, rounds: int, seed: int) -> dict:
    path, lines = prepare(events, seed)
    tiny = OUT / "one-line.jsonl"
    tiny.write_bytes(path.open("rb").readline())
    print(f"\n{path.name}: {lines:,} lines, {path.stat().st_size / 1e6:,.0f} MB")
    base, ing, base1, ing1 = [], [], [], []
    for r in range(rounds):
        base.append(copy(path))
        ing.append(ingest(path))
        base1.append(copy(tiny))
        ing1.append(ingest(tiny))
        print(f"  round {r + 1}: duckdb copy {base[-1][0]:.2f}s (one line {base1[-1][0]:.2f}s)   "
              f"uptake ingest {ing[-1][0]:.2f}s (one line {ing1[-1][0]:.2f}s)")
    b, i = min(t for t, _ in base), min(t for t, _ in ing)
    b1, i1 = min(t for t, _ in base1), min(t for t, _ in ing1)
    result = {
        "events": events, "lines": lines, "mb": round(path.stat().st_size / 1e6),
        "duckdb_copy_s": round(b, 2), "ingest_s": round(i, 2), "ratio": round(i / b, 2),
        "duckdb_startup_s": round(b1, 2), "ingest_startup_s": round(i1, 2),
        "per_event_ratio": round((i - i1) / (b - b1), 2),
        "ingest_lines_per_s": round(lines / (i - i1)), "duckdb_lines_per_s": round(lines / (b - b1)),
        "ingest_peak_rss_mb": round(max(r for _, r in ing) / 2**20),
        "duckdb_peak_rss_mb": round(max(r for _, r in base) / 2**20),
    }
    print(f"  end to end: ingest / copy = {result['ratio']:.2f} (goal ≤ 2.0 at 8 M)")
    print(f"  per event: (ingest − one line) / (copy − one line) = {result['per_event_ratio']:.2f} "
          f"(goal ≤ 1.5 at 2 M)")
    print(f"  start-up: ingest {i1:.2f}s, copy {b1:.2f}s")
    print(f"  peak RSS: ingest {result['ingest_peak_rss_mb']} MB, duckdb copy {result['duckdb_peak_rss_mb']} MB")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[2_000_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    results = [bench(n, args.rounds, args.seed) for n in args.events]
    print("\n| events | lines | copy s | ingest s | ratio | per-event ratio | start-up s (ingest/copy) | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['events']:,} | {r['lines']:,} | {r['duckdb_copy_s']} | {r['ingest_s']} | {r['ratio']} | "
              f"{r['per_event_ratio']} | {r['ingest_startup_s']} / {r['duckdb_startup_s']} | "
              f"{r['ingest_peak_rss_mb']} |")
    if len(results) > 1:
        small, large = results[0], results[-1]
        growth = large["ingest_peak_rss_mb"] / small["ingest_peak_rss_mb"]
        print(f"\npeak RSS at {large['events']:,} / at {small['events']:,} events: {growth:.2f} (flat: ≤ 1.2)")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
