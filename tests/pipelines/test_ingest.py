"""Ingest end to end on a generated organization and on hostile inputs."""

from __future__ import annotations

import contextlib
import errno
import gzip
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import IngestError, ingest
from pipelines.lake import Lake

COUNTS = ("lines", "landed", "duplicates", "quarantined", "blank")


def events(lake: Path) -> str:
    """SQL table expression over the landed events of the lake's committed runs."""
    files = [str(p) for p in Lake(lake).event_files()]
    return f"read_parquet({files!r}, hive_partitioning = true)"


def q(sql: str) -> list[tuple]:
    return duckdb.connect().execute(sql).fetchall()


def test_accounting_equals_truth_per_file_and_total(ingested, truth, small_org):
    lake, summary = ingested
    assert {k: summary["total"][k] for k in COUNTS} == {k: truth["totals"][k] for k in COUNTS}
    assert summary["total"]["by_reason"] == truth["totals"]["by_reason"]
    assert summary["total"]["dropped_fields"] == truth["totals"]["dropped_fields"]
    assert summary["total"]["already_ingested"] == 0
    for f in summary["files"]:
        t = truth["files"][str(Path(f["path"]).relative_to(small_org))]
        assert {k: f[k] for k in COUNTS} == {k: t[k] for k in COUNTS}, f["path"]
        assert f["by_reason"] == t["by_reason"], f["path"]
        assert f["lines"] == f["landed"] + f["duplicates"] + f["quarantined"] + f["blank"]
        assert f["already_ingested"] is False
    assert q(f"select count(*) from {events(lake)}") == [(truth["totals"]["landed"],)]


def test_events_are_hive_partitioned_and_typed(ingested):
    lake, _ = ingested
    parts = {p.parent.parent.name for p in (lake / "events").rglob("*.parquet")}
    assert parts == {"tool=copilot", "tool=call_summarization", "tool=lmn_drafting"}
    assert all(p.parent.name.startswith("event_date=") for p in (lake / "events").rglob("*.parquet"))
    # readable without the warehouse, by any Parquet reader
    n = q(f"select count(*) from read_parquet('{lake}/events/**/*.parquet', hive_partitioning=true)")
    assert n == q(f"select count(*) from {events(lake)}")
    types = dict(q(f"select column_name, column_type from (describe select * from {events(lake)})"))
    assert types["occurred_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["acw_seconds"] == "DOUBLE" and types["ai_summary_offered"] == "BOOLEAN"
    # columns unique per event are not dictionary-encoded (smaller files), the others are
    encodings = dict(q(f"select path_in_schema, list_distinct(flatten(list(string_split(encodings, ',')))) "
                       f"from parquet_metadata('{lake}/events/**/*.parquet') group by all"))
    assert not any("DICTIONARY" in e for c in ("event_id", "occurred_at", "source_line") for e in encodings[c])
    assert any("DICTIONARY" in e for e in encodings["actor_key"]) and any("DICTIONARY" in e for e in encodings["app"])


def test_no_raw_actor_id_or_free_text_lands(ingested, small_org):
    lake, _ = ingested
    raw_ids = {line.split(",")[0] for line in (small_org / "reference" / "roster.csv").read_text().splitlines()[1:]}
    keys = {r[0] for r in q(f"select distinct actor_key from {events(lake)}")}
    assert keys and not (keys & raw_ids)
    assert all(len(k) == 32 for k in keys)
    types = q(f"select column_name, column_type from (describe select * from {events(lake)})")
    cols = [c for c, _ in types]
    assert "actor_id" not in cols and not {"prompt_text", "summary_text", "letter_body"} & set(cols)
    # no string value anywhere looks like the planted PHI or a raw employee id
    concat = " || ' ' || ".join(f"coalesce({c}, '')" for c, t in types if t == "VARCHAR")
    leaked = q(f"select count(*) from {events(lake)} where regexp_matches({concat}, 'MRN|DOB|\\bE0[0-9]{{6}}\\b')")
    assert leaked == [(0,)]


def test_org_unit_lands_as_sent_and_the_warehouse_resolves_it(tmp_path: Path, small_org: Path):
    """The org unit lands as the event sent it; the warehouse takes the roster's unit at occurred_at for the
    others, so `org_unit_source` tells which, and a corrected roster reaches events landed before."""
    from warehouse.build import build

    ref = tmp_path / "reference"
    shutil.copytree(small_org / "reference", ref)
    roster = (ref / "roster.csv").read_text().splitlines()
    row = next(r for r in roster[1:] if r.split(",")[1] == "CC-MEM" and not r.split(",")[6])  # open period
    actor = row.split(",")[0]
    sent = _event(1, actor_id=actor, org_unit="CC-PRV")
    absent = {k: v for k, v in _event(2, actor_id=actor).items() if k != "org_unit"}
    lake = tmp_path / "lake"
    ingest([_write(tmp_path / "a.jsonl", [sent, absent])], lake=lake, reference=ref, progress=False)
    assert q(f"select event_id, org_unit from {events(lake)} order by 1") == [("x-1", "CC-PRV"), ("x-2", None)]

    def resolved() -> list[tuple]:
        with duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True) as con:
            return con.execute("select event_id, org_unit, org_unit_source from events order by 1").fetchall()

    build(lake, ref, expectations=False)
    assert resolved() == [("x-1", "CC-PRV", "event"), ("x-2", "CC-MEM", "roster")]
    # the roster is corrected: the actor was in CC-MEM-N all along
    (ref / "roster.csv").write_text("\n".join(roster).replace(row, row.replace(",CC-MEM,", ",CC-MEM-N,", 1)) + "\n")
    build(lake, ref, expectations=False)
    assert resolved() == [("x-1", "CC-PRV", "event"), ("x-2", "CC-MEM-N", "roster")]


