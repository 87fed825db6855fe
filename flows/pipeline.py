"""Prefect flows: ingest, build, pipeline (ingest → build → export), monthly_close, and the demo.

Logic lives in the modules the tasks call (`pipelines.ingest`, `warehouse.build`, `warehouse.roi`); tasks are
thin and typed, with `retries` only where there is I/O that can fail transiently. Every flow is idempotent:
ingest skips files already ingested (by content hash) and commits atomically, build swaps atomically, exports
overwrite. One ingest at a time per lake is enforced by the lake's lock (a second waits, see `wait=True`).
Each run publishes artifacts (accounting, expectation results, ROI table) that show in the Prefect UI.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
import time
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact

COUNTS = ("lines", "landed", "duplicates", "quarantined", "blank")


@task(name="ingest", retries=2, retry_delay_seconds=[10, 30])
def ingest_task(paths: list[str], lake: str, reference: str | None) -> dict[str, Any]:
    """Validate and land the files in one pipeline run; idempotent, so a retry never double-counts."""
    from pipelines.ingest import ingest

    return ingest(paths, lake=lake, reference=reference, progress=False, wait=True)


@task(name="build", retries=1, retry_delay_seconds=10)
def build_task(lake: str, reference: str) -> dict[str, Any]:
    """Run the expectations and build the warehouse; swap it in."""
    from warehouse.build import build

    return build(lake, reference).as_dict()


@task(name="export-roi", retries=2, retry_delay_seconds=5)
def export_task(lake: str, month: str, folder: str) -> list[str]:
    """Write the month's ROI table as csv and parquet (overwriting: a re-run writes the same files)."""
    from warehouse.roi import roi_table, write_roi

    out = Path(lake) / "exports" / folder
    out.mkdir(parents=True, exist_ok=True)
    table = roi_table(lake, month)
    paths = [str(out / "roi.csv"), str(out / "roi.parquet")]
    write_roi(table, "csv", paths[0])
    write_roi(table, "parquet", paths[1])
    create_table_artifact(key="roi", table=_rows(table.to_pylist()), description=f"ROI {month} ({folder})")
    return paths


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
def ingest_flow(paths: list[str], lake: str = "lake", reference: str | None = None) -> dict[str, Any]:
    """Ingest files (and the input files of folders) in one run; already ingested files are skipped."""
    summary = _ingest(paths, lake, reference)
    _fail_on_unreadable(summary)
    return summary


@flow(name="ingest-arrival", log_prints=True)
def ingest_arrival_flow(path: str, lake: str = "lake", reference: str | None = None) -> dict[str, Any]:
    """Ingest one file that has just arrived (run by the `uptake.file.arrived` trigger)."""
    return ingest_flow([path], lake=lake, reference=reference)


@flow(name="build", log_prints=True)
def build_flow(lake: str = "lake", reference: str = "reference") -> dict[str, Any]:
    """Build the DuckDB warehouse from the lake and the reference data, expectations first."""
    result = build_task(lake, reference)
    _expectations_artifact(lake)
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
def pipeline_flow(landing: str, lake: str = "lake", reference: str = "reference") -> dict[str, Any]:
    """New files of the landing folder → ingest → build → the latest month's ROI in exports/latest/.
    A file that cannot be read does not stop the others or the build; the run then ends failed, naming it."""
    ingested = _ingest([landing], lake, reference)
    built = build_flow(lake=lake, reference=reference)
    month = _latest_month(lake)
    exported = export_task(lake, month, "latest")
    _fail_on_unreadable(ingested)
    return {"ingest": ingested["total"], "build": built, "exports": exported, "month": month}


def previous_month(today: dt.date | None = None) -> str:
    first = (today or dt.date.today()).replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


