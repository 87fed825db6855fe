"""The warehouse on a generated organization: planted effects inside the intervals, suppression, comments,
the atomic swap, and `uptake roi`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from warehouse.build import BuildError, build, models
from warehouse.roi import RoiError, roi_table


def q(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_every_table_and_column_is_commented(built):
    tables = q(built, "select table_name, comment from duckdb_tables()")
    assert {t for t, _ in tables} >= {m.table for m in models()}
    assert all(c for _, c in tables), [t for t, c in tables if not c]
    blank = q(built, "select table_name, column_name from duckdb_columns() "
                     "where database_name = current_database() and (comment is null or comment = '')")
    assert blank == []
    assert "Grain: one row per workflow, org unit" in dict(tables)["workflow_attribution_monthly"]


@pytest.mark.parametrize("workflow,effect_key", [("call_summary", "call_summary"), ("lmn_letters", "lmn_letters")])
def test_planted_effects_lie_in_the_intervals(built, truth, workflow, effect_key):
    effect = truth["effects"][effect_key]["saving_per_item"]
    rows = q(built, """select org_unit, level, month, method, saving_ci_low, saving_ci_high
                       from workflow_attribution_monthly
                       where workflow = ? and not suppressed and level in ('department', 'business_unit')""",
             [workflow])
    methods = {r[3] for r in rows}
    assert methods == {"concurrent_control", "pre_go_live"}
    inside = [lo <= effect <= hi for *_, lo, hi in rows]
    # 95 % intervals: nearly all contain the planted saving (and the last month's pooled rows do)
    assert sum(inside) >= 0.85 * len(inside), [r for r, ok in zip(rows, inside, strict=True) if not ok]
    last = truth["months"][-1]
    for method in ("concurrent_control", "pre_go_live"):
        bu = [r for r in rows if r[1] == "business_unit" and r[3] == method and r[2] == last]
        assert bu and all(lo <= effect <= hi for *_, lo, hi in bu), (method, bu)


def test_small_cells_are_suppressed_everywhere_finance_looks(built, truth):
    small = truth["small_org_unit"]
    adoption = q(built, "select suppressed, active_users, active_rate from adoption_monthly where org_unit = ?",
                 [small])
    assert adoption and all(s and a is None and r is None for s, a, r in adoption)
    # every finance and leader table: no figure from fewer than 11 people or items
    assert q(built, "select count(*) from adoption_monthly where active_users < 11") == [(0,)]
    assert q(built, "select count(*) from workflow_attribution_monthly "
                    "where n_assisted < 11 or n_baseline < 11 or (suppressed and hours_saved is not null)") == [(0,)]
    assert q(built, "select count(*) from productivity_estimate_monthly where active_users < 11 "
                    "or (suppressed and assisted_hours is not null)") == [(0,)]
    assert q(built, "select count(*) from productivity_estimate_monthly "
                    "where level not in ('business_unit', 'enterprise')") == [(0,)]


def test_org_rows_count_distinct_people_of_the_subtree(built):
    # the enterprise's active users are the distinct people of the whole organization
    exact = q(built, """select count(distinct actor_key) from events
                        where tool = 'copilot' and event_type = 'assist' and month = (select max(month) from events)""")
    ent = q(built, """select active_users from adoption_monthly where tool = 'copilot' and level = 'enterprise'
                      and month = (select max(month) from events)""")
    assert ent == exact
    # someone who changed team in a month counts in both teams, and once in their department
    movers = q(built, """select e.month, o.parent_org_unit, count(distinct e.org_unit) as teams, e.actor_key
                         from events e join org_units o using (org_unit)
                         where e.tool = 'lmn_drafting' and e.event_type = 'letter_drafted' and e.ai_drafted
                           and o.level = 'team' group by e.month, o.parent_org_unit, e.actor_key having teams > 1""")
    for month, dept, _, _ in movers:
        per_team = q(built, """select sum(active_users) from adoption_monthly a join org_units o using (org_unit)
                               where a.tool = 'lmn_drafting' and a.month = ? and o.parent_org_unit = ?""",
                     [month, dept])[0][0]
        dept_users = q(built, "select active_users from adoption_monthly where tool = 'lmn_drafting' "
                              "and month = ? and org_unit = ?", [month, dept])[0][0]
        assert per_team is None or dept_users is None or dept_users < per_team


def test_governance_exceptions_and_habit_risk(built):
    reasons = {r[0] for r in q(built, "select distinct reason from governance_exceptions")}
    assert reasons == {"no_decision", "not_cleared_for_scope", "restricted", "retired"}
    shadow = q(built, "select distinct capability from governance_exceptions where reason = 'no_decision'")
    assert shadow == [("copilot.chat.web",)]
    assert q(built, "select count(*) from habit_risk where capability = 'copilot.excel.analyst'")[0][0] > 0


def test_finance_rows_keep_the_two_kinds_of_value_apart(built, truth):
    month = truth["months"][-1]
    table = roi_table(built.parent, month)
    kinds = set(table.column("attribution").to_pylist())
    assert kinds == {"workflow_measured", "business_unit_estimate"}
    est = [r for r in table.to_pylist() if r["attribution"] == "business_unit_estimate"]
    assert all(r["method"] == "minutes_per_action" and r["hours_ci_low"] is None for r in est)
    scorecard = q(built, "select assisted_hours, hours_saved, attainment, target_hours_saved "
                         "from leader_scorecard_monthly where month = ? and hours_saved is not null", [month])
    assert scorecard and all(abs(a - h / t) < 1e-9 for _, h, a, t in scorecard)


def test_roi_command_formats_and_errors(built, truth, tmp_path):
    exe = Path(sys.executable).parent / "uptake"
    month = truth["months"][-1]
    run = lambda *a: subprocess.run([str(exe), "roi", "--lake", str(built.parent), *a],  # noqa: E731
                                    capture_output=True, text=True)
    csv_out = run("--month", month)
    assert csv_out.returncode == 0 and csv_out.stdout.startswith("attribution,org_unit,level,month,subject,")
    js = json.loads(run("--month", month, "--format", "json").stdout)
    assert {r["attribution"] for r in js} == {"workflow_measured", "business_unit_estimate"}
    pq_out = tmp_path / "roi.parquet"
    assert run("--month", month, "--format", "parquet", "--out", str(pq_out)).returncode == 0
    assert duckdb.sql(f"select count(*) from '{pq_out}'").fetchall() == [(len(js),)]
    missing = run("--month", "1999-01")
    assert missing.returncode == 1 and "no ROI rows for 1999-01" in missing.stderr
    with pytest.raises(RoiError, match="expected YYYY-MM"):
        roi_table(built.parent, "2026-13")


def test_rebuild_swaps_atomically_while_a_reader_is_open(built, small_org, tmp_path):
    reader = duckdb.connect(str(built), read_only=True)
    before = reader.execute("select count(*) from events").fetchall()
    build(built.parent, small_org / "reference")
    assert reader.execute("select count(*) from events").fetchall() == before  # the old file, still readable
    reader.close()
    assert q(built, "select count(*) from events") == before
    assert not (built.parent / ".warehouse-building.duckdb").exists()
    # works from any working directory: no view depends on the process's folder
    out = subprocess.run([sys.executable, "-c", f"import duckdb; print(duckdb.connect({str(built)!r}, "
                          "read_only=True).execute('select count(*) from adoption_monthly').fetchall())"],
                         cwd="/", capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() != "[(0,)]"


def test_a_bad_reference_file_stops_the_build_and_keeps_the_old_warehouse(built, small_org, tmp_path):
    import shutil

    ref = tmp_path / "ref"
    shutil.copytree(small_org / "reference", ref)
    (ref / "targets.csv").write_text("org_unit,month,target_hours_saved\nBU-CC,2026-10,lots\n")
    before = built.read_bytes()
    with pytest.raises(BuildError, match=r"targets.csv:2: column target_hours_saved"):
        build(built.parent, ref)
    assert built.read_bytes() == before


def test_no_wide_numeric_types_reach_consumers(built):
    # HUGEINT and DECIMAL become Python Decimal through Arrow: JSON exports and artifacts would choke
    wide = q(built, "select table_name, column_name, data_type from duckdb_columns() "
                    "where database_name = current_database() and (data_type like 'DECIMAL%' or data_type = 'HUGEINT')")
    assert wide == []
