"""Hand-computed fixtures: a tiny organization whose every expected number is worked out in the comments.

ENT > BU1 > D1 > {T1, T2, T3};  ENT > BU2 > D2 > T4;  ENT > BU3 > D3 > T5.
T1: agents A01–A12, Phoenix; A01–A05 cost $30/h, A06–A12 $40/h. A12 moves from T1 to T2 on 2026-03-15.
T2: agents B01–B12, Tampa; B01–B06 $40/h, B07–B12 $50/h.      T3: appeals C01–C10 (exactly 10 people), $60/h.
T4: analysts D01–D11 (exactly 11), $20/h.                      T5: analysts E01–E10 (exactly 10), $20/h.
call_summary ("calls") goes live in T1 on 2026-04-01 (Jan–Mar are its 3 full months before) and in T2 on
2026-02-10 (no 3 full months of data before: no pre_go_live). Letters go live in T2 and T3 on 2026-04-01.
Every figure below is for April 2026 unless said otherwise.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import ingest
from warehouse.build import build

A = [f"A{i:02d}" for i in range(1, 13)]
B = [f"B{i:02d}" for i in range(1, 13)]
C = [f"C{i:02d}" for i in range(1, 11)]
D = [f"D{i:02d}" for i in range(1, 12)]
E = [f"E{i:02d}" for i in range(1, 11)]
LEADER = "Pat Lee, Vice President"


def _csv(path: Path, header: str, rows: list[str]) -> None:
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows))


def _reference(ref: Path) -> None:
    ref.mkdir()
    _csv(ref / "org_units.csv", "org_unit,name,parent_org_unit,level,leader",
         ["ENT,Enterprise,,enterprise,\"Sam Roe, Chief Executive Officer\"",
          f"BU1,Unit one,ENT,business_unit,\"{LEADER}\"",
          "D1,Dept one,BU1,department,", "T1,Team 1,D1,team,", "T2,Team 2,D1,team,", "T3,Team 3,D1,team,",
          "BU2,Unit two,ENT,business_unit,", "D2,Dept two,BU2,department,", "T4,Team 4,D2,team,",
          "BU3,Unit three,ENT,business_unit,", "D3,Dept three,BU3,department,", "T5,Team 5,D3,team,"])
    roster = ["L0,ENT,chief,Columbus,100,2025-01-01,", "L1,BU1,vp,Columbus,90,2025-01-01,"]
    roster += [f"{a},T1,agent,Phoenix,{30 if i < 5 else 40},2025-01-01," for i, a in enumerate(A[:11])]
    roster += ["A12,T1,agent,Phoenix,40,2025-01-01,2026-03-15", "A12,T2,agent,Phoenix,40,2026-03-15,"]
    roster += [f"{b},T2,agent,Tampa,{40 if i < 6 else 50},2025-01-01," for i, b in enumerate(B)]
    roster += [f"{c},T3,appeals,Columbus,60,2025-01-01," for c in C]
    roster += [f"{d},T4,analyst,remote,20,2025-01-01," for d in D]
    roster += [f"{e},T5,analyst,remote,20,2025-01-01," for e in E]
    _csv(ref / "roster.csv", "actor_id,org_unit,role,site,hourly_cost_usd,valid_from,valid_to", roster)
    _csv(ref / "workflows.csv",
         "workflow,tool,accountability,unit_of_work,metric,service_metric,sla_hours,budget_owner",
         ["calls,call_summarization,workflow,call,acw_seconds,,,BU1",
          "letters,lmn_drafting,workflow,letter,work_seconds,turnaround_hours,48,BU1",
          "cop,copilot,business_unit,action,assisted_minutes,,,BU1"])
    _csv(ref / "go_live.csv", "workflow,org_unit,go_live_date",
         ["calls,T1,2026-04-01", "calls,T2,2026-02-10", "letters,T2,2026-04-01", "letters,T3,2026-04-01"])
    _csv(ref / "governance.csv", "capability,status,scope_org_unit,effective_from,effective_to,decision_ref",
         ["cap.ok,cleared,*,2025-01-01,,D-1", "cap.pilot,pilot,T1,2025-01-01,,D-2",
          "cap.restricted,cleared,*,2025-01-01,2026-05-01,D-3", "cap.restricted,restricted,*,2026-05-01,,D-4",
          "call.cap,cleared,*,2025-01-01,,D-5", "letter.cap,cleared,*,2025-01-01,,D-6"])
    _csv(ref / "licenses.csv", "tool,org_unit,month,seats,cost_usd",
         ["copilot,BU1,2026-04,40,1200", "copilot,BU2,2026-04,5,150", "copilot,BU3,2026-04,12,360",
          "call_summarization,T1,2026-04,12,120", "call_summarization,D1,2026-04,20,300",
          "call_summarization,T4,2026-04,10,50", "lmn_drafting,BU1,2026-04,30,450"])
    _csv(ref / "minutes_per_action.csv", "app,action,minutes_saved", ["word,draft,10"])
    _csv(ref / "targets.csv", "org_unit,month,target_hours_saved", ["BU1,2026-04,10"])


class Events:
    def __init__(self) -> None:
        self.out: list[dict] = []

    def ev(self, tool, event_type, actor, at, capability="cap.ok", **kw) -> None:
        self.out.append({"schema_version": "1.1", "event_id": f"e{len(self.out):04d}", "occurred_at": at,
                         "source": "test", "tool": tool, "event_type": event_type, "actor_id": actor,
                         "capability": capability, **kw})

    def call(self, actor, at, acw, offered, review=None) -> None:
        cid = f"C{len(self.out)}"
        self.ev("call_summarization", "call_completed", actor, at, "call.cap", workflow="calls", work_item_id=cid,
                handle_seconds=400, acw_seconds=acw, ai_summary_offered=offered)
        if review is not None:
            self.ev("call_summarization", "summary_reviewed", actor, at.replace("T15", "T16"), "call.cap",
                    workflow="calls", work_item_id=cid, outcome="edited", edit_ratio=review)

    def letter(self, actor, day, hours, ai, work_seconds=None, submitted=True) -> None:
        case = f"L{len(self.out)}"
        at = f"2026-04-{day:02d}T09:00:00Z"
        self.ev("lmn_drafting", "letter_requested", actor, at, "letter.cap", workflow="letters", work_item_id=case,
                letter_type="appeal")
        if not submitted:
            return
        self.ev("lmn_drafting", "letter_drafted", actor, f"2026-04-{day:02d}T10:00:00Z", "letter.cap",
                workflow="letters", work_item_id=case, ai_drafted=ai)
        done = f"2026-04-{day + hours // 24:02d}T{9 + hours % 24:02d}:00:00Z"
        extra = {} if work_seconds is None else {"work_seconds": work_seconds}
        self.ev("lmn_drafting", "letter_submitted", actor, done, "letter.cap", workflow="letters",
                work_item_id=case, **extra)


def _events() -> list[dict]:
    e = Events()
    # --- calls. T1, April (live): 12 assisted calls, ACW 200 ×6 (A01–A06) and 220 ×6 (A07–A11, A01):
    # mean 210, sample variance 1200/11; the items' actors cost $30 ×6 (A01–A05, A01 again) and $40 ×6: mean $35
    for i in range(12):
        e.call(A[i] if i < 11 else "A01", f"2026-04-{i + 2:02d}T15:00:00Z", 200 if i < 6 else 220, True,
               review=[1.0, 0.0, 0.5, 0.5, 0.5, 0.5][i] if i < 6 else None)  # A01–A06 review; edit_ratio 1 and 0
    # T1, April: 15 unassisted calls (A01–A11, A01–A04), ACW 260 ×5, 300 ×5, 340 ×5: mean 300, variance 16000/14
    for i in range(15):
        e.call(A[i % 11], f"2026-04-{i + 2:02d}T17:00:00Z", (260, 300, 340)[i // 5], False)
    # T1, Jan–Mar (before go-live): 5 calls a month at 280, 320, 360, 320, 320: 15 items, mean 320,
    # variance 3 × (1600 + 1600) / 14 = 685.714
    for month in ("01", "02", "03"):
        for j, acw in enumerate((280, 320, 360, 320, 320)):
            e.call(A[j], f"2026-{month}-1{j}T15:00:00Z", acw, False)
    # T2, April: 10 assisted calls (B01–B10) at ACW 200, B01–B03 review theirs; 12 unassisted (B01–B12) at 300
    for i in range(10):
        e.call(B[i], f"2026-04-{i + 2:02d}T15:00:00Z", 200, True, review=0.2 if i < 3 else None)
    for i in range(12):
        e.call(B[i], f"2026-04-{i + 2:02d}T17:00:00Z", 300, False)
    # --- letters (all requested and submitted in April; drafts in the week of Apr 6)
    # T2 assisted, with work_seconds: B01–B06 1800 s and 24 h turnaround, B07–B12 2400 s and 48 h
    for i, b in enumerate(B):
        e.letter(b, 6 + i % 5, 24 if i < 6 else 48, True, 1800 if i < 6 else 2400)
    e.letter("B01", 7, 36, True, None)  # assisted, no work_seconds (counted, never imputed), 36 h
    # T2 unassisted: B01–B04 3000 s, B05–B07 3300 s, B08–B11 3600 s; turnaround B01–B05 60 h, B06–B07 72 h,
    # B08–B11 84 h; and B12 with no work_seconds, 84 h
    for i, b in enumerate(B[:11]):
        ws = 3000 if i < 4 else 3300 if i < 7 else 3600
        e.letter(b, 6 + i % 5, 60 if i < 5 else 72 if i < 7 else 84, False, ws)
    e.letter("B12", 8, 84, False, None)
    # T3 (10 people): 12 assisted letters at 2000 s, 30 h; 12 unassisted at 3000 s, 60 h
    for i in range(12):
        e.letter(C[i % 10], 6 + i % 5, 30, True, 2000)
        e.letter(C[(i + 2) % 10], 6 + i % 5, 60, False, 3000)
    # T2 backlog at the end of April: 11 cases never submitted, 5 requested Apr 30 09:00 (15 h old on May 1),
    # 6 requested Apr 27 09:00 (87 h old: over the 48 h SLA)
    for i, b in enumerate(B[:11]):
        e.letter(b, 30 if i < 5 else 27, 0, False, submitted=False)
    # T3 backlog: exactly 10 cases, requested Apr 30 09:00, never submitted (under 11: suppressed)
    for c in C:
        e.letter(c, 30, 0, False, submitted=False)
    # --- copilot, April: the 4 ISO weeks ending with the week of Apr 30 start Apr 6, 13, 20, 27
    # A01–A09: weeks of Apr 6, 13, 20 (3 of 4: sustained); A10: weeks of 13 and 27 (2 of 4: not);
    # A11: all four weeks (sustained). T1: 11 active, 10 sustained.
    for a in A[:9]:
        for day in ("07", "14", "21"):
            e.ev("copilot", "assist", a, f"2026-04-{day}T15:00:00Z", app="word", action="draft", outcome="accepted")
    for day in ("14", "28"):
        e.ev("copilot", "assist", "A10", f"2026-04-{day}T15:00:00Z", app="word", action="draft")
    for day in ("07", "14", "21", "28"):
        e.ev("copilot", "assist", "A11", f"2026-04-{day}T15:00:00Z", app="word", action="draft")
    # B01–B11 once; B12 once with a pre-aggregated count of 3; C01–C10 once, C01–C05 discarded
    for b in B[:11]:
        e.ev("copilot", "assist", b, "2026-04-08T15:00:00Z", app="word", action="draft")
    e.ev("copilot", "assist", "B12", "2026-04-08T15:00:00Z", app="word", action="draft", count=3)
    for i, c in enumerate(C):
        e.ev("copilot", "assist", c, "2026-04-08T15:00:00Z", app="word", action="draft",
             outcome="discarded" if i < 5 else "accepted")
    for person in D + E:  # BU2: 11 people; BU3: 10 people
        e.ev("copilot", "assist", person, "2026-04-08T15:00:00Z", app="word", action="draft")
    # --- March, the mover: A01–A11 and A12 (Mar 10, still in T1) in T1; B01–B10 and A12 (Mar 20, now in T2) in T2
    for a in A[:11]:
        e.ev("copilot", "assist", a, "2026-03-09T15:00:00Z", app="word", action="draft")
    e.ev("copilot", "assist", "A12", "2026-03-10T15:00:00Z", app="word", action="draft")
    e.ev("copilot", "assist", "A12", "2026-03-20T15:00:00Z", app="word", action="draft")
    for b in B[:10]:
        e.ev("copilot", "assist", b, "2026-03-09T15:00:00Z", app="word", action="draft")
    # --- May, governance: a pilot in scope (A01, T1) and out of it (B01, T2), a restricted use, shadow AI.
    # The 4 ISO weeks ending with the week of May 31 start May 4, 11, 18, 25: A01 uses the pilot in 3 of them
    # (a habit forming), A02 in 2 (not yet)
    for day in ("05", "12", "19"):
        e.ev("copilot", "assist", "A01", f"2026-05-{day}T15:00:00Z", "cap.pilot", app="excel", action="analyze")
    for day in ("12", "26"):
        e.ev("copilot", "assist", "A02", f"2026-05-{day}T15:00:00Z", "cap.pilot", app="excel", action="analyze")
    e.ev("copilot", "assist", "B01", "2026-05-05T15:00:00Z", "cap.pilot", app="excel", action="analyze")
    e.ev("copilot", "assist", "B02", "2026-05-06T15:00:00Z", "cap.restricted", app="teams", action="recap")
    e.ev("copilot", "assist", "B03", "2026-05-06T15:00:00Z", "cap.shadow", app="chat", action="ask")
    return e.out


def _lake(root: Path) -> Path:
    _reference(root / "ref")
    (root / "in.jsonl").write_text("".join(json.dumps(e) + "\n" for e in _events()))
    summary = ingest([root / "in.jsonl"], lake=root / "lake", progress=False)  # no roster: the warehouse resolves
    assert summary["total"]["quarantined"] == 0, summary["total"]["by_reason"]  # edit_ratio 1.0 and 0.0 land
    build(root / "lake", root / "ref")
    return root / "lake"


@pytest.fixture(scope="module")
def fixture_lake(tmp_path_factory) -> Path:
    return _lake(tmp_path_factory.mktemp("fixture"))


@pytest.fixture(scope="module")
def wh(fixture_lake) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(fixture_lake / "warehouse.duckdb"), read_only=True)
    yield con
    con.close()


def one(con, sql, params=()):
    rows = con.execute(sql, list(params)).fetchall()
    assert len(rows) == 1, rows
    return rows[0]


def attribution(con, org_unit, method, workflow="calls", month="2026-04"):
    r = con.execute("""select * from workflow_attribution_monthly
                       where workflow = ? and org_unit = ? and method = ? and month = ?""",
                    [workflow, org_unit, method, month])
    cols = [d[0] for d in r.description]
    rows = r.fetchall()
    assert len(rows) == 1, rows
    return dict(zip(cols, rows[0], strict=True))


def test_concurrent_control_welch_interval_unequal_arms_and_costs(wh):
    r = attribution(wh, "T1", "concurrent_control")
    assert (r["n_assisted"], r["n_baseline"], r["n_without_metric"]) == (12, 15, 0)
    assert (r["assisted_mean"], r["baseline_mean"], r["saving_per_item"]) == (210, 300, 90)
    # v_a = (1200/11)/12 = 9.0909; v_b = (16000/14)/15 = 76.1905; se = sqrt(85.2814) = 9.23479
    # Welch df = 85.2814² / (9.0909²/11 + 76.1905²/14) = 17.228 → 17; t(0.975, 17) = 2.109816
    # (n_a + n_b − 2 = 25 would give t = 2.059539; the arms' n swapped in se would give se = 10.12476)
    assert r["saving_ci_low"] == pytest.approx(70.516292, abs=1e-5)  # 90 − 2.109816 × 9.234792
    assert r["saving_ci_high"] == pytest.approx(109.483708, abs=1e-5)
    assert r["hours_saved"] == pytest.approx(0.3)  # 90 s × 12 calls / 3600
    assert r["hourly_cost_usd"] == pytest.approx(35.0)  # items: 6 × $30, 6 × $40 (the max would be $40)
    assert r["value_usd"] == pytest.approx(10.5)  # 0.3 h × $35
    # cost: T1's own license $120, plus D1's $300 shared by D1's active users: T1 6 (A01–A06), T2 3 → $200
    assert r["cost_usd"] == pytest.approx(320.0) and r["units_covered"] == ["T1"]
    assert r["net_value_usd"] == pytest.approx(-309.5) and r["roi"] == pytest.approx(-309.5 / 320)
    assert r["suppressed"] is False
    # the method's own row, in the common estimate shape: se and df before the t quantile is applied
    est = one(wh, """select saving_se, saving_df, saving_ci_low, assisted_actors, hourly_cost_usd, units_covered,
                            assisted_median, baseline_p90
                     from estimate_concurrent_control where workflow = 'calls' and metric = 'acw_seconds'
                       and org_unit = 'T1' and month = '2026-04'""")
    assert est[0] == pytest.approx(9.234792, abs=1e-6) and est[1] == pytest.approx(17.228059, abs=1e-6)
    # no interval of its own; 11 people; $35; T1; quantiles are for service levels only (none for ACW)
    assert est[2:] == (None, 11, pytest.approx(35.0), ["T1"], None, None)


def test_pre_go_live_has_its_own_baseline(wh):
    r = attribution(wh, "T1", "pre_go_live")
    # baseline: T1's 15 calls of Jan–Mar (mean 320, variance 685.714), not April's unassisted calls (mean 300)
    assert (r["n_assisted"], r["n_baseline"], r["baseline_mean"], r["saving_per_item"]) == (12, 15, 320, 110)
    # v_a = 9.090909, v_b = 685.714/15 = 45.714286; se = sqrt(54.805195) = 7.403053
    # df = 54.805195² / (9.090909²/11 + 45.714286²/14) = 19.158 → 19; t(0.975, 19) = 2.093024 → 110 ± 15.494768
    # (n_a + n_b − 2 = 25 would give t = 2.059539)
    assert r["saving_ci_low"] == pytest.approx(94.505232, abs=1e-5)
    assert r["saving_ci_high"] == pytest.approx(125.494768, abs=1e-5)
    assert r["hours_saved"] == pytest.approx(110 * 12 / 3600)
    # T2 went live with less than 3 full months of data before: no pre_go_live row for it
    assert wh.execute("select count(*) from workflow_attribution_monthly where org_unit = 'T2' "
                      "and method = 'pre_go_live'").fetchall() == [(0,)]


def test_cost_covers_exactly_the_units_counted(wh):
    # D1 concurrent_control pools T1 and T2: their licenses $120 + the whole of D1's $300
    cc = attribution(wh, "D1", "concurrent_control")
    assert cc["units_covered"] == ["T1", "T2"] and cc["cost_usd"] == pytest.approx(420.0)
    # D1 pre_go_live counts only T1's items (T2 has no pre-go-live baseline): T1's $120 + its $200 share of D1's
    pre = attribution(wh, "D1", "pre_go_live")
    assert pre["units_covered"] == ["T1"] and pre["cost_usd"] == pytest.approx(320.0)
    # the allocation: shares of the holder's active users; a license nobody in its subtree used stays held
    rows = wh.execute("""select holder_org_unit, org_unit, active_users, share, cost_usd, basis
                         from license_allocation where tool = 'call_summarization' and month = '2026-04'
                         order by 1, 2""").fetchall()
    assert rows == [("D1", "T1", 6, pytest.approx(6 / 9), pytest.approx(200.0), "active_users"),
                    ("D1", "T2", 3, pytest.approx(3 / 9), pytest.approx(100.0), "active_users"),
                    ("T1", "T1", 6, 1.0, 120.0, "active_users"),
                    ("T4", "T4", 0, 1.0, 50.0, "held")]


def test_suppression_at_10_11_and_12(wh):
    # T2 calls: 10 assisted items by 10 people: suppressed; only the license cost is left
    t2 = attribution(wh, "T2", "concurrent_control")
    assert (t2["n_assisted"], t2["saving_per_item"], t2["value_usd"], t2["cost_usd"], t2["suppressed"]) == \
        (None, None, None, pytest.approx(100.0), True)
    # T1: exactly 11 people behind the 12 assisted items: shown (see the first test)
    # T3 letters: 12 assisted and 12 baseline items, but only 10 people: suppressed
    t3 = attribution(wh, "T3", "concurrent_control", "letters")
    assert (t3["n_assisted"], t3["hours_saved"], t3["suppressed"]) == (None, None, True)
    # T2 letters: 12 assisted items (12 people) against exactly 11 baseline items: shown
    t2l = attribution(wh, "T2", "concurrent_control", "letters")
    assert (t2l["n_assisted"], t2l["n_baseline"], t2l["suppressed"]) == (12, 11, False)


def test_letters_are_valued_by_staff_time_not_turnaround(wh):
    r = attribution(wh, "T2", "concurrent_control", "letters")
    assert r["metric"] == "work_seconds"
    # 2 letters without work_seconds (one per arm) are counted, never imputed
    assert r["n_without_metric"] == 2
    # assisted 6 × 1800 + 6 × 2400 s: mean 2100; baseline 4 × 3000 + 3 × 3300 + 4 × 3600: mean 3300
    assert (r["assisted_mean"], r["baseline_mean"], r["saving_per_item"]) == (2100, 3300, 1200)
    # se = sqrt((1080000/11)/12 + 72000/11) = 121.35598; df = 20.915 → 20; t(0.975, 20) = 2.085963
    assert r["saving_ci_low"] == pytest.approx(946.855872, abs=1e-4)
    assert r["saving_ci_high"] == pytest.approx(1453.144128, abs=1e-4)
    assert r["hours_saved"] == pytest.approx(4.0)  # 1200 s × 12 letters / 3600
    assert r["hourly_cost_usd"] == pytest.approx(45.0)  # B01–B06 $40, B07–B12 $50
    assert r["value_usd"] == pytest.approx(180.0)
    # cost: BU1's $450 letter license shared by its AI-drafting people: T2 12, T3 10 → 450 × 12/22
    assert r["cost_usd"] == pytest.approx(450 * 12 / 22)
    assert wh.execute("select count(*) from workflow_attribution_monthly where metric = 'turnaround_hours'"
                      ).fetchall() == [(0,)]


def test_service_level_row_by_hand(wh):
    r = wh.execute("""select * from service_level_monthly where workflow = 'letters' and org_unit = 'T2'
                      and month = '2026-04' and method = 'concurrent_control'""")
    cols = [d[0] for d in r.description]
    row = dict(zip(cols, r.fetchone(), strict=True))
    assert row["metric"] == "turnaround_hours" and row["sla_hours"] == 48
    assert row["submitted"] == 25  # 13 assisted + 12 unassisted letters submitted in April
    # assisted: 6 × 24 h, 6 × 48 h, 1 × 36 h: mean 36, median 36, p90 48 (positions 10.8 of 0–12: 48 and 48)
    assert (row["n_assisted"], row["assisted_mean_hours"], row["assisted_median_hours"],
            row["assisted_p90_hours"]) == (13, 36, 36, 48)
    # baseline: 5 × 60, 2 × 72, 5 × 84: mean 72, median 72, p90 84
    assert (row["n_baseline"], row["baseline_mean_hours"], row["baseline_median_hours"],
            row["baseline_p90_hours"]) == (12, 72, 72, 84)
    # se = sqrt(144/13 + (1440/11)/12) = 4.688925; df = 22.97 → 22; t = 2.073873 → 36 ± 9.724234
    assert row["saving_hours"] == 36
    assert row["saving_ci_low"] == pytest.approx(26.275766, abs=1e-5)
    assert row["saving_ci_high"] == pytest.approx(45.724234, abs=1e-5)
    # backlog at May 1 00:00: 11 open cases, 6 of them 87 h old (over the 48 h SLA), 5 of them 15 h old
    assert (row["backlog_open"], row["backlog_over_sla"], row["oldest_open_hours"]) == (11, 6, 87.0)
    assert row["suppressed"] is False and row["backlog_suppressed"] is False
    assert not any("usd" in c for c in cols)  # never in dollars
    # T3: 10 people behind its letters, and exactly 10 open cases: both suppressed
    t3 = one(wh, """select n_assisted, saving_hours, backlog_open, suppressed, backlog_suppressed
                    from service_level_monthly where org_unit = 'T3' and method = 'concurrent_control'""")
    assert t3 == (None, None, None, True, True)


def test_adoption_sustained_at_3_of_4_weeks_and_10_11_12_people(wh):
    rows = {r[0]: r[1:] for r in wh.execute(
        """select org_unit, seats, active_users, sustained_users, active_rate, suppressed
           from adoption_monthly where tool = 'copilot' and month = '2026-04'""").fetchall()}
    assert rows["T1"] == (None, 11, 10, None, False)  # 11 people: shown; A10 (2 of 4 weeks) is not sustained
    assert rows["T2"] == (None, 12, 0, None, False)  # 12 people, each once
    assert rows["T3"] == (None, None, None, None, True)  # exactly 10: suppressed
    assert rows["BU1"] == (40, 33, 10, pytest.approx(33 / 40), False)
    assert rows["BU2"] == (5, 11, 0, pytest.approx(11 / 5), False)  # above 1: shown, a finding, no failure
    assert rows["BU3"] == (12, None, None, None, True)


def test_a_mover_counts_in_both_teams_and_once_above(wh):
    rows = dict(wh.execute("""select org_unit, active_users from adoption_monthly
                              where tool = 'copilot' and month = '2026-03'""").fetchall())
    # A12 used copilot on Mar 10 in T1 and on Mar 20 in T2
    assert rows["T1"] == 12  # A01–A11 and A12
    assert rows["T2"] == 11  # B01–B10 and A12
    assert rows["D1"] == 22  # 11 + 10 + A12 once, not 23


def test_license_utilization_by_hand(wh):
    rows = {r[0]: r[1:] for r in wh.execute(
        """select org_unit, seats, cost_usd, active_users, sustained_users, idle_seats, idle_seat_cost_usd,
                  users_over_seats, suppressed
           from license_utilization_monthly where tool = 'copilot' and month = '2026-04'""").fetchall()}
    # BU1: 40 seats for $1200, 33 active, 10 sustained: 7 idle seats at $30 = $210
    assert rows["BU1"] == (40, 1200.0, 33, 10, 7, pytest.approx(210.0), 0, False)
    # BU2: 5 seats, 11 active: 6 users over seats to true up, nothing idle
    assert rows["BU2"] == (5, 150.0, 11, 0, 0, 0.0, 6, False)
    # BU3: 10 people: suppressed, seats and cost stay
    assert rows["BU3"] == (12, 360.0, None, None, None, None, None, True)
    assert rows["ENT"][:3] == (57, 1710.0, 54)  # 40 + 5 + 12 seats; 33 + 11 + 10 people
    assert wh.execute("select count(*) from license_utilization_monthly where level not in "
                      "('business_unit', 'enterprise')").fetchall() == [(0,)]


def test_productivity_estimate_values_only_what_was_kept(wh):
    row = one(wh, """select active_users, actions, actions_discarded, assisted_hours, value_usd, cost_usd,
                            attribution
                     from productivity_estimate_monthly where org_unit = 'BU1' and month = '2026-04'""")
    # actions: A01–A09 ×3 + A10 ×2 + A11 ×4 = 33; B01–B11 ×1 + B12's count of 3 = 14; C01–C10 ×1 = 10 → 57;
    # C01–C05 discarded: 52 kept × 10 min = 8.667 h
    assert row[:3] == (33, 57, 5)
    assert row[3] == pytest.approx(52 * 10 / 60)
    # value, kept actions × 10/60 h × cost: A01–A05 15 × $30 = 75; A06–A09 12 × $40 = 80; A10 2 × $40 = 13.33;
    # A11 4 × $40 = 26.67; B01–B06 6 × $40 = 40; B07–B11 5 × $50 = 41.67; B12 3 × $50 = 25; C06–C10 5 × $60 = 50
    assert row[4] == pytest.approx(351.6666667)
    assert row[5:] == (1200.0, "business_unit_estimate")
    bu2 = one(wh, "select active_users, assisted_hours, suppressed from productivity_estimate_monthly "
                  "where org_unit = 'BU2' and month = '2026-04'")
    assert bu2 == (11, pytest.approx(11 * 10 / 60), False)  # exactly 11: shown
    bu3 = one(wh, "select active_users, assisted_hours, value_usd, cost_usd, suppressed "
                  "from productivity_estimate_monthly where org_unit = 'BU3' and month = '2026-04'")
    assert bu3 == (None, None, None, 360.0, True)  # exactly 10: suppressed, cost stays
    assert wh.execute("select count(*) from productivity_estimate_monthly where org_unit in ('D1', 'T1')"
                      ).fetchall() == [(0,)]


def test_roster_cells_never_single_anyone_out(wh):
    rows = wh.execute("""select org_unit, role, site, people, hourly_cost_usd, suppressed from roster_cells
                         where month = '2026-04' order by 1, 2 nulls last, 3 nulls last""").fetchall()
    assert rows == [
        ("BU1", None, None, None, None, True),  # the VP alone
        ("ENT", None, None, None, None, True),  # the CEO alone
        ("T1", "agent", "Phoenix", 11, pytest.approx(390 / 11), False),  # 5 × $30 + 6 × $40 over 11 people
        ("T2", "agent", "Tampa", 12, pytest.approx(45.0), False),  # 6 × $40 + 6 × $50 over 12
        ("T2", None, None, None, None, True),  # A12, the mover, alone in Phoenix: folded, still under 11
        ("T3", None, None, None, None, True),  # exactly 10 appeals staff
        ("T4", "analyst", "remote", 11, 20.0, False),
        ("T5", None, None, None, None, True),  # exactly 10
    ]
    # the person-level roster and its hourly costs are not in the file analysts open
    tables = {t for (t,) in wh.execute("select table_name from duckdb_tables()").fetchall()}
    assert not tables & {"roster", "ref_roster", "item_costs"}
    leaks = wh.execute("""select table_name from duckdb_columns() where column_name = 'hourly_cost_usd'
                          and table_name in (select table_name from duckdb_columns() where column_name = 'actor_key')
                       """).fetchall()
    assert leaks == []


def test_leader_scorecard_by_hand(wh):
    r = wh.execute("select * from leader_scorecard_monthly where org_unit = 'BU1' and month = '2026-04'")
    cols = [d[0] for d in r.description]
    row = dict(zip(cols, r.fetchone(), strict=True))
    assert row["leader"] == LEADER  # as org_units.csv gives it, not a pseudonym
    assert row["seats"] == 102  # copilot 40 + call_summarization 12 + 20 + lmn_drafting 30
    # adoption over the tools whose cells are shown: copilot 33 of 40, lmn_drafting 22 of 30 (call_summarization:
    # 9 people, suppressed and left out): 55/70 active, 10/70 sustained (nobody drafts with the AI 3 weeks in 4)
    assert row["active_rate"] == pytest.approx(55 / 70) and row["sustained_rate"] == pytest.approx(10 / 70)
    assert row["cells_left_out"] == ["adoption:call_summarization"]
    # staff hours of the recommended method: within_actor at BU1 for both workflows (no never- or not-yet-live
    # unit is left for did in April; 21 people have both kinds of items). Per person, Sdd = n₁n₀/n and
    # Sdy = Sdd × (assisted mean − unassisted mean); β = Σ Sdy / Σ Sdd.
    # calls: A01 210 vs 300 (2 and 2: Sdd 1, Sdy −90); A02–A04 200 vs 300 (1 and 2: 2/3, −66.67 each);
    # A05 200 vs 260 (½, −30); A06 200 vs 300 (½, −50); A07–A10 220 vs 300 (½, −40 each); A11 220 vs 340 (½, −60);
    # B01–B10 200 vs 300 (½, −50 each): Σ Sdd = 6.5 + 5 = 11.5, Σ Sdy = −590 − 500 → saving 1090 / 11.5 = 94.7826 s
    # × 22 assisted calls / 3600 = 0.579227 h (concurrent_control would say (300 × 22 − 4520) / 3600 = 0.577778 h)
    # letters: T2 B01–B04 1800 vs 3000, B05–B06 1800 vs 3300, B07 2400 vs 3300, B08–B11 2400 vs 3600 (½ each:
    # Sdy −600 ×4, −750 ×2, −450, −600 ×4 = −6750); T3 all 2000 vs 3000, C01–C04 Sdd 2/3, C05–C10 ½: Σ 17/3, Sdy
    # −17000/3 → saving (6750 + 17000/3) / (5.5 + 17/3) = 74500/67 = 1111.9403 s × 24 / 3600 = 7.412935 h
    assert row["hours_saved"] == pytest.approx(0.579227 + 7.412935, abs=1e-5)
    # value: calls at the 22 items' mean cost 860/22 = $39.09; letters at 1260/24 = $52.50
    assert row["value_usd"] == pytest.approx(1090 / 11.5 * 22 / 3600 * 860 / 22 + 74500 / 67 * 24 / 3600 * 52.5)
    assert row["attainment"] == pytest.approx(row["hours_saved"] / 10)  # staff time only, target 10 h
    assert row["assisted_hours"] == pytest.approx(52 * 10 / 60)  # the estimate, its own column
    # turnaround, within_actor too: T2 B01 30 vs 60 (2 and 1: Sdd 2/3, Sdy −20), B02–B05 24 vs 60 (½, −18 each),
    # B06 24 vs 72 (½, −24), B07 48 vs 72 (½, −12), B08–B12 48 vs 84 (½, −18 each): Σ Sdd 37/6, Σ Sdy −218;
    # T3 30 vs 60: Sdd 17/3, Sdy −170 → (218 + 170) / (37/6 + 34/6) = 2328/71 = 32.7887 h (pooled means: 32.88)
    assert row["turnaround_saving_hours"] == pytest.approx(2328 / 71)
    assert (row["backlog_over_sla"], row["governance_exceptions"]) == (6, 0)  # T3's 10 open cases are 15 h old
    assert row["suppressed_figures"] == [] and row["suppressed"] is False
    bu3 = one(wh, """select active_rate, assisted_hours, suppressed_figures, suppressed
                     from leader_scorecard_monthly where org_unit = 'BU3' and month = '2026-04'""")
    assert bu3 == (None, None, ["active_rate", "sustained_rate", "assisted_hours"], True)


def test_governance_reasons(wh):
    rows = wh.execute("""select capability, reason, events, users from governance_exceptions
                         where org_unit = 'ENT' order by 1, 2""").fetchall()
    assert rows == [("cap.pilot", "not_cleared_for_scope", 1, 1),  # B01 is in T2, the pilot is T1's
                    ("cap.restricted", "restricted", 1, 1),
                    ("cap.shadow", "no_decision", 1, 1)]
    assert wh.execute("select count(*) from governance_exceptions where capability = 'cap.ok'").fetchall() == [(0,)]
    # habit risk: of the pilot's in-scope users (A01, A02 in T1), only A01 used it in 3 of the 4 weeks
    assert one(wh, """select sustained_users, active_users from habit_risk
                      where capability = 'cap.pilot' and org_unit = 'T1' and month = '2026-05'""") == (1, 2)


def test_finance_figures_hold_every_published_column(wh):
    rows = dict(wh.execute("""select column_name, value from finance_figures
                              where table_name = 'workflow_attribution_monthly' and month = '2026-04'
                                and key = 'workflow=calls|org_unit=T1|method=concurrent_control'""").fetchall())
    assert rows["n_assisted"] == "12" and rows["cost_usd"] == "320.0" and rows["suppressed"] == "false"
    assert rows["units_covered"] == "[T1]"
    assert set(rows) == {c for (c,) in wh.execute(
        "select column_name from duckdb_columns() where table_name = 'workflow_attribution_monthly'").fetchall()
    } - {"workflow", "org_unit", "month", "method"}


@pytest.mark.slow
def test_close_then_late_events_restate_but_never_change_the_published_month(fixture_lake, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(fixture_lake, lake)
    ref = tmp_path / "ref"
    shutil.copytree(fixture_lake.parent / "ref", ref)
    exe = str(Path(sys.executable).parent / "uptake")
    run = lambda *a: subprocess.run([exe, *a, "--lake", str(lake)], capture_output=True, text=True)  # noqa: E731
    published = run("roi", "--month", "2026-04")
    assert published.returncode == 0, published.stderr
    assert run("close", "--month", "2026-04").returncode == 0
    # a late, assisted T1 call by A02 (ACW 200) and a corrected license price (T1: $120 → $130)
    late = {"schema_version": "1.1", "event_id": "late-1", "occurred_at": "2026-04-25T15:00:00Z", "source": "test",
            "tool": "call_summarization", "event_type": "call_completed", "actor_id": "A02", "capability": "call.cap",
            "workflow": "calls", "work_item_id": "LATE-1", "handle_seconds": 400, "acw_seconds": 200,
            "ai_summary_offered": True}
    (tmp_path / "late.jsonl").write_text(json.dumps(late) + "\n")
    assert run("ingest", str(tmp_path / "late.jsonl")).returncode == 0
    stale = run("close", "--month", "2026-05")  # the warehouse has not seen run 2 yet
    assert stale.returncode == 1 and "run `uptake build` first" in stale.stderr
    lic = (ref / "licenses.csv").read_text().replace("call_summarization,T1,2026-04,12,120",
                                                     "call_summarization,T1,2026-04,12,130")
    (ref / "licenses.csv").write_text(lic)
    assert run("build", "--reference", str(ref)).returncode == 0
    after = run("roi", "--month", "2026-04")
    assert after.returncode == 0 and after.stdout == published.stdout  # byte for byte
    assert "later data restates" in after.stderr
    con = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)
    rows = {r[0]: r[1:] for r in con.execute(
        """select column_name, published, current, ingest_runs, reference_files from restatements
           where table_name = 'workflow_attribution_monthly'
             and key = 'workflow=calls|org_unit=T1|method=concurrent_control'""").fetchall()}
    con.close()
    assert rows["n_assisted"] == ("12", "13", [2], ["licenses.csv"])  # run 2 landed the late call
    assert rows["cost_usd"] == ("320.0", "330.0", [2], ["licenses.csv"])
    current = run("roi", "--month", "2026-04", "--current")
    assert current.stdout != published.stdout and "differ from the published" in current.stderr


def test_a_close_that_fails_halfway_publishes_nothing(fixture_lake, tmp_path, monkeypatch):
    import warehouse.close as closing

    lake = tmp_path / "lake"
    shutil.copytree(fixture_lake, lake)
    written = []

    def write_then_fail(table, path):
        if len(written) == 3:
            raise OSError(28, "No space left on device")
        written.append(path)
        return real(table, path)

    real = closing._write_parquet
    monkeypatch.setattr(closing, "_write_parquet", write_then_fail)
    with pytest.raises(OSError, match="No space left"):
        closing.close(lake, "2026-04")
    assert closing.published(lake, "2026-04") is None  # nothing of it is published
    assert [p.name for p in (lake / "closes").iterdir()] == []  # and nothing half-written is left
    monkeypatch.setattr(closing, "_write_parquet", real)
    snapshot = closing.close(lake, "2026-04")
    assert snapshot.version == 1 and snapshot.path == lake / "closes" / "2026-04" / "v001"
    assert sorted(snapshot.manifest["files"]) == sorted(p.name for p in snapshot.path.iterdir()
                                                        if p.name != "manifest.json")
    # the published text is printed as stored, even if a later version of the code renders differently
    import warehouse.roi as roi

    printed = roi.write_roi(roi.roi_tables(lake, "2026-04"), "csv", None)
    monkeypatch.setattr(roi, "_csv", lambda table: "rendered differently\n")
    assert roi.write_roi(roi.roi_tables(lake, "2026-04"), "csv", None) == printed
    assert printed == (snapshot.path / "roi.csv").read_text() and printed.startswith("attribution,")
    assert roi.write_roi(roi.roi_tables(lake, "2026-04", current=True), "csv", None).startswith("rendered")
    with pytest.raises(closing.CloseError, match="never changed silently"):
        closing.close(lake, "2026-04")
    assert closing.close(lake, "2026-04", restate=True).version == 2  # on purpose: the next version