def test_quarantine_is_restricted_and_replayable(ingested, small_org, truth):
    lake, _ = ingested
    zone = lake / "quarantine"
    assert stat.S_IMODE(zone.stat().st_mode) == 0o700
    files = list(zone.glob("*.parquet"))
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    table = f"read_parquet({[str(f) for f in files]!r})"
    assert q(f"select count(*) from {table}") == [(truth["totals"]["quarantined"],)]
    # the raw line is the file's line, byte for byte (line ends removed)
    sample = q(f"select source_file, source_line, reason, raw_line from {table} "
               "where reason <> 'line_too_long' order by source_file, source_line limit 60")
    assert {r[2] for r in sample} > {"conflicting_duplicate"} or len(sample) == 60
    for source_file, line_no, reason, raw in sample:
        data = Path(source_file).read_bytes()
        if source_file.endswith(".gz"):
            data = gzip.decompress(data)
        assert data.split(b"\n")[line_no - 1].rstrip(b"\r") == raw, (source_file, line_no, reason)
    conflicts = q(f"select source_file, source_line, raw_line from {table} where reason = 'conflicting_duplicate'")
    assert len(conflicts) == truth["totals"]["by_reason"]["conflicting_duplicate"]
    for source_file, line_no, raw in conflicts[:10]:
        data = Path(source_file).read_bytes()
        if source_file.endswith(".gz"):
            data = gzip.decompress(data)
        assert data.split(b"\n")[line_no - 1].rstrip(b"\r") == raw


def test_rerun_is_a_no_op(ingested, small_org):
    lake, first = ingested
    before = sorted(str(p) for p in lake.rglob("*") if p.is_file() and p.name != ".lock")
    again = ingest([small_org / "landing"], lake=lake, progress=False)
    assert again["run"] is None
    assert again["total"]["already_ingested"] == len(first["files"])
    assert all(f["already_ingested"] and f["lines"] == 0 for f in again["files"])
    assert sorted(str(p) for p in lake.rglob("*") if p.is_file() and p.name != ".lock") == before


def _event(i: int, **kw) -> dict:
    e = {"schema_version": "1.0", "event_id": f"x-{i}", "occurred_at": "2026-10-01T10:00:00Z",
         "source": "s", "tool": "copilot", "event_type": "assist", "actor_id": "A1", "capability": "c",
         "app": "word", "action": "draft", "org_unit": "OU"}
    e.update(kw)
    return e


def _write(path: Path, events: list) -> Path:
    path.write_text("".join((json.dumps(e) if not isinstance(e, str) else e) + "\n" for e in events))
    return path


