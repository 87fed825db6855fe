"""The contract: what it derives, and the row rules it compiles to, one example per quarantine reason."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from pipelines.blocks import Block
from pipelines.ingest import BlockValidator
from schemas import events as contract

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)

BASE = {"schema_version": "1.2", "event_id": "e-1", "occurred_at": "2026-10-01T09:30:00-05:00",
        "source": "genesys-cloud", "actor_id": "E0000001", "capability": "cap.x"}
VALID = {
    ("copilot", "assist"): {"app": "word", "action": "draft", "outcome": "accepted", "count": 3},
    ("call_summarization", "call_completed"): {"workflow": "call_summary", "work_item_id": "C1",
                                               "handle_seconds": 300, "acw_seconds": 12.5,
                                               "ai_summary_offered": True, "queue": "q"},
    ("call_summarization", "summary_reviewed"): {"workflow": "call_summary", "work_item_id": "C1",
                                                 "outcome": "edited", "edit_ratio": 0.25},
    ("lmn_drafting", "letter_requested"): {"workflow": "lmn", "work_item_id": "L1", "letter_type": "appeal",
                                           "payer": "Aetna"},
    ("lmn_drafting", "letter_drafted"): {"workflow": "lmn", "work_item_id": "L1", "ai_drafted": False},
    ("lmn_drafting", "letter_submitted"): {"workflow": "lmn", "work_item_id": "L1", "work_seconds": 2400},
    ("lmn_drafting", "letter_decided"): {"workflow": "lmn", "work_item_id": "L1", "decision": "denied"},
}


def event(kind: tuple[str, str] = ("copilot", "assist"), **changes) -> dict:
    """A valid event of `kind`, with fields changed (`...` removes one)."""
    e = {**BASE, "tool": kind[0], "event_type": kind[1], **VALID[kind]}
    for k, v in changes.items():
        if v is ...:
            e.pop(k, None)
        else:
            e[k] = v
    return e


def run(lines: list[bytes]) -> tuple[pa.Table, pa.Table, dict]:
    data = b"\n".join(lines) + b"\n"
    return BlockValidator(NOW).validate(Block(data, 0, 0))


def reasons(lines: list[bytes]) -> list[str | None]:
    good, q, _ = run(lines)
    by_line = dict(zip(q.column("line_no").to_pylist(), q.column("reason").to_pylist(), strict=True))
    return [by_line.get(i + 1) for i in range(len(lines))]


def dumps(e: object) -> bytes:
    return json.dumps(e).encode()


def test_landed_schema_is_derived_from_the_contract():
    schema = contract.landed_schema()
    assert "actor_id" not in schema.names and schema.field("actor_key").type == pa.string()
    assert schema.field("occurred_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("acw_seconds").type == pa.float64()
    assert schema.field("count").type == pa.int64()
    # every field of every event type has a column, once
    names = {f.name for t, types in contract.EVENT_TYPES.items() for e in types for f in contract.event_fields(t, e)}
    assert names - {"actor_id"} <= set(schema.names)


@pytest.mark.parametrize("key", list(VALID), ids=lambda k: "/".join(k))
def test_each_valid_event_type_lands_typed(key):
    good, q, counts = run([dumps(event(key))])
    assert q.num_rows == 0 and good.num_rows == 1
    row = good.to_pylist()[0]
    assert row["occurred_at"] == dt.datetime(2026, 10, 1, 14, 30, tzinfo=dt.UTC)  # -05:00 stored as UTC
    assert row["event_date"] == dt.date(2026, 10, 1)
    assert row["tool"] == key[0] and row["event_type"] == key[1]


def test_defaults_and_fields_of_other_types_are_not_landed():
    good, _, counts = run([dumps(event(count=..., acw_seconds=30, prompt_text="Pt Jane Roe MRN 123"))])
    row = good.to_pylist()[0]
    assert row["count"] == 1  # default for pre-aggregated exports
    assert row["acw_seconds"] is None  # a call field on a copilot event is dropped, not landed
    assert counts["dropped_fields"] == {"acw_seconds": 1, "prompt_text": 1}


CASES = [
    (b"{\"schema_version\": \"1.0\", \"event_id\"", "malformed_json"),
    (b"[1, 2]", "not_an_object"),
    (b"\"text\"", "not_an_object"),
    (dumps(event(event_id=...)), "missing_field:event_id"),
    (dumps(event(schema_version=...)), "missing_field:schema_version"),
    (dumps(event(("call_summarization", "call_completed"), acw_seconds=...)), "missing_field:acw_seconds"),
    (dumps(event(("lmn_drafting", "letter_submitted"), workflow=...)), "missing_field:workflow"),
    (dumps(event(actor_id=12)), "wrong_type:actor_id"),
    (dumps(event(("call_summarization", "call_completed"), handle_seconds="300")), "wrong_type:handle_seconds"),
    (dumps(event(("call_summarization", "call_completed"), ai_summary_offered="yes")),
     "wrong_type:ai_summary_offered"),
    (dumps(event(count=2.5)), "wrong_type:count"),
    (dumps(event(org_unit={"a": 1})), "wrong_type:org_unit"),
    (dumps(event(outcome="maybe")), "invalid_value:outcome"),
    (dumps(event(("call_summarization", "summary_reviewed"), outcome="discarded")), "invalid_value:outcome"),
    (dumps(event(("call_summarization", "summary_reviewed"), edit_ratio=1.5)), "invalid_value:edit_ratio"),
    (dumps(event(count=0)), "invalid_value:count"),
    (dumps(event(("lmn_drafting", "letter_submitted"), work_seconds=-1)), "invalid_value:work_seconds"),
    (dumps(event(("lmn_drafting", "letter_submitted"), work_seconds="40 min")), "wrong_type:work_seconds"),
    (dumps(event(("call_summarization", "summary_reviewed"), edit_ratio=1.000001)), "invalid_value:edit_ratio"),
    (dumps(event(("call_summarization", "summary_reviewed"), edit_ratio=-0.000001)), "invalid_value:edit_ratio"),
    (dumps(event(count=2**63)), "invalid_value:count"),  # beyond a 64-bit signed integer
    (dumps(event(event_id="x" * 129)), "invalid_value:event_id"),
    (dumps(event(event_id="")), "invalid_value:event_id"),
    (dumps(event(occurred_at="2026-02-30T10:00:00Z")), "invalid_value:occurred_at"),
    (dumps(event(occurred_at="yesterday")), "invalid_value:occurred_at"),
    (dumps(event(schema_version="v1")), "invalid_value:schema_version"),
    (dumps(event(tool="claude_code")), "unknown_tool"),
    (dumps(event(event_type="call_started")), "unknown_event_type"),
    (dumps(event(("call_summarization", "assist"))) if False else
     dumps({**event(), "tool": "call_summarization"}), "unknown_event_type"),
    (dumps(event(schema_version="2.0")), "unsupported_schema_version"),
    (dumps(event(occurred_at="2026-10-01T09:30:00")), "timestamp_without_offset"),
    (dumps(event(occurred_at="2026-11-01T12:06:00Z")), "occurred_in_future"),  # 6 min after NOW
    (b'{"schema_version":"1.0","actor_id":"\xff\xfe"}', "invalid_utf8"),
    (dumps(event(prompt_text="x" * (contract.MAX_LINE_BYTES + 1))), "line_too_long"),
]


@pytest.mark.parametrize("line,reason", CASES, ids=[r for _, r in CASES])
def test_each_quarantine_reason(line, reason):
    assert reasons([dumps(event()), line]) == [None, reason]


@pytest.mark.parametrize("kind,field,value", [
    (("call_summarization", "summary_reviewed"), "edit_ratio", 1),  # the bounds themselves are in [0, 1]
    (("call_summarization", "summary_reviewed"), "edit_ratio", 1.0),
    (("call_summarization", "summary_reviewed"), "edit_ratio", 0),
    (("lmn_drafting", "letter_drafted"), "edit_ratio", 1),
    (("lmn_drafting", "letter_submitted"), "work_seconds", 0),  # ≥ 0: a letter can take no tracked time
    (("call_summarization", "call_completed"), "acw_seconds", 0),
])
def test_values_on_a_bound_land(kind, field, value):
    good, q, _ = run([dumps(event(kind, **{field: value}))])
    assert q.num_rows == 0 and good.to_pylist()[0][field] == value


def test_work_seconds_lands_on_letter_submitted_and_is_optional():
    good, q, counts = run([dumps(event(("lmn_drafting", "letter_submitted"), schema_version="1.1")),
                           dumps(event(("lmn_drafting", "letter_submitted"), work_seconds=..., schema_version="1.0",
                                       event_id="e-2"))])
    assert q.num_rows == 0 and [r["work_seconds"] for r in good.to_pylist()] == [2400, None]
    assert contract.landed_schema().field("work_seconds").type == pa.float64()
    assert (contract.SCHEMA_MAJOR, contract.SCHEMA_MINOR) == (1, 1)
    # on another event type it is a field of another type: dropped and counted, not landed
    good, _, counts = run([dumps(event(("lmn_drafting", "letter_drafted"), work_seconds=60))])
    assert good.to_pylist()[0]["work_seconds"] is None and counts["dropped_fields"] == {"work_seconds": 1}


def test_within_tolerance_is_not_future_and_blank_lines_are_counted():
    ok = dumps(event(occurred_at="2026-11-01T12:04:59Z"))  # 4:59 after NOW: clock skew tolerated
    good, q, counts = run([ok, b"", b"   ", b"\t\r"])
    assert good.num_rows == 1 and q.num_rows == 0
    assert counts == {"lines": 4, "blank": 3, "good": 1, "by_reason": {}, "dropped_fields": {}}


def test_every_reason_family_of_the_spec_is_exercised():
    families = {r.split(":")[0] for _, r in CASES}
    spec = {r.split(":")[0] for r in contract.REASON_CODES} - {"conflicting_duplicate"}  # decided at commit
    assert spec <= families


def test_readme_contract_table_is_the_generated_one():
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("<!-- contract:start -->\n", 1)[1].split("<!-- contract:end -->", 1)[0]
    assert block.strip() == contract.contract_markdown().strip(), "run `make contract` and paste its output"
