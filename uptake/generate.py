"""`uptake generate`: a realistic synthetic healthcare organization, its usage events and the truth.

Writes, under OUT:
- `reference/*.csv`: the eight reference files of SPEC §3 (org units, roster, workflows, go-live dates,
  governance, licenses, minutes per action, targets);
- `landing/YYYY-MM-<source>.jsonl[.gz]`: one file per source and month, events in time order, with
  planted faults (a few lines of every quarantine reason, exact and conflicting duplicates, blank lines,
  invalid UTF-8, PHI-like free text, non-UTC offsets, CRLF line ends, gzip);
- `truth.json`: the planted effects and the exact per-file and total counts an ingest must reproduce.

Good events are generated column-wise with numpy and formatted to JSON by DuckDB, so generation runs at
hundreds of thousands of events per second; faults are built line by line (they are few).
Deterministic: the same seed, size and end month give byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas import events as contract
from uptake import org
from uptake.progress import Progress

DEFAULT_END_MONTH = "2026-10"
SOURCES = ("genesys-cloud", "github-copilot", "lmn-assist", "m365-copilot")
GZIP_SOURCES = frozenset({"m365-copilot"})
SITE_OFFSET_MINUTES = {"Phoenix AZ": -420, "Tampa FL": -300, "Columbus OH": -300, "remote": 0}
PHI_TEXT = (
    "Pt Maria Alvarez DOB 1958-03-14 MRN 00482913, denied Humira, appeal attached",
    "Member John Okafor (ID W29384712) called re: chemo prior auth, dx C50.911",
    "Summarize chart: Linda Park, 71F, CHF, Medicare ID 1EG4-TE5-MK72",
)
FREE_TEXT_FIELD = {"copilot": "prompt_text", "call_summarization": "summary_text", "lmn_drafting": "letter_body"}
FAULT_RATE = 0.0002  # expected faults of each kind per good event in a file


class GenerateError(ValueError):
    pass


@dataclass
class FileTruth:
    lines: int = 0
    landed: int = 0
    duplicates: int = 0
    quarantined: int = 0
    blank: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    dropped_fields: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "landed": self.landed,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "blank": self.blank,
            "by_reason": dict(sorted(self.by_reason.items())),
            "dropped_fields": dict(sorted(self.dropped_fields.items())),
        }


def _month_starts(end_month: str, months: int) -> list[dt.date]:
    try:
        y, m = (int(x) for x in end_month.split("-"))
        dt.date(y, m, 1)
    except ValueError as exc:
        raise GenerateError(f"--end {end_month!r}: expected YYYY-MM") from exc
    out = []
    for _ in range(months):
        out.append(dt.date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def _next_month(d: dt.date) -> dt.date:
    return dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)


# --------------------------------------------------------------------------------------------- people
@dataclass
class People:
    actor_id: np.ndarray  # str objects
    team: np.ndarray  # int index into UNITS (home unit at window start)
    role: np.ndarray
    site: np.ndarray
    cost: np.ndarray
    move_to: np.ndarray  # unit index or -1
    move_at: np.ndarray  # datetime64[us]; NaT when no move
    roster_rows: list[tuple[str, str, str, str, str, str, str]]
    leaders: dict[str, str]


def _people(rng: np.random.Generator, n: int, start: dt.date, end: dt.date) -> People:
    units = org.UNITS
    idx = {u.code: i for i, u in enumerate(units)}
    non_team_leaders = [u for u in units if u.level != "team"]
    fixed = sum(u.fixed_size for u in org.TEAMS)
    free = n - len(non_team_leaders) - fixed
    shares = np.array([u.share for u in org.TEAMS if not u.fixed_size])
    sizes = np.floor(shares / shares.sum() * free).astype(int)
    sizes[: free - sizes.sum()] += 1
    size_of = dict(zip([u.code for u in org.TEAMS if not u.fixed_size], sizes, strict=True))
    size_of.update({u.code: u.fixed_size for u in org.TEAMS if u.fixed_size})

    ids = rng.permutation(np.arange(100000, 100000 + 9 * n))[:n]
    actor_id = np.array([f"E{x:07d}" for x in ids], dtype=object)
    team, role, site = [], [], []
    leaders: dict[str, str] = {}
    for u in non_team_leaders:
        r = {"enterprise": "chief_executive", "business_unit": "vice_president"}.get(u.level, "director")
        team.append(idx[u.code])
        role.append(r)
        site.append("Columbus OH")
    for u in org.TEAMS:
        for k in range(size_of[u.code]):
            team.append(idx[u.code])
            role.append("team_lead" if k == 0 else u.role)
            site.append(u.site)
    team_a = np.array(team)
    role_a = np.array(role, dtype=object)
    site_a = np.array(site, dtype=object)
    for i, t in enumerate(team_a):
        leaders.setdefault(units[t].code, actor_id[i])
    mean = np.array([org.HOURLY_COST[r][0] for r in role_a])
    spread = np.array([org.HOURLY_COST[r][1] for r in role_a])
    cost = np.round(mean + spread * rng.standard_normal(n), 2)

    # ~3% of team members move to a sibling team in the same department, mid-window.
    move_to = np.full(n, -1)
    move_at = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    siblings: dict[int, list[int]] = {}
    for u in org.TEAMS:
        if not u.fixed_size:
            siblings.setdefault(idx[u.parent], []).append(idx[u.code])  # type: ignore[index]
    span_days = int((end - start).days)
    movable = (role_a != "team_lead") & (np.array([units[t].level for t in team_a]) == "team")
    for i in (int(x) for x in np.flatnonzero(movable)):
        sib = [s for s in siblings.get(idx[units[team_a[i]].parent], []) if s != team_a[i]]  # type: ignore[index]
        if sib and rng.random() < 0.03:
            move_to[i] = sib[rng.integers(len(sib))]
            day = start + dt.timedelta(days=int(rng.integers(span_days // 4, 3 * span_days // 4)))
            move_at[i] = np.datetime64(day, "us")

    hired = (start - dt.timedelta(days=400)).isoformat()
    rows = []
    for i in range(n):
        code = units[team_a[i]].code
        if move_to[i] >= 0:
            moved = str(move_at[i].astype("datetime64[D]"))
            rows.append((actor_id[i], code, role_a[i], site_a[i], f"{cost[i]:.2f}", hired, moved))
            rows.append((actor_id[i], units[move_to[i]].code, role_a[i], site_a[i], f"{cost[i]:.2f}", moved, ""))
        else:
            rows.append((actor_id[i], code, role_a[i], site_a[i], f"{cost[i]:.2f}", hired, ""))
    return People(actor_id, team_a, role_a, site_a, cost, move_to, move_at, rows, leaders)


def _team_at(p: People, person: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """The unit index of each person at each time (the roster's answer)."""
    moved = (p.move_to[person] >= 0) & (ts >= p.move_at[person])
    return np.where(moved, p.move_to[person], p.team[person])


def _workdays(start: dt.date, end: dt.date) -> np.ndarray:
    days = np.arange(np.datetime64(start), np.datetime64(end), dtype="datetime64[D]")
    return days[np.is_busday(days)]


# --------------------------------------------------------------------------------------------- events
def _go_live_ts(month_starts: list[dt.date]) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {}
    for (wf, team), (mi, day) in org.GO_LIVE.items():
        if mi < len(month_starts):
            out[(wf, team)] = np.datetime64(month_starts[mi].replace(day=day), "us")
    return out


def _live(team_idx: np.ndarray, ts: np.ndarray, workflow: str, go_live: dict) -> np.ndarray:
    codes = np.array([u.code for u in org.UNITS], dtype=object)
    far = np.datetime64("9999-01-01", "us")
    live_from = np.array([go_live.get((workflow, c), far) for c in codes], dtype="datetime64[us]")
    return ts >= live_from[team_idx]


def _calls(rng, p: People, days: np.ndarray, go_live, scale: float) -> dict[str, Any]:
    idx = {u.code: i for i, u in enumerate(org.UNITS)}
    agents = np.flatnonzero(np.isin(p.team, [idx[c] for c in org.CALL_TEAMS]) & (p.role == "contact_center_agent"))
    pa_, pd_ = np.meshgrid(agents, np.arange(len(days)), indexing="ij")
    n = rng.poisson(7.0 * scale, size=pa_.size)
    person = np.repeat(pa_.ravel(), n)
    day = days[np.repeat(pd_.ravel(), n)]
    ts = day.astype("datetime64[us]") + (13 * 3600 + rng.integers(0, 9 * 3600, person.size)) * np.timedelta64(1, "s")
    team = _team_at(p, person, ts)
    offered = _live(team, ts, "call_summary", go_live) & (rng.random(person.size) < org.OFFER_PROBABILITY)
    agent_offset = rng.normal(0, 30, size=len(p.actor_id))
    acw = np.maximum(5, np.round(300 + agent_offset[person] + rng.normal(0, 60, person.size)
                                 - org.ACW_SAVING_SECONDS * offered))
    handle = np.maximum(30, np.round(rng.normal(420, 120, person.size)))
    call_id = rng.permutation(person.size) + 10_000_000
    queue = np.array(["member-general", "member-pharmacy", "provider-claims", "provider-credentialing"], dtype=object)
    q = np.where(np.isin(team, [idx["CC-PRV-A"], idx["CC-PRV-B"]]), 2, 0) + rng.integers(0, 2, person.size)
    return dict(person=person, ts=ts, team=team, offered=offered, acw=acw, handle=handle, call_id=call_id,
                queue=queue[q])


def _letters(rng, p: People, days: np.ndarray, go_live, end_ts, scale: float) -> dict[str, Any]:
    idx = {u.code: i for i, u in enumerate(org.UNITS)}
    staff = np.flatnonzero(np.isin(p.team, [idx[c] for c in org.LETTER_TEAMS]) & (p.role != "team_lead"))
    ps, pd_ = np.meshgrid(staff, np.arange(len(days)), indexing="ij")
    n = rng.poisson(1.6 * scale, size=ps.size)
    person = np.repeat(ps.ravel(), n)
    t0 = days[np.repeat(pd_.ravel(), n)].astype("datetime64[us]") + (
        13 * 3600 + rng.integers(0, 8 * 3600, person.size)) * np.timedelta64(1, "s")
    team = _team_at(p, person, t0)
    ai = _live(team, t0, "lmn_letters", go_live) & (rng.random(person.size) < org.AI_DRAFT_PROBABILITY)
    hours = 36 + rng.gamma(2.0, 24.0, person.size) - org.TURNAROUND_SAVING_HOURS * ai
    drafted = t0 + (rng.uniform(0.5, 4.0, person.size) * 3600).astype(np.int64) * np.timedelta64(1, "s")
    submitted = t0 + np.round(hours * 3600).astype(np.int64) * np.timedelta64(1, "s")
    decided = submitted + rng.integers(3 * 86400, 20 * 86400, person.size) * np.timedelta64(1, "s")
    intake = team == idx["SP-INT-1"]
    types = np.array(["lmn", "appeal", "denial_response", "prior_auth"], dtype=object)
    letter_type = np.where(intake, 3, rng.choice(3, person.size, p=[0.4, 0.35, 0.25]))
    return dict(person=person, t0=t0, team=team, ai=ai, drafted=drafted, submitted=submitted, decided=decided,
                case_id=rng.permutation(person.size) + 500_000, letter_type=types[letter_type],
                retired=rng.random(person.size) < 0.05, approved=rng.random(person.size) < 0.7,
                end_ts=end_ts)


def _copilot(rng, p: People, start: dt.date, end: dt.date, n_months: int, scale: float) -> dict[str, Any]:
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
    team = _team_at(p, person, ts)

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


def _ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    """`prefix<number>` strings, built by Arrow rather than one Python f-string per row."""
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def _events_table(rng, p: People, calls, letters, cop, n_people_units) -> pa.Table:
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
            "source": source if isinstance(source, np.ndarray) else pa.repeat(pa.scalar(source), n),
            "actor_id": actor_arr.take(idx),
            "capability": capability if isinstance(capability, np.ndarray) else pa.repeat(pa.scalar(capability), n),
            "org_unit": pc.if_else(pa.array(has_org), code_arr.take(pa.array(team)), pa.scalar(None, pa.string())),
            "site": pc.if_else(pa.array(rng.random(n) < 0.5), site_arr.take(idx), pa.scalar(None, pa.string())),
            "phi": rng.random(n) < 0.03,
        }

    # calls
    c = calls
    d = base(c["person"], c["ts"], c["team"], "call_summarization", "call_completed", "genesys-cloud",
             org.CALL_CAPABILITY)
    d.update(workflow=np.full(c["ts"].size, "call_summary", dtype=object),
             work_item_id=_ids("CALL-", c["call_id"]),
             handle_seconds=c["handle"], acw_seconds=c["acw"], ai_summary_offered=c["offered"], queue=c["queue"])
    cols.append(d)
    o = np.flatnonzero(c["offered"])
    rts = c["ts"][o] + ((c["handle"][o] + c["acw"][o] * 0.5) * 1e6).astype(np.int64) * np.timedelta64(1, "us")
    outcome = np.array(contract.OUTCOME_REVIEW, dtype=object)[rng.choice(3, o.size, p=[0.6, 0.3, 0.1])]
    d = base(c["person"][o], rts, _team_at(p, c["person"][o], rts), "call_summarization", "summary_reviewed",
             "genesys-cloud", org.CALL_CAPABILITY)
    d.update(workflow=np.full(o.size, "call_summary", dtype=object),
             work_item_id=_ids("CALL-", c["call_id"][o]), outcome=outcome,
             edit_ratio=np.where(outcome == "edited", np.round(rng.uniform(0.05, 0.6, o.size), 3), np.nan))
    cols.append(d)

    # letters: each step is an event, kept only when it happened before the window's end (the rest is backlog)
    lt = letters
    case = _ids("CASE-", lt["case_id"])
    steps = (
        ("letter_requested", lt["t0"]),
        ("letter_drafted", lt["drafted"]),
        ("letter_submitted", lt["submitted"]),
        ("letter_decided", lt["decided"]),
    )
    cap = np.where(lt["retired"], org.RETIRED_LETTER_CAPABILITY, org.LETTER_CAPABILITY).astype(object)
    for event_type, when in steps:
        k = np.flatnonzero(when < lt["end_ts"])
        d = base(lt["person"][k], when[k], _team_at(p, lt["person"][k], when[k]), "lmn_drafting", event_type,
                 "lmn-assist", cap[k])
        d.update(workflow=np.full(k.size, "lmn_letters", dtype=object), work_item_id=case.take(pa.array(k)))
        if event_type == "letter_requested":
            d.update(letter_type=lt["letter_type"][k],
                     payer=np.array(["Aetna", "BCBS", "Cigna", "Humana", "UnitedHealthcare"],
                                    dtype=object)[rng.integers(0, 5, k.size)])
        elif event_type == "letter_drafted":
            ai = lt["ai"][k]
            out = np.array(contract.OUTCOME_REVIEW, dtype=object)[rng.choice(3, k.size, p=[0.5, 0.4, 0.1])]
            d.update(ai_drafted=ai, outcome=np.where(ai, out, None),
                     edit_ratio=np.where(ai & (out == "edited"), np.round(rng.uniform(0.05, 0.7, k.size), 3), np.nan))
        elif event_type == "letter_decided":
            d.update(decision=np.where(lt["approved"][k], "approved", "denied").astype(object))
        cols.append(d)

    # copilot
    cp = cop
    acts = org.COPILOT_ACTIONS
    a = cp["action"]
    d = base(cp["person"], cp["ts"], cp["team"], "copilot", "assist",
             np.where(np.array([acts[i][0] for i in range(len(acts))], dtype=object)[a] == "vscode",
                      "github-copilot", "m365-copilot").astype(object) if a.size else "m365-copilot",
             np.array([x[2] for x in acts], dtype=object)[a])
    d.update(app=np.array([x[0] for x in acts], dtype=object)[a],
             action=np.array([x[1] for x in acts], dtype=object)[a],
             outcome=np.where(cp["accepted"], "accepted", "discarded").astype(object),
             count=np.where(cp["explicit_count"] | (cp["count"] > 1), cp["count"], -1))
    cols.append(d)

    formatted = ("schema_version", "event_id", "occurred_at")  # added or rendered later
    names = ["ts", "offset_min", "phi"] + [
        f.name for f in contract.COMMON_FIELDS if f.name not in formatted] + list(contract.payload_fields())
    types = {"ts": pa.timestamp("us"), "offset_min": pa.int32(), "phi": pa.bool_(), "handle_seconds": pa.int64(),
             "acw_seconds": pa.int64(), "ai_summary_offered": pa.bool_(), "ai_drafted": pa.bool_(),
             "edit_ratio": pa.float64(), "count": pa.int64()}
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
            elif name == "count":
                arrays[name] = pa.array(np.where(d[name] < 0, 0, d[name]), type=t, mask=d[name] < 0)
            else:
                arrays[name] = pa.array(d[name], type=t)
        tables.append(pa.table(arrays))
    return pa.concat_tables(tables)


