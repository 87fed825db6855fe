"""`uptake roi`: the finance tables of a month: workflow-measured and estimate rows side by side, never summed,
and the workflows' service levels in a section of their own (never in a dollar column).

A closed month (`uptake close`) is printed as published, byte for byte, whatever the data has become since;
stderr says when later data restates it, and `--current` prints the recomputed figures instead.

ROI columns (stable; documented in README): attribution (workflow_measured | business_unit_estimate), org_unit,
level, month, subject (workflow or tool), method (concurrent_control | pre_go_live | within_actor | did |
minutes_per_action), metric, recommended (the one method per workflow, org unit and month the warehouse
recommends; null on estimate rows; a row is shown unless it is false), units_covered, n (assisted items, or
actions), n_without_metric, hours (staff hours saved, or estimated assisted hours), hours_ci_low, hours_ci_high
(workflow rows only), hourly_cost_usd, value_usd, cost_usd, net_value_usd, roi, suppressed.
Service-level columns: workflow, org_unit, level, month, method, recommended, metric, sla_hours, submitted,
n_assisted, n_baseline, assisted/baseline mean, median and p90 hours, saving_hours with its interval,
backlog_open, backlog_over_sla, oldest_open_hours, suppressed.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.close import CloseError, Snapshot, check_month, published

ROI_SQL = """
with workflow as (
  select 'workflow_measured' as attribution, org_unit, level, month, workflow as subject, method, metric,
    {recommended} as recommended, array_to_string(units_covered, ';') as units_covered,
    n_assisted as n, n_without_metric, hours_saved as hours, hours_saved_ci_low as hours_ci_low,
    hours_saved_ci_high as hours_ci_high, hourly_cost_usd, value_usd, cost_usd, net_value_usd, roi, suppressed
  from workflow_attribution_monthly where month = $month
),
estimate as (
  select 'business_unit_estimate' as attribution, org_unit, level, month, tool as subject,
    'minutes_per_action' as method, 'assisted_minutes' as metric, null::boolean as recommended,
    org_unit as units_covered, actions as n, actions_without_assumption as n_without_metric,
    assisted_hours as hours, null::double as hours_ci_low, null::double as hours_ci_high,
    value_usd / nullif(assisted_hours, 0) as hourly_cost_usd, value_usd, cost_usd,
    value_usd - cost_usd as net_value_usd,
    (value_usd - cost_usd) / nullif(cost_usd, 0) as roi, suppressed
  from productivity_estimate_monthly where month = $month
)
select * from workflow union all select * from estimate
order by attribution desc, subject, method, org_unit
"""

SERVICE_SQL = """
select workflow, org_unit, level, month, method, {recommended} as recommended, metric, sla_hours, submitted,
  n_assisted, n_baseline,
  assisted_mean_hours, assisted_median_hours, assisted_p90_hours, baseline_mean_hours, baseline_median_hours,
  baseline_p90_hours, saving_hours, saving_ci_low, saving_ci_high, backlog_open, backlog_over_sla,
  oldest_open_hours, suppressed
from service_level_monthly where month = $month
order by workflow, method, org_unit
"""

NOTE = ("attribution: workflow_measured = staff time measured per workflow against a baseline (method "
        "concurrent_control: unassisted items of live units, same month; pre_go_live: the same units' 3 months "
        "before go-live; within_actor: each person's own unassisted items of the month; did: the same units "
        "before go-live against units not yet or never live), valued at the assisted staff's mean hourly cost, "
        "95 % interval in hours_ci_*; one recommended method per workflow, unit and month (recommended = true; "
        "--all-methods shows every method and the diagnostics are in workflow_attribution_monthly); "
        "business_unit_estimate = actions kept x finance's minutes per action (an assumption, not a measurement). "
        "Never add the two.")
SERVICE_NOTE = ("service levels: letter turnaround, elapsed hours from request to submission (nights, queues, "
                "payer waits included): not staff time, never in dollars.")
FORMATS = ("csv", "json", "parquet")


class RoiError(RuntimeError):
    pass


@dataclass
class RoiResult:
    """The month's ROI and service-level tables, and where they came from."""

    month: str
    roi: pa.Table
    service_level: pa.Table
    source: str  # published | current
    snapshot: Snapshot | None = None
    restated: int = 0  # published figures the current data gives differently

    def notice(self) -> str | None:
        """What stderr should say about a closed month, or None."""
        if self.snapshot is None:
            return None
        s = self.snapshot
        if self.source == "published":
            head = (f"{self.month} was closed on {s.closed_at} (version {s.version}): showing the figures as "
                    "published")
            if self.restated:
                return (f"{head}; later data restates {self.restated} of them: `--current` shows the recomputed "
                        "figures, the table restatements lists each change and its cause")
            return head + "; no later data changes them"
        return (f"{self.month} was closed on {s.closed_at} (version {s.version}): showing the current figures, "
                f"{self.restated} of which differ from the published ones (table restatements)")


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    return bool(con.execute("select count(*) from duckdb_columns() where table_name = ? and column_name = ?",
                            [table, column]).fetchall()[0][0])


