"""Each page's data, read from the warehouse without rendering anything."""

from __future__ import annotations

import shutil
from collections import Counter

import duckdb
import pytest

from report import pack, pages, queries
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


def _one_method_each(rows: list[dict], subject: str = "workflow") -> set[str]:
    """The methods of the rows, after checking no workflow, unit and month has two."""
    keys = Counter((r[subject], r["org_unit"], r["month"]) for r in rows)
    assert keys and max(keys.values()) == 1, keys.most_common(1)
    return {r["method"] for r in rows}


def _recommended(warehouse, table: str = "workflow_attribution_monthly") -> set[tuple[str, str, str, str]]:
    """(workflow, org unit, month, method) of the rows the warehouse marks recommended."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return set(con.execute(f"select workflow, org_unit, month, method from {table} where recommended").fetchall())
    finally:
        con.close()


def test_measured_rows_are_the_warehouse_recommended_one_per_workflow_unit_and_month(loaded, built):
    """The warehouse marks one recommended method per workflow, unit and month: every page shows that row."""
    marked = _recommended(built)
    rows = [r for u in loaded.units for r in u.measured + u.detail] + loaded.enterprise.measured
    assert _one_method_each(rows) <= {"concurrent_control", "pre_go_live", "within_actor", "did"}
    assert {(r["workflow"], r["org_unit"], r["month"], r["method"]) for r in rows} <= marked
    service = [r for u in loaded.units for r in u.service]
    _one_method_each(service)
    assert {(r["workflow"], r["org_unit"], r["month"], r["method"]) for r in service} <= \
        _recommended(built, "service_level_monthly")
    fin = loaded.finance.roi.measured  # type: ignore[union-attr]
    _one_method_each(fin, "subject")
    assert {(r["subject"], r["org_unit"], r["month"], r["method"]) for r in fin} <= marked
    assert "recommends" in loaded.enterprise.method_rule


def test_finance_keeps_measured_and_estimate_rows_apart(loaded):
    fin = loaded.finance
    assert fin is not None
    assert fin.roi.measured and fin.roi.estimates and fin.roi.source == "current"
    assert {r["attribution"] for r in fin.roi.measured} == {"workflow_measured"}
    assert {r["attribution"] for r in fin.roi.estimates} == {"business_unit_estimate"}
    assert {r["level"] for r in fin.roi.measured + fin.roi.estimates} <= {"enterprise", "business_unit"}
    assert fin.utilization and {r["level"] for r in fin.utilization} <= {"enterprise", "business_unit"}
    assert fin.restatements == []  # nothing closed in this lake


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


def _mark_recommended(warehouse, table: str, rule: str) -> None:
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(f"alter table {table} add column if not exists recommended boolean")
        con.execute(f"update {table} t set recommended = {rule}")
    finally:
        con.close()


# pre_go_live where the key has a pre_go_live row, else concurrent_control: one method per workflow, unit and month
PRE_GO_LIVE_FIRST = """t.method = coalesce((select max(b.method) from workflow_attribution_monthly b
                                          where b.workflow = t.workflow and b.org_unit = t.org_unit
                                            and b.month = t.month and b.method = 'pre_go_live'),
                                         'concurrent_control')"""


def test_pages_show_the_method_the_warehouse_marks_and_fall_back_without_a_mark(built, month, tmp_path):
    """Every page shows the row workflow_attribution_monthly marks `recommended` (here re-marked: pre_go_live
    wherever the key has one); a service_level_monthly without its own column follows it; with its own column,
    that wins; a warehouse built before the rule existed (no column) shows the concurrent control."""
    shutil.copy(built, tmp_path / built.name)
    con = duckdb.connect(str(tmp_path / built.name))
    try:
        con.execute("alter table service_level_monthly drop column recommended")
    finally:
        con.close()
    _mark_recommended(tmp_path / built.name, "workflow_attribution_monthly", PRE_GO_LIVE_FIRST)
    p = pages.load(tmp_path, month)
    assert "recommends" in p.enterprise.method_rule
    cc = next(u for u in p.units if u.unit.org_unit == "BU-CC")
    sp = next(u for u in p.units if u.unit.org_unit == "BU-SP")
    # the generated org's contact center and letters both went live months before the last: pre_go_live rows exist
    assert {r["method"] for r in cc.now(cc.measured)} == {"pre_go_live"}
    assert {r["method"] for r in sp.now(sp.service)} == {"pre_go_live"}  # the attribution's recommended method
    assert _one_method_each([r for u in p.units for r in u.measured]) <= {"pre_go_live", "concurrent_control"}
    assert _one_method_each(p.finance.roi.measured, "subject") == {"pre_go_live"}  # type: ignore[union-attr]
    assert "pre_go_live" in {w["method"] for w in p.enterprise.wins} <= {"pre_go_live", "concurrent_control"}
    # rendered: the method's name stands next to each measured win
    view = pack.unit_view(cc)
    assert "measured<span class=\"how\">, before and after go-live</span>" in str(view["tables"]["wins"])
    assert "before and after go-live" in str(pack._win_line(p.enterprise.wins[0]))

    _mark_recommended(tmp_path / built.name, "service_level_monthly", "t.method = 'concurrent_control'")
    sp = next(u for u in pages.load(tmp_path, month).units if u.unit.org_unit == "BU-SP")
    assert {r["method"] for r in sp.now(sp.service)} == {"concurrent_control"}

    con = duckdb.connect(str(tmp_path / built.name))
    try:
        for table in ("workflow_attribution_monthly", "service_level_monthly"):
            con.execute(f"alter table {table} drop column recommended")
    finally:
        con.close()
    p = pages.load(tmp_path, month)
    assert "does not mark a recommended method yet" in p.enterprise.method_rule
    assert _one_method_each([r for u in p.units for r in u.measured]) == {"concurrent_control"}


def test_rows_read_back_keep_the_same_rule():
    """uptake roi's rows carry `recommended` (null before the rule existed, or in a month closed before it)."""
    assert queries.is_recommended({"recommended": True, "method": "did"})
    assert not queries.is_recommended({"recommended": False, "method": "concurrent_control"})
    assert queries.is_recommended({"recommended": None, "method": "concurrent_control"})
    assert not queries.is_recommended({"recommended": None, "method": "pre_go_live"})
