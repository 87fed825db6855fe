"""Packs written once per session: the small generated organization's last month, and a hostile copy of its
warehouse with a tiny business unit (7 people: every figure built from people suppressed), no workflow, and
names full of HTML special characters."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from report import pack

TINY = "BU-TINY"
# what a hostile source or a careless org chart puts in names: markup, entities, quotes
TINY_NAME = 'R&D <script>alert("unit")</script> & "Labs"'
TINY_LEADER = "Dana O'Brien <b>&amp;</b> <img src=x onerror=alert(1)>"
HOSTILE_CAPABILITY = 'copilot.<svg onload="alert(2)">'
TINY_KEY = "f" * 32  # the tiny unit leader's pseudonym: must never reach the pack


@pytest.fixture(scope="session")
def month(truth: dict) -> str:
    return truth["months"][-1]


@pytest.fixture(scope="session")
def pack_dir(built: Path, month: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pack of the small organization's last month."""
    out = tmp_path_factory.mktemp("pack") / month
    pack.write(built.parent, month, out)
    return out


@pytest.fixture(scope="session")
def hostile_lake(built: Path, month: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the warehouse with BU-TINY added under the enterprise (numbers a person can check):
    copilot: 7 seats, $210 license, users suppressed (fewer than 11 people); call_summary: a suppressed row, $0
    license; target 40 h; a governance exception of 3 people and 9 uses (the warehouse does not suppress
    governance; the pack must); a pilot with 4 sustained and 6 active users. Leader names are added to the
    scorecard as the finance branch publishes them."""
    lake = tmp_path_factory.mktemp("hostile")
    shutil.copy(built, lake / built.name)
    con = duckdb.connect(str(lake / built.name))
    try:
        ent = con.execute("select org_unit from org_units where level = 'enterprise'").fetchone()[0]  # type: ignore[index]
        p = {"u": TINY, "name": TINY_NAME, "m": month, "ent": ent, "key": TINY_KEY, "cap": HOSTILE_CAPABILITY}
        ex(con, """insert into org_units by name select $u as org_unit, $name as name, $ent as parent_org_unit,
                         'business_unit' as level, $key as leader_key, [$ent, $u] as path, $ent || ' > ' || $u
                         as path_text, 1 as depth""", p)
        ex(con, """insert into org_subtree by name select $u as ancestor, $u as org_unit,
                         'business_unit' as ancestor_level, 1 as ancestor_depth""", p)
        ex(con, """insert into adoption_monthly by name select 'copilot' as tool, $u as org_unit,
                         'business_unit' as level, $m as month, 7 as seats, true as suppressed""", p)
        ex(con, """insert into productivity_estimate_monthly by name select $u as org_unit,
                         'business_unit' as level, $m as month, 'copilot' as tool, 210.0 as cost_usd,
                         'business_unit_estimate' as attribution, true as suppressed""", p)
        ex(con, """insert into workflow_attribution_monthly by name
                       select 'call_summary' as workflow, $u as org_unit, 'business_unit' as level, $m as month,
                         method, 'acw_seconds' as metric, 'workflow_measured' as attribution, 0.0 as cost_usd,
                         true as suppressed
                       from (select distinct method from workflow_attribution_monthly)""", p)
        ex(con, """insert into leader_scorecard_monthly by name select $u as org_unit, $name as name,
                         $key as leader_key, $m as month, 7 as seats, 40.0 as target_hours_saved,
                         true as suppressed""", p)
        ex(con, """insert into governance_exceptions by name select $m as month, $cap as capability,
                         $u as org_unit, 'business_unit' as level, 'no_decision' as reason, 9 as events, 3 as users""",
                    p)
        ex(con, """insert into habit_risk by name select $m as month, 'copilot.excel.analyst' as capability,
                         $u as org_unit, 'business_unit' as level, 4 as sustained_users, 6 as active_users,
                         'ARB-PILOT' as decision_ref""", p)
        if not duckdb_has(con, "leader_scorecard_monthly", "leader_name"):
            con.execute("alter table leader_scorecard_monthly add column leader_name varchar")
        ex(con, "update leader_scorecard_monthly set leader_name = 'Pat Example' where org_unit <> $u", p)
        ex(con, "update leader_scorecard_monthly set leader_name = $l where org_unit = $u", p | {"l": TINY_LEADER})
    finally:
        con.close()
    return lake


def ex(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> None:
    """Execute with the parameters the statement names (DuckDB refuses extra ones)."""
    con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})


def duckdb_has(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    return bool(con.execute("select count(*) from duckdb_columns() where table_name = ? and column_name = ?",
                            [table, column]).fetchone()[0])  # type: ignore[index]


@pytest.fixture(scope="session")
def hostile_pack(hostile_lake: Path, month: str) -> Path:
    return pack.write(hostile_lake, month).folder