@flow(name="monthly-close", log_prints=True)
def monthly_close_flow(lake: str = "lake", month: str | None = None) -> list[str]:
    """Write the closed month's ROI tables to exports/YYYY-MM/ (csv and parquet); default: last month."""
    month = month or previous_month()
    paths = export_task(lake, month, month)
    print(f"monthly close {month}: {', '.join(paths)}")
    return paths


@flow(name="demo", log_prints=True)
def demo_flow(out: str = "demo") -> dict[str, Any]:
    """Ingest the generated organization under `out` and build its warehouse; the time of each step."""
    lake, reference = str(Path(out) / "lake"), str(Path(out) / "reference")
    clock = time.perf_counter()
    summary = _ingest([str(Path(out) / "landing")], lake, reference)
    phases = {"ingest": time.perf_counter() - clock}
    clock = time.perf_counter()
    built = build_flow(lake=lake, reference=reference)
    phases["build"] = time.perf_counter() - clock
    _fail_on_unreadable(summary)
    return {"ingest": summary["total"], "build": built, "phases": phases}


def _start_prefect_server() -> None:
    """Prefect's temporary server, when no PREFECT_API_URL is set (the demo's flows need it)."""
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        from prefect.server.api.server import SubprocessASGIServer

        SubprocessASGIServer().start()


def _import_heavy_modules() -> None:
    """Apache Beam and Great Expectations take seconds to import: done while the demo generates."""
    import great_expectations  # noqa: F401

    import pipelines.stage  # noqa: F401


def demo(out: str = "demo", seed: int = 1, people: int = 600, months: int = 6) -> int:
    """`uptake demo`: generate an organization, then ingest and build it through the Prefect flows and print
    the ROI table of the last month; the time each step took, last."""
    from uptake.generate import generate
    from warehouse.roi import roi_table

    started = time.perf_counter()
    phases: dict[str, float] = {}
    warm = threading.Thread(target=_start_prefect_server, daemon=True)
    warm.start()
    threading.Thread(target=_import_heavy_modules, daemon=True).start()
    truth = generate(out, seed=seed, people=people, months=months, progress=False)
    phases["generate"] = time.perf_counter() - started
    print(f"generated {truth['events']:,} events in {len(truth['files'])} files under {out}")
    clock = time.perf_counter()
    warm.join()
    phases["waiting for Prefect's server"] = time.perf_counter() - clock
    result = demo_flow(out=out)
    phases.update(result["phases"])
    clock = time.perf_counter()
    same = all(result["ingest"][k] == truth["totals"][k] for k in COUNTS)
    month = truth["months"][-1]
    table = roi_table(Path(out) / "lake", month)
    cols = ["attribution", "org_unit", "subject", "method", "n", "hours", "hours_ci_low", "hours_ci_high",
            "value_usd", "cost_usd", "roi", "suppressed"]
    rows = [r for r in table.select(cols).to_pylist() if r["org_unit"].count("-") < 2]  # teams left out
    print(f"\nROI {month} (business units and departments; `uptake roi --month {month} --lake "
          f"{Path(out) / 'lake'}` for all rows):")
    print("  ".join(f"{c:>14}" for c in cols))
    for r in rows:
        print("  ".join(f"{_fmt(r[c]):>14}" for c in cols))
    print(f"\ningest counts {'equal' if same else 'DIFFER FROM'} truth.json "
          f"({result['ingest']['lines']:,} lines, {result['ingest']['landed']:,} landed)")
    print(f"planted savings: {truth['effects']['call_summary']['saving_per_item']:g} s ACW per call, "
          f"{truth['effects']['lmn_letters']['saving_per_item']:g} h turnaround per letter")
    print(f"warehouse: {result['build']['warehouse']}")
    print(f"Data Docs: {result['build']['data_docs']}")
    for w in result["build"]["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    phases["ROI table"] = time.perf_counter() - clock
    print("\ndemo took " + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items())
          + f"; {time.perf_counter() - started:.1f} s in all (Prefect's server started during generation)")
    return 0 if same else 1


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 10 else f"{v:.2f}"
    return str(v)
