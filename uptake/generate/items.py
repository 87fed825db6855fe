"""The generated calls and letters as work items, column-wise, without writing or ingesting any event.

`work_items(seed, …)` draws exactly what `generate(…)` draws for calls and letters (same seed, size, window
and biases: the same items) and returns them in the shape of the warehouse's `work_items` table (one row per
item and metric: a call's ACW, a letter's staff time and turnaround), with the temporary `item_costs` table
and the org tables the method models join. The coverage benchmark (`bench/coverage.py`) and the methods' tests
run the attribution models on it directly: hundreds of organizations in minutes, where an ingest and a build
would take a minute each. Actors are the roster ids (nothing is pseudonymized: nothing is stored).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from uptake import org
from uptake.generate import check, draw_work
from uptake.generate.events import Biases
from uptake.generate.people import team_at
from uptake.generate.window import DEFAULT_END_MONTH


@dataclass
class Items:
    """`work_items` and `item_costs` as the warehouse builds them; `org_units` (org_unit, parent_org_unit,
    level) for the hierarchy."""

    work_items: pa.Table
    item_costs: pa.Table
    org_units: pa.Table
    months: list[str]


def _month(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    start = ts.astype("datetime64[M]")
    return np.datetime_as_string(start, unit="M"), start.astype("datetime64[D]")


def work_items(seed: int = 1, months: int = 6, people: int = 600, end_month: str = DEFAULT_END_MONTH,
               volume: float = 1.0, biases: Biases = Biases()) -> Items:
    """The work items `generate` would produce with the same arguments, as the warehouse sees them."""
    month_starts, start, end = check(people, months, end_month, biases)
    rng = np.random.default_rng(seed)
    p, go_live, calls, letters = draw_work(rng, people, month_starts, start, end, volume, biases)
    codes = np.array([u.code for u in org.UNITS], dtype=object)
    far = np.datetime64("9999-01-01", "us")

    def go_live_of(workflow: str, team: np.ndarray) -> np.ndarray:
        dates = np.array([go_live.get((workflow, c), far) for c in codes], dtype="datetime64[us]")
        return dates[team]

    parts = []
    # calls: one item each, ACW and total agent time
    c = calls
    month, month_start = _month(c["ts"])
    g = go_live_of("call_summary", c["team"])
    parts.append(dict(workflow="call_summary", tool="call_summarization", metric="acw_seconds",
                      metric_kind="staff_time", item_id=np.char.add("CALL-", c["call_id"].astype(str)),
                      org_unit=codes[c["team"]], actor_key=p.actor_id[c["person"]], item_at=c["ts"], month=month,
                      month_start=month_start, value=c["acw"].astype(float),
                      total_value=(c["acw"] + c["handle"]).astype(float), stratum=c["queue"],
                      assisted=c["offered"], go_live=g, exposed_at=c["ts"]))
    # letters submitted in the window: staff time (when the submission carries it) and turnaround
    lt = letters
    k = np.flatnonzero(lt["submitted"] < lt["end_ts"])
    sub = lt["submitted"][k]
    month, month_start = _month(sub)
    team = team_at(p, lt["person"][k], sub)
    g = go_live_of("lmn_letters", team)  # as the warehouse: the go-live of the submitter's unit
    work = lt["work_seconds"][k].astype(float)
    base = dict(workflow="lmn_letters", tool="lmn_drafting", metric_kind="staff_time",
                item_id=np.char.add("CASE-", lt["case_id"][k].astype(str)), org_unit=codes[team],
                actor_key=p.actor_id[lt["person"][k]], item_at=sub, month=month, month_start=month_start,
                total_value=np.full(k.size, np.nan), stratum=lt["letter_type"][k], assisted=lt["ai"][k], go_live=g,
                exposed_at=lt["t0"][k])
    parts.append(dict(base, metric="work_seconds", value=np.where(work < 0, np.nan, work)))
    hours = (sub - lt["t0"][k]).astype("timedelta64[us]").astype(np.int64) / 3_600_000_000
    parts.append(dict(base, metric="turnaround_hours", metric_kind="service_level", value=hours))

    cols: dict[str, list] = {}
    for part in parts:
        n = part["item_at"].size
        for name, v in part.items():
            cols.setdefault(name, []).append(np.full(n, v, dtype=object) if isinstance(v, str) else v)
    col = {name: np.concatenate(v) for name, v in cols.items()}
    go = col.pop("go_live")
    has = go < far
    go_day = go.astype("datetime64[D]")
    # the go-live unit is the team itself (org.GO_LIVE is per team; the warehouse takes the nearest ancestor)
    go_live_unit = np.where(has, col["org_unit"], np.array(None, dtype=object))
    table = pa.table({
        "workflow": pa.array(col["workflow"], pa.string()),
        "tool": pa.array(col["tool"], pa.string()),
        "metric": pa.array(col["metric"], pa.string()),
        "metric_kind": pa.array(col["metric_kind"], pa.string()),
        "item_id": pa.array(col["item_id"].astype(str), pa.string()),
        "org_unit": pa.array(col["org_unit"], pa.string()),
        "actor_key": pa.array(col["actor_key"], pa.string()),
        "item_at": pa.array(col["item_at"].astype("datetime64[us]"), pa.timestamp("us", tz="UTC")),
        "month": pa.array(col["month"], pa.string()),
        "month_start": pa.array(col["month_start"].astype("datetime64[D]"), pa.date32()),
        "value": pa.array(col["value"].astype(float), pa.float64(), from_pandas=True),
        "total_value": pa.array(col["total_value"].astype(float), pa.float64(), from_pandas=True),
        "stratum": pa.array(col["stratum"], pa.string()),
        "assisted": pa.array(col["assisted"].astype(bool), pa.bool_()),
        "go_live_unit": pa.array(go_live_unit, pa.string()),
        "go_live_date": pa.array(np.where(has, go_day, np.datetime64("NaT")), pa.date32()),
        "exposed_at": pa.array(col["exposed_at"].astype("datetime64[us]"), pa.timestamp("us", tz="UTC")),
        "live": pa.array(has & (col["exposed_at"] >= go), pa.bool_()),
    })
    rate = dict(zip(p.actor_id, p.cost, strict=True))
    costs = pa.table({
        "workflow": table.column("workflow"),
        "item_id": table.column("item_id"),
        "hourly_cost_usd": pa.array([rate[a] for a in col["actor_key"]], pa.float64()),
    })
    units = pa.table({
        "org_unit": pa.array([u.code for u in org.UNITS], pa.string()),
        "parent_org_unit": pa.array([u.parent for u in org.UNITS], pa.string()),
        "level": pa.array([u.level for u in org.UNITS], pa.string()),
    })
    return Items(table, costs, units, [m.strftime("%Y-%m") for m in month_starts])

