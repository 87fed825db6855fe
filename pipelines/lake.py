"""The lake's layout and its bookkeeping: lock, pseudonym key, ledger of runs, atomic commit.

    lake/
      events/tool=…/event_date=…/run-NNNNNN-I.parquet   landed events (hive-partitioned)
      quarantine/run-NNNNNN.parquet                      restricted zone: raw bad lines (dir 0700, files 0600)
      ledger/runs/run-NNNNNN.json                        one per committed run: files, hashes, counts, outputs
      ledger/index/run-NNNNNN.parquet                    event_id and content hash of every landed event
      keys/pseudonym.key                                 HMAC key, created once (0600) unless $UPTAKE_PSEUDONYM_KEY
      .staging/run-NNNNNN/                               a run in progress (0700); MANIFEST.json = committed
      .lock                                              held by the one ingest running on this lake

Commit protocol: a run writes everything under `.staging/run-N/`, then writes `MANIFEST.json` (the list of
renames) atomically: that is the commit point. Renames are then applied and the ledger entry written. A
run that dies before the manifest leaves only staging, which the next run deletes; one that dies after it
is rolled forward by the next run. Either way the lake ends as if the run had happened once or not at all.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

KEY_ENV = "UPTAKE_PSEUDONYM_KEY"


class LakeError(RuntimeError):
    pass


class Lake:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.events = self.root / "events"
        self.quarantine = self.root / "quarantine"
        self.ledger = self.root / "ledger"
        self.runs = self.ledger / "runs"
        self.index = self.ledger / "index"
        self.staging = self.root / ".staging"
        self.keys = self.root / "keys"

    def ensure(self) -> None:
        for d in (self.events, self.runs, self.index):
            d.mkdir(parents=True, exist_ok=True)
        for d in (self.quarantine, self.staging, self.keys):  # restricted
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o700)

    # ---------------------------------------------------------------------------------------- lock
    @contextlib.contextmanager
    def locked(self, wait: bool = False) -> Iterator[None]:
        """Hold the lake's ingest lock; a second ingest refuses with the holder's pid (or waits)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                raise LakeError(f"another ingest (pid {holder}) is running on {self.root}; "
                                "try again when it has finished") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)  # releases the lock

    # ----------------------------------------------------------------------------------------- key
    def pseudonym_key(self) -> bytes:
        """The HMAC key: $UPTAKE_PSEUDONYM_KEY, else the lake's key file, created once with 0600."""
        env = os.environ.get(KEY_ENV)
        if env:
            return env.encode()
        path = self.keys / "pseudonym.key"
        if not path.exists():
            self.keys.mkdir(parents=True, exist_ok=True)
            os.chmod(self.keys, 0o700)
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        return path.read_text().strip().encode()

    # -------------------------------------------------------------------------------------- ledger
    def committed_runs(self) -> list[dict[str, Any]]:
        out = []
        for p in sorted(self.runs.glob("run-*.json")):
            out.append(json.loads(p.read_text()))
        return out

    def ingested_hashes(self) -> dict[str, int]:
        """content hash of every input file already ingested -> the run that ingested it."""
        return {f["sha256"]: r["run"] for r in self.committed_runs() for f in r["files"] if not f["already_ingested"]}

    def next_run(self) -> int:
        runs = [r["run"] for r in self.committed_runs()]
        return (max(runs) if runs else 0) + 1

    def index_files(self) -> list[Path]:
        return sorted(self.index.glob("run-*.parquet"))

    def event_files(self) -> list[Path]:
        """Landed event files of committed runs (what readers should trust)."""
        files: list[Path] = []
        for r in self.committed_runs():
            files.extend(self.root / p for p in r.get("outputs", {}).get("events", []))
        return files

    # ------------------------------------------------------------------------------------- commit
    def staging_dir(self, run: int) -> Path:
        return self.staging / f"run-{run:06d}"

    def recover(self) -> list[str]:
        """Finish or discard what a killed run left. Returns what was done, for the log."""
        done: list[str] = []
        if not self.staging.exists():
            return done
        for d in sorted(self.staging.glob("run-*")):
            manifest = d / "MANIFEST.json"
            if manifest.exists():
                self.apply(json.loads(manifest.read_text()))
                done.append(f"rolled forward {d.name}")
            else:
                done.append(f"discarded {d.name}")
            shutil.rmtree(d, ignore_errors=True)
        return done

    def commit(self, run: int, manifest: dict[str, Any]) -> None:
        """Make the run visible: write the manifest (the commit point), apply it, clean up."""
        d = self.staging_dir(run)
        write_atomic(d / "MANIFEST.json", json.dumps(manifest).encode())
        self.apply(manifest)
        shutil.rmtree(d, ignore_errors=True)

    def apply(self, manifest: dict[str, Any]) -> None:
        """Idempotent: every rename whose source is still there is done; then the ledger entry."""
        for src, dst in manifest["moves"]:
            s, t = self.root / src, self.root / dst
            if s.exists():
                t.parent.mkdir(parents=True, exist_ok=True)
                os.replace(s, t)
        for p in manifest.get("restricted", []):
            if (self.root / p).exists():
                os.chmod(self.root / p, 0o600)
        write_atomic(self.runs / f"run-{manifest['run']:06d}.json",
                     json.dumps(manifest["ledger"], indent=1).encode())
        fsync_dir(self.runs)


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_sha256(path: str | Path, chunk: int = 8 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while b := fh.read(chunk):
            h.update(b)
    return h.hexdigest()


def pseudonymize(key: bytes, actor_ids: list[str]) -> list[str]:
    """HMAC-SHA256 of each id, hex, first 32 characters (128 bits)."""
    return [hmac.new(key, a.encode(), hashlib.sha256).hexdigest()[:32] for a in actor_ids]
