"""Prefect flows: ingest, build, pipeline (ingest → build → export), monthly_close, and the demo.

Logic lives in the modules the tasks call (`pipelines.ingest`, `warehouse.build`, `warehouse.roi`); tasks are
thin and typed, with `retries` only where there is I/O that can fail transiently. Every flow is idempotent:
ingest skips files already ingested (by content hash) and commits atomically, build swaps atomically, exports
overwrite. One ingest and one build at a time per lake are enforced by the lake's locks (a flow's waits, see
`wait=True`). Where things live comes from `uptake.config.settings`, as on the command line: a parameter,
then `$UPTAKE_LAKE` / `$UPTAKE_REFERENCE` / `$UPTAKE_LANDING`, then the default. Each run publishes
artifacts (accounting, expectation results, ROI table) that show in the Prefect UI.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact

from uptake.config import settings
from uptake.noise import quiet_libraries

quiet_libraries()  # also in the processes Prefect runs flows in

COUNTS = ("lines", "landed", "duplicates", "quarantined", "blank")


@task(name="generate")
def generate_task(out: str, seed: int, people: int, months: int) -> dict[str, Any]:
    """Write a synthetic organization."""
    from uptake.generate import generate

    return generate(out, seed=seed, people=people, months=months, progress=False)


@task(name="ingest-file", retries=3, retry_delay_seconds=[2, 10, 30])
def ingest_file_task(path: str, lake: str, reference: str | None) -> dict[str, Any]:
    """Validate and land one file; idempotent, so a retry never double-counts."""
    from pipelines.ingest import ingest

    return ingest([path], lake=lake, reference=reference, progress=False, wait=True)


@task(name="build", retries=1, retry_delay_seconds=10)
def build_task(lake: str, reference: str) -> dict[str, Any]:
    """Run the expectations and build the warehouse; swap it in (after a build already running on the lake)."""
    from warehouse.build import build

    return build(lake, reference, wait=True).as_dict()


@task(name="export-roi", retries=2, retry_delay_seconds=5)
def export_task(lake: str, month: str, folder: str) -> list[str]:
    """Write the month's ROI and service-level tables as csv and parquet (as published when the month is closed;
    overwriting: a re-run writes the same files)."""
    from warehouse.roi import roi_tables, shown, write_roi

    out = Path(lake) / "exports" / folder
    out.mkdir(parents=True, exist_ok=True)
    result = roi_tables(lake, month)
    paths = [str(out / "roi.csv"), str(out / "roi.parquet")]
    write_roi(result, "csv", paths[0])
    write_roi(result, "parquet", paths[1])
    paths += [str(out / "roi.service_level.csv"), str(out / "roi.service_level.parquet")]
    roi, _ = shown(result)
    create_table_artifact(key="roi", table=_rows(roi.to_pylist()), description=f"ROI {month} ({folder}, "
                          f"{result.source})")
    return paths


@task(name="close", retries=1, retry_delay_seconds=10)
def close_task(lake: str, month: str) -> dict[str, Any]:
    """Publish the month's finance tables (uptake close); a month already closed is left as published."""
    from warehouse.close import close, published

    before = published(lake, month)
    snapshot = before or close(lake, month)
    return {"month": month, "version": snapshot.version, "closed_at": snapshot.closed_at,
            "path": str(snapshot.path), "already_closed": before is not None}


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]


def new_files(landing: str, lake: str) -> list[str]:
    """The landing folder's files whose content the lake has not ingested yet, in path order."""
    from pipelines.ingest import list_inputs
    from pipelines.lake import Lake, file_sha256

    known = Lake(lake).ingested_hashes() if Path(lake, "ledger").exists() else {}
    return [str(p) for p in list_inputs([landing]) if file_sha256(p) not in known]


@flow(name="ingest", log_prints=True)
def ingest_flow(paths: list[str], lake: str | None = None, reference: str | None = None) -> dict[str, Any]:
    """Ingest files (or the new files of folders), one task per file, in path order."""
    from pipelines.ingest import list_inputs

    s = settings(lake=lake, reference=reference)
    ref = str(s.ingest_reference) if s.ingest_reference else None
    files = [str(p) for p in list_inputs(paths)]
    summaries = [ingest_file_task(f, str(s.lake), ref) for f in files]  # sequential: path order decides duplicates
    per_file = [f for s in summaries for f in s["files"]]
    total = {k: sum(f[k] for f in per_file) for k in COUNTS}
    total["already_ingested"] = sum(1 for f in per_file if f["already_ingested"])
    if per_file:
        create_table_artifact(key="ingest-accounting", table=[
            {"path": f["path"], **{k: f[k] for k in COUNTS}, "already_ingested": f["already_ingested"],
             "by_reason": ", ".join(f"{r}: {n}" for r, n in f["by_reason"].items())} for f in per_file],
            description="lines = landed + duplicates + quarantined + blank, per file")
    print(f"ingested {len(files)} file(s): {total}")
    return {"files": per_file, "total": total}


