"""The generator's JSON lines (uptake.generate.lines): hand-checked lines, and values it must refuse."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from uptake.generate.lines import FIELDS, EventText


def _events(**override) -> pa.Table:
    """Two call events and one copilot event, with only the fields each carries."""
    n = 3
    cols = {f.name: pa.nulls(n, pa.string()) for f in FIELDS}
    cols.update(
        ts=pa.array(np.array(["2026-05-01T13:00:50", "2026-05-31T23:59:59.999", "2026-05-02T00:30:00"],
                             dtype="datetime64[us]")),
        offset_min=pa.array([-300, 0, 330], pa.int32()),
        event_num=pa.array([0x157C8595EB47C9CA, 1, 255], pa.uint64()),
        schema_version=pa.array(["1.0", "1.3", "1.0"]),
        source=pa.array(["genesys-cloud", "genesys-cloud", "m365-copilot"]),
        tool=pa.array(["call_summarization", "call_summarization", "copilot"]),
        event_type=pa.array(["call_completed", "summary_reviewed", "assist"]),
        actor_id=pa.array(["E0102343", "E0102343", "E0100001"]),
        capability=pa.array(["call_summarization.genesys.summary"] * 2 + ["copilot.word.draft"]),
        org_unit=pa.array([None, "CC-MEM-N", None], pa.string()),
        work_item_id=pa.array(["CALL-10030331", "CALL-10030331", None]),
        handle_seconds=pa.array([567, None, None], pa.int64()),
        edit_ratio=pa.array([None, 0.35, None], pa.float64()),
        count=pa.array([None, None, 3], pa.int64()),
        ai_summary_offered=pa.array([False, None, None], pa.bool_()),
    )
    cols.update(override)
    return pa.table(cols)


def test_lines_by_hand():
    lines = EventText(_events()).render(np.array([2, 0, 1]), b"\r\n")  # rows in the order asked
    assert len(lines) == 3
    assert lines.line(0) == (  # 00:30 UTC at +05:30 is 06:00 local; 255 is 00..FF
        b'{"schema_version":"1.0","event_id":"m365-00000000000000FF","occurred_at":"2026-05-02T06:00:00.000+05:30",'
        b'"source":"m365-copilot","tool":"copilot","event_type":"assist","actor_id":"E0100001",'
        b'"capability":"copilot.word.draft","count":3}')
    assert lines.line(1) == (  # 13:00:50 UTC at -05:00 is 08:00:50; org_unit, edit_ratio absent: left out
        b'{"schema_version":"1.0","event_id":"gc-157C8595EB47C9CA","occurred_at":"2026-05-01T08:00:50.000-05:00",'
        b'"source":"genesys-cloud","tool":"call_summarization","event_type":"call_completed",'
        b'"actor_id":"E0102343","capability":"call_summarization.genesys.summary",'
        b'"work_item_id":"CALL-10030331","handle_seconds":567,"ai_summary_offered":false}')
    assert json.loads(lines.line(2))["occurred_at"] == "2026-05-31T23:59:59.999Z"  # UTC: Z, milliseconds kept
    assert json.loads(lines.line(2))["edit_ratio"] == 0.35
    assert bytes(lines.span(0, 3)).count(b"\r\n") == 3  # every line ends with the line end asked for


def test_a_whole_edit_ratio_keeps_its_decimal_point():
    lines = EventText(_events(edit_ratio=pa.array([None, 1.0, None], pa.float64()))).render(np.array([1]), b"\n")
    assert b'"edit_ratio":1.0}' in lines.line(0)  # as DuckDB's to_json wrote it before: not `1`


@pytest.mark.parametrize("field,value", [("actor_id", 'E01"02'), ("capability", "copilot\\word"),
                                         ("org_unit", "CC\nMEM"), ("work_item_id", "CALL-1\t0")])
def test_refuses_a_string_it_would_have_to_escape(field: str, value: str):
    bad = _events(**{field: pa.array([value] * 3)})
    with pytest.raises(ValueError, match=field):
        EventText(bad)
