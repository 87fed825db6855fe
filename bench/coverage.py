"""Benchmark: do the attribution methods' 95 % intervals contain the planted saving, with and without biases?

    .venv/bin/python bench/coverage.py --reps 200 --jobs 2

Each replication simulates a small contact center (6 teams under 2 departments, 12 agents a team, 6 months;
teams go live on staggered dates, one never) as a `work_items` table, column-wise with numpy, and runs the
method models on it in DuckDB directly (no events, no ingest). Planted: an assisted call has 90 s less ACW.
Scenarios switch on what breaks the naive methods:
- `trend`: ACW drifts up 15 s a month in every team (pre_go_live books the drift as saving);
- `selection`: a person's own pace drives how often they take the AI (slow people, long ACW, take it most),
  which biases every comparison across people (concurrent_control, pre_go_live);
- `both`.
Printed per scenario, method and level (a team, a department, the business unit; one row of each per
replication, so replications are independent): the share of 95 % intervals that contain 90 s with its Wilson
95 % interval, the mean bias (estimate − 90) and the mean interval width. Goal: 93–97 % where a method's
assumptions hold; visibly less where they do not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from warehouse import methods  # noqa: E402
from warehouse.build import SQL_DIR, read_model  # noqa: E402

SAVING = 90.0
MONTHS = [dt.date(2026, m, 1) for m in range(1, 7)] + [dt.date(2026, 7, 1)]
TEAMS = {  # team: (department, go-live); never-live T6 is the control that is always there
    "T1": ("DA", dt.date(2026, 2, 1)),
    "T2": ("DA", dt.date(2026, 2, 16)),
    "T3": ("DA", dt.date(2026, 4, 1)),
    "T4": ("DB", dt.date(2026, 5, 1)),
    "T5": ("DB", dt.date(2026, 6, 10)),
    "T6": ("DB", None),
}
# the rows a replication contributes: (org unit, month)
TARGETS = {"team": ("T3", "2026-05"), "department": ("DA", "2026-06"), "business_unit": ("BU", "2026-06")}
SCENARIOS = {"none": (0.0, 0.0), "trend": (15.0, 0.0), "selection": (0.0, 2.0), "both": (15.0, 2.0)}
METHODS = ("concurrent_control", "pre_go_live", "within_actor", "did")


@dataclass(frozen=True)
class Org:
    agents_per_team: int = 12
    calls_per_day: float = 4.0
    pace_sd: float = 30.0
    noise_sd: float = 60.0


def simulate(seed: int, trend: float, selection: float, org: Org = Org()) -> pa.Table:
    """The calls of one small organization as a `work_items` table.

    ACW = 300 + the agent's pace + trend × months elapsed + noise − 90 if assisted. A live agent takes the AI on
    a call with probability 1 / (1 + exp(−selection × pace / pace_sd)) (0.5 for everyone without selection)."""
    rng = np.random.default_rng(seed)
    teams = list(TEAMS)
    start, end = MONTHS[0], MONTHS[-1]
    days = np.arange(np.datetime64(start), np.datetime64(end), dtype="datetime64[D]")
    days = days[np.is_busday(days)]
    n_agents = len(teams) * org.agents_per_team
    team = np.repeat(np.arange(len(teams)), org.agents_per_team)
    pace = rng.normal(0, org.pace_sd, n_agents)
    take = 1 / (1 + np.exp(-selection * pace / org.pace_sd))
    per = rng.poisson(org.calls_per_day, (n_agents, days.size))
    agent = np.repeat(np.repeat(np.arange(n_agents), days.size), per.ravel())
    day = np.repeat(np.tile(days, n_agents), per.ravel())
    ts = day.astype("datetime64[s]") + rng.integers(8 * 3600, 17 * 3600, agent.size).astype("timedelta64[s]")
    far = np.datetime64("9999-01-01", "s")
    live_from = np.array([np.datetime64(TEAMS[t][1], "s") if TEAMS[t][1] else far for t in teams])
    live = ts >= live_from[team[agent]]
    assisted = live & (rng.random(agent.size) < take[agent])
    months_elapsed = (ts - np.datetime64(start, "s")).astype(np.float64) / (86400 * 30.4375)
    acw = 300 + pace[agent] + trend * months_elapsed + rng.normal(0, org.noise_sd, agent.size) - SAVING * assisted
    handle = 420 + rng.normal(0, 90, agent.size)
    month_start = ts.astype("datetime64[M]").astype("datetime64[D]")
    unit = np.array(teams, dtype=object)[team[agent]]
    go_live = np.array([TEAMS[t][1] for t in teams], dtype=object)[team[agent]]
    return pa.table({
        "workflow": pa.repeat(pa.scalar("call_summary"), agent.size),
        "tool": pa.repeat(pa.scalar("call_summarization"), agent.size),
        "metric": pa.repeat(pa.scalar("acw_seconds"), agent.size),
        "item_id": pa.array(np.arange(agent.size)),
        "org_unit": pa.array(unit, pa.string()),
        "actor_key": pa.array(np.char.add("a", agent.astype(str)), pa.string()),
        "item_at": pa.array(ts.astype("datetime64[us]")),
        "month": pa.array(np.datetime_as_string(month_start, unit="M"), pa.string()),
        "month_start": pa.array(month_start),
        "value": pa.array(acw),
        "total_value": pa.array(acw + handle),
        "assisted": pa.array(assisted),
        "hourly_cost_usd": pa.repeat(pa.scalar(31.0), agent.size),
        "go_live_unit": pa.array([u if g else None for u, g in zip(unit, go_live, strict=True)], pa.string()),
        "go_live_date": pa.array(go_live, pa.date32()),
        "live": pa.array(live),
    })


def _static(con: duckdb.DuckDBPyConnection) -> None:
    """The organization's tables the models join: hierarchy, workflow, licenses (none), t quantiles."""
    units = [("ENT", None, "enterprise", 0), ("BU", "ENT", "business_unit", 1), ("DA", "BU", "department", 2),
             ("DB", "BU", "department", 2)] + [(t, d, "team", 3) for t, (d, _) in TEAMS.items()]
    con.execute("create table org_units (org_unit varchar, parent_org_unit varchar, level varchar, depth int)")
    con.executemany("insert into org_units values (?, ?, ?, ?)", units)
    con.execute("""
        create table org_subtree as
        with recursive up(org_unit, ancestor) as (
          select org_unit, org_unit from org_units
          union all
          select up.org_unit, o.parent_org_unit from up join org_units o on o.org_unit = up.ancestor
          where o.parent_org_unit is not null
        )
        select up.ancestor, up.org_unit, a.level as ancestor_level, a.depth as ancestor_depth
        from up join org_units a on a.org_unit = up.ancestor""")
    con.execute("create table ref_workflows as select 'call_summary' as workflow, 'call_summarization' as tool")
    con.execute("create table ref_licenses (tool varchar, org_unit varchar, month varchar, seats int, "
                "cost_usd double)")
    methods.load_t_quantiles(con)
    methods.register(con)