def test_duplicates_across_files_and_runs_first_copy_wins(tmp_path: Path):
    lake = tmp_path / "lake"
    a = _write(tmp_path / "a.jsonl", [_event(1), _event(2)])
    # b sorts after a: its copy of x-1 is a duplicate (same content, other offset), x-2 conflicts
    b = _write(tmp_path / "b.jsonl", [_event(1, occurred_at="2026-10-01T05:00:00-05:00"),
                                     _event(2, app="excel"), _event(3)])
    s1 = ingest([b, a], lake=lake, progress=False)  # given out of order: path order decides
    by = {Path(f["path"]).name: f for f in s1["files"]}
    assert (by["a.jsonl"]["landed"], by["b.jsonl"]["landed"]) == (2, 1)
    assert by["b.jsonl"]["duplicates"] == 1
    assert by["b.jsonl"]["by_reason"] == {"conflicting_duplicate": 1}
    # a later run: what landed earlier wins
    c = _write(tmp_path / "c.jsonl", [_event(2), _event(3, action="rewrite"), _event(4), "", "  "])
    s2 = ingest([c], lake=lake, progress=False)
    f = s2["files"][0]
    assert (f["landed"], f["duplicates"], f["quarantined"], f["blank"]) == (1, 1, 1, 2)
    assert q(f"select event_id from {events(lake)} order by 1") == [("x-1",), ("x-2",), ("x-3",), ("x-4",)]
    assert q(f"select app from {events(lake)} where event_id = 'x-2'") == [("word",)]


def test_a_month_re_sent_whole_lands_nothing_and_quarantines_every_changed_copy(tmp_path: Path, monkeypatch):
    """A vendor re-sends what already landed, some of it corrected, some of it twice: nothing lands again; every
    copy is a duplicate or, changed, a conflicting duplicate quarantined byte for byte (read back in a stream
    of 7 lines at a time, across files, one of them gzip, out of line order)."""
    from pipelines import commit

    monkeypatch.setattr(commit, "READ_BACK_ROWS", 7)
    lake = tmp_path / "lake"
    month = [_event(i, occurred_at=f"2026-10-{1 + i % 28:02d}T10:00:00Z", tool="copilot") for i in range(60)]
    first = ingest([_write(tmp_path / "a.jsonl", month)], lake=lake, progress=False)["total"]
    assert first["landed"] == 60
    # b (gzip): every event again, every third corrected, in reverse order; c: the first ten again, all changed
    b = [dict(e, app="excel") if i % 3 == 0 else e for i, e in enumerate(month)][::-1]
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress("".join(json.dumps(e) + "\n" for e in b).encode()))
    _write(tmp_path / "c.jsonl", [dict(e, action="rewrite") for e in month[:10]])
    s = ingest([tmp_path / "b.jsonl.gz", tmp_path / "c.jsonl"], lake=lake, progress=False)
    by = {Path(f["path"]).name: f for f in s["files"]}
    assert {n: (f["lines"], f["landed"], f["duplicates"], f["quarantined"]) for n, f in by.items()} == {
        "b.jsonl.gz": (60, 0, 40, 20), "c.jsonl": (10, 0, 0, 10)}
    assert q(f"select count(*), count(*) filter (app = 'word' and action = 'draft') from {events(lake)}") == [(60, 60)]
    runs = Lake(lake).committed_runs()
    got = q(f"select source_file, source_line, reason, raw_line from "
            f"read_parquet('{lake / runs[-1]['outputs']['quarantine']}') order by all")
    assert len(got) == 30 and {r[2] for r in got} == {"conflicting_duplicate"}
    for source_file, line_no, _, raw in got:
        data = Path(source_file).read_bytes()
        data = gzip.decompress(data) if source_file.endswith(".gz") else data
        assert data.split(b"\n")[line_no - 1] == raw, (source_file, line_no)


def test_a_file_of_bad_lines_only_is_quarantined_in_small_row_groups(tmp_path: Path):
    """100,000 lines, every one bad (say, a vendor's file in the wrong format): all quarantined, byte for byte,
    in row groups of at most 16,384 rows. At DuckDB's default (122,880 rows) the quarantine writer of a file
    of 8 M bad lines ran the commit out of its memory limit (measured; too slow for this suite)."""
    import pyarrow.parquet as pq

    bad = [f'["not an object", {i}, "{"x" * 450}"]' for i in range(100_000)]
    s = ingest([_write(tmp_path / "bad.jsonl", bad)], lake=tmp_path / "lake", progress=False)["total"]
    assert (s["lines"], s["quarantined"], s["by_reason"]) == (100_000, 100_000, {"not_an_object": 100_000})
    path = tmp_path / "lake" / Lake(tmp_path / "lake").committed_runs()[-1]["outputs"]["quarantine"]
    assert q(f"select count(*), sum(octet_length(raw_line)) from read_parquet('{path}')") == [
        (100_000, sum(len(b) for b in bad))]
    meta = pq.ParquetFile(path).metadata
    assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) <= 16_384