@flow(name="ingest-arrival", log_prints=True)
def ingest_arrival_flow(path: str, lake: str | None = None, reference: str | None = None) -> dict[str, Any]:
    """Ingest one file that has just arrived (run by the `uptake.file.arrived` trigger)."""
    return ingest_flow([path], lake=lake, reference=reference)


@flow(name="build", log_prints=True)
def build_flow(lake: str | None = None, reference: str | None = None) -> dict[str, Any]:
    """Build the DuckDB warehouse from the lake and the reference data, expectations first."""
    s = settings(lake=lake, reference=reference)
    result = build_task(str(s.lake), str(s.reference))
    _expectations_artifact(str(s.lake))
    print(f"warehouse: {result['warehouse']} ({result['seconds']} s); Data Docs: {result['data_docs']}")
    return result


def _expectations_artifact(lake: str) -> None:
    import json

    path = Path(lake) / "quality" / "expectations.jsonl"
    if not path.exists():
        return
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    last = [r for r in rows if r["run_id"] == rows[-1]["run_id"]]
    create_table_artifact(key="expectations", table=[
        {k: r[k] for k in ("suite", "expectation", "severity", "success", "threshold")}
        | {"observed": json.dumps(r["observed"][:3])} for r in last], description="expectation results of the build")


def _latest_month(lake: str) -> str:
    import duckdb

    con = duckdb.connect(str(Path(lake) / "warehouse.duckdb"), read_only=True)
    try:
        (month,) = con.execute("select max(month) from workflow_attribution_monthly").fetchall()[0]
    finally:
        con.close()
    return month


@flow(name="pipeline", log_prints=True)
def pipeline_flow(landing: str | None = None, lake: str | None = None,
                  reference: str | None = None) -> dict[str, Any]:
    """New files of the landing folder → ingest → build → the latest month's ROI in exports/latest/."""
    s = settings(lake=lake, reference=reference, landing=landing)
    lake = str(s.lake)
    ingested = ingest_flow(new_files(str(s.landing), lake), lake=lake, reference=reference)
    built = build_flow(lake=lake, reference=reference)
    month = _latest_month(lake)
    exported = export_task(lake, month, "latest")
    return {"ingest": ingested["total"], "build": built, "exports": exported, "month": month}


def previous_month(today: dt.date | None = None) -> str:
    first = (today or dt.date.today()).replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


@flow(name="monthly-close", log_prints=True)
def monthly_close_flow(lake: str | None = None, month: str | None = None) -> dict[str, Any]:
    """Close the month (default: last month): publish its finance tables (uptake close), then write the published
    ROI tables to exports/YYYY-MM/. Re-running it never republishes a closed month."""
    month = month or previous_month()
    lake = str(settings(lake=lake).lake)
    closed = close_task(lake, month)
    paths = export_task(lake, month, month)
    state = "already closed" if closed["already_closed"] else "closed"
    print(f"monthly close {month}: {state} (version {closed['version']}, {closed['closed_at']}); {', '.join(paths)}")
    return {**closed, "exports": paths}


@flow(name="demo", log_prints=True)
def demo_flow(out: str = "demo", seed: int = 1, people: int = 600, months: int = 6) -> dict[str, Any]:
    """Generate an organization, ingest it, build the warehouse."""
    truth = generate_task(out, seed, people, months)
    print(f"generated {truth['events']} events in {len(truth['files'])} files under {out}")
    lake, reference = str(Path(out) / "lake"), str(Path(out) / "reference")
    summary = ingest_flow([str(Path(out) / "landing")], lake=lake, reference=reference)
    with _fresh_as_of(truth["months"][-1]):
        built = build_flow(lake=lake, reference=reference)
    return {"truth": truth, "ingest": summary["total"], "build": built}


@contextlib.contextmanager
def _fresh_as_of(last_month: str) -> Iterator[None]:
    """The demo's data ends with its last generated month, not now: measure its freshness from there (the
    allowed age is stretched by the time since that month ended), so the demo does not warn about itself."""
    from expectations.suites import freshness_hours

    end = dt.datetime.strptime(last_month, "%Y-%m").replace(tzinfo=dt.UTC)
    end = (end + dt.timedelta(days=32)).replace(day=1)
    since = max(0.0, (dt.datetime.now(dt.UTC) - end).total_seconds() / 3600)
    before = os.environ.get("UPTAKE_FRESHNESS_HOURS")
    os.environ["UPTAKE_FRESHNESS_HOURS"] = str(since + freshness_hours())
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("UPTAKE_FRESHNESS_HOURS", None)
        else:
            os.environ["UPTAKE_FRESHNESS_HOURS"] = before


