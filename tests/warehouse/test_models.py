"""Hand-computed fixtures: a tiny organization whose every expected number is worked out in the comments.

ENT > BU1 > D1 > {T1, T2}. T1: agents A01–A12 ($30/h); T2: agents A13–A24 ($40/h). A12 moves from T1 to
T2 on 2026-03-15. call_summary goes live in T1 on 2026-04-01 (Jan–Mar are its 3 full months before) and in
T2 on 2026-02-10 (fewer than 3 months of data before: no pre_go_live baseline).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import ingest
from warehouse.build import build

T1 = [f"A{i:02d}" for i in range(1, 13)]
T2 = [f"A{i:02d}" for i in range(13, 25)]


def _csv(path: Path, header: str, rows: list[str]) -> None:
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows))


def _reference(ref: Path) -> None:
    ref.mkdir()
    _csv(ref / "org_units.csv", "org_unit,name,parent_org_unit,level,leader",
         ["ENT,Enterprise,,enterprise,L0", "BU1,Unit,ENT,business_unit,L1", "D1,Dept,BU1,department,",
          "T1,Team 1,D1,team,", "T2,Team 2,D1,team,"])
    roster = ["L0,ENT,chief,,100,2025-01-01,", "L1,BU1,vp,,90,2025-01-01,"]
    roster += [f"{a},T1,agent,,30,2025-01-01," for a in T1[:11]]
    roster += ["A12,T1,agent,,30,2025-01-01,2026-03-15", "A12,T2,agent,,30,2026-03-15,"]
    roster += [f"{a},T2,agent,,40,2025-01-01," for a in T2]
    _csv(ref / "roster.csv", "actor_id,org_unit,role,site,hourly_cost_usd,valid_from,valid_to", roster)
    _csv(ref / "workflows.csv", "workflow,tool,accountability,unit_of_work,metric,budget_owner",
         ["calls,call_summarization,workflow,call,acw_seconds,BU1",
          "letters,lmn_drafting,workflow,letter,turnaround_hours,BU1",
          "cop,copilot,business_unit,action,assisted_minutes,BU1"])
    _csv(ref / "go_live.csv", "workflow,org_unit,go_live_date", ["calls,T1,2026-04-01", "calls,T2,2026-02-10"])
    _csv(ref / "governance.csv", "capability,status,scope_org_unit,effective_from,effective_to,decision_ref",
         ["cap.ok,cleared,*,2025-01-01,,D-1", "cap.pilot,pilot,T1,2025-01-01,,D-2",
          "cap.restricted,cleared,*,2025-01-01,2026-03-01,D-3", "cap.restricted,restricted,*,2026-03-01,,D-4",
          "call.cap,cleared,*,2025-01-01,,D-5"])
    _csv(ref / "licenses.csv", "tool,org_unit,month,seats,cost_usd",
         ["call_summarization,T1,2026-04,12,0", "call_summarization,T2,2026-04,12,120",
          "copilot,BU1,2026-04,20,600"])
    _csv(ref / "minutes_per_action.csv", "app,action,minutes_saved", ["word,draft,10"])
    _csv(ref / "targets.csv", "org_unit,month,target_hours_saved", ["BU1,2026-04,3"])


def _events() -> list[dict]:
    out: list[dict] = []

    def ev(tool, event_type, actor, at, capability="cap.ok", **kw):
        out.append({"schema_version": "1.0", "event_id": f"e{len(out):04d}", "occurred_at": at, "source": "test",
                    "tool": tool, "event_type": event_type, "actor_id": actor, "capability": capability, **kw})

    def call(actor, at, acw, offered):
        ev("call_summarization", "call_completed", actor, at, "call.cap", workflow="calls",
           work_item_id=f"C{len(out)}", handle_seconds=400, acw_seconds=acw, ai_summary_offered=offered)

    # T1, April (live): 12 assisted calls, ACW 200 ×6 and 220 ×6 (mean 210, sample variance 1200/11);
    # 12 unassisted, 290 ×6 and 310 ×6 (mean 300, same variance)
    for i in range(12):
        call(T1[i % 11], f"2026-04-{i + 2:02d}T15:00:00Z", 200 if i < 6 else 220, True)
        call(T1[i % 11], f"2026-04-{i + 2:02d}T16:00:00Z", 290 if i < 6 else 310, False)
    # T1, Jan–Mar (before go-live): 4 calls a month at 290, 310, 290, 310 (12 in all: mean 300, var 1200/11)
    for month in ("01", "02", "03"):
        for j, acw in enumerate((290, 310, 290, 310)):
            call(T1[j], f"2026-{month}-1{j}T15:00:00Z", acw, False)
    # T2, April: 12 assisted calls at ACW 200 and no unassisted one: a month with no controls
    for i in range(12):
        call(T2[i], f"2026-04-{i + 2:02d}T15:00:00Z", 200, True)
    # a letter requested in March, AI-drafted, submitted in April: 72 h of turnaround, month 2026-04
    ev("lmn_drafting", "letter_requested", "A01", "2026-03-30T10:00:00Z", workflow="letters", work_item_id="L1",
       letter_type="appeal")
    ev("lmn_drafting", "letter_drafted", "A01", "2026-03-30T12:00:00Z", workflow="letters", work_item_id="L1",
       ai_drafted=True)
    ev("lmn_drafting", "letter_submitted", "A01", "2026-04-02T10:00:00+00:00", workflow="letters",
       work_item_id="L1")
    ev("lmn_drafting", "letter_requested", "A02", "2026-04-20T10:00:00Z", workflow="letters", work_item_id="L2",
       letter_type="lmn")  # never submitted: backlog
    # copilot: A01–A11 use it in the ISO weeks of Apr 6, 13 and 20 (3 of the 4 weeks ending with the week of
    # Apr 30: sustained); A12, now in T2, only on Apr 28 with a pre-aggregated count of 5 (active only)
    for a in T1[:11]:
        for day in ("07", "14", "21"):
            ev("copilot", "assist", a, f"2026-04-{day}T15:00:00Z", app="word", action="draft")
    ev("copilot", "assist", "A12", "2026-04-28T15:00:00Z", app="word", action="draft", count=5)
    # governance: a pilot in scope (A01, T1) and out of it (A13, T2), a restricted capability, shadow AI
    ev("copilot", "assist", "A01", "2026-04-08T15:00:00Z", "cap.pilot", app="excel", action="analyze")
    ev("copilot", "assist", "A13", "2026-04-08T15:00:00Z", "cap.pilot", app="excel", action="analyze")
    ev("copilot", "assist", "A02", "2026-04-09T15:00:00Z", "cap.restricted", app="teams", action="recap")
    ev("copilot", "assist", "A03", "2026-04-09T15:00:00Z", "cap.shadow", app="chat", action="ask")
    return out


@pytest.fixture(scope="module")
def wh(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    root = tmp_path_factory.mktemp("fixture")
    _reference(root / "ref")
    (root / "in.jsonl").write_text("".join(json.dumps(e) + "\n" for e in _events()))
    summary = ingest([root / "in.jsonl"], lake=root / "lake", progress=False)  # no roster: the warehouse resolves
    assert summary["total"]["quarantined"] == 0
    build(root / "lake", root / "ref")
    con = duckdb.connect(str(root / "lake" / "warehouse.duckdb"), read_only=True)
    yield con
    con.close()


def one(con, sql, params=()):
    rows = con.execute(sql, list(params)).fetchall()
    assert len(rows) == 1, rows
    return rows[0]


def test_concurrent_control_welch_interval(wh):
    row = one(wh, """select n_assisted, n_baseline, assisted_mean, baseline_mean, saving_per_item, saving_ci_low,
                            saving_ci_high, hours_saved, value_usd, cost_usd, net_value_usd, roi, suppressed
                     from workflow_attribution_monthly
                     where workflow = 'calls' and org_unit = 'T1' and month = '2026-04'
                       and method = 'concurrent_control'""")
    n_a, n_b, m_a, m_b, saving, lo, hi, hours, value, cost, net, roi, suppressed = row
    assert (n_a, n_b, m_a, m_b, saving) == (12, 12, 210, 300, 90)
    # se = sqrt(2 × (1200/11)/12) = 4.2640; Welch df = 22; t(0.975, 22) = 2.07387 → 90 ± 8.843
    assert lo == pytest.approx(81.157, abs=1e-3) and hi == pytest.approx(98.843, abs=1e-3)
    assert hours == pytest.approx(0.3)  # 90 s × 12 calls = 0.3 h
    assert value == pytest.approx(9.0)  # 0.3 h × $30
    assert cost == 0 and net == pytest.approx(9.0) and roi is None  # zero license cost: no ROI
    assert suppressed is False


def test_pre_go_live_baseline_and_too_short_a_history(wh):
    row = one(wh, """select n_assisted, n_baseline, baseline_mean, saving_ci_low, saving_ci_high
                     from workflow_attribution_monthly
                     where workflow = 'calls' and org_unit = 'T1' and month = '2026-04' and method = 'pre_go_live'""")
    # baseline: T1's 12 calls of Jan–Mar (mean 300, variance 1200/11): the same interval as above
    assert row[:3] == (12, 12, 300)
    assert row[3] == pytest.approx(81.157, abs=1e-3) and row[4] == pytest.approx(98.843, abs=1e-3)
    # T2 went live with less than 3 full months of data before: no pre_go_live row for it
    assert wh.execute("select count(*) from workflow_attribution_monthly where org_unit = 'T2' "
                      "and method = 'pre_go_live'").fetchall() == [(0,)]


def test_a_month_with_no_controls_is_suppressed_and_pooling_up_the_tree(wh):
    t2 = one(wh, """select n_assisted, n_baseline, saving_per_item, cost_usd, suppressed
                    from workflow_attribution_monthly where workflow = 'calls' and org_unit = 'T2'
                    and method = 'concurrent_control'""")
    assert t2 == (None, None, None, 120, True)  # 12 assisted, 0 controls: below 11, so nothing but cost
    d1 = one(wh, """select n_assisted, n_baseline, assisted_mean, saving_per_item, cost_usd
                    from workflow_attribution_monthly where workflow = 'calls' and org_unit = 'D1'
                    and method = 'concurrent_control'""")
    # D1 pools T1 and T2: 24 assisted (12 × 210 and 12 × 200: mean 205) against T1's 12 controls
    assert d1 == (24, 12, 205, 95, 120)


def test_letters_turnaround_month_of_submission_and_backlog(wh):
    rows = wh.execute("select case_id, status, month, turnaround_hours, assisted from letters order by 1").fetchall()
    assert rows == [("L1", "submitted", "2026-04", 72.0, True), ("L2", "backlog", None, None, False)]


def test_adoption_sustained_and_the_mover(wh):
    rows = dict((r[0], r[1:]) for r in wh.execute(
        """select org_unit, seats, active_users, sustained_users, active_rate, sustained_rate, suppressed
           from adoption_monthly where tool = 'copilot' and month = '2026-04'""").fetchall())
    # BU1: A01–A13 used copilot (13 active; A12 and A13 only once: 11 sustained), over 20 seats
    assert rows["BU1"] == (20, 13, 11, 0.65, 0.55, False)
    # T1: A01–A11 = 11 people, exactly the threshold: shown; T2: A12 and A13: suppressed, no seats there
    assert rows["T1"][1:3] == (11, 11) and rows["T1"][5] is False
    assert rows["T2"] == (None, None, None, None, None, True)


def test_productivity_estimate(wh):
    row = one(wh, """select active_users, actions, assisted_hours, value_usd, cost_usd, attribution
                     from productivity_estimate_monthly where org_unit = 'BU1' and month = '2026-04'""")
    # actions: 11 people × 3 + 5 (A12's pre-aggregated event) + 4 governance test events = 42;
    # only word/draft has an assumption (10 min): 38 × 10 / 60 = 6.333 h; × $30 = $190
    assert row[0] == 13 and row[1] == 42
    assert row[2] == pytest.approx(38 * 10 / 60) and row[3] == pytest.approx(190.0)
    assert row[4:] == (600, "business_unit_estimate")
    assert wh.execute("select count(*) from productivity_estimate_monthly where org_unit in ('D1', 'T1')"
                      ).fetchall() == [(0,)]


def test_governance_reasons(wh):
    rows = wh.execute("""select capability, reason, events, users from governance_exceptions
                         where org_unit = 'ENT' order by 1, 2""").fetchall()
    assert rows == [("cap.pilot", "not_cleared_for_scope", 1, 1),  # A13 is in T2, the pilot is T1's
                    ("cap.restricted", "restricted", 1, 1),
                    ("cap.shadow", "no_decision", 1, 1)]
    assert wh.execute("select count(*) from governance_exceptions where capability = 'cap.ok'").fetchall() == [(0,)]


def test_leader_scorecard(wh):
    row = one(wh, """select org_unit, hours_saved, value_usd, target_hours_saved, attainment, active_rate
                     from leader_scorecard_monthly where month = '2026-04'""")
    # BU1's workflow hours: calls concurrent_control at BU1 = D1's pooled figure: 95 s × 24 / 3600 = 0.6333 h
    # plus the one letter (72 h, but its cell has 1 item: suppressed, so not counted)
    assert row[0] == "BU1"
    assert row[1] == pytest.approx(95 * 24 / 3600)
    assert row[4] == pytest.approx(row[1] / 3)
