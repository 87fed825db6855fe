"""Each page's data, read from the warehouse without rendering anything."""

from __future__ import annotations

from collections import Counter

import duckdb
import pytest

from report import pages, queries
from tests.report.conftest import TINY, TINY_LEADER, TINY_NAME


@pytest.fixture(scope="module")
def loaded(built, month) -> pages.Pack:
    return pages.load(built.parent, month)


def test_one_page_per_business_unit_in_the_org_chart(loaded, month):
    assert [u.unit.org_unit for u in loaded.units] == ["BU-CC", "BU-CS", "BU-SP"]
    assert [u.unit.file for u in loaded.units] == ["BU-CC.html", "BU-CS.html", "BU-SP.html"]
    assert loaded.enterprise.enterprise.org_unit == "ENT"
    for u in loaded.units:
        assert u.months[-1] == month and len(u.months) <= queries.TREND_MONTHS
        assert {r["org_unit"] for r in u.adoption + u.measured + u.estimates + u.scorecard} <= {u.unit.org_unit}


def test_measured_rows_are_one_method_per_workflow_unit_and_month(loaded):
    rows = [r for u in loaded.units for r in u.measured] + loaded.finance.measured  # type: ignore[union-attr]
    per_key = Counter((r["workflow"], r["org_unit"], r["month"]) for r in rows)
    pairs = Counter((r["workflow"], r["org_unit"], r["month"], r["method"]) for r in rows)
    assert per_key == Counter({k[:3]: n for k, n in pairs.items()})  # never two methods for one key
    assert {r["method"] for r in rows} == {"concurrent_control"}  # the scorecard's, until `recommended` lands


def test_finance_keeps_measured_and_estimate_rows_apart(loaded):
    fin = loaded.finance
    assert fin is not None
    assert fin.measured and fin.estimates
    assert all("workflow" in r and "tool" not in r for r in fin.measured)
    assert all("tool" in r and "workflow" not in r for r in fin.estimates)
    assert {r["level"] for r in fin.measured} <= {"enterprise", "business_unit"}


def test_wins_are_measured_below_the_enterprise_with_an_interval_above_zero(loaded):
    wins = loaded.enterprise.wins
    assert 0 < len(wins) <= 5
    assert all(w["level"] != "enterprise" and w["saving_ci_low"] > 0 for w in wins)
    assert wins[0]["workflow"] != wins[1]["workflow"]  # each workflow's best first


def test_governance_counts_under_eleven_people_are_withheld(built, loaded, month):
    con = duckdb.connect(str(built), read_only=True)
    try:
        raw = {(r[0], r[1], r[2]): (r[3], r[4]) for r in con.execute(
            "select capability, org_unit, reason, users, events from governance_exceptions where month = ?",
            [month]).fetchall()}
    finally:
        con.close()
    shown = loaded.governance.exceptions  # type: ignore[union-attr]
    assert shown
    for r in shown:
        users, events = raw[(r["capability"], r["org_unit"], r["reason"])]
        if users < 11:
            assert r["suppressed"] and r["users"] is None and r["events"] is None
        else:
            assert not r["suppressed"] and (r["users"], r["events"]) == (users, events)
    assert any(r["suppressed"] for r in shown) and any(not r["suppressed"] for r in shown)


def test_the_tiny_unit_reads_back_as_planted(hostile_lake, month):
    """BU-TINY (conftest): 7 copilot seats and $210 of license shown; its people-based figures withheld."""
    p = pages.load(hostile_lake, month)
    tiny = next(u for u in p.units if u.unit.org_unit == TINY)
    assert tiny.unit.name == TINY_NAME and tiny.unit.leader == TINY_LEADER  # raw here, escaped when rendered
    assert tiny.unit.file == "BU-TINY.html"
    (adoption,) = tiny.now(tiny.adoption)
    assert (adoption["seats"], adoption["active_users"], adoption["suppressed"]) == (7, None, True)
    (estimate,) = tiny.now(tiny.estimates)
    assert (estimate["cost_usd"], estimate["assisted_hours"], estimate["suppressed"]) == (210.0, None, True)
    (card,) = tiny.now(tiny.scorecard)
    assert (card["target_hours_saved"], card["attainment"], card["suppressed"]) == (40.0, None, True)
    (exception,) = tiny.exceptions
    assert (exception["users"], exception["events"], exception["suppressed"]) == (None, None, True)  # 3 and 9
    (habit,) = tiny.habits
    assert (habit["sustained_users"], habit["active_users"]) == (None, None)  # 4 and 6


def test_a_file_name_is_made_safe_from_a_unit_code():
    assert pages.page_file("BU-CC") == "BU-CC.html"
    assert pages.page_file("../etc/x y") == ".._etc_x_y.html"  # no folder separator survives
    assert pages.page_file("Finance") == "unit-Finance.html"  # would overwrite the finance page
    assert pages.page_file("a/b", {"a_b.html", "unit-a_b.html"}) == "unit-2-a_b.html"  # a/b next to a_b
