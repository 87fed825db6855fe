"""One build at a time per lake, with real `uptake build` processes: while one builds, a second refuses with one
line naming the first's pid, a third with `--wait` waits and then builds; every one exits sensibly, and the
warehouse an analyst opens is complete (every table) whenever it exists, during and after.

The builds are given a relative `--lake` on a lake without Data Docs yet, as a newcomer types it: the Data Docs
path they print exists, and they print no library noise (Beam's apitools warning, GX's progress bars)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

UPTAKE = str(Path(sys.executable).parent / "uptake")


def _tables(path: Path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
    finally:
        con.close()


class Reader(threading.Thread):
    """An analyst opening the warehouse read-only over and over: records every table set seen."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path, self.seen, self.errors = path, [], []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            if not self.path.exists():
                continue
            try:
                self.seen.append(frozenset(_tables(self.path)))
            except duckdb.Error as exc:  # a half-written or vanished file would show here
                self.errors.append(str(exc))


@pytest.mark.slow
def test_two_builds_at_once_one_refuses_one_waits_and_the_warehouse_is_always_whole(built, small_org: Path,
                                                                                    tmp_path: Path):
    lake = tmp_path / "lake"
    shutil.copytree(built.parent, lake, ignore=shutil.ignore_patterns(".*", "gx", "docs"))
    expected = _tables(built)  # every table a complete build makes
    reference = str(small_org / "reference")
    reader = Reader(lake / "warehouse.duckdb")
    reader.start()
    logs = {name: (tmp_path / f"{name}.out").open("w+") for name in ("first", "second", "third")}

    def start(name: str, *extra: str) -> subprocess.Popen:
        return subprocess.Popen([UPTAKE, "build", "--lake", "lake", "--reference", reference, *extra],
                                stdout=logs[name], stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
                                env={k: v for k, v in os.environ.items() if not k.startswith("UPTAKE_")})

    first = start("first")
    try:
        deadline = time.monotonic() + 120
        while not (lake / ".warehouse-building.duckdb").exists():  # the first is writing its new warehouse
            assert first.poll() is None and time.monotonic() < deadline, "the first build never started writing"
            time.sleep(0.05)
        second = start("second")
        third = start("third", "--wait")
        assert second.wait(timeout=60) == 1
        assert first.poll() is None  # refused while the first was still building
        assert third.wait(timeout=600) == 0
        assert first.wait(timeout=600) == 0
    finally:
        for p in (first,):
            if p.poll() is None:
                p.kill()
        reader.stop.set()
        reader.join()
    out = {}
    for name, fh in logs.items():
        fh.seek(0)
        out[name] = fh.read()
        fh.close()
    assert out["second"].strip().splitlines() == [
        f"uptake build: another build (pid {first.pid}) is running on lake; try again when it has finished"]
    assert f"uptake build: waiting for the build running on lake (pid {first.pid})" in out["third"]
    assert '"warehouse": "lake/warehouse.duckdb"' in out["first"] and '"warehouse"' in out["third"]
    for name in ("first", "third"):
        (docs,) = re.findall(r"^Data Docs: file://(\S+)$", out[name], re.M)
        assert docs == str(lake / "docs" / "data_docs" / "index.html") and Path(docs).exists()
        assert "apitools" not in out[name] and "Calculating Metrics" not in out[name]
    assert not (lake / "gx" / "lake").exists()  # not under <lake>/gx/<relative lake path>/
    # whole whenever an analyst looked, and after
    assert reader.errors == []
    assert reader.seen and all(s == expected for s in reader.seen)
    assert _tables(lake / "warehouse.duckdb") == expected
    assert not (lake / ".warehouse-building.duckdb").exists()
    # readable by the DuckDB command-line client shipped in the environment (1.x): the 1.4 storage version
    cli = subprocess.run([str(Path(sys.executable).parent / "duckdb"), "-readonly", str(lake / "warehouse.duckdb"),
                          "-csv", "-noheader", "-c", "select count(*) from duckdb_tables()"],
                         capture_output=True, text=True, env={**os.environ, "HOME": str(tmp_path)})
    assert cli.returncode == 0, cli.stderr
    assert int(cli.stdout.strip()) == len(expected)
