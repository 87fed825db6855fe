"""The people of the synthetic organization: who works where, in what role, at what cost, and who moves.

`build_people` draws the head count of every team, a leader in every unit, hourly costs by role and the
~3 % of team members who move to a sibling team mid-window; `team_at` answers the roster's question "which
unit was this person in at this time".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from uptake import org


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


def build_people(rng: np.random.Generator, n: int, start: dt.date, end: dt.date) -> People:
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
    return People(actor_id, team_a, role_a, site_a, cost, move_to, move_at, rows)


def team_at(p: People, person: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """The unit index of each person at each time (the roster's answer)."""
    moved = (p.move_to[person] >= 0) & (ts >= p.move_at[person])
    return np.where(moved, p.move_to[person], p.team[person])


