"""The commit: which staged copies do not land (`not_landed.sql`), and the partition writer (staged files, each
sorted by partition, merged into one file per partition)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import lake as pipelines_lake
from pipelines.merge import write_partitions, write_staged
from schemas import events as contract


def staged_file(path, rows: list[tuple[str, str, int]]) -> str:
    """A staged file of (tool, event date, line) rows, every other landed column null but event_id."""
    cols = {}
    for n, t, _ in contract.landed_columns():
        cols[n] = pa.nulls(len(rows), t)
    cols["tool"] = pa.array([r[0] for r in rows])
    cols["event_date"] = pa.array([dt.date.fromisoformat(r[1]) for r in rows], pa.date32())
    cols["event_id"] = pa.array([f"{path.stem}:{r[2]}" for r in rows])
    cols["file_idx"] = pa.array([int(path.name[1:6])] * len(rows), pa.int32())  # its input: fNNNNN
    cols["line"] = pa.array([r[2] for r in rows], pa.int64())
    write_staged(pa.table(cols), path, batch_rows=2)  # small batches: runs cross them
    return str(path)


def _write_partitions(staged: list[str], drop: dict[int, np.ndarray], root, name: str) -> None:
    """write_partitions with the lines that do not land given per input (as positions: input, then line)."""
    pos = [(np.int64(f) << 40) + np.asarray(lines, np.int64) for f, lines in drop.items()]
    write_partitions(staged, np.sort(np.concatenate(pos)) if pos else np.zeros(0, np.int64), set(), root, name)


@pytest.fixture(params=[64, 2], ids=["one merge", "merged in pairs first"])
def fan_in(request, monkeypatch):
    """The merge's fan-in: the default, and 2, which merges the staged files pairwise before the last merge."""
    from pipelines import merge

    monkeypatch.setattr(merge, "MERGE_FAN_IN", request.param)
    return request.param


def test_staged_files_merge_into_one_file_per_partition_in_file_then_line_order(tmp_path, fan_in):
    a = staged_file(tmp_path / "f00000-r00000-0.arrow",
                    [("copilot", "2026-01-01", 1), ("copilot", "2026-01-01", 3), ("copilot", "2026-01-02", 2),
                     ("genesys", "2026-01-01", 4), ("genesys", "2026-01-01", 5)])
    b = staged_file(tmp_path / "f00001-r00000-0.arrow",
                    [("copilot", "2026-01-01", 1), ("genesys", "2026-01-01", 2), ("genesys", "2026-01-03", 3)])
    out = tmp_path / "events"
    # file 0 line 3 and file 1 line 2 do not land (duplicates decided before)
    _write_partitions([a, b], {0: np.array([3]), 1: np.array([2])}, out, "run-000001-0.parquet")
    got = {str(p.parent.relative_to(out)): pq.read_table(p).column("event_id").to_pylist()
           for p in sorted(out.glob("**/*.parquet"))}
    assert got == {
        "tool=copilot/event_date=2026-01-01": ["f00000-r00000-0:1", "f00001-r00000-0:1"],  # file 0 first
        "tool=copilot/event_date=2026-01-02": ["f00000-r00000-0:2"],
        "tool=genesys/event_date=2026-01-01": ["f00000-r00000-0:4", "f00000-r00000-0:5"],  # file 1 line 2 dropped
        "tool=genesys/event_date=2026-01-03": ["f00001-r00000-0:3"],
    }
    # 8 staged rows, 2 not landing: 6 landed, each once
    assert sum(len(v) for v in got.values()) == 6


