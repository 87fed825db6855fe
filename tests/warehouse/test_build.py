"""The warehouse on a generated organization: planted effects inside the intervals, suppression, comments,
payroll kept out, the atomic swap, seats above licenses, deterministic rebuilds, `uptake roi` and `uptake close`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.lake import Lake
from uptake.cli import main
from warehouse.build import BuildError, build, models
from warehouse.close import FINANCE_TABLES
from warehouse.roi import NOTE, RoiError, roi_table

EXE = str(Path(sys.executable).parent / "uptake")


def q(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_every_table_and_column_is_commented_and_payroll_stays_out(built):
    tables = dict(q(built, "select table_name, comment from duckdb_tables()"))
    temporary = {m.table for m in models() if "create or replace temp table" in m.sql}
    assert temporary == {"roster", "item_costs"}  # person-level cost: used by the build, never written
    assert set(tables) >= {m.table for m in models()} - temporary
    assert not set(tables) & (temporary | {"ref_roster"})
    assert all(tables.values()), [t for t, c in tables.items() if not c]
    blank = q(built, "select table_name, column_name from duckdb_columns() "
                     "where database_name = current_database() and (comment is null or comment = '')")
    assert blank == []
    assert "Grain: one row per workflow, org unit" in tables["workflow_attribution_monthly"]
    # no table analysts can open pairs a person with an hourly cost
    assert q(built, """select table_name from duckdb_columns() where column_name like '%cost%'
                       and table_name in (select table_name from duckdb_columns() where column_name = 'actor_key')
                    """) == []
    # and no published roster cell is under 11 people
    assert q(built, "select count(*) from roster_cells where people < 11 or (people is null and not suppressed)"
             ) == [(0,)]


@pytest.mark.parametrize("workflow", ["call_summary", "lmn_letters"])
def test_planted_staff_time_savings_lie_in_the_intervals(built, truth, workflow):
    effect = truth["effects"][workflow]
    rows = q(built, """select org_unit, level, month, method, metric, recommended, saving_ci_low, saving_ci_high
                       from workflow_attribution_monthly
                       where workflow = ? and not suppressed and level in ('department', 'business_unit')""",
             [workflow])
    assert {r[3] for r in rows} == {"concurrent_control", "pre_go_live", "within_actor", "did"}
    assert {r[4] for r in rows} == {effect["metric"]}  # letters: work_seconds, staff time, never turnaround
    # 95 % intervals of every method: nearly all cover the planted effect (rows of one unit and month share their
    # data, so a miss often comes twice: a business unit with one live department repeats its department)
    inside = [lo <= effect["saving_per_item"] <= hi for *_, lo, hi in rows]
    assert sum(inside) >= 0.8 * len(inside), rows
    # the recommended row of each unit and month: one, and it covers the planted effect
    recommended = [r for r in rows if r[5]]
    assert len(recommended) == len({(r[0], r[2]) for r in rows})
    assert all(lo <= effect["saving_per_item"] <= hi for *_, lo, hi in recommended), recommended
    last = truth["months"][-1]
    bu = [r for r in rows if r[1] == "business_unit" and r[3] == "concurrent_control" and r[2] == last]
    assert bu and all(lo <= effect["saving_per_item"] <= hi for *_, lo, hi in bu), bu


def test_planted_turnaround_saving_is_a_service_level(built, truth):
    effect = truth["service_levels"]["lmn_letters"]
    rows = q(built, """select saving_ci_low, saving_ci_high from service_level_monthly
                       where workflow = 'lmn_letters' and level = 'business_unit' and method = 'concurrent_control'
                         and month = ? and not suppressed""", [truth["months"][-1]])
    assert rows and all(lo <= effect["saving_per_item"] <= hi for lo, hi in rows), rows
    cols = [c for (c,) in q(built, "select column_name from duckdb_columns() "
                                   "where table_name = 'service_level_monthly'")]
    assert not [c for c in cols if "usd" in c or "value" in c]
    assert q(built, "select sum(backlog_open) from service_level_monthly where level = 'enterprise'")[0][0] > 0


def test_letters_without_work_seconds_are_counted_never_imputed(built, truth):
    letters = truth["letters"]
    got = q(built, """select count(*), count(*) filter (where work_seconds is null) from letters
                      where status = 'submitted'""")[0]
    assert got == (letters["submitted"], letters["without_work_seconds"])
    counted = q(built, """select sum(n_without_metric) from workflow_attribution_monthly
                          where workflow = 'lmn_letters' and level = 'enterprise'
                            and method = 'concurrent_control' and not suppressed""")[0][0]
    assert counted > 0


def test_small_cells_are_suppressed_everywhere_finance_looks(built, truth):
    small = truth["small_org_unit"]
    adoption = q(built, "select suppressed, active_users, active_rate from adoption_monthly where org_unit = ?",
                 [small])
    assert adoption and all(s and a is None and r is None for s, a, r in adoption)
    assert q(built, "select count(*) from adoption_monthly where active_users < 11") == [(0,)]
    assert q(built, "select count(*) from workflow_attribution_monthly "
                    "where n_assisted < 11 or n_baseline < 11 or (suppressed and hours_saved is not null)") == [(0,)]
    assert q(built, "select count(*) from service_level_monthly where n_assisted < 11 or backlog_open < 11 "
                    "or (suppressed and saving_hours is not null)") == [(0,)]
    assert q(built, "select count(*) from license_utilization_monthly where active_users < 11 "
                    "or (suppressed and users_over_seats is not null)") == [(0,)]
    assert q(built, "select count(*) from productivity_estimate_monthly where active_users < 11 "
                    "or (suppressed and assisted_hours is not null)") == [(0,)]
    assert q(built, "select count(*) from productivity_estimate_monthly "
                    "where level not in ('business_unit', 'enterprise')") == [(0,)]


def test_the_contact_center_scorecard_is_not_dropped_for_one_small_cell(built, truth):
    rows = q(built, """select suppressed, active_rate, hours_saved, cells_left_out, leader
                       from leader_scorecard_monthly where org_unit = 'BU-CC' and month = ?""",
             [truth["months"][-1]])
    (suppressed, rate, hours, left_out, leader), = rows
    assert suppressed is False and rate is not None and hours is not None
    assert "adoption:copilot" in left_out  # the 8-seat copilot cell is left out, named, not hiding the row
    assert leader.endswith(", Vice President")  # as org_units.csv publishes it


def test_org_rows_count_distinct_people_of_the_subtree(built):
    month = q(built, "select max(month) from events")[0][0]
    exact = q(built, """select count(distinct actor_key) from events
                        where tool = 'copilot' and event_type = 'assist' and month = ?""", [month])
    ent = q(built, """select active_users from adoption_monthly where tool = 'copilot' and level = 'enterprise'
                      and month = ?""", [month])
    assert ent == exact
    # the generated organization has movers: people with events in two teams in one month
    movers = q(built, """select count(*) from (select actor_key from events e join org_units o using (org_unit)
                         where o.level = 'team' group by e.month, e.actor_key having count(distinct e.org_unit) > 1)""")
    assert movers[0][0] > 0
    # every adoption row shown counts the distinct people of its subtree, computed here independently
    # (a mover who used the tool in two teams counts in both and once above: tests/warehouse/test_models.py)
    mismatched = q(built, """
        with uses as (
          select tool, org_unit, month, actor_key from events
          where (tool = 'copilot' and event_type = 'assist')
             or (tool = 'call_summarization' and event_type = 'summary_reviewed')
             or (tool = 'lmn_drafting' and event_type = 'letter_drafted' and ai_drafted)),
        expected as (
          select u.tool, s.ancestor as org_unit, u.month, count(distinct u.actor_key) as n
          from uses u join org_subtree s on s.org_unit = u.org_unit group by all)
        select count(*) from adoption_monthly a join expected x using (tool, org_unit, month)
        where not a.suppressed and a.active_users <> x.n""")
    assert mismatched == [(0,)]


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
    scorecard = q(built, "select attainment, hours_saved, target_hours_saved "
                         "from leader_scorecard_monthly where month = ? and hours_saved is not null", [month])
    assert scorecard and all(abs(a - h / t) < 1e-9 for a, h, t in scorecard)


def _roi(lake: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, "roi", "--lake", str(lake), *args], capture_output=True, text=True)


def _roi_here(capsys, lake: Path, *args: str) -> str:
    """`uptake roi` in this process (the same entry point; one subprocess above checks the real stdout)."""
    capsys.readouterr()
    assert main(["roi", "--lake", str(lake), *args]) == 0
    return capsys.readouterr().out


def test_roi_command_formats_and_errors(built, truth, tmp_path, capsys):
    month = truth["months"][-1]
    out = _roi(built.parent, "--month", month)
    assert out.returncode == 0, out.stderr
    roi_csv, rest = out.stdout.split("\n# ", 1)
    assert roi_csv.startswith("attribution,org_unit,level,month,subject,method,metric,")
    assert ",true\n" in roi_csv + "\n" or ",false\n" in roi_csv + "\n"  # booleans as true/false
    assert "True" not in roi_csv and "False" not in roi_csv
    note, service = rest.split("\n\n# ", 1)
    assert note == NOTE and "workflow_measured =" in note and "business_unit_estimate =" in note
    assert service.splitlines()[1].startswith("workflow,org_unit,level,month,method,recommended,metric,sla_hours,")
    assert "usd" not in service.splitlines()[1]  # turnaround never sits in a dollar column
    js = json.loads(_roi_here(capsys, built.parent, "--month", month, "--format", "json"))
    assert {r["attribution"] for r in js["roi"]} == {"workflow_measured", "business_unit_estimate"}
    assert js["service_level"] and js["note"] == NOTE and js["source"] == "current"
    pq_out = tmp_path / "roi.parquet"
    _roi_here(capsys, built.parent, "--month", month, "--format", "parquet", "--out", str(pq_out))
    assert duckdb.sql(f"select count(*) from '{pq_out}'").fetchall() == [(len(js["roi"]),)]
    assert duckdb.sql(f"select count(*) from '{tmp_path / 'roi.service_level.parquet'}'").fetchall() == \
        [(len(js["service_level"]),)]
    assert main(["roi", "--lake", str(built.parent), "--month", "1999-01"]) == 1
    assert "no ROI rows for 1999-01" in capsys.readouterr().err
    with pytest.raises(RoiError, match="expected YYYY-MM"):
        roi_table(built.parent, "2026-13")
    with pytest.raises(SystemExit):
        main(["roi", "--help"])
    help_text = capsys.readouterr().out
    assert "--format" in help_text and "json" in help_text and "service_level" in help_text


def test_rebuild_swaps_atomically_by_rename_while_a_reader_is_open(built, small_org, tmp_path):
    reader = duckdb.connect(str(built), read_only=True)
    before = reader.execute("select count(*) from events").fetchall()
    inode = os.stat(built).st_ino
    build(built.parent, small_org / "reference")
    assert reader.execute("select count(*) from events").fetchall() == before  # the old file, still readable
    reader.close()
    # renamed into place, not copied over: a new inode (a copy over the live file would keep the old one)
    assert os.stat(built).st_ino != inode
    assert q(built, "select count(*) from events") == before
    assert not (built.parent / ".warehouse-building.duckdb").exists()
    out = subprocess.run([sys.executable, "-c", f"import duckdb; print(duckdb.connect({str(built)!r}, "
                          "read_only=True).execute('select count(*) from adoption_monthly').fetchall())"],
                         cwd="/", capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() != "[(0,)]"


def test_a_bad_reference_file_stops_the_build_and_keeps_the_old_warehouse(built, small_org, tmp_path):
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


def _finance_dump(path: Path) -> bytes:
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = []
        for t in (*FINANCE_TABLES, "finance_figures", "license_allocation", "roster_cells"):
            out.append(con.sql(f"select * from {t} order by all").fetchall())
        return repr(out).encode()
    finally:
        con.close()


@pytest.mark.slow
def test_rebuilds_with_no_new_data_change_nothing(built, small_org, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(built.parent, lake)
    build(lake, small_org / "reference", expectations=False, threads=4)
    first = _finance_dump(lake / "warehouse.duckdb")
    result = build(lake, small_org / "reference", expectations=False, threads=3)
    assert _finance_dump(lake / "warehouse.duckdb") == first
    # each model's time is reported (bench/build.py reads them to find a model that grows faster than the events)
    assert list(result.as_dict()["models"]) == [m.table for m in models()]
    assert 0 < sum(result.models.values()) <= result.phases["models_s"]


def test_exact_sums_do_not_depend_on_the_order_of_a_parallel_aggregation():
    """Why the models sum decimals: a parallel sum of doubles changes in its last bits from run to run."""
    con = duckdb.connect()
    con.execute("set threads = 4")
    con.execute("create table x as select g, random() * 1e6 + 1e-3 as v from "
                "(select range % 3 as g from range(3000000))")
    # `sum(v)` over doubles gave 6 different answers in 6 runs here (not asserted: it depends on scheduling)
    exact = {tuple(con.sql("select g, sum(v::decimal(38, 6))::double from x group by g order by g").fetchall())
             for _ in range(6)}
    assert len(exact) == 1


@pytest.mark.slow
def test_an_organization_with_more_copilot_users_than_seats_builds_and_shows_the_overrun(tmp_path):
    from pipelines.ingest import ingest
    from uptake.generate import generate

    truth = generate(tmp_path / "org", seed=5, people=300, months=2, volume=0.3, progress=False,
                     copilot_seat_shortfall=0.4)
    ingest([tmp_path / "org" / "landing"], lake=tmp_path / "lake", reference=tmp_path / "org" / "reference",
           progress=False)
    result = build(tmp_path / "lake", tmp_path / "org" / "reference")  # a warning, never a failed build
    assert any("adoption_within_seats (warning)" in w and "copilot BU-" in w for w in result.warnings)
    month = truth["months"][-1]
    seats = truth["seats"]["copilot_seats"][month]
    rows = q(tmp_path / "lake" / "warehouse.duckdb",
             """select org_unit, seats, active_users, users_over_seats, idle_seats from license_utilization_monthly
                where tool = 'copilot' and month = ? and not suppressed""", [month])
    over = {u: (s, a, o, i) for u, s, a, o, i in rows}
    assert over["ENT"][0] == sum(seats.values())  # the seats licenses.csv counts
    assert over["ENT"][2] == over["ENT"][1] - over["ENT"][0] > 0  # users beyond seats, to true up
    assert over["ENT"][3] == 0


@pytest.mark.slow
def test_close_late_events_rebuild_roi_is_identical_and_restated(built, small_org, truth, tmp_path):
    """As a user runs it: close a month, ingest late events for it, rebuild, ask for the month again."""
    lake = tmp_path / "lake"
    shutil.copytree(built.parent, lake)
    month = truth["months"][-1]
    published = _roi(lake, "--month", month)
    closed = subprocess.run([EXE, "close", "--month", month, "--lake", str(lake)], capture_output=True, text=True)
    assert closed.returncode == 0, closed.stderr
    assert json.loads(closed.stdout)["version"] == 1
    again = subprocess.run([EXE, "close", "--month", month, "--lake", str(lake)], capture_output=True, text=True)
    assert again.returncode == 1 and "never changed silently" in again.stderr
    # late events: a fifth of the month's calls arrive again under new ids (new calls, late)
    late = []
    src = sorted((small_org / "landing").glob(f"{month}-genesys-cloud.jsonl"))[0]
    for i, line in enumerate(src.read_bytes().splitlines()):
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if isinstance(ev, dict) and ev.get("event_type") == "call_completed" and i % 5 == 0:
            ev["event_id"], ev["work_item_id"] = f"late-{ev['event_id']}", f"LATE-{ev['work_item_id']}"
            late.append(json.dumps(ev))
    (tmp_path / "late.jsonl").write_text("\n".join(late) + "\n")
    ing = subprocess.run([EXE, "ingest", str(tmp_path / "late.jsonl"), "--lake", str(lake), "--reference",
                          str(small_org / "reference")], capture_output=True, text=True)
    assert ing.returncode == 0, ing.stderr
    run = json.loads(ing.stdout)["run"]
    bld = subprocess.run([EXE, "build", "--lake", str(lake), "--reference", str(small_org / "reference")],
                         capture_output=True, text=True)
    assert bld.returncode == 0, bld.stderr
    after = _roi(lake, "--month", month)
    assert after.returncode == 0 and after.stdout == published.stdout  # what was published, byte for byte
    assert "later data restates" in after.stderr
    rows = q(lake / "warehouse.duckdb", """select table_name, key, column_name, published, current, ingest_runs
                                           from restatements where month = ?""", [month])
    hours = [r for r in rows if r[0] == "workflow_attribution_monthly" and r[2] == "hours_saved"
             and "call_summary|org_unit=ENT|method=concurrent_control" in r[1]]
    assert hours and float(hours[0][4]) > float(hours[0][3]) and hours[0][5] == [run]
    assert not [r for r in rows if r[0] == "workflow_attribution_monthly" and "lmn_letters" in r[1]]
    current = _roi(lake, "--month", month, "--current")
    assert current.stdout != published.stdout


def test_a_run_committed_while_a_build_loads_is_in_neither_table_or_both(built, small_org, tmp_path, monkeypatch):
    """A build holds the build lock, not the ingest lock: an ingest may commit while it runs. `events` and `quality`
    come from one reading of the ledger (the ledger was read twice: `quality` counted a run whose events `events`
    lacked, and `uptake close` then published the month as holding that run)."""
    from warehouse import build as build_mod

    lake = tmp_path / "lake"
    shutil.copytree(built.parent, lake)
    src = sorted((small_org / "landing").glob("*-genesys-cloud.jsonl"))[0].read_bytes().splitlines()[:50]
    late = [json.loads(x) for x in src if x.startswith(b"{") and b'"call_completed"' in x][:3]
    for ev in late:
        ev["event_id"] = f"late-{ev['event_id']}"
    (tmp_path / "late.jsonl").write_text("".join(json.dumps(ev) + "\n" for ev in late))
    load = build_mod._load_events

    def load_then_commit(con, lk, runs):
        load(con, lk, runs)
        done = subprocess.run([EXE, "ingest", str(tmp_path / "late.jsonl"), "--lake", str(lake)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr

    monkeypatch.setattr(build_mod, "_load_events", load_then_commit)
    build(lake, small_org / "reference", expectations=False)
    con = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)
    quality = {r for (r,) in con.execute("select distinct ingest_run from quality").fetchall()}
    events = {r for (r,) in con.execute("select distinct ingest_run from events").fetchall()}
    con.close()
    assert quality == events and max(quality) < max(r["run"] for r in Lake(lake).committed_runs())


def test_storage_that_refuses_is_one_build_error_and_the_old_warehouse_stays(built, small_org, tmp_path,
                                                                              monkeypatch):
    """A full disk (or a read-only lake) while building was a traceback: it is a BuildError, one line naming the
    file, and the warehouse readers have is the one they had."""
    import errno

    from warehouse import build as build_mod

    lake = tmp_path / "lake"
    shutil.copytree(built.parent, lake)
    before = (lake / "warehouse.duckdb").read_bytes()

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(build_mod.os, "replace", full)
    with pytest.raises(BuildError, match=r"^No space left on device: .*warehouse\.duckdb$"):
        build(lake, small_org / "reference", expectations=False)
    monkeypatch.undo()
    assert (lake / "warehouse.duckdb").read_bytes() == before
    assert not (lake / build_mod.BUILDING).exists()
