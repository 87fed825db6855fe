"""Open a page in Debian's headless Chromium with the network blocked; return its DOM, a screenshot and every
network request the page attempted (from Chromium's net log).

`make test` installs the `chromium` package when /usr/bin/chromium is missing (CI is a clean machine where we are
root); nothing is downloaded at run time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

LOCAL_SCHEMES = ("file:", "data:", "about:", "chrome:", "blob:")


@dataclass(frozen=True)
class Visit:
    dom: str
    screenshot: Path
    page_requests: list[str]  # network URLs the page itself asked for
    responses: int            # HTTP responses received by anyone (the browser's own background requests too)


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise RuntimeError("Chromium is not installed: `make test` installs it (apt-get install -y chromium)")
    return path


def visit(url: str, screenshot: Path, width: int = 1280, height: int = 2000) -> Visit:
    with tempfile.TemporaryDirectory(prefix="chromium-") as tmp:
        netlog = Path(tmp) / "netlog.json"
        cmd = [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            # nothing leaves: every request goes to a proxy where nothing listens, and no name resolves
            "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--log-net-log={netlog}", "--hide-scrollbars", f"--window-size={width},{height}",
            f"--screenshot={screenshot}", "--dump-dom", url,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or not screenshot.exists():
            raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
        log = json.loads(netlog.read_text())
    types = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    page, responses = [], 0
    for e in log["events"]:
        kind = types.get(e["type"])
        params = e.get("params") or {}
        network = kind == "URL_REQUEST_START_JOB" and not params.get("url", "file:").startswith(LOCAL_SCHEMES)
        # the browser's own background requests carry no origin; the page's carry the file:// page's
        if network and (params.get("initiator") != "not an origin"
                        or params.get("network_isolation_key", "").startswith("file://")):
            page.append(params["url"])
        if kind == "HTTP_TRANSACTION_READ_RESPONSE_HEADERS":
            responses += 1
    return Visit(done.stdout, screenshot, page, responses)
