"""Benchmark: `uptake build` at two sizes, and how its time grows with the events.

    .venv/bin/python bench/build.py --events 1000000 10000000

For each size, `uptake generate` writes an organization of about that many events and `uptake ingest` lands
it (not timed here; see bench/ingest.py); then `uptake build` runs `--rounds` times on it. Printed: the best
build time per size, its phases (loading, models, expectations: the expectations' share of the build), and
the ratio of times against the ratio of events (goal: 10× the events costs ≤ 12× the time).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
UPTAKE = str(Path(sys.executable).parent / "uptake")
EVENTS_PER_PERSON = 811


def prepare(events: int) -> tuple[Path, Path, int]:
    org, lake = OUT / f"build-org-{events}", OUT / f"build-lake-{events}"
    if not (lake / "ledger").exists():
        shutil.rmtree(org, ignore_errors=True)
        shutil.rmtree(lake, ignore_errors=True)
        people = max(300, round(events / EVENTS_PER_PERSON))
        subprocess.run([UPTAKE, "generate", "--out", str(org), "--people", str(people)], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([UPTAKE, "ingest", str(org / "landing"), "--lake", str(lake)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    n = json.loads((org / "truth.json").read_text())["totals"]["landed"]
    return org, lake, n


def bench(events: int, rounds: int) -> dict:
    org, lake, n = prepare(events)
    best: dict | None = None
    for _ in range(rounds):
        t = time.perf_counter()
        out = subprocess.run([UPTAKE, "build", "--lake", str(lake), "--reference", str(org / "reference")],
                             capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t
        result = json.loads(out.stdout)
        if best is None or wall < best["wall_s"]:
            best = {"events": n, "wall_s": round(wall, 2), "phases": result["phases"]}
    assert best is not None
    share = best["phases"].get("expectations_s", 0) / best["wall_s"]
    best["expectations_share"] = round(share, 3)
    print(f"{n:,} events: build {best['wall_s']:.1f}s (phases {best['phases']}); "
          f"expectations {share:.0%} of the build")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    results = [bench(n, args.rounds) for n in args.events]
    if len(results) > 1:
        a, b = results[0], results[-1]
        print(f"\n{b['events'] / a['events']:.1f}× the events cost {b['wall_s'] / a['wall_s']:.1f}× the time "
              f"(goal: 10× the events in ≤ 12× the time)")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