def test_hostile_files(tmp_path: Path):
    lake = tmp_path / "lake"
    empty = tmp_path / "0-empty.jsonl"
    empty.write_bytes(b"")
    no_nl = tmp_path / "1-no-newline.jsonl"
    no_nl.write_bytes(json.dumps(_event(1)).encode())
    crlf = tmp_path / "2-crlf.jsonl"
    crlf.write_bytes(b"\r\n".join(json.dumps(_event(i)).encode() for i in (2, 3)) + b"\r\n\r\n")
    nul = tmp_path / "3-binary.jsonl"
    nul.write_bytes(b"\x00\x01\x02\n\xff\n{}\n")
    s = ingest([tmp_path], lake=lake, progress=False)
    by = {Path(f["path"]).name: f for f in s["files"]}
    assert by["0-empty.jsonl"]["lines"] == 0
    assert by["1-no-newline.jsonl"]["landed"] == 1
    assert (by["2-crlf.jsonl"]["landed"], by["2-crlf.jsonl"]["blank"]) == (2, 1)
    assert by["3-binary.jsonl"]["by_reason"] == {"invalid_utf8": 1, "malformed_json": 1,
                                                 "missing_field:schema_version": 1}
    assert s["total"]["lines"] == sum(s["total"][k] for k in COUNTS[1:])


def test_operational_errors_are_clear(tmp_path: Path):
    with pytest.raises(IngestError, match="no such file or folder"):
        ingest([tmp_path / "nope.jsonl"], lake=tmp_path / "lake")
    bad_gz = tmp_path / "broken.jsonl.gz"
    bad_gz.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(IngestError, match="pipeline failed"):
        ingest([bad_gz], lake=tmp_path / "lake", progress=False)
    # nothing half-written: the failed run left no events and no ledger entry
    assert not list((tmp_path / "lake" / "events").rglob("*.parquet"))
    assert Lake(tmp_path / "lake").committed_runs() == []


def test_a_second_ingest_on_the_same_lake_refuses(tmp_path: Path):
    lake = Lake(tmp_path / "lake")
    f = _write(tmp_path / "a.jsonl", [_event(1)])
    with lake.locked(), pytest.raises(IngestError, match=r"another ingest \(pid \d+\) is running"):
        ingest([f], lake=lake.root, progress=False)
    assert ingest([f], lake=lake.root, progress=False)["total"]["landed"] == 1  # free again


def _landed_set(lake: Path) -> set[tuple]:
    cols = "event_id, occurred_at, tool, event_type, capability, org_unit, source_file, source_line"
    return set(q(f"select {cols} from {events(lake)}"))


