"""The planted faults: how a good line is turned into each kind of bad line, re-sent, or made to conflict.

Every quarantine reason of SPEC §2 has a kind here (plus blank lines, exact duplicates and conflicting
duplicates); each function returns the bad line and the reason an ingest must give it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np

from schemas import events as contract

PHI_TEXT = (
    "Pt Maria Alvarez DOB 1958-03-14 MRN 00482913, denied Humira, appeal attached",
    "Member John Okafor (ID W29384712) called re: chemo prior auth, dx C50.911",
    "Summarize chart: Linda Park, 71F, CHF, Medicare ID 1EG4-TE5-MK72",
)
FREE_TEXT_FIELD = {"copilot": "prompt_text", "call_summarization": "summary_text", "lmn_drafting": "letter_body"}
FAULT_RATE = 0.0002  # expected faults of each kind per good event in a file


def wrong_kind(f: contract.Field) -> Any:
    return {"string": 42, "integer": "7", "number": "12.5", "boolean": "yes", "timestamp": 1717171717}[f.kind]


def invalid(f: contract.Field) -> Any:
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


def fault(kind: str, line: bytes, rng: np.random.Generator) -> tuple[bytes, str | None]:
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
        ev[f.name] = wrong_kind(f)
        return dump(ev), f"wrong_type:{f.name}"
    if kind == "invalid_value":
        ruled = [f for f in fields if f.name in ev and (f.enum or f.max_length or f.min_length
                                                        or f.minimum is not None or f.name in ("schema_version",
                                                                                               "occurred_at"))]
        f = ruled[int(rng.integers(0, len(ruled)))]
        ev[f.name] = invalid(f)
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


def duplicate(line: bytes, rng: np.random.Generator) -> tuple[bytes, list[str]]:
    """An exact re-send: same content after normalization, sometimes re-serialized. (line, dropped fields)."""
    v = int(rng.integers(0, 4))
    if v == 0:
        return line, fields_dropped(line)
    ev = json.loads(line)
    if v == 1:  # keys in another order
        return json.dumps(ev, sort_keys=True).encode(), fields_dropped(line)
    if v == 2:  # the same instant with another offset
        ts = dt.datetime.fromisoformat(ev["occurred_at"].replace("Z", "+00:00"))
        ev["occurred_at"] = ts.astimezone(dt.timezone(dt.timedelta(hours=-5))).isoformat(timespec="milliseconds")
        return json.dumps(ev).encode(), fields_dropped(line)
    ev[FREE_TEXT_FIELD[ev["tool"]]] = PHI_TEXT[int(rng.integers(0, len(PHI_TEXT)))]  # re-sent with free text
    out = json.dumps(ev).encode()
    return out, fields_dropped(out)


def conflict(line: bytes) -> bytes:
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


def fields_dropped(line: bytes) -> list[str]:
    ev = json.loads(line)
    allowed = contract.allowed_fields(ev["tool"], ev["event_type"])
    return [k for k in ev if k not in allowed]


