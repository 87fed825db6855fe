"""Staging: the Beam transform on its own (TestPipeline + assert_that), and ranges that number lines as the file."""

from __future__ import annotations

import datetime as dt
import hashlib
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
    digest, starts = hash_and_count(path, size, chunk=rnd.randint(1, 50))
    assert digest == hashlib.sha256(data).hexdigest()  # whether its last chunk is hashed in place or not
    inp = inp.__class__(**{**inp.__dict__, "line_starts": starts})
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


def _small_files(tmp_path: Path) -> list[Path]:
    """Small event files of every awkward shape a pack must keep apart: no last newline, CRLF, blank and bad
    lines, an over-long line, an empty file, gzip, the same event in two files, a field the contract drops."""
    import gzip

    from schemas.events import MAX_LINE_BYTES

    shapes = {
        "a.jsonl": (_event(1) + "\n" + _event(2, prompt_text="free") + "\n{bad\n").encode(),
        "b.jsonl": (_event(3) + "\n\n   \n" + _event(1)).encode(),  # no newline at the end
        "c.jsonl": (_event(4) + "\r\n" + _event(5, count=0) + "\r\n[1]\r\n").encode(),
        "d.jsonl": b"",
        "e.jsonl": (_event(6) + "\n" + "x" * (MAX_LINE_BYTES + (1 << 19)) + "\n" + _event(7) + "\n").encode(),
        "f.jsonl.gz": gzip.compress((_event(8) + "\n" + _event(9, tool="nope") + "\n").encode()),
        "g.jsonl": (_event(10, summary_text="dropped") + "\n" + _event(11) + "\n").encode(),
    }
    paths = []
    for name, data in shapes.items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    return paths


def _stage_tasks(tmp_path: Path, name: str, paths: list[Path], tasks: list, block_bytes: int) -> tuple:
    ctx = StageContext(str(tmp_path / name), 7, NOW, b"k", {i: str(p) for i, p in enumerate(paths)},
                       block_bytes=block_bytes)
    with BeamTestPipeline() as p:
        _ = p | StageInputs(tasks, ctx)
    staged = tmp_path / name
    summaries = sorted((s for f in (staged / "ranges").glob("*.json") for s in json.loads(f.read_text())),
                       key=lambda s: (s["file_idx"], s["range_idx"]))
    staged_rows = _staged_rows(staged)  # noqa: F841 (DuckDB reads it by name)
    rows = duckdb.sql("select * from staged_rows order by file_idx, line").fetchall()
    q = duckdb.sql(f"select * from '{staged}/quarantine/*.parquet' order by file_idx, source_line").fetchall()
    return summaries, rows, q


@pytest.mark.parametrize("block_bytes", [1 << 21, 1 << 18], ids=["long line in a block", "long line alone"])
def test_small_files_packed_into_one_task_stage_as_each_would_alone(tmp_path: Path, block_bytes: int):
    from pipelines.blocks import Pack
    from pipelines.inputs import tasks

    src = tmp_path / "in"
    src.mkdir()
    paths = _small_files(src)
    inputs = scan(paths, ["events"] * len(paths), lambda _: False)
    packed = tasks(inputs, workers=1)
    assert len(packed) == 1 and isinstance(packed[0], Pack) and len(packed[0].ranges) == len(paths)
    alone = [r for i in inputs for r in ranges(i)]
    one = _stage_tasks(tmp_path, "alone", paths, alone, block_bytes)
    together = _stage_tasks(tmp_path, "packed", paths, packed, block_bytes)
    assert together == one  # the same counts per file, staged rows (lines, offsets, pseudonyms), quarantine
    summaries, rows, q = together
    by_file = {s["file_idx"]: s for s in summaries}
    assert [by_file[i]["lines"] for i in range(len(paths))] == [3, 4, 3, 0, 3, 2, 2]
    assert by_file[1]["blank"] == 2 and by_file[4]["by_reason"] == {"line_too_long": 1}
    assert by_file[0]["dropped_fields"] == {"prompt_text": 1} and by_file[6]["dropped_fields"] == {"summary_text": 1}
    # the last line of b.jsonl (no newline after it) is its own line 4, not the start of c.jsonl's first line
    assert ("x-1", 1, 4) in {(r[1], r[-4], r[-3]) for r in rows if r[-4] == 1}
    assert [(r[0], r[1], r[2]) for r in q] == [(0, 3, "malformed_json"), (2, 2, "invalid_value:count"),
                                               (2, 3, "not_an_object"), (4, 2, "line_too_long"),
                                               (5, 2, "unknown_tool")]


def test_tasks_pack_consecutive_small_files_and_leave_large_ranges_alone(tmp_path: Path):
    from pipelines.blocks import Pack
    from pipelines.inputs import tasks

    sizes = {"a": 100, "b": 100, "c": 5000, "d": 100, "e": 100, "f": 100}
    paths = []
    for name, n in sizes.items():
        (tmp_path / f"{name}.jsonl").write_bytes(b"{}\n" * (n // 3))
        paths.append(tmp_path / f"{name}.jsonl")
    inputs = [i.__class__(**{**i.__dict__, "line_starts": hash_and_count(i.path, 1000)[1]})
              for i in scan(paths, ["events"] * len(paths), lambda _: False)]
    got = tasks(inputs, workers=2, range_bytes=1000, pack_bytes=250)

    def names(t):
        return [Path(r.path).stem + (f"{r.range_idx}" if r.range_idx or r.end else "")
                for r in (t.ranges if isinstance(t, Pack) else [t])]

    # c is cut in ranges, each alone; small files packed in input order, never across c, up to 250 bytes
    assert [names(t) for t in got] == [["a", "b"], *[[f"c{i}"] for i in range(5)], ["d", "e"], ["f"]]
    # few small files: packed no fuller than the workers can share
    assert [names(t) for t in tasks(inputs[3:], workers=3)] == [["d"], ["e"], ["f"]]


@pytest.mark.parametrize("seed", range(10))
def test_a_packed_block_keeps_every_line_of_its_parts(seed: int):
    """Parts with and without a last newline, joined: the block's newlines are its bytes' (taken from the parts,
    not searched again), and each of its lines maps back to its part and line there."""
    import numpy as np

    from pipelines.blocks import Block, Packed

    rnd = random.Random(seed)
    parts = []
    for i in range(rnd.randint(1, 6)):
        lines = [b"l%d-%d" % (i, k) + b"x" * rnd.randint(0, 5) for k in range(rnd.randint(1, 5))]
        data = b"\n".join(lines) + (b"\n" if rnd.random() < 0.5 else b"")
        parts.append((i, Block(memoryview(data), offset=rnd.randint(0, 99), line0=rnd.randint(0, 9))))
    packed = Packed.of(parts)
    data = bytes(packed.block.data)
    assert packed.block.newlines.tolist() == np.flatnonzero(np.frombuffer(data, np.uint8) == 10).tolist()
    _, _, offs = split_lines(packed.block.data, packed.block.newlines)
    want = [(k, b.line0 + n + 1, bytes(line)) for k, (_, b) in enumerate(parts)
            for n, line in enumerate(bytes(b.data).rstrip(b"\n").split(b"\n"))]
    part, line = packed.locate(np.arange(1, len(offs) + 1))
    got = [(int(p), int(n), data[o:].split(b"\n", 1)[0]) for p, n, o in zip(part, line, offs, strict=True)]
    assert got == want