def test_the_lines_that_do_not_land_may_be_every_line_of_a_file_and_come_unsorted(tmp_path, fan_in):
    a = staged_file(tmp_path / "f00000-r00000-0.arrow",
                    [("copilot", "2026-01-01", 2), ("copilot", "2026-01-01", 5), ("copilot", "2026-01-02", 7)])
    a2 = staged_file(tmp_path / "f00000-r00001-0.arrow", [("copilot", "2026-01-01", 9), ("genesys", "2026-01-01", 11)])
    b = staged_file(tmp_path / "f00001-r00000-0.arrow", [("copilot", "2026-01-01", 1), ("genesys", "2026-01-01", 2)])
    out = tmp_path / "events"
    # file 0: lines of both its ranges, unsorted, with lines no staged row has (quarantined or blank ones);
    # file 1: every line
    _write_partitions([a, a2, b], {0: np.array([11, 5, 3, 99, 2]), 1: np.array([2, 1])}, out, "run-000001-0.parquet")
    got = {str(p.parent.relative_to(out)): pq.read_table(p).column("event_id").to_pylist()
           for p in sorted(out.glob("**/*.parquet"))}
    assert got == {"tool=copilot/event_date=2026-01-01": ["f00000-r00001-0:9"],
                   "tool=copilot/event_date=2026-01-02": ["f00000-r00000-0:7"]}


def test_many_staged_files_merge_in_file_then_line_order_whatever_the_fan_in(tmp_path, fan_in):
    """Seven staged files of five inputs, every partition in several of them: with a fan-in of 2 they are merged
    pairwise, three times over, before the last merge; the partitions are the same as a sort of every row."""
    keys = [("copilot", "2026-01-01"), ("copilot", "2026-01-02"), ("genesys", "2026-01-01")]
    rows, staged = [], []
    for f, r in [(0, 0), (0, 1), (1, 0), (2, 0), (3, 0), (3, 1), (4, 0)]:
        mine = sorted((keys[(f + r + n) % 3], 100 * r + n) for n in range(1, 6))  # by key, then line
        staged.append(staged_file(tmp_path / f"f{f:05d}-r{r:05d}-0.arrow", [(k[0], k[1], line) for k, line in mine]))
        rows += [(k, f, line) for k, line in mine]
    drop = {1: np.array([3]), 3: np.array([102, 1])}
    out = tmp_path / "events"
    _write_partitions(staged, drop, out, "run-000001-0.parquet")
    got = {str(p.parent.relative_to(out)): pq.read_table(p).column("event_id").to_pylist()
           for p in sorted(out.glob("**/*.parquet"))}
    want: dict[str, list[str]] = {}
    for k, f, line in sorted(rows):
        if line not in drop.get(f, []):
            r = line // 100
            want.setdefault(f"tool={k[0]}/event_date={k[1]}", []).append(f"f{f:05d}-r{r:05d}-0:{line}")
    assert got == want and sum(map(len, got.values())) == 7 * 5 - 3
    assert not (tmp_path / "merge").exists()  # the intermediate files are removed


def test_a_staged_file_out_of_partition_order_fails_instead_of_overwriting(tmp_path):
    a = staged_file(tmp_path / "f00000-r00000-0.arrow",
                    [("copilot", "2026-01-02", 1), ("copilot", "2026-01-01", 2), ("copilot", "2026-01-02", 3)])
    with pytest.raises(RuntimeError, match="met twice"):
        _write_partitions([a], {}, tmp_path / "events", "run-000001-0.parquet")


def test_a_staged_file_is_written_whole_or_not_at_all(tmp_path):
    """A write that fails part-way leaves neither the file nor its temporary: a retried range starts clean."""
    path = tmp_path / "staged" / "f00000-r00000-0.arrow"
    table = pa.table({"event_id": pa.array(["a", "b"]), "line": pa.array([1, 2], pa.int64())})

    class Interrupted(Exception):
        pass

    with pytest.raises(Interrupted), pipelines_lake.written(path, restricted=True) as tmp:
        tmp.write_bytes(b"half a file")
        raise Interrupted
    assert list(path.parent.iterdir()) == []
    write_staged(table, path)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # the temporary was renamed, not left beside
    assert oct(path.stat().st_mode & 0o777) == "0o600" and oct(path.parent.stat().st_mode & 0o777) == "0o700"
    assert pa.ipc.open_file(pa.memory_map(str(path))).read_all().equals(table)


