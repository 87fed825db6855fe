"""Staging: the Beam transform on its own (TestPipeline + assert_that), and ranges that number lines as the file."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.ipc
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.blocks import read_range, split_lines
from pipelines.inputs import hash_and_count, ranges, scan
from pipelines.stage import StageContext, StageInputs

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _event(i: int, **kw) -> str:
    e = {"schema_version": "1.0", "event_id": f"x-{i}", "occurred_at": f"2026-10-0{1 + i % 2}T10:00:00Z",
         "source": "s", "tool": "copilot", "event_type": "assist", "actor_id": "A1", "capability": "c",
         "app": "word", "action": "draft"}
    return json.dumps({**e, **kw})


@pytest.mark.parametrize("seed", range(20))
def test_ranges_number_lines_as_the_file_does(tmp_path: Path, seed: int):
    rnd = random.Random(seed)
    lines = [b"y" * rnd.randint(0, 30) for _ in range(rnd.randint(0, 80))]
    data = b"\n".join(lines) + (b"\n" if rnd.random() < 0.5 else b"")
    path = tmp_path / "f.jsonl"
    path.write_bytes(data)
    inp = scan([path], ["events"], lambda _: False)[0]
    size = rnd.randint(1, 60)
    inp = inp.__class__(**{**inp.__dict__, "line_starts": hash_and_count(path, size, chunk=rnd.randint(1, 50))[1]})
    numbered = []
    for r in ranges(inp, size):
        for b in read_range(r, rnd.randint(1, 40)):
            _, _, offs = split_lines(b.data)
            numbered += [r.line0 + b.line0 + 1 + i for i in range(len(offs))]
    expected = len(data.split(b"\n")) - (1 if data.endswith(b"\n") else 0) if data else 0
    assert numbered == list(range(1, expected + 1))


def test_stage_inputs_stages_every_range(tmp_path: Path):
    lines = [_event(1), " " * 300, _event(2), "{not json", _event(1), _event(3, count=0)]
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(lines) + "\n")
    inp = scan([path], ["events"], lambda _: False)[0]
    size = len("\n".join(lines[:3])) + 1  # two ranges: lines 1-3, lines 4-6
    assert path.stat().st_size <= 2 * size
    inp = inp.__class__(**{**inp.__dict__, "line_starts": hash_and_count(path, size)[1]})
    tasks = ranges(inp, size)
    ctx = StageContext(str(tmp_path / "staging"), 7, NOW, b"k", {0: str(path)})
    with BeamTestPipeline() as p:
        counts = p | StageInputs(tasks, ctx)
        assert_that(counts, equal_to([
            # lines 1-3: two events pass the rules (counted as landed until the commit), one blank
            {"file_idx": 0, "range_idx": 0, "lines": 3, "landed": 2, "duplicates": 0, "quarantined": 0, "blank": 1,
             "by_reason": {}, "dropped_fields": {}},
            # lines 4-6: not JSON; x-1 again (a duplicate only the commit can tell); count 0 is out of range
            {"file_idx": 0, "range_idx": 1, "lines": 3, "landed": 1, "duplicates": 0, "quarantined": 2, "blank": 0,
             "by_reason": {"malformed_json": 1, "invalid_value:count": 1}, "dropped_fields": {}},
        ]))
    staged = tmp_path / "staging"
    staged_rows = _staged_rows(staged)  # noqa: F841 (DuckDB reads it by name)
    rows = duckdb.sql("select event_id, line, source_line, actor_key, ingest_run, source_file "
                      "from staged_rows order by line").fetchall()
    assert [r[:3] for r in rows] == [("x-1", 1, 1), ("x-2", 3, 3), ("x-1", 5, 5)]  # lines as in the file
    assert {r[3] for r in rows} != {"A1"} and len(rows[0][3]) == 32  # pseudonymized on the worker
    assert {(r[4], r[5]) for r in rows} == {(7, str(path))}
    q = duckdb.sql(f"select source_line, reason from '{staged}/quarantine/*.parquet' order by 1").fetchall()
    assert q == [(4, "malformed_json"), (6, "invalid_value:count")]


def _staged_rows(staging: Path) -> pa.Table:
    """The staged rows of a staging folder (staged files are Arrow IPC)."""
    files = sorted(str(p) for p in (staging / "staged").glob("*.arrow"))
    return pa.concat_tables(pa.ipc.open_file(pa.memory_map(f)).read_all() for f in files)


def _staged(tmp_path: Path, name: str, path: Path, tasks: list, threads: int) -> tuple[list, list, list]:
    ctx = StageContext(str(tmp_path / name), 7, NOW, b"k", {0: str(path)}, threads=threads)
    with BeamTestPipeline() as p:
        _ = p | StageInputs(tasks, ctx)
    staged = tmp_path / name
    ranges_ = sorted(f.read_text() for f in (staged / "ranges").glob("*.json"))
    staged_rows = _staged_rows(staged)  # noqa: F841 (DuckDB reads it by name)
    rows = duckdb.sql("select * exclude (content_hash) from staged_rows order by line").fetchall()
    q = duckdb.sql(f"select * from '{staged}/quarantine/*.parquet' order by source_line").fetchall()
    return ranges_, rows, q


def test_a_worker_stages_its_ranges_concurrently_and_the_result_is_the_same(tmp_path: Path, monkeypatch):
    import threading

    from pipelines import stage

    lines = [_event(i % 30, org_unit=f"U{i}") if i % 7 else "{bad" for i in range(60)]
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(lines) + "\n")
    inp = scan([path], ["events"], lambda _: False)[0]
    size = path.stat().st_size // 8 + 1  # eight ranges
    inp = inp.__class__(**{**inp.__dict__, "line_starts": hash_and_count(path, size)[1]})
    tasks = ranges(inp, size)
    assert len(tasks) == 8
    one = _staged(tmp_path, "one", path, tasks, threads=1)

    # the first two ranges must be in progress at the same time: each waits for the other at a barrier
    # (a worker that stages one range at a time breaks the barrier after its timeout, and the run fails)
    met = threading.Barrier(2, timeout=20)
    calls: list[int] = []
    original = stage.RangeStager.stage

    def meeting(self, r):
        calls.append(r.range_idx)
        if len(calls) <= 2:
            met.wait()
        return original(self, r)

    monkeypatch.setattr(stage.RangeStager, "stage", meeting)
    two = _staged(tmp_path, "two", path, tasks, threads=2)
    assert len(calls) == 8 and not met.broken
    assert two == one  # the same counts, staged rows (pseudonyms, lines) and quarantine, whatever the threads
    assert len(one[1]) == 60 - 9 and len(one[2]) == 9  # every 7th line of 60 (0, 7, …, 56) is not JSON
