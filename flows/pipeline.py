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
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact

from flows.demo import DemoError, demo, start_over  # noqa: F401  (`uptake demo`, here for callers of old)
from uptake.config import settings
from uptake.noise import quiet_libraries

quiet_libraries()  # also in the processes Prefect runs flows in

COUNTS = ("lines", "landed", "duplicates", "quarantined", "blank")


@task(name="ingest", retries=2, retry_delay_seconds=[10, 30])
def ingest_task(paths: list[str], lake: str, reference: str | None) -> dict[str, Any]:
    """Validate and land the files in one pipeline run; idempotent, so a retry never double-counts."""
    from pipelines.ingest import ingest

    return ingest(paths, lake=lake, reference=reference, progress=False, wait=True)


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


@task(name="report", retries=1, retry_delay_seconds=10)
def report_task(lake: str, month: str) -> str:
    """Write the month's operating-review pack to <lake>/reports/M/ (replaced whole) and publish a link to it."""
    from report.pack import publish_artifact, write

    written = write(lake, month)
    publish_artifact(written, month)
    return str(written.folder / "index.html")


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]


def _ingest(paths: list[str], lake: str, reference: str | None) -> dict[str, Any]:
    """All the files in one ingest run; its per-file accounting (files new to the lake) as an artifact.
    An empty landing folder is nothing to do, not an error."""
    from pipelines.accounting import total
    from pipelines.inputs import is_input

    paths = [p for p in paths if not Path(p).is_dir() or any(is_input(x.name) for x in Path(p).iterdir())]
    if not paths:
        print("no input files")
        return {"run": None, "files": [], "total": total([])}
    summary = ingest_task(paths, lake, reference)
    new = [f for f in summary["files"] if not f["already_ingested"]]
    if new:
        create_table_artifact(key="ingest-accounting", table=[
            {"path": f["path"], **{k: f[k] for k in COUNTS}, "error": f.get("error", ""),
             "by_reason": ", ".join(f"{r}: {n}" for r, n in f["by_reason"].items())} for f in new],
            description="lines = landed + duplicates + quarantined + blank, per file new to the lake")
    print(f"ingested {len(new)} new file(s) of {len(summary['files'])}: "
          f"{ {k: summary['total'][k] for k in COUNTS} }")
    return summary


def _fail_on_unreadable(summary: dict[str, Any]) -> None:
    """A file that could not be read fails the flow run (after everything else is done), naming it."""
    failed = [f"{f['path']}: {f['error']}" for f in summary["files"] if f.get("error")]
    if failed:
        raise RuntimeError(f"{len(failed)} file(s) not ingested: " + "; ".join(failed))


@flow(name="ingest", log_prints=True)
def ingest_flow(paths: list[str], lake: str | None = None, reference: str | None = None) -> dict[str, Any]:
    """Ingest files (and the input files of folders) in one run; already ingested files are skipped."""
    s = settings(lake=lake, reference=reference)
    summary = _ingest(paths, str(s.lake), str(s.ingest_reference) if s.ingest_reference else None)
    _fail_on_unreadable(summary)
    return summary


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
    """New files of the landing folder → ingest (one run) → build → the latest month's ROI in exports/latest/.
    A file that cannot be read does not stop the others or the build; the run then ends failed, naming it."""
    s = settings(lake=lake, reference=reference, landing=landing)
    lake = str(s.lake)
    ingested = _ingest([str(s.landing)], lake, str(s.ingest_reference) if s.ingest_reference else None)
    built = build_flow(lake=lake, reference=reference)
    month = _latest_month(lake)
    exported = export_task(lake, month, "latest")
    _fail_on_unreadable(ingested)
    return {"ingest": ingested["total"], "build": built, "exports": exported, "month": month}


def previous_month(today: dt.date | None = None) -> str:
    first = (today or dt.date.today()).replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


@flow(name="monthly-close", log_prints=True)
def monthly_close_flow(lake: str | None = None, month: str | None = None) -> dict[str, Any]:
    """Close the month (default: last month): publish its finance tables (uptake close), then write the published
    ROI tables to exports/YYYY-MM/ and the operating-review pack to reports/YYYY-MM/ (a Prefect artifact links
    to it). Re-running it never republishes a closed month."""
    month = month or previous_month()
    lake = str(settings(lake=lake).lake)
    closed = close_task(lake, month)
    paths = export_task(lake, month, month)
    report = report_task(lake, month)
    state = "already closed" if closed["already_closed"] else "closed"
    print(f"monthly close {month}: {state} (version {closed['version']}, {closed['closed_at']}); {', '.join(paths)}; "
          f"pack: {report}")
    return {**closed, "exports": paths, "report": report}


@flow(name="demo", log_prints=True)
def demo_flow(out: str = "demo", last_month: str | None = None) -> dict[str, Any]:
    """Ingest the organization generated under `out` and build its warehouse (its freshness measured from
    `last_month`, the last month generated); the time of each step."""
    lake, reference = str(Path(out) / "lake"), str(Path(out) / "reference")
    clock = time.perf_counter()
    summary = _ingest([str(Path(out) / "landing")], lake, reference)
    phases = {"ingest": time.perf_counter() - clock}
    clock = time.perf_counter()
    with _fresh_as_of(last_month) if last_month else contextlib.nullcontext():
        built = build_flow(lake=lake, reference=reference)
    phases["build"] = time.perf_counter() - clock
    _fail_on_unreadable(summary)
    return {"ingest": summary["total"], "build": built, "phases": phases}


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