def _ledger_totals(lake: Path) -> dict:
    runs = Lake(lake).committed_runs()
    return {k: sum(r["total"][k] for r in runs) for k in COUNTS}


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 120) -> bool:
    """SIGKILL `proc` as soon as `ready()` holds (polled every 10 ms); False when it ended first."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            proc.kill()
            proc.wait()
            return True
        time.sleep(0.01)
    proc.wait()
    return False


@pytest.mark.slow
def test_killed_runs_then_rerun_end_as_one_clean_run(ingested, small_org, truth, tmp_path: Path):
    """SIGKILL at each phase, found by what the run leaves on disk rather than by a delay (a loaded machine moves
    the phases): in start-up, while staging (a staged file exists), and at the commit point (the manifest is
    written, the moves not all done). The rerun ends as if one clean run had happened."""
    clean_lake, _ = ingested
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "uptake.cli", "ingest", str(small_org / "landing"), "--reference",
           str(small_org / "reference"), "--lake"]

    def staged(lake: Path) -> bool:
        return any(p.is_file() for p in (lake / ".staging").glob("run-*/**/*"))

    def manifest(lake: Path) -> bool:
        return any((lake / ".staging").glob("run-*/MANIFEST.json"))

    started = time.monotonic()
    phases = {"start-up": lambda lake: time.monotonic() - started > 0.5, "staging": staged, "commit": manifest}
    fired = {}
    for phase, ready in phases.items():
        lake = tmp_path / f"lake-{phase}"
        started = time.monotonic()
        proc = subprocess.Popen([*cmd, str(lake)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        fired[phase] = _kill_when(proc, lambda lake=lake, ready=ready: ready(lake))
        done = subprocess.run([*cmd, str(lake)], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert _ledger_totals(lake) == {k: truth["totals"][k] for k in COUNTS}, phase
        assert _landed_set(lake) == _landed_set(clean_lake), phase
        assert not list((lake / ".staging").iterdir())
        shutil.rmtree(lake)
    # start-up and staging take seconds: those kills happened; the commit point may pass between two polls
    assert fired["start-up"] and fired["staging"], fired


@pytest.mark.slow
def test_dask_runner_equals_direct_runner(ingested, small_org, tmp_path: Path):
    from distributed import LocalCluster

    clean_lake, direct = ingested
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask = ingest([small_org / "landing"], lake=tmp_path / "lake", reference=small_org / "reference",
                      progress=False, beam_args=["--runner=DaskRunner",
                                                 f"--dask_client_address={cluster.scheduler_address}"])
    assert dask["total"] == direct["total"]
    assert [{k: v for k, v in f.items()} for f in dask["files"]] == direct["files"]
    assert _landed_set(tmp_path / "lake") == _landed_set(clean_lake)


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "uptake.cli", "ingest", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def test_an_unreadable_file_fails_alone(tmp_path: Path):
    """A truncated gzip (cut after 64 KiB, so it breaks while the pipeline reads it) and a corrupt one (no
    readable first bytes) among good files: the good file lands, each bad one is named with its reason in the
    summary and on stderr, nothing of it lands or enters the ledger, and the exit code is non-zero."""
    landing = tmp_path / "landing"
    landing.mkdir()
    _write(landing / "a-good.jsonl", [_event(1), _event(2)])
    body = "".join(json.dumps(_event(i, prompt_text=f"{i:08d}" * 8)) + "\n" for i in range(10, 1500)).encode()
    whole = gzip.compress(body)
    (landing / "b-truncated.jsonl.gz").write_bytes(whole[: len(whole) - 40])  # a download cut short
    (landing / "c-corrupt.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    lake = tmp_path / "lake"
    done = _cli(str(landing), "--lake", str(lake))
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)
    by = {Path(f["path"]).name: f for f in summary["files"]}
    assert by["a-good.jsonl"]["landed"] == 2 and "error" not in by["a-good.jsonl"]
    assert by["b-truncated.jsonl.gz"]["error"].startswith("Compressed file ended")
    assert by["b-truncated.jsonl.gz"]["lines"] == 0 and by["c-corrupt.jsonl.gz"]["error"]
    assert summary["total"]["landed"] == 2  # nothing of the truncated file, though 1,000 of its lines were readable
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 2 and all("not ingested" in e for e in errors)
    assert "b-truncated.jsonl.gz: not ingested: Compressed file ended" in errors[0]
    assert q(f"select distinct source_file from {events(lake)}") == [(str(landing / "a-good.jsonl"),)]
    quarantined = q(f"select distinct source_file from '{lake}/quarantine/*.parquet'")
    assert quarantined in ([], [(str(landing / "a-good.jsonl"),)])
    (ledger,) = Lake(lake).committed_runs()
    assert [Path(f["path"]).name for f in ledger["files"]] == ["a-good.jsonl"]  # a re-run tries the others again
    assert {Path(f["path"]).name for f in ledger["failed"]} == {"b-truncated.jsonl.gz", "c-corrupt.jsonl.gz"}
    (landing / "b-truncated.jsonl.gz").write_bytes(whole)  # the download completed
    again = _cli(str(landing), "--lake", str(lake))
    assert again.returncode == 1 and "c-corrupt.jsonl.gz" in again.stderr and "b-truncated" not in again.stderr
    assert json.loads(again.stdout)["total"]["landed"] == 1490


def test_a_file_the_os_refuses_to_read_fails_alone(tmp_path: Path):
    """A file whose read fails in the OS. Root (as CI runs) reads files whatever their permissions, so there the
    file is a link to /proc/self/mem, whose first page every read refuses with EIO; elsewhere a file without
    read permission."""
    _write(tmp_path / "a.jsonl", [_event(1)])
    bad = tmp_path / "b.jsonl"
    if os.geteuid() == 0:
        bad.symlink_to("/proc/self/mem")
        expected = "Input/output error"
    else:
        _write(bad, [_event(2)]).chmod(0)
        expected = "Permission denied"
    s = ingest([tmp_path], lake=tmp_path / "lake", progress=False)
    assert [f.get("error") for f in s["files"]] == [None, expected] and s["total"]["landed"] == 1


def test_a_file_name_that_is_not_utf8_lands_under_its_escaped_name(tmp_path: Path):
    """A file system may hold names that are not UTF-8 (here the byte 0xFF): the file lands like any other, its
    name reported, recorded and landed as text with that byte written `\\xff` (it failed the whole run)."""
    landing = tmp_path / "landing"
    landing.mkdir()
    _write(landing / "a.jsonl", [_event(1)])
    _write(Path(os.fsdecode(bytes(landing) + b"/b\xff.jsonl")), [_event(2), _event(3)])
    lake = tmp_path / "lake"
    done = _cli(str(landing), "--lake", str(lake))
    assert done.returncode == 0, done.stderr
    shown = str(landing / "b\\xff.jsonl")
    assert [(f["path"], f["landed"]) for f in json.loads(done.stdout)["files"]] == [
        (str(landing / "a.jsonl"), 1), (shown, 2)]
    assert q(f"select source_file, count(*) from {events(lake)} group by all order by 1") == [
        (str(landing / "a.jsonl"), 1), (shown, 2)]
    assert [f["path"] for f in Lake(lake).committed_runs()[0]["files"]][1] == shown


def test_a_disk_that_fills_up_is_one_line_and_leaves_the_lake_consistent(tmp_path: Path, monkeypatch):
    """The device fills while workers write, then again just after the commit point: one clear line each time,
    nothing half-visible, and the next run ends as if each run had happened once."""
    from pipelines import lake as lake_mod
    from pipelines import stage

    lake = tmp_path / "lake"
    f = _write(tmp_path / "a.jsonl", [_event(i) for i in range(50)])

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(stage, "write_staged", full)  # a worker writing its staged rows
        with pytest.raises(IngestError) as exc:
            ingest([f], lake=lake, progress=False)
    assert str(exc.value) == f"no space left on device under {lake}: nothing of run 1 was committed; free some " \
                             "space and run it again"
    assert Lake(lake).committed_runs() == [] and not list(lake.glob("events/**/*.parquet"))
    assert not list((lake / ".staging").iterdir())  # space given back at once

    apply = lake_mod.Lake.apply
    with monkeypatch.context() as m:
        m.setattr(lake_mod.Lake, "apply", full)  # the manifest is written, moving files fails
        with pytest.raises(IngestError, match="run 1 is committed and completes at the next ingest"):
            ingest([f], lake=lake, progress=False)
    assert lake_mod.Lake.apply is apply
    again = ingest([f], lake=lake, progress=False)  # rolls run 1 forward: the file is already ingested
    assert again["run"] is None and again["total"]["already_ingested"] == 1
    assert _ledger_totals(lake)["landed"] == 50 and q(f"select count(*) from {events(lake)}") == [(50,)]


def test_storage_that_refuses_after_the_commit_point_is_one_line_each_time(tmp_path: Path, monkeypatch):
    """A lake folder turned read-only (or any OSError but a full disk) past the commit point, then again while the
    next run brings the lake up to date: one line each time that says where run 1 stands (both were tracebacks),
    and once the storage is back, run 1 completes."""
    from pipelines import lake as lake_mod

    lake = tmp_path / "lake"
    f = _write(tmp_path / "a.jsonl", [_event(i) for i in range(20)])

    def refuse(*_a, **_k):
        raise OSError(errno.EROFS, "Read-only file system", str(lake / "events"))

    with monkeypatch.context() as m:
        m.setattr(lake_mod.Lake, "apply", refuse)
        with pytest.raises(IngestError) as exc:
            ingest([f], lake=lake, progress=False)
        assert str(exc.value) == (f"Read-only file system: {lake / 'events'} under {lake}: run 1 is committed and "
                                  "completes at the next ingest")
        with pytest.raises(IngestError) as exc:  # recovery, at the start of the next run, refused too
            ingest([f], lake=lake, progress=False)
        assert str(exc.value).startswith(f"Read-only file system: {lake / 'events'} under {lake}: nothing new was "
                                         "ingested (a run committed before completes at the next ingest)")
    again = ingest([f], lake=lake, progress=False)
    assert again["run"] is None and again["total"]["already_ingested"] == 1
    assert q(f"select count(*) from {events(lake)}") == [(20,)]


def test_a_run_stopped_after_its_ledger_entry_is_reported_committed(tmp_path: Path, monkeypatch):
    """Stopped while its staging was being removed (the manifest gone, the ledger entry written): committed."""
    from pipelines import lake as lake_mod

    commit = lake_mod.Lake.commit

    def commit_then_stop(self, *a, **k):
        commit(self, *a, **k)
        raise KeyboardInterrupt

    monkeypatch.setattr(lake_mod.Lake, "commit", commit_then_stop)
    with pytest.raises(KeyboardInterrupt, match="^run 1 is committed$"):
        ingest([_write(tmp_path / "a.jsonl", [_event(1)])], lake=tmp_path / "lake", progress=False)
    assert [r["run"] for r in Lake(tmp_path / "lake").committed_runs()] == [1]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_ingest_says_so_in_one_line_and_the_next_run_lands_everything(small_org: Path, tmp_path: Path,
                                                                                sig: int):
    """SIGTERM (a scheduler stopping the job) ended the process silently; Ctrl-C while Beam staged was reported
    as a failed pipeline. Both now stop like Ctrl-C: one line, exit 128 + the signal, nothing half-visible."""
    lake = tmp_path / "lake"
    proc = subprocess.Popen([sys.executable, "-m", "uptake.cli", "ingest", str(small_org / "landing"), "--lake",
                             str(lake)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list((lake / ".staging").glob("run-000001/*")) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    name = "terminated" if sig == signal.SIGTERM else "interrupted"
    assert err.strip().splitlines() == [f"uptake ingest: {name}: nothing of run 1 was committed"], err
    assert Lake(lake).committed_runs() == [] and not list(lake.glob("events/**/*.parquet"))
    s = ingest([small_org / "landing"], lake=lake, progress=False)
    assert s["run"] == 1 and s["total"]["already_ingested"] == 0


def test_a_real_full_disk(tmp_path: Path, small_org: Path):
    """The same on a real 1 MiB file system (tmpfs): DuckDB or Arrow hits ENOSPC themselves."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        src = sorted((small_org / "landing").glob("*genesys*.jsonl"))[0]
        done = _cli(str(src), "--lake", str(mnt / "lake"))
        assert done.returncode == 1
        assert done.stderr.strip().count("\n") == 0, done.stderr  # one line, no traceback
        assert "no space left on device" in done.stderr and "nothing of run 1 was committed" in done.stderr
        assert Lake(mnt / "lake").committed_runs() == []
        subprocess.run(["mount", "-o", "remount,size=256m", str(mnt)], check=True)
        assert _cli(str(src), "--lake", str(mnt / "lake")).returncode == 0
        assert _ledger_totals(mnt / "lake")["lines"] == sum(1 for _ in src.open("rb"))
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_nothing_listens_beyond_loopback_while_ingesting(small_org: Path, tmp_path: Path):
    """A real `uptake ingest`, its listening sockets polled while it runs (Beam's Prism fallback served gRPC on
    every interface): none may listen on anything but loopback."""
    import psutil

    proc = subprocess.Popen([sys.executable, "-m", "uptake.cli", "ingest", str(small_org / "landing"), "--lake",
                             str(tmp_path / "lake")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen, polls = set(), 0
    try:
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(proc.pid)
                for c in [p, *p.children(recursive=True)]:
                    seen |= {(s.laddr.ip, s.laddr.port) for s in c.net_connections("inet")
                             if s.status == psutil.CONN_LISTEN}
                polls += 1
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    assert polls > 20  # it was watched while it ran
    assert {ip for ip, _ in seen} <= {"127.0.0.1", "::1"}, seen


def test_dropped_field_names_that_are_not_identifiers_are_not_copied(tmp_path: Path):
    """A key that is itself free text (PHI) is counted as <unnamed>: it reaches neither the ledger nor the output."""
    phi = "Patient Jane Doe DOB 1961-02-03 MRN 4711"
    f = _write(tmp_path / "a.jsonl", [{**_event(1), phi: "x", "prompt_text": "y"}, {**_event(2), "x" * 65: 1}])
    s = ingest([f], lake=tmp_path / "lake", progress=False)
    # a name with spaces and one of 65 characters are counted under one label; an identifier keeps its name
    assert s["total"]["dropped_fields"] == {"<unnamed>": 2, "prompt_text": 1}
    stored = "".join(p.read_text() for p in (tmp_path / "lake").rglob("*.json"))
    assert "Jane" not in stored and "Jane" not in json.dumps(s)


def test_a_folder_without_input_files_of_its_own_is_an_error(tmp_path: Path):
    (tmp_path / "2026" / "10").mkdir(parents=True)
    _write(tmp_path / "2026" / "10" / "a.jsonl", [_event(1)])
    with pytest.raises(IngestError, match="no input files .* subfolders are not read"):
        ingest([tmp_path], lake=tmp_path / "lake", progress=False)
    done = _cli(str(tmp_path), "--lake", str(tmp_path / "lake"))
    assert done.returncode == 1 and "no input files" in done.stderr


def test_a_file_that_fails_after_its_first_rows_were_staged_lands_none_of_them(tmp_path: Path, monkeypatch):
    """Small files are staged together (a pack): a truncated gzip among them fails after some of its rows were
    validated and written to staged files shared with the good files (small blocks, a staged file per block).
    The commit leaves out every row and quarantined line of it, and only of it."""
    import functools

    from pipelines import ingest as pipelines_ingest
    from pipelines import merge, stage

    landing = tmp_path / "landing"
    landing.mkdir()
    _write(landing / "a-good.jsonl", [_event(1), "{bad"])
    body = "".join(json.dumps(_event(i)) + "\n" + ("{bad\n" if i % 100 == 0 else "") for i in range(10, 3000))
    whole = gzip.compress(body.encode())
    (landing / "b-truncated.jsonl.gz").write_bytes(whole[: len(whole) - 40])
    _write(landing / "c-good.jsonl", [_event(2), _event(3)])
    monkeypatch.setattr(stage, "StageContext", functools.partial(stage.StageContext, block_bytes=4096, flush_rows=1))
    monkeypatch.setattr(pipelines_ingest, "cores", lambda: 1)  # one worker: the three files make one pack
    packs = []
    tasks = pipelines_ingest.tasks
    monkeypatch.setattr(pipelines_ingest, "tasks", lambda *a: packs.append(tasks(*a)) or packs[-1])
    staged_from: set[int] = set()
    write_staged = merge.write_staged

    def spy(table, path, *args, **kwargs):
        staged_from.update(table.column("file_idx").to_pylist())
        return write_staged(table, path, *args, **kwargs)

    monkeypatch.setattr(stage, "write_staged", spy)
    summary = ingest([landing], tmp_path / "lake", progress=False)
    assert [len(t.ranges) for t in packs[0]] == [3]
    assert 1 in staged_from  # rows of the truncated file were staged before it failed
    by = {Path(f["path"]).name: f for f in summary["files"]}
    assert by["b-truncated.jsonl.gz"]["error"].startswith("Compressed file ended")
    assert {k: summary["total"][k] for k in COUNTS} == {"lines": 4, "landed": 3, "duplicates": 0, "quarantined": 1,
                                                          "blank": 0}
    lake = tmp_path / "lake"
    assert sorted(q(f"select event_id from {events(lake)}")) == [("x-1",), ("x-2",), ("x-3",)]
    assert q(f"select source_file, source_line from '{lake}/quarantine/*.parquet'") == [
        (str(landing / "a-good.jsonl"), 2)]


def test_the_progress_counts_each_tasks_lines_once_as_they_appear(tmp_path: Path):
    import threading

    from pipelines.ingest import _watch
    from uptake.progress import Progress

    ranges = tmp_path / "ranges"
    ranges.mkdir()
    bar = Progress("ingest", enabled=False, unit="lines")
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(tmp_path, bar, stop))
    watcher.start()
    (ranges / "f00000-r00000.json").write_text(json.dumps([{"lines": 5}, {"lines": 2}]))  # a pack's two files
    (ranges / "f00002-r00000.json.tmp").write_text("[{")  # one being written: not a task's counts yet
    (ranges / "f00002-r00000.json").write_text(json.dumps([{"lines": 5}]))
    deadline = time.monotonic() + 30
    while bar.done < 12 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.2)  # two more polls see both summaries again: counted once
    stop.set()
    watcher.join()
    assert bar.done == 12