def _estimates(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str, str], tuple[float, float, float]]:
    """(method, org unit, month) → (saving, ci_low, ci_high) of every method."""
    rows = con.execute("""
        select method, org_unit, month, saving_per_item, saving_ci_low, saving_ci_high
        from workflow_attribution_monthly where not suppressed
        union all
        select 'within_actor', org_unit, month, saving_per_item, saving_ci_low, saving_ci_high
        from estimate_within_actor
        union all
        select 'did', org_unit, month, saving_per_item, saving_ci_low, saving_ci_high
        from did_group_time where kind = 'month'""").fetchall()
    return {(m, u, mo): (s, lo, hi) for m, u, mo, s, lo, hi in rows}


_CON: duckdb.DuckDBPyConnection | None = None
MODELS = [SQL_DIR / "08_workflow_attribution_monthly.sql", methods.METHODS_SQL / "estimate_within_actor.sql",
          methods.METHODS_SQL / "did_group_time.sql"]


def replicate(job: tuple[str, int]) -> list[tuple[str, str, str, float | None, float | None, float | None]]:
    """One replication: (scenario, method, level, saving, ci_low, ci_high) for each target row."""
    global _CON
    scenario, seed = job
    if _CON is None:
        _CON = duckdb.connect(config={"threads": 1})  # one thread per worker process: --jobs sets the cores used
        _CON.execute("set timezone = 'UTC'")
        _static(_CON)
    con = _CON
    trend, selection = SCENARIOS[scenario]
    con.register("incoming", simulate(seed, trend, selection))
    con.execute("create or replace table work_items as select * from incoming")
    con.unregister("incoming")
    for path in MODELS:
        con.execute(read_model(path).sql)
    est = _estimates(con)
    out = []
    for level, (unit, month) in TARGETS.items():
        for method in METHODS:
            s, lo, hi = est.get((method, unit, month), (None, None, None))
            out.append((scenario, method, level, s, lo, hi))
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
    cells: dict[tuple[str, str, str], list[tuple[float, float, float]]] = defaultdict(list)
    missing: dict[tuple[str, str, str], int] = defaultdict(int)
    for scenario, method, level, s, lo, hi in results:
        if s is None or lo is None or hi is None:
            missing[(scenario, method, level)] += 1
        else:
            cells[(scenario, method, level)].append((s, lo, hi))
    rows = []
    for scenario in SCENARIOS:
        for method in METHODS:
            for level in TARGETS:
                key = (scenario, method, level)
                got = cells.get(key, [])
                n = len(got)
                k = sum(lo <= SAVING <= hi for _, lo, hi in got)
                low, high = wilson(k, n)
                rows.append(dict(scenario=scenario, method=method, level=level, n=n, missing=missing.get(key, 0),
                                 coverage=k / n if n else math.nan, low=low, high=high,
                                 bias=float(np.mean([s - SAVING for s, _, _ in got])) if n else math.nan,
                                 width=float(np.mean([hi - lo for _, lo, hi in got])) if n else math.nan))
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
    lines = ["| scenario | method | level | n | coverage | 95 % interval | mean bias (s) | mean width (s) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["n"] == 0:
            lines.append(f"| {r['scenario']} | {r['method']} | {r['level']} | 0 | — | — | — | — |")
            continue
        lines.append(f"| {r['scenario']} | {r['method']} | {r['level']} | {r['n']} | {r['coverage']:.1%} | "
                     f"{r['low']:.1%}–{r['high']:.1%} | {r['bias']:+.1f} | {r['width']:.1f} |")
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
