"""Benchmark: `report.pack.write` (the operating-review pack) on a lake that is already built.

    .venv/bin/uptake demo --out /tmp/pack-demo          # once: a lake to measure on (or any built lake)
    .venv/bin/python bench/pack.py --lake /tmp/pack-demo/lake --month 2026-10

Builds nothing itself. Printed, each the best of `--rounds`:
- queries: `pages.load` alone (the data of every page), the baseline of the ratios;
- warm: `write` in a process that has imported the renderer and whose worker process is up (the demo's case: it
  imports and starts them while it generates), per phase (query, pages: every page's HTML and PDF section on two
  cores, pdf: joining and numbering the sections), and the same with the worker off (one core);
- cold: `write` in a fresh process (`uptake report`'s case): the import, then the first `write`, which starts
  the worker and renders alone until the worker is ready.
Each as seconds and as a ratio to the queries measured in the same run (the machine is shared: compare ratios).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COLD = """
import json, sys, time
t = time.perf_counter()
import report.pack
imported = time.perf_counter() - t
t = time.perf_counter()
w = report.pack.write(sys.argv[1], sys.argv[2], sys.argv[3])
print(json.dumps({"import": imported, "wall": time.perf_counter() - t, **w.seconds}))
"""


def best(runs: list[dict[str, float]], key: str = "total") -> dict[str, float]:
    return min(runs, key=lambda r: r[key])


def line(name: str, r: dict[str, float], base: float) -> str:
    phases = ", ".join(f"{k} {v:.2f} s" for k, v in r.items() if k != "total")
    return f"{name:<22} {r['total']:6.2f} s  {r['total'] / base:5.1f}× queries   ({phases})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lake", required=True, type=Path)
    ap.add_argument("--month", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    from report import pack, pages, workers

    out = Path(tempfile.mkdtemp(prefix="bench-pack-")) / args.month
    queries = []
    for _ in range(args.rounds):
        t = time.perf_counter()
        pages.load(args.lake, args.month)
        queries.append(time.perf_counter() - t)
    base = min(queries)

    cold = []
    for _ in range(args.rounds):
        done = subprocess.run([sys.executable, "-c", COLD, str(args.lake), args.month, str(out)], check=True,
                              capture_output=True, text=True)
        r = json.loads(done.stdout)
        cold.append({"import": r["import"], "query": r["query"], "pages": r["pages"], "pdf": r["pdf"],
                     "total": r["import"] + r["wall"]})

    pool = workers.start()
    if pool is not None:
        pool.submit(int).result()  # the worker's warm-up is done before its first task
    pack.write(args.lake, args.month, out)  # this process warm too (templates, fonts)
    warm, serial = [], []
    for _ in range(args.rounds):
        warm.append(pack.write(args.lake, args.month, out).seconds)
        os.environ["UPTAKE_REPORT_WORKER"] = "0"
        serial.append(pack.write(args.lake, args.month, out).seconds)
        del os.environ["UPTAKE_REPORT_WORKER"]

    print(f"{'queries (baseline)':<22} {base:6.2f} s")
    print(line("warm, two cores", best(warm), base))
    print(line("warm, one core", best(serial), base))
    print(line("cold (fresh process)", best(cold), base))
    print(f"pack: {out}")


if __name__ == "__main__":
    main()
