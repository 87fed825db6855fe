"""The good usage events: calls, letter cases and copilot use, as one Arrow table, then JSON lines.

Events are drawn column-wise with numpy (the planted effects live here: ACW saved on offered calls, staff
time and turnaround saved on AI-drafted letters); `lines.render` writes them as JSON lines.

`Biases` plants what breaks the naive attribution methods (all off by default, and then the draws are exactly
those of an organization without them): a secular trend in the staff-time metrics, self-selection of the AI by
a person's own pace, and a team that never goes live.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas import events as contract
from uptake import org
from uptake.generate.biases import NO_BIASES, Biases, take_probability
from uptake.generate.people import People, team_at

EDITED = contract.OUTCOME_REVIEW.index("edited")  # the code of an edited AI output
SOURCES = ("genesys-cloud", "github-copilot", "lmn-assist", "m365-copilot")
SITE_OFFSET_MINUTES = {"Phoenix AZ": -420, "Tampa FL": -300, "Columbus OH": -300, "remote": 0}


def month_index(ts: np.ndarray, first: np.datetime64) -> np.ndarray:
    """Calendar months from the window's first month to each timestamp (0 in the first month)."""
    return (ts.astype("datetime64[M]") - first.astype("datetime64[M]")).astype(np.int64)


def go_live_times(month_starts: list[dt.date], never_live: str | None = None) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {}
    for (wf, team), (mi, day) in org.GO_LIVE.items():
        if mi < len(month_starts) and team != never_live:
            out[(wf, team)] = np.datetime64(month_starts[mi].replace(day=day), "us")
    return out


def live(team_idx: np.ndarray, ts: np.ndarray, workflow: str, go_live: dict) -> np.ndarray:
    codes = np.array([u.code for u in org.UNITS], dtype=object)
    far = np.datetime64("9999-01-01", "us")
    live_from = np.array([go_live.get((workflow, c), far) for c in codes], dtype="datetime64[us]")
    return ts >= live_from[team_idx]


def calls(rng, p: People, days: np.ndarray, go_live, scale: float, biases: Biases = NO_BIASES) -> dict[str, Any]:
    idx = {u.code: i for i, u in enumerate(org.UNITS)}
    agents = np.flatnonzero(np.isin(p.team, [idx[c] for c in org.CALL_TEAMS]) & (p.role == "contact_center_agent"))
    pa_, pd_ = np.meshgrid(agents, np.arange(len(days)), indexing="ij")
    n = rng.poisson(7.0 * scale, size=pa_.size)
    person = np.repeat(pa_.ravel(), n)
    day = days[np.repeat(pd_.ravel(), n)]
    ts = day.astype("datetime64[us]") + (13 * 3600 + rng.integers(0, 9 * 3600, person.size)) * np.timedelta64(1, "s")
    team = team_at(p, person, ts)
    draw = rng.random(person.size)
    agent_offset = rng.normal(0, 30, size=len(p.actor_id))  # the agent's own pace: ACW above or below 300 s
    take = take_probability(org.OFFER_PROBABILITY, agent_offset, 30.0, biases.self_selection)
    offered = live(team, ts, "call_summary", go_live) & (draw < take[person])
    trend = biases.trend_seconds_per_month * month_index(ts, days[0])
    acw = np.maximum(5, np.round(300 + agent_offset[person] + trend + rng.normal(0, 60, person.size)
                                 - org.ACW_SAVING_SECONDS * offered))
    handle = np.maximum(30, np.round(rng.normal(420, 120, person.size)))
    call_id = rng.permutation(person.size) + 10_000_000
    queue = np.array(["member-general", "member-pharmacy", "provider-claims", "provider-credentialing"], dtype=object)
    q = np.where(np.isin(team, [idx["CC-PRV-A"], idx["CC-PRV-B"]]), 2, 0) + rng.integers(0, 2, person.size)
    return dict(person=person, ts=ts, team=team, offered=offered, acw=acw, handle=handle, call_id=call_id,
                queue=queue[q])


