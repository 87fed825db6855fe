"""`uptake serve` for real: its own Prefect server, the deployments with their schedules, and a file dropped
into the landing folder ingested by a triggered flow run."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flows.serve import DAILY_CRON, MONTHLY_CRON, LocalServer, Watcher


@pytest.mark.slow
def test_the_demos_local_server_answers_and_stop_ends_it_leaving_no_log_behind(tmp_path: Path, monkeypatch):
    """`uptake demo`'s server: Prefect's default home, its log in the temporary folder while it runs; once it
    answered, stop() ends it and removes the log (a demo run left one file per run in /tmp)."""
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    server = LocalServer(home=None, ui=False)
    try:
        assert server.log_path.exists()
        url = server.wait(120)
        with urllib.request.urlopen(f"{url}/health", timeout=10) as r:
            assert r.status == 200
    finally:
        server.stop()
    assert server.process.poll() is not None
    assert not server.log_path.exists()


def test_the_demos_local_server_keeps_its_log_only_when_it_did_not_answer_in_time(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    unused = LocalServer(home=None, ui=False)  # the demo stops it unused when the profile names an API
    unused.stop()
    assert not unused.log_path.exists()
    late = LocalServer(home=None, ui=False)
    try:
        with pytest.raises(RuntimeError, match=f"did not start; see {late.log_path}"):
            late.wait(timeout=0)
    finally:
        late.stop()
    assert late.process.poll() is not None
    assert late.log_path.exists()  # what the error names is there to read
    late.log_path.unlink()


def test_watcher_emits_each_complete_file_once(tmp_path: Path):
    w = Watcher(tmp_path)
    (tmp_path / "a.jsonl").write_text("{}\n")
    (tmp_path / "b.jsonl.part").write_text("{}\n")
    assert w.scan() == []  # first sight: not known to be complete yet
    assert w.scan() == [str((tmp_path / "a.jsonl").resolve())]
    assert w.scan() == []  # once
    with (tmp_path / "a.jsonl").open("a") as fh:  # it grows: a new version, complete again next scan
        fh.write("{}\n")
    assert w.scan() == []
    assert w.scan() == [str((tmp_path / "a.jsonl").resolve())]


def test_watcher_leaves_a_name_that_is_not_utf8_to_the_daily_run_and_says_so(tmp_path: Path, capsys):
    """An event is JSON text, which cannot carry the byte 0xFF of a file name (Prefect only logs a traceback):
    the watcher emits the other files, says once which one the daily run will ingest, and goes on."""
    w = Watcher(tmp_path)
    (tmp_path / "a.jsonl").write_text("{}\n")
    Path(os.fsdecode(bytes(tmp_path) + b"/b\xff.jsonl")).write_text("{}\n")
    assert w.scan() == []
    assert w.scan() == [str((tmp_path / "a.jsonl").resolve())]
    assert w.scan() == []
    err = capsys.readouterr().err.splitlines()
    assert err == [f"uptake serve: {tmp_path.resolve()}/b\\xff.jsonl: the name is not UTF-8, which an event cannot "
                   "carry; the daily run ingests it"]


def test_a_restarted_watcher_skips_files_the_lake_already_ingested(ingested, small_org: Path, tmp_path: Path):
    """A restarted `serve` must not start one flow run per file already in the lake: a new watcher over a landing
    folder whose files were all ingested emits nothing; a file with new content is emitted once."""
    lake, summary = ingested
    landing = tmp_path / "landing"
    shutil.copytree(small_org / "landing", landing)
    w = Watcher(landing, lake)
    assert w.scan() == [] and w.scan() == []  # every file's content is in the lake (by sha256)
    new = landing / "new.jsonl"
    new.write_bytes(sorted(landing.glob("*.jsonl"))[0].read_bytes() + b"\n")  # other bytes: not ingested yet
    assert w.scan() == []
    assert w.scan() == [str(new.resolve())]
    assert len(summary["files"]) == len(list((small_org / "landing").iterdir()))  # they were all ingested


@contextlib.contextmanager
def _api(url: str) -> Iterator[None]:
    """Point this process's Prefect client at `url`. Prefect reads its settings once per context, so setting
    os.environ is not enough (a harness that ran earlier in the session would still be asked)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield


