"""The lake's layout and its bookkeeping: lock, pseudonym key, ledger of runs, atomic commit.

    lake/
      events/tool=…/event_date=…/run-NNNNNN-I.parquet   landed events (hive-partitioned)
      quarantine/run-NNNNNN.parquet                      restricted zone: raw bad lines (dir 0700, files 0600)
      ledger/runs/run-NNNNNN.json                        one per committed run: files, hashes, counts, outputs
      ledger/index/run-NNNNNN.parquet                    event_id and content hash of every landed event
      keys/pseudonym.key                                 HMAC key, created once (0600) unless $UPTAKE_PSEUDONYM_KEY
      .staging/run-NNNNNN/                               a run in progress (0700); MANIFEST.json = committed
      .lock                                              held by the one ingest running on this lake
      .build.lock                                        held by the one build running on this lake

Commit protocol: a run writes everything under `.staging/run-N/`, then writes `MANIFEST.json` (the list of
renames) atomically: that is the commit point. Renames are then applied and the ledger entry written. A
run that dies before the manifest leaves only staging, which the next run deletes; one that dies after it
is rolled forward by the next run. Either way the lake ends as if the run had happened once or not at all.

What the lake trusts, and checks (`pipelines/verify.py`): at commit the ledger entry records the size and
sha256 of every committed file and the fingerprint of the pseudonym key; a key is created only for a lake
that holds no events yet; an unreadable ledger entry is an error naming its file.
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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

KEY_ENV = "UPTAKE_PSEUDONYM_KEY"
KEY_FILE = Path("keys") / "pseudonym.key"
LOCK_FILES = {"ingest": ".lock", "build": ".build.lock"}


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
        self.key_file = self.root / KEY_FILE
        self._key: bytes | None = None

    def ensure(self) -> None:
        for d in (self.events, self.runs, self.index):
            d.mkdir(parents=True, exist_ok=True)
        for d in (self.quarantine, self.staging, self.keys):  # restricted
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o700)

    # ---------------------------------------------------------------------------------------- lock
    @contextlib.contextmanager
    def locked(self, wait: bool = False, what: str = "ingest",
               waiting: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the lake's lock for `what` (ingest or build: one of each at a time per lake). A second one
        refuses with the holder's pid, or with `wait` blocks until it is free (`waiting(pid)` is told once)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK_FILES[what], os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                if not wait:
                    raise LakeError(f"another {what} (pid {holder}) is running on {self.root}; "
                                    "try again when it has finished") from None
                if waiting:
                    waiting(holder)
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)  # releases the lock

    # ----------------------------------------------------------------------------------------- key
    def pseudonym_key(self) -> bytes:
        """The HMAC key: $UPTAKE_PSEUDONYM_KEY, else the lake's key file, created once with 0600 — and only
        for a lake that holds no events yet: a new key would give every person a new pseudonym."""
        if self._key is not None:
            return self._key
        env = os.environ.get(KEY_ENV)
        if env:
            self._key = env.encode()
            return self._key
        path = self.key_file
        if not path.exists():
            if self.holds_events():
                raise LakeError(f"{path}: the pseudonym key is missing, but this lake already holds events "
                                f"pseudonymized with it: restore {KEY_FILE} from your backup (or set ${KEY_ENV}); "
                                "a new key would give every person a new pseudonym")
            self.keys.mkdir(parents=True, exist_ok=True)
            os.chmod(self.keys, 0o700)
            # created whole under a name of this process's, then linked in only if still absent: an ingest and a
            # build starting together on a new lake (each under its own lock) must end up with one key
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # the other process's key stands
            except OSError:  # a file system without hard links: replaced when still absent (a narrow race remains)
                if not path.exists():
                    os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        key = path.read_text().strip().encode()
        if not key:
            raise LakeError(f"{path}: the pseudonym key file is empty: restore {KEY_FILE} from your backup")
        self._key = key
        return key

    def holds_events(self) -> bool:
        """Anything committed: a ledger entry, an index, or a landed events file."""
        return (any(self.runs.glob("run-*.json")) or any(self.index.glob("run-*.parquet"))
                or any(self.events.rglob("*.parquet")))

    def check(self) -> None:
        """The quick check (`pipelines/verify.py`) run before an ingest or a build: sizes of committed files,
        files no ledger entry lists, the key. Raises LakeError naming the first problem."""
        from pipelines.verify import quick

        quick(self)

    # -------------------------------------------------------------------------------------- ledger
    def committed_runs(self) -> list[dict[str, Any]]:
        """Every ledger entry, in run order. An unreadable one is a LakeError naming its file."""
        return [read_ledger_entry(p) for p in sorted(self.runs.glob("run-*.json"))]

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
        """Make the run visible: write the manifest (the commit point), apply it, clean up.

        Adds to the ledger entry (`manifest["ledger"]`) what `uptake verify` checks later: `checksums`, the
        size and sha256 of every committed file by its path in the lake, and `key_fingerprint`."""
        d = self.staging_dir(run)
        ledger = manifest["ledger"]
        ledger["checksums"] = {dst: {"bytes": (self.root / src).stat().st_size,
                                     "sha256": file_sha256(self.root / src)} for src, dst in manifest["moves"]}
        ledger["key_fingerprint"] = key_fingerprint(self.pseudonym_key())
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


def read_ledger_entry(path: Path) -> dict[str, Any]:
    """One ledger entry; a truncated or edited one is a LakeError naming the file."""
    try:
        entry = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LakeError(f"{path}: unreadable ledger entry ({exc}); restore it from your backup") from None
    if not isinstance(entry, dict) or not {"run", "files", "outputs"} <= entry.keys():
        raise LakeError(f"{path}: not a ledger entry (run, files, outputs missing); restore it from your backup")
    return entry


def key_fingerprint(key: bytes) -> str:
    """Tells keys apart without revealing them: the first 16 hex of HMAC-SHA256(key, a fixed label)."""
    return hmac.new(key, b"uptake pseudonym key fingerprint", hashlib.sha256).hexdigest()[:16]


@contextlib.contextmanager
def written(path: Path, restricted: bool = False) -> Iterator[Path]:
    """A temporary name to write `path` under; renamed to `path` when the block ends without error, removed when
    it fails (0600 in a 0700 folder when `restricted`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if restricted:
        os.chmod(path.parent, 0o700)
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if restricted:
        os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def write_parquet(table: Any, path: Path, restricted: bool = False) -> None:
    """A Parquet file written whole or not at all (0600 in a 0700 folder when `restricted`)."""
    import pyarrow.parquet as pq

    with written(path, restricted) as tmp:
        pq.write_table(table, tmp, compression="snappy")


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