def letters(rng, p: People, days: np.ndarray, go_live, end_ts, scale: float,
            biases: Biases = NO_BIASES) -> dict[str, Any]:
    idx = {u.code: i for i, u in enumerate(org.UNITS)}
    staff = np.flatnonzero(np.isin(p.team, [idx[c] for c in org.LETTER_TEAMS]) & (p.role != "team_lead"))
    ps, pd_ = np.meshgrid(staff, np.arange(len(days)), indexing="ij")
    n = rng.poisson(1.6 * scale, size=ps.size)
    person = np.repeat(ps.ravel(), n)
    t0 = days[np.repeat(pd_.ravel(), n)].astype("datetime64[us]") + (
        13 * 3600 + rng.integers(0, 8 * 3600, person.size)) * np.timedelta64(1, "s")
    team = team_at(p, person, t0)
    # (the draws keep their order whatever the biases, so an organization without them is the same)
    draw = rng.random(person.size)
    wait = rng.gamma(2.0, 24.0, person.size)
    drafting = rng.uniform(0.5, 4.0, person.size)
    deciding = rng.integers(3 * 86400, 20 * 86400, person.size)
    intake = team == idx["SP-INT-1"]
    types = np.array(["lmn", "appeal", "denial_response", "prior_auth"], dtype=object)
    letter_type = np.where(intake, 3, rng.choice(3, person.size, p=[0.4, 0.35, 0.25]))
    # staff time on the case: the person's pace, the letter's own variation, less the AI draft's saving;
    # a few letters come from a queue without time tracking and carry no work_seconds (-1 here)
    mean, person_sd, letter_sd = org.LETTER_WORK_SECONDS
    pace = rng.normal(0, person_sd, size=len(p.actor_id))
    take = take_probability(org.AI_DRAFT_PROBABILITY, pace, person_sd, biases.self_selection)
    ai = live(team, t0, "lmn_letters", go_live) & (draw < take[person])
    hours = 36 + wait - org.TURNAROUND_SAVING_HOURS * ai
    drafted = t0 + (drafting * 3600).astype(np.int64) * np.timedelta64(1, "s")
    submitted = t0 + np.round(hours * 3600).astype(np.int64) * np.timedelta64(1, "s")
    decided = submitted + deciding * np.timedelta64(1, "s")
    trend = biases.trend_seconds_per_month * month_index(submitted, days[0])
    work = np.maximum(300, np.round(mean + pace[person] + trend + rng.normal(0, letter_sd, person.size)
                                    - org.WORK_SAVING_SECONDS * ai)).astype(np.int64)
    work = np.where(rng.random(person.size) < org.NO_WORK_SECONDS_PROBABILITY, -1, work)
    return dict(person=person, t0=t0, team=team, ai=ai, drafted=drafted, submitted=submitted, decided=decided,
                work_seconds=work,
                case_id=rng.permutation(person.size) + 500_000, letter_type=types[letter_type],
                retired=rng.random(person.size) < 0.05, approved=rng.random(person.size) < 0.7,
                end_ts=end_ts)


def copilot(rng, p: People, start: dt.date, end: dt.date, n_months: int, scale: float) -> dict[str, Any]:
    units = org.UNITS
    idx = {u.code: i for i, u in enumerate(units)}

    def under(code: str) -> set[int]:
        out, frontier = set(), {code}
        while frontier:
            out |= {idx[c] for c in frontier}
            frontier = {u.code for u in units if u.parent in frontier}
        return out

    licensed_units = set().union(*(under(c) for c in org.COPILOT_UNITS))
    cc = under("BU-CC")
    licensed = np.flatnonzero(
        np.isin(p.team, list(licensed_units))
        | (np.isin(p.team, list(cc)) & np.isin(p.role, ["team_lead", "director", "vice_president"]))
        | (p.role == "chief_executive")
    )
    kind = rng.choice(3, licensed.size, p=[0.3, 0.45, 0.25])
    p_week = np.array([0.92, 0.45, 0.06])[kind]
    monday0 = np.datetime64(start) - np.timedelta64((start.weekday()), "D")
    weeks = np.arange(monday0, np.datetime64(end), np.timedelta64(7, "D"))
    lw, ww = np.meshgrid(np.arange(licensed.size), np.arange(len(weeks)), indexing="ij")
    ramp = 0.6 + 0.4 * (ww.ravel() / max(1, len(weeks) - 1))
    active = rng.random(lw.size) < p_week[lw.ravel()] * ramp
    lw, ww = lw.ravel()[active], ww.ravel()[active]
    n = rng.poisson(7.0 * scale, lw.size) + 1
    person = licensed[np.repeat(lw, n)]
    day = weeks[np.repeat(ww, n)] + rng.integers(0, 5, person.size).astype("timedelta64[D]")
    ts = day.astype("datetime64[us]") + (13 * 3600 + rng.integers(0, 9 * 3600, person.size)) * np.timedelta64(1, "s")
    keep = (ts >= np.datetime64(start, "us")) & (ts < np.datetime64(end, "us"))
    person, ts = person[keep], ts[keep]
    team = team_at(p, person, ts)

    acts = org.COPILOT_ACTIONS
    weights = np.array([a[4] for a in acts])
    engineer = p.role[person] == "engineer"
    choice = rng.choice(len(acts), person.size, p=weights / weights.sum())
    vscode = [i for i, a in enumerate(acts) if a[0] == "vscode"][0]
    # engineers mostly code; nobody else has the IDE plug-in
    choice = np.where(engineer & (rng.random(person.size) < 0.6), vscode, choice)
    choice = np.where(~engineer & (choice == vscode), 0, choice)
    # the finance pilot of the Excel analyst capability turns into a habit
    analyst = [i for i, a in enumerate(acts) if a[2] == "copilot.excel.analyst"][0]
    in_pilot = p.team[person] == idx["CS-FIN-1"]
    choice = np.where(in_pilot & (rng.random(person.size) < 0.35), analyst, choice)
    count = np.where(rng.random(person.size) < 0.12, rng.integers(2, 16, person.size), 1)
    accepted = rng.random(person.size) < 0.72
    return dict(person=person, ts=ts, team=team, action=choice, count=count, accepted=accepted,
                explicit_count=rng.random(person.size) < 0.5)


