"""`uptake serve` for real: its own Prefect server, the deployments with their schedules, and a file dropped
into the landing folder ingested by a triggered flow run."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.serve import DAILY_CRON, MONTHLY_CRON, Watcher


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


async def _deployments(url: str) -> dict[str, list[str]]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        out = {}
        for d in await client.read_deployments():
            flow = await client.read_flow(d.flow_id)
            out[f"{flow.name}/{d.name}"] = [getattr(s.schedule, "cron", None) for s in d.schedules]
        return out


@pytest.mark.slow
def test_serve_runs_its_server_schedules_and_ingests_a_dropped_file(small_org: Path, tmp_path: Path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    landing.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "uptake"), "serve", "--lake", str(lake),
                             "--landing", str(landing), "--reference", str(small_org / "reference")],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = None
    try:
        deadline = time.monotonic() + 180
        while url is None or "ingest-arrival/on-file-arrival" not in (tmp_path / "serve.log").read_text():
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            m = re.search(r"Prefect API (\S+);", (tmp_path / "serve.log").read_text())
            url = m.group(1) if m else None
            time.sleep(1)
        os.environ["PREFECT_API_URL"] = url
        try:
            deployments = asyncio.run(_deployments(url))
        finally:
            del os.environ["PREFECT_API_URL"]
        assert deployments["pipeline/daily"] == [DAILY_CRON]
        assert deployments["monthly-close/monthly"] == [MONTHLY_CRON]
        assert "ingest-arrival/on-file-arrival" in deployments

        source = sorted((small_org / "landing").glob("*.jsonl"))[0]
        shutil.copy(source, landing / "incoming.tmp")
        os.replace(landing / "incoming.tmp", landing / source.name)  # arrives complete
        dropped = time.monotonic()
        runs = lake / "ledger" / "runs"
        while not (runs.exists() and list(runs.glob("run-*.json"))):
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() - dropped < 60, (tmp_path / "serve.log").read_text()[-3000:]
            time.sleep(1)
        from pipelines.lake import Lake

        (run,) = Lake(lake).committed_runs()
        assert [Path(f["path"]).name for f in run["files"]] == [source.name]
        assert run["total"]["landed"] > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    # the local server it started is gone with it
    port = url.rsplit(":", 1)[1].split("/")[0]
    leftover = subprocess.run(["pgrep", "-f", f"prefect server start .*--port {port}"], capture_output=True, text=True)
    assert proc.returncode is not None and leftover.stdout.strip() == ""