def _not_landed(staged_rows: pa.Table, prior: pa.Table | None, key: str | None) -> list[tuple]:
    """not_landed.sql over `staged_rows`, with every event_key replaced by `key` when given (forced collisions)."""
    from pipelines.sql import load
    from pipelines.validate import connect

    con = connect()
    con.register("staged_rows", staged_rows)
    con.execute(load("staged"))
    if key is not None:
        con.execute(f"update staged set event_key = hash({key!r})")
    if prior is None:
        con.execute(load("prior_none"))
    else:
        con.register("prior", prior)
    con.execute(load("in_prior"))
    con.execute(load("not_landed"))
    return sorted(con.execute("select file_idx, line, fate from not_landed").fetchall())


def test_a_run_whose_every_copy_landed_before_is_decided_within_the_memory_limit(tmp_path):
    """A month re-sent whole after it landed: every staged copy repeats a landed event. The decision spills
    instead of failing: 1 M copies against 1 M landed events under 96 MB (the `in (subquery)` form of
    not_landed.sql needed memory in proportion to them and ran out here)."""
    from pipelines.sql import load
    from pipelines.validate import connect

    n = 1_000_000
    ids = pa.array([f"evt-{i:012d}-sent-again" for i in range(n)])
    lines = pa.array(np.arange(1, n + 1))
    staged_rows = pa.table({"event_id": ids, "content_hash": pa.array(np.arange(n), pa.uint64()),
                            "file_idx": pa.array(np.zeros(n, np.int32)), "line": lines, "source_line": lines,
                            "src_offset": pa.array(np.zeros(n, np.int64)),
                            "src_length": pa.array(np.ones(n, np.int64))})
    landed = np.arange(n) + (np.arange(n) % 4 == 0)  # every fourth landed with other content
    con = connect()
    con.execute(f"set temp_directory = '{tmp_path}'")
    con.execute("set memory_limit = '96MB'")
    con.execute("set preserve_insertion_order = false")
    con.register("staged_rows", staged_rows)
    con.register("prior", pa.table({"event_id": ids, "content_hash": pa.array(landed, pa.uint64())}))
    for name in ("staged", "in_prior", "not_landed"):
        con.execute(load(name))
    assert sorted(con.execute("select fate, count(*) from not_landed group by all").fetchall()) == [
        ("conflicting_duplicate", n // 4), ("duplicate", n - n // 4)]


@pytest.mark.parametrize("key", [None, "every key collides"])
def test_copies_that_do_not_land_are_exact_even_when_every_event_key_collides(key):
    # file 0: a (line 1), b (line 2), a again with the same content (line 3), c (line 4);
    # file 1: b with other content (line 1), d (line 2), e (line 3) which an earlier run landed with content 50
    rows = [(0, 1, "a", 10), (0, 2, "b", 20), (0, 3, "a", 10), (0, 4, "c", 30),
            (1, 1, "b", 21), (1, 2, "d", 40), (1, 3, "e", 50)]
    staged_rows = pa.table({
        "event_id": [r[2] for r in rows],
        "content_hash": pa.array([r[3] for r in rows], pa.uint64()),
        "file_idx": pa.array([r[0] for r in rows], pa.int32()),
        "line": pa.array([r[1] for r in rows], pa.int64()),
        "source_line": pa.array([r[1] for r in rows], pa.int64()),
        "src_offset": pa.array([0] * len(rows), pa.int64()),
        "src_length": pa.array([1] * len(rows), pa.int64()),
    })
    prior = pa.table({"event_id": ["e"], "content_hash": pa.array([50], pa.uint64())})
    # a's second copy repeats the first (duplicate); b's copy in file 1 differs from the one that lands
    # (conflicting); e repeats what landed before, same content (duplicate); c and d land
    assert _not_landed(staged_rows, prior, key) == [(0, 3, "duplicate"), (1, 1, "conflicting_duplicate"),
                                                     (1, 3, "duplicate")]