def labels(values: Sequence[str | None], which: np.ndarray) -> pa.Array:
    """values[which] as Arrow strings (None: null), taken by Arrow rather than one Python object per row."""
    return pa.array(list(values), pa.string()).take(pa.array(which))


def constant(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), n)


def ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    """`prefix<number>` strings, built by Arrow rather than one Python f-string per row."""
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def events_table(rng, p: People, calls, letters, cop, n_people_units) -> pa.Table:
    """All good events as one Arrow table of SPEC §2 fields plus `ts`, `offset_min`, `source`, `phi`."""
    units = org.UNITS
    codes = np.array([u.code for u in units], dtype=object)
    cols: list[dict[str, Any]] = []
    person_offset = np.array([SITE_OFFSET_MINUTES[s] for s in p.site])
    actor_arr, site_arr = pa.array(p.actor_id, pa.string()), pa.array(p.site, pa.string())
    code_arr = pa.array(codes, pa.string())

    def base(person, ts, team, tool, event_type, source, capability, offset_extra=None):
        n = person.size
        offset = person_offset[person]
        local = rng.random(n) < 0.25  # a quarter of the events carry the site's local offset
        has_org = rng.random(n) < 0.7
        idx = pa.array(person)
        return {
            "ts": ts,
            "offset_min": np.where(local, offset, 0),
            "tool": pa.repeat(pa.scalar(tool), n),
            "event_type": pa.repeat(pa.scalar(event_type), n),
            "source": constant(source, n) if isinstance(source, str) else source,
            "actor_id": actor_arr.take(idx),
            "capability": constant(capability, n) if isinstance(capability, str) else capability,
            "org_unit": pc.if_else(pa.array(has_org), code_arr.take(pa.array(team)), pa.scalar(None, pa.string())),
            "site": pc.if_else(pa.array(rng.random(n) < 0.5), site_arr.take(idx), pa.scalar(None, pa.string())),
            "phi": rng.random(n) < 0.03,
        }

    # calls
    c = calls
    d = base(c["person"], c["ts"], c["team"], "call_summarization", "call_completed", "genesys-cloud",
             org.CALL_CAPABILITY)
    d.update(workflow=constant("call_summary", c["ts"].size),
             work_item_id=ids("CALL-", c["call_id"]),
             handle_seconds=c["handle"], acw_seconds=c["acw"], ai_summary_offered=c["offered"], queue=c["queue"])
    cols.append(d)
    o = np.flatnonzero(c["offered"])
    rts = c["ts"][o] + ((c["handle"][o] + c["acw"][o] * 0.5) * 1e6).astype(np.int64) * np.timedelta64(1, "us")
    outcome = rng.choice(3, o.size, p=[0.6, 0.3, 0.1])  # codes into contract.OUTCOME_REVIEW
    d = base(c["person"][o], rts, team_at(p, c["person"][o], rts), "call_summarization", "summary_reviewed",
             "genesys-cloud", org.CALL_CAPABILITY)
    d.update(workflow=constant("call_summary", o.size),
             work_item_id=ids("CALL-", c["call_id"][o]), outcome=labels(contract.OUTCOME_REVIEW, outcome),
             edit_ratio=np.where(outcome == EDITED, np.round(rng.uniform(0.05, 0.6, o.size), 3), np.nan))
    cols.append(d)

    # letters: each step is an event, kept only when it happened before the window's end (the rest is backlog)
    lt = letters
    case = ids("CASE-", lt["case_id"])
    steps = (
        ("letter_requested", lt["t0"]),
        ("letter_drafted", lt["drafted"]),
        ("letter_submitted", lt["submitted"]),
        ("letter_decided", lt["decided"]),
    )
    caps = (org.LETTER_CAPABILITY, org.RETIRED_LETTER_CAPABILITY)
    for event_type, when in steps:
        k = np.flatnonzero(when < lt["end_ts"])
        d = base(lt["person"][k], when[k], team_at(p, lt["person"][k], when[k]), "lmn_drafting", event_type,
                 "lmn-assist", labels(caps, lt["retired"][k].astype(np.int64)))
        d.update(workflow=constant("lmn_letters", k.size), work_item_id=case.take(pa.array(k)))
        if event_type == "letter_requested":
            d.update(letter_type=lt["letter_type"][k],
                     payer=labels(("Aetna", "BCBS", "Cigna", "Humana", "UnitedHealthcare"), rng.integers(0, 5, k.size)))
        elif event_type == "letter_drafted":
            ai = lt["ai"][k]
            out = rng.choice(3, k.size, p=[0.5, 0.4, 0.1])  # codes into contract.OUTCOME_REVIEW
            d.update(ai_drafted=ai, outcome=labels((*contract.OUTCOME_REVIEW, None), np.where(ai, out, 3)),
                     edit_ratio=np.where(ai & (out == EDITED), np.round(rng.uniform(0.05, 0.7, k.size), 3), np.nan))
        elif event_type == "letter_submitted":
            d.update(work_seconds=lt["work_seconds"][k])
        elif event_type == "letter_decided":
            d.update(decision=labels(("denied", "approved"), lt["approved"][k].astype(np.int64)))
        cols.append(d)

    # copilot
    cp = cop
    acts = org.COPILOT_ACTIONS
    a = cp["action"]
    vscode = np.array([x[0] == "vscode" for x in acts], dtype=np.int64)
    d = base(cp["person"], cp["ts"], cp["team"], "copilot", "assist",
             labels(("m365-copilot", "github-copilot"), vscode[a]), labels([x[2] for x in acts], a))
    d.update(app=labels([x[0] for x in acts], a), action=labels([x[1] for x in acts], a),
             outcome=labels(("discarded", "accepted"), cp["accepted"].astype(np.int64)),
             count=np.where(cp["explicit_count"] | (cp["count"] > 1), cp["count"], -1))
    cols.append(d)

    formatted = ("schema_version", "event_id", "occurred_at")  # added or rendered later
    names = ["ts", "offset_min", "phi"] + [
        f.name for f in contract.COMMON_FIELDS if f.name not in formatted] + list(contract.payload_fields())
    types = {"ts": pa.timestamp("us"), "offset_min": pa.int32(), "phi": pa.bool_(), "handle_seconds": pa.int64(),
             "acw_seconds": pa.int64(), "ai_summary_offered": pa.bool_(), "ai_drafted": pa.bool_(),
             "edit_ratio": pa.float64(), "count": pa.int64(), "work_seconds": pa.int64()}
    tables = []
    for d in cols:
        n = d["ts"].size
        arrays = {}
        for name in names:
            t = types.get(name, pa.string())
            if name not in d:
                arrays[name] = pa.nulls(n, t)
            elif isinstance(d[name], pa.Array):
                arrays[name] = d[name]
            elif name == "edit_ratio":
                arrays[name] = pa.array(d[name], type=t, from_pandas=True)
            elif name in ("count", "work_seconds"):  # -1: absent
                arrays[name] = pa.array(np.where(d[name] < 0, 0, d[name]), type=t, mask=d[name] < 0)
            else:
                arrays[name] = pa.array(d[name], type=t)
        tables.append(pa.table(arrays))
    return pa.concat_tables(tables)
