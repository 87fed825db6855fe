"""Benchmark: do the attribution methods' 95 % intervals contain the planted saving, with and without biases?

    .venv/bin/python bench/coverage.py --reps 200 --jobs 2

Each replication is one organization of the generator (`uptake generate`'s people, teams, go-lives and calls,
seed by seed; 300 people, 6 months, a fifth of the default call volume; team CC-PRV-B never goes live, so
difference-in-differences has a control in every month), taken as columnar work items
(`uptake.generate.items.work_items`: the calls `generate` would write, without events, ingest or build), on
which the warehouse's method models run in DuckDB directly (`warehouse/sql/20`–`27`). Planted: an AI summary
saves 90 s of ACW. Scenarios switch on what breaks the naive methods (`uptake generate --trend 15
--self-selection 2`):
- `trend`: ACW rises 15 s a month in every team (pre_go_live books the drift as saving);
- `selection`: a person's own pace drives how often they take the AI (the log-odds rise by 2 per sd of pace:
  slow agents, long ACW, take it most), which biases every comparison across people (concurrent_control,
  pre_go_live);
- `both`.
Printed per scenario, method and level (team CC-MEM-N a month after its go-live, department CC-MEM and business
unit BU-CC in the last month; one row of each per replication, so replications are independent): the share of
95 % intervals that contain 90 s with its Wilson 95 % interval, the mean bias (estimate − 90), the mean interval
width, and how often the method is the recommended one. Goal: 93–97 % where a method's assumptions hold; visibly
less where they do not.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import duckdb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from uptake.generate import Biases  # noqa: E402
from uptake.generate.items import work_items  # noqa: E402
from warehouse import methods  # noqa: E402
from warehouse.build import SQL_DIR, read_model  # noqa: E402

SAVING = 90.0
ORG = dict(people=300, months=6, end_month="2026-10", volume=0.2)
NEVER_LIVE = "CC-PRV-B"
# the rows a replication contributes: (org unit, month)
TARGETS = {"team": ("CC-MEM-N", "2026-09"), "department": ("CC-MEM", "2026-10"),
           "business_unit": ("BU-CC", "2026-10")}
SCENARIOS = {"none": (0.0, 0.0), "trend": (15.0, 0.0), "selection": (0.0, 2.0), "both": (15.0, 2.0)}
METHODS = ("concurrent_control", "pre_go_live", "within_actor", "did")
MODELS = [SQL_DIR / name for name in ("20_estimate_concurrent_control.sql", "21_estimate_pre_go_live.sql",
                                      "22_estimate_within_actor.sql", "23_did_group_time.sql",
                                      "24_estimate_did.sql", "27_attribution_estimates.sql")]


def _load(con: duckdb.DuckDBPyConnection, seed: int, trend: float, selection: float) -> None:
    """One generated organization's calls as `work_items` (and `item_costs`, `org_subtree`) on `con`."""
    items = work_items(seed=seed, biases=Biases(trend, selection, NEVER_LIVE), **ORG)  # type: ignore[arg-type]
    calls = items.work_items.filter(items.work_items.column("workflow").to_numpy(zero_copy_only=False)
                                    == "call_summary")
    for name, table in (("work_items", calls), ("item_costs", items.item_costs), ("org_units", items.org_units)):
        con.register("incoming", table)
        con.execute(f"create or replace table {name} as select * from incoming")
        con.unregister("incoming")
    con.execute("""
        create or replace table org_subtree as
        with recursive up(org_unit, ancestor, depth) as (
          select org_unit, org_unit, 0 from org_units
          union all
          select up.org_unit, o.parent_org_unit, up.depth + 1 from up join org_units o on o.org_unit = up.ancestor
          where o.parent_org_unit is not null
        )
        select ancestor, org_unit from up""")


_CON: duckdb.DuckDBPyConnection | None = None