def demo(out: str = "demo", seed: int = 1, people: int = 600, months: int = 6) -> int:
    """`uptake demo`: run the demo flow, then print the ROI table of the last month."""
    result = demo_flow(out=out, seed=seed, people=people, months=months)
    truth = result["truth"]
    same = all(result["ingest"][k] == truth["totals"][k] for k in COUNTS)
    month = truth["months"][-1]
    print_finance(Path(out) / "lake", month, truth)
    print(f"\ningest counts {'equal' if same else 'DIFFER FROM'} truth.json "
          f"({result['ingest']['lines']:,} lines, {result['ingest']['landed']:,} landed)")
    print(f"warehouse: {result['build']['warehouse']}")
    print(f"Data Docs: {result['build']['data_docs']}")
    for w in result["build"]["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    return 0 if same else 1


def print_finance(lake: Path, month: str, truth: dict[str, Any]) -> None:
    """The demo's finance printout: ROI rows, service-level rows beside them, one seats line per tool, and each
    planted saving against the interval the warehouse measured for it."""
    import duckdb

    from warehouse.roi import roi_tables

    result = roi_tables(lake, month)
    cols = ["attribution", "org_unit", "subject", "method", "n", "hours", "hours_ci_low", "hours_ci_high",
            "value_usd", "cost_usd", "roi", "suppressed"]
    rows = [r for r in result.roi.select(cols).to_pylist() if r["org_unit"].count("-") < 2]  # teams left out
    print(f"\nROI {month}: staff time only (business units and departments; `uptake roi --month {month} --lake "
          f"{lake}` for all rows):")
    _table(cols, rows)
    scols = ["org_unit", "method", "submitted", "assisted_mean_hours", "baseline_mean_hours", "saving_hours",
             "saving_ci_low", "saving_ci_high", "backlog_open", "backlog_over_sla"]
    srows = [r for r in result.service_level.select(["workflow", *scols]).to_pylist() if r["org_unit"].count("-") < 2]
    print(f"\nservice levels {month}: letter turnaround in hours (elapsed time: never in dollars):")
    _table(["workflow", *scols], srows)
    con = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)
    try:
        seats = con.execute("""select tool, seats, active_users, users_over_seats, idle_seats, idle_seat_cost_usd
                               from license_utilization_monthly where month = ? and level = 'enterprise'
                               order by tool""", [month]).fetchall()
        print(f"\nseats {month} (enterprise):")
        for tool, n, active, over, idle, idle_cost in seats:
            print(f"  {tool}: {n} seats, {_fmt(active)} active users, {_fmt(over)} over seats, {_fmt(idle)} idle "
                  f"(${_fmt(idle_cost)})")
        print("\nplanted savings against the intervals measured (concurrent_control, enterprise):")
        for wf, effect in truth["effects"].items():
            got = con.execute("""select saving_ci_low, saving_ci_high from workflow_attribution_monthly
                                 where workflow = ? and month = ? and level = 'enterprise'
                                   and method = 'concurrent_control'""", [wf, month]).fetchall()
            _planted(f"{wf} staff time ({effect['metric']})", effect["saving_per_item"], got)
        for wf, effect in truth.get("service_levels", {}).items():
            got = con.execute("""select saving_ci_low, saving_ci_high from service_level_monthly
                                 where workflow = ? and month = ? and level = 'enterprise'
                                   and method = 'concurrent_control'""", [wf, month]).fetchall()
            _planted(f"{wf} service level ({effect['metric']})", effect["saving_per_item"], got)
    finally:
        con.close()


def _planted(what: str, effect: float, got: list[tuple[Any, ...]]) -> None:
    lo, hi = got[0] if got else (None, None)
    verdict = "no interval" if lo is None else ("inside" if lo <= effect <= hi else "OUTSIDE")
    print(f"  {what}: planted {effect:g}, 95 % interval [{_fmt(lo)}, {_fmt(hi)}]: {verdict}")


def _table(cols: list[str], rows: list[dict[str, Any]]) -> None:
    print("  ".join(f"{c:>14}" for c in cols))
    for r in rows:
        print("  ".join(f"{_fmt(r[c]):>14}" for c in cols))


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 10 else f"{v:.2f}"
    return str(v)
