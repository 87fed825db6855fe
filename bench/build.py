"""Benchmark: `uptake build` at two sizes, and how its time grows with the events.

    .venv/bin/python bench/build.py --events 1000000 10000000

For each size, `uptake generate` writes an organization of about that many events and `uptake ingest` lands
it (not timed here; see bench/ingest.py); then `uptake build` runs `--rounds` times on it. Printed: the best
build time per size, its phases (loading, models, expectations: the expectations' share of the build), and,
between the smallest and the largest size, the **cost per million events** (the slope: extra seconds per extra
million events), the fixed cost it implies, the ratio of times against the ratio of events (goal: 10× the
events costs ≤ 12× the time), and the models whose time grows faster than the events (a superlinear model: its
time ratio above 1.2 × the events ratio, among those taking 0.2 s or more at the largest size).
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
            best = {"events": n, "wall_s": round(wall, 2), "phases": result["phases"], "models": result["models"]}
    assert best is not None
    share = best["phases"].get("expectations_s", 0) / best["wall_s"]
    best["expectations_share"] = round(share, 3)
    print(f"{n:,} events: build {best['wall_s']:.1f}s (phases {best['phases']}); "
          f"expectations {share:.0%} of the build")
    return best


def growth(a: dict, b: dict) -> dict:
    """How the build's cost grows from size a to size b (b the larger)."""
    millions = (b["events"] - a["events"]) / 1e6
    per_million = (b["wall_s"] - a["wall_s"]) / millions
    events_ratio = b["events"] / a["events"]
    superlinear = {
        table: round(b["models"][table] / a["models"][table], 1)
        for table in b["models"]
        if b["models"][table] >= 0.2 and a["models"].get(table)
        and b["models"][table] / a["models"][table] > 1.2 * events_ratio
    }
    phases = {k: round((b["phases"][k] - a["phases"].get(k, 0.0)) / millions, 2) for k in b["phases"]}
    return {"seconds_per_million_events": round(per_million, 2),
            "fixed_seconds": round(a["wall_s"] - per_million * a["events"] / 1e6, 2),
            "phases_seconds_per_million_events": phases,
            "events_ratio": round(events_ratio, 2), "time_ratio": round(b["wall_s"] / a["wall_s"], 2),
            "superlinear_models": superlinear}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    results = [bench(n, args.rounds) for n in args.events]
    report: dict = {"sizes": results}
    if len(results) > 1:
        g = growth(results[0], results[-1])
        report["growth"] = g
        print(f"\ncost per million events: {g['seconds_per_million_events']:.1f} s (fixed {g['fixed_seconds']:.1f} s; "
              f"per phase {g['phases_seconds_per_million_events']})")
        print(f"{g['events_ratio']:.1f}× the events cost {g['time_ratio']:.1f}× the time "
              f"(goal: 10× the events in ≤ 12× the time)")
        print("models growing faster than the events: "
              + (", ".join(f"{t} ({r}×)" for t, r in g["superlinear_models"].items()) or "none"))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