def replicate(job: tuple[str, int]) -> list[tuple[str, str, str, float | None, float | None, float | None, bool]]:
    """One replication: (scenario, method, level, saving, ci_low, ci_high, recommended) for each target row."""
    global _CON
    scenario, seed = job
    if _CON is None:
        _CON = duckdb.connect(config={"threads": 1})  # one thread per worker process: --jobs sets the cores used
        _CON.execute("set timezone = 'UTC'")
        methods.load_t_quantiles(_CON)
        methods.register(_CON)
    con = _CON
    _load(con, seed, *SCENARIOS[scenario])
    for path in MODELS:
        con.execute(read_model(path).sql)
    rows = con.execute("""select method, org_unit, month, saving_per_item, saving_ci_low, saving_ci_high, recommended
                          from attribution_estimates where metric = 'acw_seconds' and not suppressed""").fetchall()
    est = {(m, u, mo): (s, lo, hi, r) for m, u, mo, s, lo, hi, r in rows}
    out = []
    for level, (unit, month) in TARGETS.items():
        for method in METHODS:
            s, lo, hi, r = est.get((method, unit, month), (None, None, None, False))
            out.append((scenario, method, level, s, lo, hi, bool(r)))
    return out


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a binomial share k / n."""
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


def summarize(results: list[tuple]) -> list[dict]:
    """Per scenario, method and level: coverage, its Wilson interval, mean bias and width, and the share of
    replications where the method was the recommended one; `recommended` rows take each replication's
    recommended method."""
    cells: dict[tuple[str, str, str], list[tuple[float, float, float]]] = defaultdict(list)
    missing: dict[tuple[str, str, str], int] = defaultdict(int)
    chosen: dict[tuple[str, str, str], int] = defaultdict(int)
    for scenario, method, level, s, lo, hi, recommended in results:
        for m in (method, "recommended") if recommended else (method,):
            if s is None or lo is None or hi is None:
                missing[(scenario, m, level)] += 1
            else:
                cells[(scenario, m, level)].append((s, lo, hi))
        chosen[(scenario, method, level)] += recommended
    rows = []
    for scenario in SCENARIOS:
        for method in (*METHODS, "recommended"):
            for level in TARGETS:
                key = (scenario, method, level)
                got = cells.get(key, [])
                n = len(got)
                k = sum(lo <= SAVING <= hi for _, lo, hi in got)
                low, high = wilson(k, n)
                rows.append(dict(scenario=scenario, method=method, level=level, n=n, missing=missing.get(key, 0),
                                 coverage=k / n if n else math.nan, low=low, high=high,
                                 bias=float(np.mean([s - SAVING for s, _, _ in got])) if n else math.nan,
                                 width=float(np.mean([hi - lo for _, lo, hi in got])) if n else math.nan,
                                 chosen=chosen.get(key, 0)))
    return rows


def run(reps: int, jobs: int = 1, seed: int = 1000, scenarios: tuple[str, ...] = tuple(SCENARIOS)) -> list[dict]:
    # each scenario draws its own organizations: scenarios are independent samples, not the same draws re-used
    work = [(s, seed + 100_000 * list(SCENARIOS).index(s) + i) for s in scenarios for i in range(reps)]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            results = [r for chunk in pool.map(replicate, work, chunksize=4) for r in chunk]
    else:
        results = [r for job in work for r in replicate(job)]
    return [r for r in summarize(results) if r["scenario"] in scenarios]


def table(rows: list[dict]) -> str:
    lines = ["| scenario | method | level | n | coverage | 95 % interval | mean bias (s) | mean width (s) | "
             "recommended |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        rec = "" if r["method"] == "recommended" else f"{r['chosen']}"
        if r["n"] == 0:
            lines.append(f"| {r['scenario']} | {r['method']} | {r['level']} | 0 | — | — | — | — | {rec} |")
            continue
        lines.append(f"| {r['scenario']} | {r['method']} | {r['level']} | {r['n']} | {r['coverage']:.1%} | "
                     f"{r['low']:.1%}–{r['high']:.1%} | {r['bias']:+.1f} | {r['width']:.1f} | {rec} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=200, help="replications per scenario")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes")
    ap.add_argument("--seed", type=int, default=1000, help="first seed")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    rows = run(args.reps, args.jobs, args.seed)
    print(table(rows))
    print(f"\n{args.reps} replications per scenario, {len(SCENARIOS)} scenarios, planted saving {SAVING:.0f} s; "
          f"{time.perf_counter() - started:.0f} s with {args.jobs} processes")


if __name__ == "__main__":
    main()
