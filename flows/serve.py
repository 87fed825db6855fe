"""`uptake serve`: the Prefect deployments, their schedules, and the file-arrival trigger.

- `pipeline/daily` runs every day (cron `0 6 * * *`): new landing files → ingest → build → export;
- `monthly-close/monthly` runs on the 2nd of each month (cron `0 7 2 * *`): the closed month's ROI exports;
- `ingest-arrival/on-file-arrival` runs on each `uptake.file.arrived` event. A watcher thread polls the
  landing folder and emits that event once per new *complete* file (same size and mtime on two polls in a
  row; `*.tmp`/`*.part` names ignored) whose content the lake has not ingested yet (so a restarted serve
  does not start a flow run per file already in the lake), the path as the event's resource. An event is
  JSON text: a file whose path is not UTF-8 is left to the daily run (which ingests the whole folder), and
  stderr says so once (Prefect would only log a serialization traceback).

It uses `$PREFECT_API_URL` when set. Otherwise it starts a local Prefect server (SQLite under
`<lake>/.prefect`), with its UI, on a free port of 127.0.0.1, points itself at it, and stops it on exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

from pipelines.ingest import is_input
from pipelines.inputs import shown
from pipelines.lake import Lake, LakeError, file_sha256

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

ARRIVED = "uptake.file.arrived"
DAILY_CRON = "0 6 * * *"
MONTHLY_CRON = "0 7 2 * *"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalServer:
    """A Prefect server in its own process on a free loopback port, started at once (its imports take seconds:
    the caller goes on meanwhile); `wait()` until it answers, `stop()` ends it. `home`: its PREFECT_HOME (SQLite
    database and log), or None for Prefect's default home; `ui`: serve Prefect's UI on the same port."""

    def __init__(self, home: Path | None = None, ui: bool = True):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": str(ui).lower()}
        if home is not None:
            home.mkdir(parents=True, exist_ok=True)
            env["PREFECT_HOME"] = str(home)
        self.log_path = home / "server.log" if home else Path(tempfile.gettempdir()) / f"prefect-{self.port}.log"
        self.temporary_log = home is None  # removed at stop(), unless wait() gave up on the server and named it
        self.keep_log = False
        self.log = self.log_path.open("ab")
        self.process = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                         "--port", str(self.port)], env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        return self.url
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.keep_log = True
                raise RuntimeError(f"the local Prefect server did not start; see {self.log_path}")
            time.sleep(0.2)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()
        if self.temporary_log and not self.keep_log:
            self.log_path.unlink(missing_ok=True)


@contextlib.contextmanager
def prefect_api(lake: Path, timeout: float = 120) -> Iterator[str]:
    """The Prefect API to use: $PREFECT_API_URL, or a local server (SQLite under `<lake>/.prefect`, with its UI)
    started and stopped here."""
    url = os.environ.get("PREFECT_API_URL")
    if url:
        yield url
        return
    server = LocalServer(lake / ".prefect", ui=True)
    try:
        url = server.wait(timeout)
        os.environ["PREFECT_API_URL"] = url
        yield url
    finally:
        server.stop()


class Watcher(threading.Thread):
    """Emits `uptake.file.arrived` once per new complete file of the landing folder that the lake (when
    given) has not ingested yet, by content hash as ingest decides `already_ingested`."""

    def __init__(self, landing: Path, lake: Path | None = None, interval: float = 2.0):
        super().__init__(daemon=True, name="landing-watcher")
        self.landing, self.interval = landing, interval
        self.lake = Lake(lake) if lake is not None else None
        self.seen: dict[str, tuple[int, int]] = {}
        self.emitted: set[tuple[str, int, int]] = set()
        self.stop = threading.Event()

    def scan(self) -> list[str]:
        """Files complete since the last scan (stable size and mtime across two scans)."""
        ready = []
        current: dict[str, tuple[int, int]] = {}
        for p in sorted(self.landing.iterdir()) if self.landing.exists() else []:
            if not p.is_file() or not is_input(p.name):
                continue
            st = p.stat()
            sig = (st.st_size, st.st_mtime_ns)
            current[str(p)] = sig
            key = (str(p.resolve()), *sig)
            if self.seen.get(str(p)) == sig and key not in self.emitted:
                self.emitted.add(key)
                if shown(key[0]) != key[0]:
                    print(f"uptake serve: {shown(key[0])}: the name is not UTF-8, which an event cannot carry; "
                          "the daily run ingests it", file=sys.stderr, flush=True)
                elif not self.ingested(p):
                    ready.append(key[0])
        self.seen = current
        return ready

    def ingested(self, path: Path) -> bool:
        """The lake already holds this file's content (a lake it cannot read: not known, let ingest say why)."""
        if self.lake is None or not self.lake.runs.exists():
            return False
        try:
            return file_sha256(path) in self.lake.ingested_hashes()
        except (LakeError, OSError):
            return False

    def run(self) -> None:
        from prefect.events import emit_event

        while not self.stop.wait(self.interval):
            for path in self.scan():
                emit_event(event=ARRIVED, resource={"prefect.resource.id": f"uptake.file.{path}",
                                                    "uptake.path": path})


def serve(lake: str, landing: str, reference: str) -> int:
    lake_dir = Path(lake).resolve()
    with prefect_api(lake_dir) as url:
        from prefect import serve as prefect_serve
        from prefect.events import DeploymentEventTrigger

        from flows.pipeline import ingest_arrival_flow, monthly_close_flow, pipeline_flow

        params = {"lake": str(lake_dir), "reference": str(Path(reference).resolve())}
        daily = pipeline_flow.to_deployment(name="daily", cron=DAILY_CRON,
                                            parameters={"landing": str(Path(landing).resolve()), **params})
        monthly = monthly_close_flow.to_deployment(name="monthly", cron=MONTHLY_CRON,
                                                   parameters={"lake": str(lake_dir)})
        arrival = ingest_arrival_flow.to_deployment(
            name="on-file-arrival", parameters=params,
            triggers=[DeploymentEventTrigger(expect={ARRIVED}, match={"prefect.resource.id": "uptake.file.*"},
                                             parameters={"path": "{{ event.resource['uptake.path'] }}", **params})])
        watcher = Watcher(Path(landing), lake_dir)
        watcher.start()
        ui = url.removesuffix("/api") if os.environ.get("PREFECT_UI_URL") is None else os.environ["PREFECT_UI_URL"]
        print(f"uptake serve: Prefect API {url}; Prefect UI {ui}; watching {Path(landing).resolve()}", flush=True)
        try:
            prefect_serve(*cast("list[RunnerDeployment]", [daily, monthly, arrival]), limit=1)
        finally:
            watcher.stop.set()
    return 0