def current_tables(con: duckdb.DuckDBPyConnection, month: str) -> tuple[pa.Table, pa.Table]:
    """(roi, service_level) of `month` from the warehouse open on `con`."""
    recommended = "recommended" if _has_column(con, "workflow_attribution_monthly", "recommended") \
        else "null::boolean"
    roi = con.sql(ROI_SQL.format(recommended=recommended), params={"month": month}).to_arrow_table()
    recommended = "recommended" if _has_column(con, "service_level_monthly", "recommended") else "null::boolean"
    service = con.sql(SERVICE_SQL.format(recommended=recommended), params={"month": month}).to_arrow_table()
    return roi, service


def roi_tables(lake: str | Path, month: str, current: bool = False) -> RoiResult:
    """The month's tables: as published when the month is closed (unless `current`), else from the warehouse."""
    from warehouse.build import WAREHOUSE

    try:
        check_month(month)
        snapshot = published(lake, month)
    except CloseError as exc:
        raise RoiError(str(exc)) from exc
    path = Path(lake) / WAREHOUSE
    if snapshot is not None and not current:
        restated = 0
        if path.exists():
            con = duckdb.connect(str(path), read_only=True)
            try:
                restated = con.execute("select count(*) from restatements where month = ?", [month]).fetchall()[0][0]
            finally:
                con.close()
        return RoiResult(month, snapshot.table("roi"), snapshot.table("service_level"), "published", snapshot,
                         restated)
    if not path.exists():
        hint = "" if Path(lake).exists() else f" (no lake at {Path(lake).resolve()}: is --lake or $UPTAKE_LAKE right?)"
        raise RoiError(f"{path}: no warehouse (run `uptake build` first){hint}")
    con = duckdb.connect(str(path), read_only=True)
    try:
        roi, service = current_tables(con, month)
        if roi.num_rows == 0:
            months = [r[0] for r in con.execute(
                "select distinct month from workflow_attribution_monthly union "
                "select distinct month from productivity_estimate_monthly order by 1").fetchall()]
            have = f"{months[0]} to {months[-1]}" if months else "none"
            raise RoiError(f"no ROI rows for {month} (months with data: {have})")
        restated = 0
        if snapshot is not None:
            restated = con.execute("select count(*) from restatements where month = ?", [month]).fetchall()[0][0]
        return RoiResult(month, roi, service, "current", snapshot, restated)
    finally:
        con.close()


def roi_table(lake: str | Path, month: str) -> pa.Table:
    """The ROI rows of the month (as published when closed)."""
    return roi_tables(lake, month).roi


def shown(result: RoiResult, all_methods: bool = False) -> tuple[pa.Table, pa.Table]:
    """The rows `uptake roi` prints: the recommended method's rows only (ROI and service level), unless
    `all_methods` (rows whose `recommended` is null, i.e. estimate rows and months published before the rule
    existed, are always shown)."""

    def recommended(table: pa.Table) -> pa.Table:
        if all_methods or "recommended" not in table.column_names:
            return table
        return table.filter(pc.invert(pc.fill_null(pc.equal(table.column("recommended"), False), False)))

    return recommended(result.roi), recommended(result.service_level)


def _csv(table: pa.Table) -> str:
    def cell(v: Any) -> Any:
        if isinstance(v, bool):
            return "true" if v else "false"
        return "" if v is None else v

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(table.column_names)
    for row in table.to_pylist():
        w.writerow([cell(v) for v in row.values()])
    return buf.getvalue()


def _sibling(out: str, suffix: str) -> Path:
    p = Path(out)
    return p.with_name(f"{p.stem}.service_level{suffix or p.suffix}")


def write_roi(result: RoiResult, fmt: str, out: str | None, all_methods: bool = False) -> str | None:
    """Write to `out` (and its `.service_level` sibling), or return the text for standard output (csv, json).
    A closed month's default view is the text published at the close, as stored."""
    stored = result.snapshot.path / f"roi.{fmt}" if result.snapshot is not None else None
    if result.source == "published" and stored is not None and stored.exists() and not all_methods and not out:
        return stored.read_text()
    roi, service = shown(result, all_methods)
    if fmt == "parquet":
        if not out:
            raise RoiError("--format parquet needs --out FILE")
        pq.write_table(roi, out)
        pq.write_table(service, _sibling(out, ".parquet"))
        return None
    if fmt == "json":
        doc = {"month": result.month, "source": result.source, "note": NOTE, "roi": roi.to_pylist(),
               "service_level_note": SERVICE_NOTE, "service_level": service.to_pylist()}
        text = json.dumps(doc, indent=1, default=str) + "\n"
        if out:
            Path(out).write_text(text)
            return None
        return text
    if out:
        Path(out).write_text(_csv(roi))
        _sibling(out, ".csv").write_text(_csv(service))
        return None
    return f"{_csv(roi)}# {NOTE}\n\n# {SERVICE_NOTE}\n{_csv(service)}"
