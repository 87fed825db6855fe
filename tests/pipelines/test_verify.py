"""The lake checks itself (pipelines/verify.py, pipelines/lake.py): a deleted or replaced key, a deleted ledger
entry, a truncated Parquet file or ledger entry each end `uptake ingest`, `uptake build` and `uptake verify`
with one line naming the file and what to restore, as real processes; nothing lands twice or is re-keyed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.lake import KEY_FILE, Lake, LakeError, key_fingerprint
from pipelines.verify import check

UPTAKE = str(Path(sys.executable).parent / "uptake")


@pytest.fixture
def lake(ingested, tmp_path: Path) -> Path:
    """A copy of the session's ingested lake, to damage."""
    src, _ = ingested
    dst = tmp_path / "lake"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("warehouse.duckdb", ".*"))
    return dst


def _run(*args: str | Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "UPTAKE_PSEUDONYM_KEY"}
    return subprocess.run([UPTAKE, *map(str, args)], capture_output=True, text=True, env=env, timeout=240)


def _one_line(proc: subprocess.CompletedProcess, command: str) -> str:
    """The command failed with exactly one line of its own on stderr, and no traceback."""
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    own = [line for line in proc.stderr.splitlines() if line.startswith(f"uptake {command}: ")]
    assert len(own) >= 1, proc.stderr
    return own[0]


def _landed(lake: Path) -> int:
    return sum(pq.read_metadata(p).num_rows for p in (lake / "events").rglob("*.parquet"))


def _digest(paths: list[Path]) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(paths))).hexdigest()


def _first_file(small_org: Path) -> Path:
    return sorted((small_org / "landing").glob("*.jsonl"))[0]


def test_commit_records_checksums_and_the_key_fingerprint(ingested):
    lake, _ = ingested
    (run,) = Lake(lake).committed_runs()
    committed = [*run["outputs"]["events"], run["outputs"]["index"], run["outputs"]["quarantine"]]
    assert sorted(run["checksums"]) == sorted(committed)  # every committed file, nothing else
    for rel in committed:
        data = (lake / rel).read_bytes()
        assert run["checksums"][rel] == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert run["key_fingerprint"] == key_fingerprint((lake / KEY_FILE).read_text().strip().encode())
    rep = check(Lake(lake), full=True)
    assert rep.problems == []
    assert rep.events == run["total"]["landed"]  # every landed event checked against the index
    assert rep.files == len(committed)


@pytest.mark.slow
def test_a_deleted_key_is_refused_not_recreated(lake: Path, small_org: Path):
    (lake / KEY_FILE).unlink()
    ing = _run("ingest", _first_file(small_org), "--lake", lake)
    line = _one_line(ing, "ingest")
    assert f"{lake / KEY_FILE}: the pseudonym key is missing" in line and "restore keys/pseudonym.key" in line
    assert not (lake / KEY_FILE).exists()  # not re-created: every person would get a new pseudonym
    assert _one_line(_run("build", "--lake", lake, "--reference", small_org / "reference"), "build") == \
        f"uptake build: {line.removeprefix('uptake ingest: ')}"
    assert "the pseudonym key is missing" in _one_line(_run("verify", "--lake", lake), "verify")
    # the library refuses too, whoever asks for the key
    with pytest.raises(LakeError, match="the pseudonym key is missing"):
        Lake(lake).pseudonym_key()


@pytest.mark.slow
def test_a_replaced_key_is_refused(lake: Path, small_org: Path):
    before = _landed(lake)
    (lake / KEY_FILE).write_text("0" * 64)
    line = _one_line(_run("ingest", _first_file(small_org), "--lake", lake), "ingest")
    assert f"{lake / KEY_FILE}: not the key this lake's events were pseudonymized with" in line
    assert _landed(lake) == before and len(Lake(lake).committed_runs()) == 1


@pytest.mark.slow
@pytest.mark.parametrize("deleted", ["ledger/runs/run-000001.json", "ledger"])
def test_a_deleted_ledger_does_not_let_the_same_events_land_twice(lake: Path, small_org: Path, deleted: str):
    events = sorted((lake / "events").rglob("*.parquet"))
    before, digest = _landed(lake), _digest(events)
    target = lake / deleted
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    line = _one_line(_run("ingest", _first_file(small_org), "--lake", lake), "ingest")
    assert line.startswith(f"uptake ingest: {lake / 'ledger/runs/run-000001.json'}: missing, but run 1 committed")
    assert "restore the ledger entry from your backup" in line
    # nothing landed twice, and run 1's files were not overwritten by a new run 1
    assert _landed(lake) == before and _digest(sorted((lake / "events").rglob("*.parquet"))) == digest
    assert "missing, but run 1 committed" in _one_line(
        _run("build", "--lake", lake, "--reference", small_org / "reference"), "build")