_FORMAT_SQL = """
select file, phi, tool, '{{' || {fields} || '}}' as line
from (
  select * exclude (event_num),
    strftime(ts, '%Y-%m') || '-' || source as file,
    case source when 'genesys-cloud' then 'gc' when 'github-copilot' then 'gh' when 'lmn-assist' then 'lmn'
                else 'm365' end || '-' || lpad(to_hex(event_num), 16, '0') as event_id,
    strftime(ts + to_minutes(offset_min), '%Y-%m-%dT%H:%M:%S') || '.' || lpad((epoch_ms(ts) % 1000)::varchar, 3, '0')
      || case when offset_min = 0 then 'Z'
              else (case when offset_min < 0 then '-' else '+' end)
                   || lpad((abs(offset_min) // 60)::varchar, 2, '0') || ':'
                   || lpad((abs(offset_min) % 60)::varchar, 2, '0') end as occurred_at
  from ev
)
order by file, ts, event_id
"""


def _format_lines(con: duckdb.DuckDBPyConnection, ev: pa.Table) -> pa.Table:
    # `,"name":value` per field, or nothing when the value is null (to_json escapes strings)
    parts = []
    for i, f in enumerate(contract.COMMON_FIELDS + tuple(contract.payload_fields().values())):
        value = f"{f.name}::varchar" if f.kind in ("integer", "boolean") else f"to_json({f.name})"
        parts.append(f"""coalesce('{"," if i else ""}"{f.name}":' || {value}, '')""")
    fields = " || ".join(parts)
    con.register("ev", ev)
    try:
        return con.sql(_FORMAT_SQL.format(fields=fields)).to_arrow_table()
    finally:
        con.unregister("ev")


