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
TINY_KEY = "f" * 32  # a pseudonym of a person of the tiny unit: must never reach the pack


@pytest.fixture(scope="session")
def month(truth: dict) -> str:
    return truth["months"][-1]


@pytest.fixture(scope="session")
def pack_dir(built: Path, month: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pack of the small organization's last month."""
    out = tmp_path_factory.mktemp("pack") / month
    pack.write(built.parent, month, out)
    return out


# the restatement planted in the hostile lake: the contact center's call-summary hours of the month before the
# report's, published at 600 h and now 612.5 h after ingest run 9 and a changed licenses.csv (a change of +12.5)
RESTATED = {"key": "workflow=call_summary|org_unit=BU-CC|method=concurrent_control", "column": "hours_saved",
            "published": "600", "current": "612.5", "runs": [9], "files": ["licenses.csv"]}


@pytest.fixture(scope="session")
def hostile_lake(built: Path, month: str, truth: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the warehouse with BU-TINY added under the enterprise (numbers a person can check):
    copilot: 7 seats, $210 license, users suppressed (fewer than 11 people); call_summary: a suppressed row, $0
    license; lmn_letters service level: comparison and backlog suppressed (SLA 96 h); target 40 h; a governance
    exception of 3 people and 9 uses (the warehouse does not suppress governance; the pack must); a pilot with 4
    sustained and 6 active users; a leader name full of markup; one event of a person whose pseudonym is TINY_KEY.
    And one restated figure (RESTATED) of the month before, closed on the 3rd of the report's month at 08:00 UTC."""
    lake = tmp_path_factory.mktemp("hostile")
    shutil.copy(built, lake / built.name)
    con = duckdb.connect(str(lake / built.name))
    try:
        ent = con.execute("select org_unit from org_units where level = 'enterprise'").fetchone()[0]  # type: ignore[index]
        p = {"u": TINY, "name": TINY_NAME, "m": month, "ent": ent, "key": TINY_KEY, "cap": HOSTILE_CAPABILITY,
             "leader": TINY_LEADER, "before": truth["months"][-2]}
        ex(con, """insert into org_units by name select $u as org_unit, $name as name, $ent as parent_org_unit,
                         'business_unit' as level, $leader as leader, [$ent, $u] as path, $ent || ' > ' || $u
                         as path_text, 1 as depth""", p)
        ex(con, """insert into org_subtree by name select $u as ancestor, $u as org_unit,
                         'business_unit' as ancestor_level, 1 as ancestor_depth""", p)
        ex(con, """insert into events by name select 'tiny-1' as event_id, $key as actor_key, $u as org_unit,
                         'copilot' as tool, 'assist' as event_type""", p)
        ex(con, """insert into adoption_monthly by name select 'copilot' as tool, $u as org_unit,
                         'business_unit' as level, $m as month, 7 as seats, true as suppressed""", p)
        ex(con, """insert into license_utilization_monthly by name select 'copilot' as tool, $u as org_unit,
                         'business_unit' as level, $m as month, 7 as seats, 210.0 as cost_usd, true as suppressed""",
           p)
        ex(con, """insert into productivity_estimate_monthly by name select $u as org_unit,
                         'business_unit' as level, $m as month, 'copilot' as tool, 210.0 as cost_usd,
                         'business_unit_estimate' as attribution, true as suppressed""", p)
        ex(con, """insert into workflow_attribution_monthly by name
                       select 'call_summary' as workflow, $u as org_unit, 'business_unit' as level, $m as month,
                         method, 'acw_seconds' as metric, 'workflow_measured' as attribution, [$u] as units_covered,
                         0.0 as cost_usd, true as suppressed
                       from (select distinct method from workflow_attribution_monthly)""", p)
        ex(con, """insert into service_level_monthly by name
                       select 'lmn_letters' as workflow, $u as org_unit, 'business_unit' as level, $m as month,
                         method, 'turnaround_hours' as metric, 96.0 as sla_hours, true as suppressed,
                         true as backlog_suppressed
                       from (select distinct method from service_level_monthly)""", p)
        ex(con, """insert into leader_scorecard_monthly by name select $u as org_unit, $name as name,
                         $leader as leader, $m as month, 7 as seats, 40.0 as target_hours_saved,
                         ['active_rate', 'sustained_rate', 'hours_saved', 'value_usd', 'attainment', 'assisted_hours',
                          'turnaround_saving_hours', 'backlog_over_sla'] as suppressed_figures,
                         ['adoption:copilot', 'workflow:call_summary', 'estimate:copilot',
                          'service_level:lmn_letters'] as cells_left_out, 1 as governance_exceptions,
                         true as suppressed""", p)
        ex(con, """insert into governance_exceptions by name select $m as month, $cap as capability,
                         $u as org_unit, 'business_unit' as level, 'no_decision' as reason, 9 as events, 3 as users""",
                    p)
        ex(con, """insert into habit_risk by name select $m as month, 'copilot.excel.analyst' as capability,
                         $u as org_unit, 'business_unit' as level, 4 as sustained_users, 6 as active_users,
                         'ARB-PILOT' as decision_ref""", p)
        r = RESTATED
        ex(con, """insert into restatements by name select $before as month,
                         'workflow_attribution_monthly' as table_name, $k as key, $c as column_name,
                         $pub as published, $cur as current, $runs::bigint[] as ingest_runs,
                         $files::varchar[] as reference_files, 1 as version,
                         (strptime($m, '%Y-%m') + interval 2 day + interval 8 hour)::timestamptz
                           as closed_at""",
           p | {"k": r["key"], "c": r["column"], "pub": r["published"], "cur": r["current"], "runs": r["runs"],
                "files": r["files"]})
    finally:
        con.close()
    return lake


def ex(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> None:
    """Execute with the parameters the statement names (DuckDB refuses extra ones)."""
    con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})


@pytest.fixture(scope="session")
def hostile_pack(hostile_lake: Path, month: str) -> Path:
    return pack.write(hostile_lake, month).folder