@pytest.mark.slow
def test_a_truncated_parquet_file_is_named_by_every_command(lake: Path, small_org: Path):
    victim = sorted((lake / "events").rglob("*.parquet"))[0]
    size = victim.stat().st_size
    with victim.open("r+b") as fh:
        fh.truncate(size // 2)
    expected = f"{victim}: {size // 2:,} bytes, but run 1 committed {size:,} (truncated or replaced)"
    for command, args in (("ingest", [_first_file(small_org)]), ("build", ["--reference", small_org / "reference"]),
                          ("verify", [])):
        line = _one_line(_run(command, *args, "--lake", lake), command)
        assert line.startswith(f"uptake {command}: {expected}"), line


@pytest.mark.slow
def test_a_truncated_ledger_entry_is_named_by_every_command(lake: Path, small_org: Path):
    entry = lake / "ledger/runs/run-000001.json"
    entry.write_bytes(entry.read_bytes()[:200])
    for command, args in (("ingest", [_first_file(small_org)]), ("build", ["--reference", small_org / "reference"]),
                          ("verify", [])):
        line = _one_line(_run(command, *args, "--lake", lake), command)
        assert line.startswith(f"uptake {command}: {entry}: unreadable ledger entry"), line


@pytest.mark.slow
def test_verify_checksums_catch_a_changed_byte_that_sizes_miss(lake: Path):
    ok = _run("verify", "--lake", lake)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"uptake verify: {lake}: OK: 1 run(s), ")
    victim = sorted((lake / "events").rglob("*.parquet"))[-1]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte changed
    victim.write_bytes(bytes(data))
    assert _run("verify", "--lake", lake, "--quick").returncode == 0  # sizes only: not seen
    line = _one_line(_run("verify", "--lake", lake), "verify")
    assert line == (f"uptake verify: {victim}: its sha256 is not the one run 1 recorded at commit (changed since); "
                    "restore it from your backup")


def test_verify_checks_the_index_against_the_events(lake: Path):
    """An index that lost an event id (its checksum updated, as a faulty commit would): the full check sees the
    index and the events disagree for that run, sizes and checksums cannot."""
    (run,) = Lake(lake).committed_runs()
    index = lake / run["outputs"]["index"]
    table = pq.read_table(index)
    pq.write_table(table.slice(1), index)  # one event id fewer
    data = index.read_bytes()
    run["checksums"][run["outputs"]["index"]] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (lake / "ledger/runs/run-000001.json").write_text(json.dumps(run))
    assert check(Lake(lake), full=False).problems == []
    (problem,) = check(Lake(lake), full=True).problems
    landed = run["total"]["landed"]
    assert problem == (f"{index}: run 1 counted {landed} landed events, its index lists {landed - 1}, its event "
                       f"files hold {landed} (1 event id(s) in one but not the other); restore run 1's files from "
                       "your backup")


def test_a_file_no_run_committed_is_found(lake: Path):
    stray = lake / "events" / "tool=copilot" / "event_date=2026-01-01" / "copied.parquet"
    stray.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(next((lake / "events").rglob("*.parquet")), stray)
    (problem,) = check(Lake(lake)).problems
    assert problem == (f"{stray}: committed by no run (1 such file(s)); remove them, or restore the lake from "
                       "your backup")


def test_a_run_being_committed_is_not_an_orphan(lake: Path):
    """A build's check may run while an ingest applies its manifest: files moved, ledger entry not yet written."""
    entry = lake / "ledger/runs/run-000001.json"
    saved = entry.read_text()
    entry.unlink()
    staging = Lake(lake).staging_dir(1)
    staging.mkdir(parents=True)
    (staging / "MANIFEST.json").write_text(json.dumps({"run": 1, "moves": [], "ledger": json.loads(saved)}))
    assert check(Lake(lake)).problems == []


def test_a_key_is_created_only_for_a_lake_without_events(tmp_path: Path):
    fresh = Lake(tmp_path / "new")
    fresh.ensure()
    key = fresh.pseudonym_key()  # nothing committed yet: created, 0600
    assert len(key) == 64 and (fresh.key_file.stat().st_mode & 0o777) == 0o600
    assert check(fresh).problems == []


def test_two_processes_creating_a_new_lakes_key_end_up_with_one(tmp_path: Path, monkeypatch):
    """An ingest and a build starting together on a new lake each hold their own lock, and both may find no key:
    the one that creates it second must use the first's (it replaced it: the first pseudonymized with a key that
    no longer existed)."""
    first, second = Lake(tmp_path / "lake"), Lake(tmp_path / "lake")
    first.ensure()
    key = first.pseudonym_key()
    real_exists = Path.exists
    monkeypatch.setattr(Path, "exists", lambda p: False if p == second.key_file else real_exists(p))
    assert second.pseudonym_key() == key  # it saw no key, created one, and kept the first's
    monkeypatch.undo()
    assert first.key_file.read_text().strip().encode() == key
    assert sorted(p.name for p in first.key_file.parent.iterdir()) == [first.key_file.name]  # no temporary left