# --------------------------------------------------------------------------------------------- faults
def _wrong_kind(f: contract.Field) -> Any:
    return {"string": 42, "integer": "7", "number": "12.5", "boolean": "yes", "timestamp": 1717171717}[f.kind]


def _invalid(f: contract.Field) -> Any:
    if f.name == "schema_version":
        return "v1"
    if f.name == "occurred_at":
        return "2026-02-30T25:61:00Z"
    if f.enum:
        return "maybe"
    if f.max_length:
        return "x" * (f.max_length + 1)
    if f.min_length:
        return ""
    if f.minimum is not None:
        return int(f.minimum) - 1
    raise ValueError(f.name)


FAULT_KINDS = (
    "invalid_utf8", "line_too_long", "malformed_json", "not_an_object", "missing_field", "wrong_type",
    "invalid_value", "unknown_tool", "unknown_event_type", "unsupported_schema_version",
    "timestamp_without_offset", "occurred_in_future", "blank", "duplicate", "conflicting_duplicate",
)


def _fault(kind: str, line: bytes, rng: np.random.Generator) -> tuple[bytes, str | None]:
    """Corrupt one good line into a bad one: (line, reason). reason None = blank."""
    ev = json.loads(line)
    fields = contract.event_fields(ev["tool"], ev["event_type"])
    dump = lambda e: json.dumps(e, separators=(",", ":")).encode()  # noqa: E731
    if kind == "invalid_utf8":
        return line.replace(b'"actor_id":"', b'"actor_id":"\xff\xfe', 1), "invalid_utf8"
    if kind == "line_too_long":
        ev["prompt_text"] = "lorem ipsum " * ((contract.MAX_LINE_BYTES // 12) + 10)
        return dump(ev), "line_too_long"
    if kind == "malformed_json":
        return line[: int(rng.integers(1, len(line) - 1))], "malformed_json"
    if kind == "not_an_object":
        return [dump([ev]), b'"just a string"', b"12345", b"null"][int(rng.integers(0, 4))], "not_an_object"
    if kind == "missing_field":
        f = [f for f in fields if f.required][int(rng.integers(0, sum(f.required for f in fields)))]
        del ev[f.name]
        return dump(ev), f"missing_field:{f.name}"
    if kind == "wrong_type":
        present = [f for f in fields if f.name in ev]
        f = present[int(rng.integers(0, len(present)))]
        ev[f.name] = _wrong_kind(f)
        return dump(ev), f"wrong_type:{f.name}"
    if kind == "invalid_value":
        ruled = [f for f in fields if f.name in ev and (f.enum or f.max_length or f.min_length
                                                        or f.minimum is not None or f.name in ("schema_version",
                                                                                               "occurred_at"))]
        f = ruled[int(rng.integers(0, len(ruled)))]
        ev[f.name] = _invalid(f)
        return dump(ev), f"invalid_value:{f.name}"
    if kind == "unknown_tool":
        ev["tool"] = "claude_code"
        return dump(ev), "unknown_tool"
    if kind == "unknown_event_type":
        ev["event_type"] = "call_started"
        return dump(ev), "unknown_event_type"
    if kind == "unsupported_schema_version":
        ev["schema_version"] = "2.0"
        return dump(ev), "unsupported_schema_version"
    if kind == "timestamp_without_offset":
        ev["occurred_at"] = ev["occurred_at"][:19]
        return dump(ev), "timestamp_without_offset"
    if kind == "occurred_in_future":
        ev["occurred_at"] = "2099" + ev["occurred_at"][4:]
        return dump(ev), "occurred_in_future"
    if kind == "blank":
        return [b"", b"   ", b"\t"][int(rng.integers(0, 3))], None
    raise ValueError(kind)


def _duplicate(line: bytes, rng: np.random.Generator) -> tuple[bytes, list[str]]:
    """An exact re-send: same content after normalization, sometimes re-serialized. (line, dropped fields)."""
    v = int(rng.integers(0, 4))
    if v == 0:
        return line, _dropped(line)
    ev = json.loads(line)
    if v == 1:  # keys in another order
        return json.dumps(ev, sort_keys=True).encode(), _dropped(line)
    if v == 2:  # the same instant with another offset
        ts = dt.datetime.fromisoformat(ev["occurred_at"].replace("Z", "+00:00"))
        ev["occurred_at"] = ts.astimezone(dt.timezone(dt.timedelta(hours=-5))).isoformat(timespec="milliseconds")
        return json.dumps(ev).encode(), _dropped(line)
    ev[FREE_TEXT_FIELD[ev["tool"]]] = PHI_TEXT[int(rng.integers(0, len(PHI_TEXT)))]  # re-sent with free text
    out = json.dumps(ev).encode()
    return out, _dropped(out)


def _conflict(line: bytes) -> bytes:
    """The same event_id with different content."""
    ev = json.loads(line)
    et = ev["event_type"]
    if et == "call_completed":
        ev["acw_seconds"] = ev["acw_seconds"] + 37
    elif et == "assist":
        ev["outcome"] = "discarded" if ev.get("outcome") == "accepted" else "accepted"
    elif et == "letter_decided":
        ev["decision"] = "denied" if ev["decision"] == "approved" else "approved"
    else:
        ev["capability"] = ev["capability"] + ".v2"
    return json.dumps(ev, separators=(",", ":")).encode()


def _dropped(line: bytes) -> list[str]:
    ev = json.loads(line)
    allowed = contract.allowed_fields(ev["tool"], ev["event_type"])
    return [k for k in ev if k not in allowed]


# --------------------------------------------------------------------------------------------- writing
def _write_reference(out: Path, p: People, month_starts: list[dt.date], end: dt.date, go_live) -> None:
    import csv

    ref = out / "reference"
    ref.mkdir(parents=True, exist_ok=True)

    def write(name: str, header: tuple[str, ...], rows) -> None:
        with (ref / name).open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)

    write("org_units.csv", ("org_unit", "name", "parent_org_unit", "level", "leader"),
          [(u.code, u.name, u.parent or "", u.level, p.leaders.get(u.code, "")) for u in org.UNITS])
    write("roster.csv", ("actor_id", "org_unit", "role", "site", "hourly_cost_usd", "valid_from", "valid_to"),
          p.roster_rows)
    write("workflows.csv", ("workflow", "tool", "accountability", "unit_of_work", "metric", "budget_owner"),
          org.WORKFLOWS)
    write("go_live.csv", ("workflow", "org_unit", "go_live_date"),
          [(wf, team, str(ts.astype("datetime64[D]"))) for (wf, team), ts in sorted(go_live.items())])
    start_iso = (month_starts[0] - dt.timedelta(days=365)).isoformat()
    write("governance.csv", ("capability", "status", "scope_org_unit", "effective_from", "effective_to",
                             "decision_ref"),
          org.governance_rows(start_iso, [m.isoformat() for m in month_starts]))
    # seats: everyone in a licensed team; call and letter seats from the month a team goes live
    idx = {u.code: i for i, u in enumerate(org.UNITS)}
    rows = []
    for m in month_starts:
        me = _next_month(m)
        ms = m.strftime("%Y-%m")
        m0, m1 = np.datetime64(m, "us"), np.datetime64(me, "us")
        moved = p.move_to >= 0
        for u in org.TEAMS:
            # a seat for everyone in the team at any time of the month, movers in both teams
            here = idx[u.code]
            heads = int(np.sum(((p.team == here) & (~moved | (p.move_at > m0)))
                               | ((p.move_to == here) & moved & (p.move_at < m1))))
            if u.parent and (org.UNIT_BY_CODE[u.parent].parent in org.COPILOT_UNITS):
                rows.append(("copilot", u.code, ms, heads, f"{heads * org.LICENSE_PRICE['copilot']:.2f}"))
            for wf, tool, teams in (("call_summary", "call_summarization", org.CALL_TEAMS),
                                    ("lmn_letters", "lmn_drafting", org.LETTER_TEAMS)):
                g = go_live.get((wf, u.code))
                if u.code in teams and g is not None and g < np.datetime64(me, "us"):
                    rows.append((tool, u.code, ms, heads, f"{heads * org.LICENSE_PRICE[tool]:.2f}"))
        for code in ("BU-CC", "CC-MEM", "CC-PRV"):  # contact-center leaders and team leads hold copilot seats
            heads = 1 + (sum(1 for t in org.CALL_TEAMS if org.UNIT_BY_CODE[t].parent == code) if code != "BU-CC" else 0)
            rows.append(("copilot", code, ms, heads, f"{heads * org.LICENSE_PRICE['copilot']:.2f}"))
        for code in ("ENT", "BU-SP", "SP-INT", "SP-APL", "BU-CS", "CS-FIN", "CS-TEC", "CS-HR"):
            rows.append(("copilot", code, ms, 1, f"{org.LICENSE_PRICE['copilot']:.2f}"))
    write("licenses.csv", ("tool", "org_unit", "month", "seats", "cost_usd"), rows)
    write("minutes_per_action.csv", ("app", "action", "minutes_saved"),
          [(a, b, f"{m:g}") for a, b, _, m, _ in org.COPILOT_ACTIONS])
    targets = []
    for m in month_starts:
        for u in org.UNITS:
            if u.level == "business_unit":
                heads = int(np.sum(np.isin(p.team, [idx[t.code] for t in org.TEAMS
                                                    if org.UNIT_BY_CODE[t.parent].parent == u.code])))  # type: ignore
                targets.append((u.code, m.strftime("%Y-%m"), f"{heads * 2.5:.1f}"))
    write("targets.csv", ("org_unit", "month", "target_hours_saved"), targets)


def generate(out: str | Path, seed: int = 1, months: int = 6, people: int = 600,
             end_month: str = DEFAULT_END_MONTH, volume: float = 1.0, progress: bool | None = None) -> dict[str, Any]:
    """Write a synthetic organization under `out`; returns the truth (also written to truth.json)."""
    if people < 300:
        raise GenerateError(f"--people {people}: at least 300, so that every team but one has 11 people or more")
    if not 1 <= months <= 36:
        raise GenerateError(f"--months {months}: between 1 and 36")
    month_starts = _month_starts(end_month, months)
    start, end = month_starts[0], _next_month(month_starts[-1])
    if end > dt.date.today():
        raise GenerateError(f"--end {end_month}: the month has not ended yet; events must be in the past")
    out = Path(out)
    (out / "landing").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    bar = Progress("generate", total=months + 2, enabled=progress)

    p = _people(rng, people, start, end)
    go_live = _go_live_ts(month_starts)
    days = _workdays(start, end)
    end_ts = np.datetime64(end, "us")
    calls = _calls(rng, p, days, go_live, volume)
    letters = _letters(rng, p, days, go_live, end_ts, volume)
    cop = _copilot(rng, p, start, end, months, volume)
    ev = _events_table(rng, p, calls, letters, cop, len(org.UNITS))
    _write_reference(out, p, month_starts, end, go_live)
    bar.advance()

    # Event ids: a keyed permutation of the row number, rendered in SQL as `<source prefix>-<16 hex>`.
    n = ev.num_rows
    order = rng.permutation(n).astype(np.uint64)
    mixed = (order * np.uint64(0x9E3779B97F4A7C15)) ^ np.uint64(seed * 0x5851F42D4C957F2D % (1 << 64))
    ts = ev.column("ts").to_numpy()
    month_idx = (ts.astype("datetime64[M]") - np.datetime64(start, "M")).astype(int)
    ev = ev.append_column("event_num", pa.array(mixed, pa.uint64()))
    ev = ev.append_column("schema_version", pa.array(np.where(rng.random(n) < 0.8, "1.0", "1.3"), pa.string()))
    ev = ev.append_column("month_idx", pa.array(month_idx, pa.int32()))

    con = duckdb.connect()
    con.execute("set threads to 2")
    truth_files: dict[str, FileTruth] = {}
    carry: dict[str, list[tuple[bytes, str]]] = {s: [] for s in SOURCES}  # re-sends for next month's file
    fault_totals: Counter[str] = Counter()
    crlf_file = f"{month_starts[min(1, months - 1)].strftime('%Y-%m')}-github-copilot"
    for mi in range(months):
        month = month_starts[mi].strftime("%Y-%m")
        sub = ev.filter(pc.equal(ev.column("month_idx"), mi))
        lines_t = _format_lines(con, sub)
        files = lines_t.column("file").to_numpy(zero_copy_only=False)
        phi = lines_t.column("phi").to_numpy(zero_copy_only=False)
        tools = lines_t.column("tool").to_numpy(zero_copy_only=False)
        lines = lines_t.column("line").cast(pa.binary()).to_pylist()
        bounds = np.flatnonzero(files[1:] != files[:-1]) + 1
        starts = np.concatenate([[0], bounds]) if len(files) else np.array([], int)
        stops = np.concatenate([bounds, [len(files)]]) if len(files) else np.array([], int)
        for a, b in zip(starts, stops, strict=True):
            name = files[a]
            source = name[len(month) + 1:]
            good = lines[a:b]
            t = FileTruth()
            # PHI-like free text on a few good lines: landed without it, counted as dropped
            for i in np.flatnonzero(phi[a:b]):
                field_name = FREE_TEXT_FIELD[tools[a + i]]
                text = PHI_TEXT[int(rng.integers(0, len(PHI_TEXT)))]
                good[i] = good[i][:-1] + b',"' + field_name.encode() + b'":' + json.dumps(text).encode() + b"}"
                t.dropped_fields[field_name] += 1
            t.landed = len(good)
            inserts: list[tuple[int, bytes]] = []
            for line, kind in carry[source]:  # re-sends of last month's events come early in this file
                inserts.append((int(rng.integers(0, max(1, len(good) // 10))), line))
                if kind == "conflicting_duplicate":
                    t.quarantined += 1
                    t.by_reason[kind] += 1
                else:
                    t.duplicates += 1
                for fld in _dropped(line):
                    t.dropped_fields[fld] += 1
            carry[source] = []
            for kind in FAULT_KINDS:
                rate = 0.0 if kind == "line_too_long" else FAULT_RATE  # a 1 MiB line is planted rarely
                k = int(rng.poisson(max(0.5, len(good) * rate)))
                for _ in range(k):
                    j = int(rng.integers(0, len(good)))
                    fault_totals[kind] += 1
                    if kind in ("duplicate", "conflicting_duplicate"):
                        if kind == "duplicate":
                            line, dropped = _duplicate(good[j], rng)
                            t.duplicates += 1
                        else:
                            line, dropped = _conflict(good[j]), _dropped(good[j])
                            t.quarantined += 1
                            t.by_reason[kind] += 1
                        for fld in dropped:
                            t.dropped_fields[fld] += 1
                        if mi + 1 < months and rng.random() < 0.3:
                            carry[source].append((line, kind))
                            if kind == "duplicate":
                                t.duplicates -= 1
                            else:
                                t.quarantined -= 1
                                t.by_reason[kind] -= 1
                            for fld in dropped:
                                t.dropped_fields[fld] -= 1
                            continue
                        inserts.append((int(rng.integers(j + 1, len(good) + 1)), line))
                        continue
                    line, reason = _fault(kind, good[j], rng)
                    inserts.append((int(rng.integers(0, len(good) + 1)), line))
                    if reason is None:
                        t.blank += 1
                    else:
                        t.quarantined += 1
                        t.by_reason[reason] += 1
            inserts.sort(key=lambda x: x[0])
            body: list[bytes] = []
            prev = 0
            for pos, line in inserts:
                body.extend(good[prev:pos])
                body.append(line)
                prev = pos
            body.extend(good[prev:])
            t.lines = len(body)
            t.by_reason = +t.by_reason
            t.dropped_fields = +t.dropped_fields
            nl = b"\r\n" if name == crlf_file else b"\n"
            data = nl.join(body) + nl
            rel = f"landing/{name}.jsonl" + (".gz" if source in GZIP_SOURCES else "")
            target = out / rel
            tmp = target.with_name(target.name + ".tmp")
            if source in GZIP_SOURCES:
                with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as gz:
                    gz.write(data)
            else:
                tmp.write_bytes(data)
            os.replace(tmp, target)
            truth_files[rel] = t
        bar.advance()

    total = FileTruth()
    for t in truth_files.values():
        for name in ("lines", "landed", "duplicates", "quarantined", "blank"):
            setattr(total, name, getattr(total, name) + getattr(t, name))
        total.by_reason.update(t.by_reason)
        total.dropped_fields.update(t.dropped_fields)
    truth = {
        "seed": seed,
        "people": people,
        "months": [m.strftime("%Y-%m") for m in month_starts],
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "effects": {
            "call_summary": {"metric": "acw_seconds", "saving_per_item": org.ACW_SAVING_SECONDS,
                             "assignment": f"randomized, p={org.OFFER_PROBABILITY} in live teams"},
            "lmn_letters": {"metric": "turnaround_hours", "saving_per_item": org.TURNAROUND_SAVING_HOURS,
                            "assignment": f"randomized, p={org.AI_DRAFT_PROBABILITY} in live teams"},
        },
        "go_live": {f"{wf}/{team}": str(ts.astype("datetime64[D]")) for (wf, team), ts in sorted(go_live.items())},
        "small_org_unit": org.SMALL_TEAM,
        "events": n,
        "totals": total.as_dict(),
        "files": {k: v.as_dict() for k, v in sorted(truth_files.items())},
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    bar.advance()
    bar.close()
    return truth
