"""Prefect flows: the orchestration of generate → ingest → build → ROI.

Logic lives in the modules the tasks call (`uptake.generate`, `pipelines.ingest`); tasks are thin and
typed, `retries` only where there is I/O that can fail transiently.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from prefect import flow, task


@task(name="generate")
def generate_task(out: str, seed: int, people: int, months: int) -> dict[str, Any]:
    """Write a synthetic organization."""
    from uptake.generate import generate

    return generate(out, seed=seed, people=people, months=months, progress=False)


@task(name="ingest", retries=2, retry_delay_seconds=[2, 10])
def ingest_task(paths: list[str], lake: str, reference: str | None = None) -> dict[str, Any]:
    """Validate and land files; idempotent, so a retry never double-counts."""
    from pipelines.ingest import ingest

    return ingest(paths, lake=lake, reference=reference, progress=False)


@flow(name="ingest", log_prints=True)
def ingest_flow(paths: list[str], lake: str = "lake", reference: str | None = None) -> dict[str, Any]:
    """Ingest the given files or folders into the lake."""
    summary = ingest_task(paths, lake, reference)
    t = summary["total"]
    print(f"ingested: {t['lines']} lines, {t['landed']} landed, {t['duplicates']} duplicates, "
          f"{t['quarantined']} quarantined, {t['blank']} blank, {t['already_ingested']} files already ingested")
    return summary


@task(name="build")
def build_task(lake: str, reference: str) -> dict[str, Any]:
    """Build the warehouse and swap it in."""
    from warehouse.build import build

    return build(lake, reference).as_dict()


@flow(name="build", log_prints=True)
def build_flow(lake: str = "lake", reference: str = "reference") -> dict[str, Any]:
    """Build the DuckDB warehouse from the lake and the reference data."""
    result = build_task(lake, reference)
    print(f"warehouse: {result['warehouse']} ({result['seconds']} s)")
    return result


@flow(name="demo", log_prints=True)
def demo_flow(out: str = "demo", seed: int = 1, people: int = 600, months: int = 6) -> dict[str, Any]:
    """Generate an organization, ingest it, build the warehouse."""
    truth = generate_task(out, seed, people, months)
    print(f"generated {truth['events']} events in {len(truth['files'])} files under {out}")
    lake, reference = str(Path(out) / "lake"), str(Path(out) / "reference")
    summary = ingest_flow([str(Path(out) / "landing")], lake=lake, reference=reference)
    built = build_flow(lake=lake, reference=reference)
    return {"truth": truth, "ingest": summary["total"], "build": built}


def demo(out: str = "demo", seed: int = 1, people: int = 600, months: int = 6) -> int:
    """`uptake demo`: run the demo flow, then print the ROI table of the last month."""
    from warehouse.roi import roi_table

    result = demo_flow(out=out, seed=seed, people=people, months=months)
    truth = result["truth"]
    same = all(result["ingest"][k] == truth["totals"][k] for k in ("lines", "landed", "duplicates",
                                                                    "quarantined", "blank"))
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
    print("not built yet: expectations and Data Docs (issue 4), uptake serve (issue 6)", file=sys.stderr)
    return 0 if same else 1


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 10 else f"{v:.2f}"
    return str(v)
