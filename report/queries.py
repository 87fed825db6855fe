"""Every warehouse query of the pack, one function per question a page asks. Read-only; values bound.

Each function returns plain rows (a list of dicts), so a page's data is testable without rendering. Figures keep
the warehouse's suppression: a suppressed figure is None with `suppressed = True` beside it. The governance
tables are not suppressed in the warehouse (they are for the AI review board), but the pack is mailed to leaders,
so people counts there below SMALL_CELL are withheld here the same way (and the events behind them).
"""

from __future__ import annotations

import re
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


def _recommended(con: duckdb.DuckDBPyConnection) -> str:
    """The filter for the one method per workflow, unit and month that pages show (the scorecard's)."""
    return "recommended" if has_column(con, "workflow_attribution_monthly", "recommended") \
        else "method = 'concurrent_control'"


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
select org_unit, name, level from org_units where level in ('enterprise', 'business_unit') order by depth, org_unit
"""


def units(con: duckdb.DuckDBPyConnection) -> list[Row]:
    """The enterprise and its business units (code, name, level); the enterprise first."""
    return rows(con, UNITS_SQL)


def leader_names(con: duckdb.DuckDBPyConnection, month: str) -> dict[str, str | None]:
    """Business unit → its leader's published name, when the scorecard carries one (never the pseudonym)."""
    if not has_column(con, "leader_scorecard_monthly", "leader_name"):
        return {}
    return {r["org_unit"]: r["leader_name"] for r in rows(
        con, "select org_unit, leader_name from leader_scorecard_monthly where month = $month", {"month": month})}


# --- scorecard ----------------------------------------------------------------------------------------------

SCORECARD_SQL = """
select org_unit, name, month, seats, active_rate, sustained_rate, hours_saved, value_usd, assisted_hours,
  target_hours_saved, attainment, suppressed
from leader_scorecard_monthly where month in (select unnest($months::varchar[]))
order by month, org_unit
"""


def scorecard(con: duckdb.DuckDBPyConnection, months: list[str]) -> list[Row]:
    """One row per business unit and month: adoption, measured hours and value, estimate, target, attainment."""
    return rows(con, SCORECARD_SQL, {"months": months})


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
    """Recommended-method rows of workflow_attribution_monthly: per workflow, unit and month.

    `unit` None: every unit at `levels`.
    """
    sql = f"""
    select a.workflow, a.org_unit, o.name as unit_name, a.level, a.month, a.method, a.metric,
      a.n_assisted, a.n_baseline, a.assisted_mean, a.baseline_mean,
      a.saving_per_item, a.saving_ci_low, a.saving_ci_high,
      a.hours_saved, a.hours_saved_ci_low, a.hours_saved_ci_high,
      a.value_usd, a.cost_usd, a.net_value_usd, a.roi, a.suppressed
    from workflow_attribution_monthly a join org_units o using (org_unit)
    where {_recommended(con)} and a.month in (select unnest($months::varchar[]))
      and (a.org_unit = $unit or ($unit is null and a.level in (select unnest($levels::varchar[]))))
    order by a.workflow, a.month, o.depth, a.org_unit
    """
    return rows(con, sql, {"unit": unit, "months": months, "levels": list(levels)})


def measured_detail(con: duckdb.DuckDBPyConnection, unit: str, month: str) -> list[Row]:
    """Recommended-method rows of the month for the departments and teams inside one unit, in tree order."""
    sql = f"""
    select a.workflow, a.org_unit, o.name as unit_name, a.level, o.depth, a.month, a.method, a.metric,
      a.n_assisted, a.n_baseline, a.saving_per_item, a.saving_ci_low, a.saving_ci_high,
      a.hours_saved, a.hours_saved_ci_low, a.hours_saved_ci_high, a.value_usd, a.suppressed
    from workflow_attribution_monthly a
    join org_units o using (org_unit)
    join org_subtree s on s.org_unit = a.org_unit and s.ancestor = $unit
    where {_recommended(con)} and a.month = $month and a.org_unit <> $unit
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
      where {_recommended(con)} and a.month = $month and a.level <> 'enterprise' and not a.suppressed
        and a.saving_ci_low > 0
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

def roi_measured(con: duckdb.DuckDBPyConnection, month: str) -> list[Row]:
    """The ROI rows of the month that are workflow-measured: recommended method, business units and enterprise."""
    return measured(con, None, [month])


def roi_estimate(con: duckdb.DuckDBPyConnection, month: str) -> list[Row]:
    """The ROI rows of the month that are business-unit estimates."""
    return estimates(con, None, [month])
