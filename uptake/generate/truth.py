"""The truth: what an ingest of the generated files must report, and the effects planted in them.

`FileTruth` is counted line by line as the landing files are written; `truth_document` adds the planted
effects, go-live dates and the small team, and is written to `truth.json`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from pipelines.accounting import Counts
from uptake import org
from uptake.generate.events import Biases

# What the generator planted in a file, counted line by line as it writes (landing.py): the same five counts,
# reasons and dropped fields the ingest reports, in the ingest's own accounting type, so the two compare as is.
FileTruth = Counts


def truth_document(seed: int, people: int, month_starts: list[dt.date], end: dt.date,
                   go_live: dict[tuple[str, str], Any], events: int,
                   truth_files: dict[str, FileTruth], biases: Biases = Biases()) -> dict[str, Any]:
    """The content of truth.json: the planted effects (the saving per assisted item holds whatever the biases:
    the AI saves the same on every item it is used on) and the biases planted against the naive methods."""
    if biases.self_selection:
        how = (f"self-selected: P = 1 / (1 + exp(-(logit(p) + {biases.self_selection:g} x pace / sd of pace))), "
               "p = {p} in live teams")
    else:
        how = "randomized, p={p} in live teams"
    total = FileTruth()
    for t in truth_files.values():
        total.add(t)
    return {
        "seed": seed,
        "people": people,
        "months": [m.strftime("%Y-%m") for m in month_starts],
        "window": {"start": month_starts[0].isoformat(), "end": end.isoformat()},
        "effects": {
            "call_summary": {"metric": "acw_seconds", "saving_per_item": org.ACW_SAVING_SECONDS,
                             "total_saving_per_item": org.ACW_SAVING_SECONDS,  # handle time is not changed
                             "assignment": how.format(p=org.OFFER_PROBABILITY)},
            "lmn_letters": {"metric": "work_seconds", "saving_per_item": org.WORK_SAVING_SECONDS,
                            "assignment": how.format(p=org.AI_DRAFT_PROBABILITY)},
        },
        "biases": {  # what breaks the naive methods (events.Biases)
            **biases.as_dict(),
            "trend_metrics": ["acw_seconds", "work_seconds"],
        },
        "service_levels": {  # reported beside the value, never in dollars
            "lmn_letters": {"metric": "turnaround_hours", "saving_per_item": org.TURNAROUND_SAVING_HOURS,
                            "sla_hours": float(dict((w[0], w[6]) for w in org.WORKFLOWS)["lmn_letters"])},
        },
        "go_live": {f"{wf}/{team}": str(ts.astype("datetime64[D]")) for (wf, team), ts in sorted(go_live.items())},
        "small_org_unit": org.SMALL_TEAM,
        "events": events,
        "totals": total.as_dict(),
        "files": {k: v.as_dict() for k, v in sorted(truth_files.items())},
    }


def write_truth(out: Path, truth: dict[str, Any]) -> None:
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
