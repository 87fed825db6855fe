"""Every warehouse query of the pack, one function per question a page asks. Read-only; values bound.

Each function returns plain rows (a list of dicts), so a page's data is testable without rendering. Figures keep
the warehouse's suppression: a suppressed figure is None with `suppressed = True` beside it. The governance
tables are not suppressed in the warehouse (they are for the AI review board), but the pack is mailed to leaders,
so people counts there below SMALL_CELL are withheld here the same way (and the events behind them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from warehouse.build import WAREHOUSE

SMALL_CELL = 11  # fewer people or items than this: the figure is withheld (SPEC §4)
TREND_MONTHS = 6

Row = dict[str, Any]


class ReportError(RuntimeError):
    """A report that cannot be written; the message is one line for the user."""


def connect(lake: str | Path) -> duckdb.DuckDBPyConnection:
    path = Path(lake) / WAREHOUSE
    if not path.exists():
        raise ReportError(f"{path}: no warehouse (run `uptake build` first)")
    return duckdb.connect(str(path), read_only=True)


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> list[Row]:
    cur = con.execute(sql, params or {})
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    return bool(con.execute(
        "select count(*) from duckdb_columns() where table_name = $t and column_name = $c",
        {"t": table, "c": column}).fetchone()[0])  # type: ignore[index]


# --- which method a page shows -----------------------------------------------------------------------------------
# The ONE place that decides it. A page shows one attribution method per workflow, org unit and month: the row the
# warehouse marks `recommended` (a rule of the warehouse's, see its COMMENT); where the warehouse has no such column
# (built before the rule existed) or a row carries none (a month closed before it), the concurrent control.

FALLBACK_METHOD = "concurrent_control"


def is_recommended(row: Row) -> bool:
    """For rows already read (e.g. `uptake roi`'s, which carry `recommended`, null before the rule existed)."""
    rec = row.get("recommended")
    return bool(rec) if rec is not None else row["method"] == FALLBACK_METHOD


def recommended_sql(con: duckdb.DuckDBPyConnection, table: str = "workflow_attribution_monthly",
                    alias: str = "") -> str:
    """The same rule as a SQL condition on `table` (aliased `alias`): its own `recommended` column when it has
    one; for service_level_monthly without one, the method recommended for the same workflow, unit and month in
    workflow_attribution_monthly; else the fallback method."""
    a = f"{alias}." if alias else ""
    if has_column(con, table, "recommended"):
        return f"coalesce({a}recommended, {a}method = '{FALLBACK_METHOD}')"
    if table != "workflow_attribution_monthly" and has_column(con, "workflow_attribution_monthly", "recommended"):
        return (f"exists (select 1 from workflow_attribution_monthly r where r.workflow = {a}workflow "
                f"and r.org_unit = {a}org_unit and r.month = {a}month and r.method = {a}method "
                f"and {recommended_sql(con, 'workflow_attribution_monthly', 'r')})")
    return f"{a}method = '{FALLBACK_METHOD}'"


def method_rule(con: duckdb.DuckDBPyConnection) -> str:
    """What the pages' method is, in words, for their footnotes."""
    if has_column(con, "workflow_attribution_monthly", "recommended"):
        return "the method the warehouse recommends for each workflow, unit and month"
    return ("the concurrent control for every workflow, unit and month (this warehouse does not mark a "
            "recommended method yet)")


def _diagnostics(con: duckdb.DuckDBPyConnection, alias: str = "a") -> str:
    return f"{alias}.diagnostics" if has_column(con, "workflow_attribution_monthly", "diagnostics") \
        else "null::varchar[]"


# --- months -------------------------------------------------------------------------------------------------

MONTHS_SQL = """
select distinct month from adoption_monthly
union select distinct month from workflow_attribution_monthly
union select distinct month from productivity_estimate_monthly
order by month
"""


def months_with_data(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r["month"] for r in rows(con, MONTHS_SQL)]


def check_month(month: str) -> None:
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", month):
        raise ReportError(f"--month {month!r}: expected YYYY-MM")


def check_data(con: duckdb.DuckDBPyConnection, month: str, where: str) -> None:
    months = months_with_data(con)
    if month not in months:
        have = f"{months[0]} to {months[-1]}" if months else "none"
        raise ReportError(f"no data for {month} in {where} (months with data: {have})")


def trend_months(con: duckdb.DuckDBPyConnection, month: str) -> list[str]:
    """The report month and up to TREND_MONTHS − 1 months with data before it, oldest first."""
    return [m for m in months_with_data(con) if m <= month][-TREND_MONTHS:]


# --- units --------------------------------------------------------------------------------------------------

UNITS_SQL = """
select org_unit, name, level, leader from org_units where level in ('enterprise', 'business_unit')
order by depth, org_unit
"""


def units(con: duckdb.DuckDBPyConnection) -> list[Row]:
    """The enterprise and its business units (code, name, level, leader as org_units.csv publishes them); the
    enterprise first."""
    return rows(con, UNITS_SQL)


def leader_names(con: duckdb.DuckDBPyConnection, month: str) -> dict[str, str | None]:
    """Business unit → its accountable leader in the month's scorecard (`leader`: the name and title
    org_units.csv publishes; never a pseudonym)."""
    return {r["org_unit"]: r["leader"] for r in rows(
        con, "select org_unit, leader from leader_scorecard_monthly where month = $month", {"month": month})}


# --- scorecard ----------------------------------------------------------------------------------------------

SCORECARD_SQL = """
select org_unit, name, month, seats, active_rate, sustained_rate, hours_saved, value_usd, assisted_hours,
  target_hours_saved, attainment, turnaround_saving_hours, backlog_over_sla, governance_exceptions,
  coalesce(suppressed_figures, []) as suppressed_figures, coalesce(cells_left_out, []) as cells_left_out, suppressed
from leader_scorecard_monthly where month in (select unnest($months::varchar[]))
order by month, org_unit
"""


def scorecard(con: duckdb.DuckDBPyConnection, months: list[str]) -> list[Row]:
    """One row per business unit and month: adoption, measured hours and value, estimate, target, attainment,
    service levels, exceptions. Suppression is per figure: `suppressed_figures` names the figures withheld,
    `cells_left_out` the small cells a shown figure leaves out."""
    return rows(con, SCORECARD_SQL, {"months": months})


def withheld(row: Row | None, figure: str) -> bool:
    """Whether the scorecard withholds `figure` in `row` (a figure of a row with nothing but small cells too)."""
    if row is None:
        return False
    return figure in row["suppressed_figures"] or (bool(row["suppressed"]) and row.get(figure) is None)


# --- adoption -----------------------------------------------------------------------------------------------

ADOPTION_SQL = """
select tool, org_unit, month, seats, active_users, sustained_users, active_rate, sustained_rate, suppressed
from adoption_monthly
where org_unit = $unit and month in (select unnest($months::varchar[]))
order by tool, month
"""


def adoption(con: duckdb.DuckDBPyConnection, unit: str, months: list[str]) -> list[Row]:
    """Seats → active → sustained per tool and month, for one unit's subtree."""
    return rows(con, ADOPTION_SQL, {"unit": unit, "months": months})


# --- workflow-measured value ----------------------------------------------------------------------------------

def measured(con: duckdb.DuckDBPyConnection, unit: str | None, months: list[str],
             levels: tuple[str, ...] = ("enterprise", "business_unit")) -> list[Row]:
    """The shown method's rows of workflow_attribution_monthly (staff time): per workflow, unit and month.

    `unit` None: every unit at `levels`.
    """
    sql = f"""
    select a.workflow, a.org_unit, o.name as unit_name, a.level, a.month, a.method, a.metric, a.units_covered,
      a.n_assisted, a.n_baseline, a.n_without_metric, a.assisted_mean, a.baseline_mean,
      a.saving_per_item, a.saving_ci_low, a.saving_ci_high,
      a.hours_saved, a.hours_saved_ci_low, a.hours_saved_ci_high,
      a.value_usd, a.cost_usd, a.net_value_usd, a.roi, {_diagnostics(con)} as diagnostics, a.suppressed
    from workflow_attribution_monthly a join org_units o using (org_unit)
    where {recommended_sql(con, alias='a')} and a.month in (select unnest($months::varchar[]))
      and (a.org_unit = $unit or ($unit is null and a.level in (select unnest($levels::varchar[]))))
    order by a.workflow, a.month, o.depth, a.org_unit
    """
    return rows(con, sql, {"unit": unit, "months": months, "levels": list(levels)})


def measured_detail(con: duckdb.DuckDBPyConnection, unit: str, month: str) -> list[Row]:
    """The shown method's rows of the month for the departments and teams inside one unit, in tree order."""
    sql = f"""
    select a.workflow, a.org_unit, o.name as unit_name, a.level, o.depth, a.month, a.method, a.metric,
      a.n_assisted, a.n_baseline, a.n_without_metric, a.saving_per_item, a.saving_ci_low, a.saving_ci_high,
      a.hours_saved, a.hours_saved_ci_low, a.hours_saved_ci_high, a.value_usd, a.suppressed
    from workflow_attribution_monthly a
    join org_units o using (org_unit)
    join org_subtree s on s.org_unit = a.org_unit and s.ancestor = $unit
    where {recommended_sql(con, alias='a')} and a.month = $month and a.org_unit <> $unit
    order by a.workflow, o.path_text
    """
    return rows(con, sql, {"unit": unit, "month": month})


def best_wins(con: duckdb.DuckDBPyConnection, month: str, limit: int = 5) -> list[Row]:
    """The month's best measured wins a leader can quote: units below the enterprise whose interval is above zero
    and not suppressed. Each workflow's best first (by the lower bound of hours saved), then each one's second,
    and so on; a unit whose figures equal its only child's (same items) is shown once, at the higher level."""
    sql = f"""
    with candidates as (
      select a.workflow, a.org_unit, o.name as unit_name, a.level, o.depth, a.metric, a.method, a.n_assisted,
        a.saving_per_item, a.saving_ci_low, a.saving_ci_high, a.hours_saved, a.hours_saved_ci_low,
        a.hours_saved_ci_high, a.value_usd
      from workflow_attribution_monthly a join org_units o using (org_unit)
      where {recommended_sql(con, alias='a')} and a.month = $month and a.level <> 'enterprise'
        and not a.suppressed and a.saving_ci_low > 0
    ),
    distinct_items as (
      select * from candidates
      qualify row_number() over (partition by workflow, n_assisted, saving_per_item order by depth) = 1
    ),
    ranked as (
      select *, row_number() over (partition by workflow order by hours_saved_ci_low desc, org_unit) as rank
      from distinct_items
    ),
    final as (
      select * exclude (depth) from ranked order by rank, hours_saved_ci_low desc, workflow limit $limit
    )
    select * from final
    """
    return rows(con, sql, {"month": month, "limit": limit})


# --- service levels -------------------------------------------------------------------------------------------

def service_levels(con: duckdb.DuckDBPyConnection, unit: str, months: list[str]) -> list[Row]:
    """Letter turnaround and backlog per workflow and month for one unit's subtree (service_level_monthly; never
    in dollars). The comparison (assisted vs baseline turnaround, the saving and its interval) is the shown
    method's; the backlog is the same on every method's row. A workflow with a service level but no row of the
    shown method keeps its backlog, its comparison null (`method` null)."""
    sql = f"""
    with service as (
      select s.*, {recommended_sql(con, 'service_level_monthly', 's')} as shown
      from service_level_monthly s
      where s.org_unit = $unit and s.month in (select unnest($months::varchar[]))
    ),
    one as (
      select * from service qualify row_number() over (partition by workflow, org_unit, month
                                                       order by shown desc, method) = 1
    ),
    final as (
      select workflow, org_unit, month, metric, sla_hours, submitted,
        case when shown then method end as method,
        case when shown then n_assisted end as n_assisted, case when shown then n_baseline end as n_baseline,
        case when shown then assisted_mean_hours end as assisted_mean_hours,
        case when shown then assisted_median_hours end as assisted_median_hours,
        case when shown then assisted_p90_hours end as assisted_p90_hours,
        case when shown then baseline_mean_hours end as baseline_mean_hours,
        case when shown then baseline_median_hours end as baseline_median_hours,
        case when shown then baseline_p90_hours end as baseline_p90_hours,
        case when shown then saving_hours end as saving_hours,
        case when shown then saving_ci_low end as saving_ci_low,
        case when shown then saving_ci_high end as saving_ci_high,
        backlog_open, backlog_over_sla, oldest_open_hours,
        shown and suppressed as suppressed, backlog_suppressed
      from one
    )
    select * from final order by workflow, month
    """
    return rows(con, sql, {"unit": unit, "months": months})


# --- estimates ------------------------------------------------------------------------------------------------

ESTIMATE_SQL = """
select e.org_unit, o.name as unit_name, e.level, e.month, e.tool, e.active_users, e.actions, e.assisted_hours,
  e.value_usd, e.cost_usd, e.suppressed
from productivity_estimate_monthly e join org_units o using (org_unit)
where e.month in (select unnest($months::varchar[])) and (e.org_unit = $unit or $unit is null)
order by e.month, o.depth, e.org_unit, e.tool
"""


def estimates(con: duckdb.DuckDBPyConnection, unit: str | None, months: list[str]) -> list[Row]:
    """Business-unit estimates of personal-productivity tools (never added to measured value)."""
    return rows(con, ESTIMATE_SQL, {"unit": unit, "months": months})


# --- governance -----------------------------------------------------------------------------------------------

EXCEPTIONS_SQL = """
with exceptions as (
  select x.month, x.capability, x.org_unit, o.name as unit_name, x.level, x.reason, x.events, x.users,
    x.decision_ref
  from governance_exceptions x join org_units o using (org_unit)
  where x.month in (select unnest($months::varchar[]))
    and (x.org_unit = $unit or ($unit is null and x.level in ('enterprise', 'business_unit')))
),
final as (
  select month, capability, org_unit, unit_name, level, reason,
    case when users >= $small then events end as events,
    case when users >= $small then users end as users,
    decision_ref, users < $small as suppressed
  from exceptions
)
select * from final order by month, org_unit, reason, capability
"""


def exceptions(con: duckdb.DuckDBPyConnection, unit: str | None, months: list[str]) -> list[Row]:
    """Governance exceptions per capability, reason and unit (one unit, or the enterprise and its business units);
    events and people withheld below SMALL_CELL people."""
    return rows(con, EXCEPTIONS_SQL, {"unit": unit, "months": months, "small": SMALL_CELL})


HABITS_SQL = """
with habits as (
  select h.month, h.capability, h.org_unit, o.name as unit_name, h.level, h.sustained_users, h.active_users,
    h.decision_ref
  from habit_risk h join org_units o using (org_unit)
  where h.month in (select unnest($months::varchar[]))
    and (h.org_unit = $unit or ($unit is null and h.level in ('enterprise', 'business_unit')))
),
final as (
  select month, capability, org_unit, unit_name, level,
    case when sustained_users >= $small then sustained_users end as sustained_users,
    case when active_users >= $small then active_users end as active_users,
    decision_ref, sustained_users < $small as sustained_suppressed, active_users < $small as active_suppressed
  from habits
)
select * from final order by month, org_unit, capability
"""


def habits(con: duckdb.DuckDBPyConnection, unit: str | None, months: list[str]) -> list[Row]:
    """Capabilities still in pilot that already have sustained users (habit risk); counts withheld below
    SMALL_CELL people."""
    return rows(con, HABITS_SQL, {"unit": unit, "months": months, "small": SMALL_CELL})


# --- finance --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Roi:
    """The month's ROI table as `uptake roi` gives it (warehouse/roi.py's query, or the close's snapshot), the
    shown method's workflow rows and the estimate rows apart, enterprise and business units only."""

    measured: list[Row]
    estimates: list[Row]
    source: str                # published (the month is closed) | current
    closed_at: str | None      # when the shown version was published
    version: int | None


def roi(con: duckdb.DuckDBPyConnection, lake: str | Path, month: str) -> Roi:
    """The finance ROI rows of the month: as published when the month is closed, else from the warehouse."""
    from warehouse.close import CloseError, published
    from warehouse.roi import current_tables

    try:
        snapshot = published(lake, month)
    except CloseError as exc:
        raise ReportError(str(exc)) from None
    table = snapshot.table("roi") if snapshot is not None else current_tables(con, month)[0]
    names = {u["org_unit"]: (u["name"], u["level"]) for u in units(con)}
    shown = [r | {"unit_name": names[r["org_unit"]][0]} for r in table.to_pylist() if r["org_unit"] in names]
    measured_rows = [r for r in shown if r["attribution"] == "workflow_measured" and is_recommended(r)]
    estimate_rows = [r for r in shown if r["attribution"] == "business_unit_estimate"]
    depth = {code: i for i, code in enumerate(names)}  # units() is in tree order: the enterprise first
    measured_rows.sort(key=lambda r: (r["subject"], depth[r["org_unit"]]))
    estimate_rows.sort(key=lambda r: (r["subject"], depth[r["org_unit"]]))
    return Roi(measured_rows, estimate_rows, "published" if snapshot else "current",
               snapshot.closed_at if snapshot else None, snapshot.version if snapshot else None)


UTILIZATION_SQL = """
select u.tool, u.org_unit, o.name as unit_name, u.level, u.month, u.seats, u.cost_usd, u.active_users,
  u.sustained_users, u.idle_seats, u.idle_seat_cost_usd, u.users_over_seats, u.suppressed
from license_utilization_monthly u join org_units o using (org_unit)
where u.month = $month
order by u.tool, o.depth, u.org_unit
"""


def utilization(con: duckdb.DuckDBPyConnection, month: str) -> list[Row]:
    """Seats as measured per tool, business unit and the enterprise: idle seats and their cost, users over seats."""
    return rows(con, UTILIZATION_SQL, {"month": month})


RESTATEMENTS_SQL = """
with restated as (
  select r.*, regexp_extract(r.key, '(^|[|])org_unit=([^|]*)', 2) as org_unit
  from restatements r where r.month <= $month
),
final as (
  select r.month, r.table_name, r.key, r.column_name, r.published, r.current, r.ingest_runs, r.reference_files,
    r.version, r.closed_at, r.org_unit, o.name as unit_name, coalesce(o.depth, 99) as depth
  from restated r left join org_units o using (org_unit)
)
select * from final order by month desc, depth, table_name, key, column_name
"""


def restatements(con: duckdb.DuckDBPyConnection, month: str) -> list[Row]:
    """Published figures of the months closed up to `month` that the current data gives differently (the
    latest close of each month), with what caused each: ingest runs landed after the close, reference files
    changed since."""
    return rows(con, RESTATEMENTS_SQL, {"month": month})