async def _schedule_state(url: str) -> tuple[dict[str, list[str | None]], dict[str, list[dt.datetime]]]:
    """(cron of each deployment, expected start of each deployment's scheduled flow runs), as the API has them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    crons: dict[str, list[str | None]] = {}
    scheduled: dict[str, list[dt.datetime]] = {}
    async with get_client() as client:
        assert str(client.api_url).rstrip("/") == url.rstrip("/")
        for d in await client.read_deployments():
            name = f"{(await client.read_flow(d.flow_id)).name}/{d.name}"
            crons[name] = [getattr(s.schedule, "cron", None) for s in d.schedules]
            runs = await client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[d.id])))
            scheduled[name] = sorted(r.expected_start_time for r in runs
                                     if r.state is not None and r.state.is_scheduled() and r.expected_start_time)
    return crons, scheduled


def _wait(what: str, check: Callable[[], bool], proc: subprocess.Popen, log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert proc.poll() is None, f"uptake serve exited while waiting for {what}:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no {what} after {seconds:.0f} s:\n{log.read_text()[-3000:]}"
        time.sleep(1)


@pytest.mark.slow
def test_serve_runs_its_server_schedules_and_ingests_a_dropped_file(small_org: Path, tmp_path: Path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    landing.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    log_path = tmp_path / "serve.log"
    log = log_path.open("w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "uptake"), "serve", "--lake", str(lake),
                             "--landing", str(landing), "--reference", str(small_org / "reference")],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = None
    try:
        def api_url() -> bool:
            nonlocal url
            m = re.search(r"Prefect API (\S+); Prefect UI (\S+);", log_path.read_text())
            url, ui[0] = (m.group(1), m.group(2)) if m else (None, "")
            return url is not None

        ui = [""]
        _wait("Prefect API line", api_url, proc, log_path, 180)
        assert url is not None
        # the UI it links to is served (it ships with Prefect), on the same loopback port
        assert ui[0] == url.removesuffix("/api")
        request = urllib.request.Request(f"{ui[0]}/deployments", headers={"Accept": "text/html"})
        with urllib.request.urlopen(request, timeout=30) as page:
            assert page.status == 200 and page.read(200).lstrip().lower().startswith(b"<!doctype html>")
        state: tuple[dict, dict] = ({}, {})

        def scheduled() -> bool:  # the server's scheduler (not serve) creates the runs of each cron schedule
            nonlocal state
            with _api(url):
                state = asyncio.run(_schedule_state(url))
            return ("ingest-arrival/on-file-arrival" in state[0]
                    and all(state[1].get(d) for d in ("pipeline/daily", "monthly-close/monthly")))

        _wait("three deployments and their scheduled flow runs", scheduled, proc, log_path, 180)
        crons, runs = state
        assert crons["pipeline/daily"] == [DAILY_CRON]
        assert crons["monthly-close/monthly"] == [MONTHLY_CRON]
        assert "ingest-arrival/on-file-arrival" in crons
        now = dt.datetime.now(dt.UTC)
        daily, monthly = runs["pipeline/daily"], runs["monthly-close/monthly"]
        assert all(t > now - dt.timedelta(minutes=5) for t in daily + monthly)
        assert {(t.hour, t.minute) for t in daily} == {(6, 0)}  # 0 6 * * *, UTC
        assert len(daily) >= 2 and (daily[1] - daily[0]) == dt.timedelta(days=1)
        assert {(t.day, t.hour, t.minute) for t in monthly} == {(2, 7, 0)}  # 0 7 2 * *
        server_log = (lake / ".prefect" / "server.log").read_text()
        assert "Traceback" not in server_log, server_log[-3000:]  # e.g. the scheduler failing every loop

        source = sorted((small_org / "landing").glob("*.jsonl"))[0]
        shutil.copy(source, landing / "incoming.tmp")
        os.replace(landing / "incoming.tmp", landing / source.name)  # arrives complete
        ledger = lake / "ledger" / "runs"
        _wait("ingest of the dropped file", lambda: ledger.exists() and any(ledger.glob("run-*.json")), proc,
              log_path, 180)
        from pipelines.lake import Lake

        (run,) = Lake(lake).committed_runs()
        assert [Path(f["path"]).name for f in run["files"]] == [source.name]
        assert run["total"]["landed"] > 0
        assert "apitools" not in log_path.read_text()  # Beam's warning, from the flow run's process too
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    # the local server it started is gone with it
    assert url is not None
    port = url.rsplit(":", 1)[1].split("/")[0]
    leftover = subprocess.run(["pgrep", "-f", f"prefect server start .*--port {port}"], capture_output=True, text=True)
    assert proc.returncode is not None and leftover.stdout.strip() == ""
