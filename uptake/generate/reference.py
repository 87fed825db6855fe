"""The reference folder of the synthetic organization: the eight CSVs of SPEC §3.

Org units with their leaders, the roster (movers get two periods), workflows, go-live dates, governance
decisions, licenses (seats for everyone in a licensed team, movers in both teams of the month), finance's
minutes-per-action assumptions and the business units' targets.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np

from uptake import org
from uptake.generate.people import People
from uptake.generate.window import next_month


def business_unit(code: str) -> str:
    """The business unit (or the enterprise) whose subtree holds `code`."""
    u = org.UNIT_BY_CODE[code]
    while u.level not in ("business_unit", "enterprise"):
        u = org.UNIT_BY_CODE[u.parent]  # type: ignore[index]
    return u.code


def write_reference(out: Path, p: People, month_starts: list[dt.date], end: dt.date, go_live,
                    copilot_seat_shortfall: float = 0.0) -> dict[str, Any]:
    """Write the CSVs; returns the seats truth: copilot seats written and seat holders, per month and
    business unit. `copilot_seat_shortfall` (0 to 1) leaves that share of each copilot seat count out of
    licenses.csv (a license file that lags the people who use the tool): users then exceed seats."""

    ref = out / "reference"
    ref.mkdir(parents=True, exist_ok=True)

    def write(name: str, header: tuple[str, ...], rows) -> None:
        with (ref / name).open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)

    write("org_units.csv", ("org_unit", "name", "parent_org_unit", "level", "leader"),
          [(u.code, u.name, u.parent or "", u.level, org.leader(u)) for u in org.UNITS])
    write("roster.csv", ("actor_id", "org_unit", "role", "site", "hourly_cost_usd", "valid_from", "valid_to"),
          p.roster_rows)
    write("workflows.csv", ("workflow", "tool", "accountability", "unit_of_work", "metric", "service_metric",
                            "sla_hours", "budget_owner"), org.WORKFLOWS)
    write("go_live.csv", ("workflow", "org_unit", "go_live_date"),
          [(wf, team, str(ts.astype("datetime64[D]"))) for (wf, team), ts in sorted(go_live.items())])
    start_iso = (month_starts[0] - dt.timedelta(days=365)).isoformat()
    write("governance.csv", ("capability", "status", "scope_org_unit", "effective_from", "effective_to",
                             "decision_ref"),
          org.governance_rows(start_iso, [m.isoformat() for m in month_starts]))
    # seats: everyone in a licensed team; call and letter seats from the month a team goes live
    idx = {u.code: i for i, u in enumerate(org.UNITS)}
    rows = []
    seats: dict[str, dict[str, dict[str, int]]] = {"holders": {}, "seats": {}}

    def copilot_row(code: str, ms: str, heads: int) -> None:
        n = heads - int(heads * copilot_seat_shortfall)
        rows.append(("copilot", code, ms, n, f"{n * org.LICENSE_PRICE['copilot']:.2f}"))
        for key, value in (("holders", heads), ("seats", n)):
            per_bu = seats[key].setdefault(ms, {})
            per_bu[business_unit(code)] = per_bu.get(business_unit(code), 0) + value

    for m in month_starts:
        me = next_month(m)
        ms = m.strftime("%Y-%m")
        m0, m1 = np.datetime64(m, "us"), np.datetime64(me, "us")
        moved = p.move_to >= 0
        for u in org.TEAMS:
            # a seat for everyone in the team at any time of the month, movers in both teams
            here = idx[u.code]
            heads = int(np.sum(((p.team == here) & (~moved | (p.move_at > m0)))
                               | ((p.move_to == here) & moved & (p.move_at < m1))))
            if u.parent and (org.UNIT_BY_CODE[u.parent].parent in org.COPILOT_UNITS):
                copilot_row(u.code, ms, heads)
            for wf, tool, teams in (("call_summary", "call_summarization", org.CALL_TEAMS),
                                    ("lmn_letters", "lmn_drafting", org.LETTER_TEAMS)):
                g = go_live.get((wf, u.code))
                if u.code in teams and g is not None and g < np.datetime64(me, "us"):
                    rows.append((tool, u.code, ms, heads, f"{heads * org.LICENSE_PRICE[tool]:.2f}"))
        for code in ("BU-CC", "CC-MEM", "CC-PRV"):  # contact-center leaders and team leads hold copilot seats
            heads = 1 + (sum(1 for t in org.CALL_TEAMS if org.UNIT_BY_CODE[t].parent == code) if code != "BU-CC" else 0)
            copilot_row(code, ms, heads)
        for code in ("ENT", "BU-SP", "SP-INT", "SP-APL", "BU-CS", "CS-FIN", "CS-TEC", "CS-HR"):
            copilot_row(code, ms, 1)
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
    return {"copilot_seat_shortfall": copilot_seat_shortfall, "copilot_seats": seats["seats"],
            "copilot_seat_holders": seats["holders"]}


