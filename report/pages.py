"""The data of each page of the pack, read from the warehouse (nothing rendered here).

`load(lake, month)` returns a `Pack`: the enterprise page, one page per business unit, the finance page and the
governance page, each holding the rows its sections show (see `queries.py` for what each row means).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from report import queries as q
from report.queries import Row

RESERVED = frozenset({"index.html", "finance.html", "governance.html", "report.pdf"})


def page_file(org_unit: str, taken: frozenset[str] | set[str] = RESERVED) -> str:
    """The file of a business unit's page: its code (`BU-CC.html`), characters other than letters, digits, '.',
    '-' and '_' made '_'; `unit-` in front when that name is taken (a unit coded `index` or `finance`)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", org_unit) + ".html"
    n = 1
    base = name
    while name.lower() in {t.lower() for t in taken}:
        name = f"unit-{n}-{base}" if n > 1 else f"unit-{base}"
        n += 1
    return name


@dataclass(frozen=True)
class Unit:
    org_unit: str
    name: str
    leader: str | None
    file: str


@dataclass(frozen=True)
class UnitPage:
    """A business unit's month, for its VP: adoption funnel and trend, measured wins, estimate, target,
    governance."""

    month: str
    months: list[str]
    unit: Unit
    scorecard: list[Row]      # this unit, trend months
    adoption: list[Row]       # this unit, per tool, trend months
    measured: list[Row]       # the shown method, this unit, per workflow, trend months
    detail: list[Row]         # the shown method, departments and teams inside, the month
    service: list[Row]        # letter turnaround and backlog, this unit, per workflow, trend months
    estimates: list[Row]      # this unit, per tool, trend months
    exceptions: list[Row]     # the month
    habits: list[Row]         # the month
    method_rule: str          # which method the measured rows are, in words

    def now(self, rows: list[Row]) -> list[Row]:
        return [r for r in rows if r["month"] == self.month]


@dataclass(frozen=True)
class EnterprisePage:
    """Business units side by side, the enterprise's own figures, the month's best measured wins."""

    month: str
    months: list[str]
    enterprise: Unit
    units: list[Unit]
    scorecard: list[Row]      # per business unit, the month
    adoption: list[Row]       # the enterprise, per tool, the month
    measured: list[Row]       # the enterprise, per workflow, the month
    estimates: list[Row]      # the enterprise, per tool, the month
    wins: list[Row]
    exceptions: list[Row]     # enterprise and business units, the month
    habits: list[Row]         # enterprise and business units, the month
    method_rule: str


@dataclass(frozen=True)
class FinancePage:
    """The month's ROI (workflow-measured and estimate rows apart, as `uptake roi` gives them: as published when
    the month is closed), seats as measured, and the published figures restated since their close."""

    month: str
    roi: q.Roi                # the shown method's workflow rows and the estimate rows, enterprise and units
    utilization: list[Row]    # per tool, enterprise and business units
    restatements: list[Row]   # months closed up to this one
    method_rule: str


@dataclass(frozen=True)
class GovernancePage:
    """Uses of uncleared capabilities and habits forming on pilots, by unit."""

    month: str
    exceptions: list[Row]     # enterprise and business units, the month
    habits: list[Row]         # enterprise and business units, the month


@dataclass(frozen=True)
class Pack:
    month: str
    enterprise: EnterprisePage
    units: list[UnitPage] = field(default_factory=list)
    finance: FinancePage | None = None
    governance: GovernancePage | None = None


def load(lake: str | Path, month: str) -> Pack:
    """Read every page's data for `month` from the lake's warehouse (one read-only connection)."""
    q.check_month(month)
    con = q.connect(lake)
    try:
        return _load(con, lake, month, str(Path(lake) / q.WAREHOUSE))
    except duckdb.CatalogException as exc:  # a warehouse built by an older uptake
        first = str(exc).splitlines()[0]
        raise q.ReportError(f"{Path(lake) / q.WAREHOUSE}: {first} (rebuild it with `uptake build`)") from None
    finally:
        con.close()


def _load(con: duckdb.DuckDBPyConnection, lake: str | Path, month: str, where: str) -> Pack:
    q.check_data(con, month, where)
    months = q.trend_months(con, month)
    leaders = q.leader_names(con, month)
    found = q.units(con)
    rule = q.method_rule(con)
    ent_rows = [u for u in found if u["level"] == "enterprise"]
    if not ent_rows:
        raise q.ReportError("the warehouse has no enterprise org unit")
    ent = Unit(ent_rows[0]["org_unit"], ent_rows[0]["name"], ent_rows[0]["leader"], "index.html")
    taken = set(RESERVED)
    bus = []
    for u in found:
        if u["level"] == "business_unit":
            leader = leaders.get(u["org_unit"], u["leader"])  # the scorecard's; org_units' without a row
            bus.append(Unit(u["org_unit"], u["name"], leader, page_file(u["org_unit"], taken)))
            taken.add(bus[-1].file)
    scorecard = q.scorecard(con, months)
    units = [UnitPage(
        month=month, months=months, unit=u,
        scorecard=[r for r in scorecard if r["org_unit"] == u.org_unit],
        adoption=q.adoption(con, u.org_unit, months),
        measured=q.measured(con, u.org_unit, months),
        detail=q.measured_detail(con, u.org_unit, month),
        service=q.service_levels(con, u.org_unit, months),
        estimates=q.estimates(con, u.org_unit, months),
        exceptions=q.exceptions(con, u.org_unit, [month]),
        habits=q.habits(con, u.org_unit, [month]),
        method_rule=rule,
    ) for u in bus]
    exceptions = q.exceptions(con, None, [month])
    habits = q.habits(con, None, [month])
    enterprise = EnterprisePage(
        month=month, months=months, enterprise=ent, units=bus,
        scorecard=[r for r in scorecard if r["month"] == month],
        adoption=q.adoption(con, ent.org_unit, [month]),
        measured=q.measured(con, ent.org_unit, [month]),
        estimates=q.estimates(con, ent.org_unit, [month]),
        wins=q.best_wins(con, month),
        exceptions=exceptions,
        habits=habits,
        method_rule=rule,
    )
    finance = FinancePage(month=month, roi=q.roi(con, lake, month), utilization=q.utilization(con, month),
                          restatements=q.restatements(con, month), method_rule=rule)
    governance = GovernancePage(month=month, exceptions=exceptions, habits=habits)
    return Pack(month=month, enterprise=enterprise, units=units, finance=finance, governance=governance)
