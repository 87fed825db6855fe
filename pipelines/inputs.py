"""The inputs of an ingest: which files, in what order, their content hash, and how to read them.

`list_inputs` turns the paths given into files in path order; `scan` builds one `Input` per file (format,
sha256, size, whether an earlier run already ingested it), and `ranges` cuts an input into the byte
ranges the pipeline reads in parallel, each knowing how many lines of its file come before it, so every
worker numbers its lines as in the file without reading what precedes its range. `tasks` hands the
pipeline its work: each range of a large file alone, consecutive small files packed together.

A file is gzip when its first two bytes are gzip's magic number, whatever its name
(`pipelines.blocks.open_input`): the one way every part of the ingest opens an input. A vendor export is read
through the event file derived from it (`read_path`), with `line_map` giving, for each derived line, the line
(or record) of the export it came from.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.accounting import Counts
from pipelines.blocks import Pack, Range, is_gzip, open_input, plan_ranges

RANGE_BYTES = 64 << 20
# small files packed into one task up to this many bytes (as stored): 517 files of 4,000 lines staged one task
# each took 17.6 s against 7.9 s for the same lines in one file, a block's queries costing ~7 ms however short
PACK_BYTES = 16 << 20
# what a folder's files must end with to be read: event files, and vendor exports (told by their content)
INPUT_SUFFIXES = tuple(s + gz for s in (".jsonl", ".ndjson", ".json", ".csv") for gz in ("", ".gz"))


class InputError(ValueError):
    """Paths that do not name input files."""


def is_input(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(INPUT_SUFFIXES)


def list_inputs(paths: Sequence[str | Path]) -> list[Path]:
    """Files named, and the input files directly in folders named, in path order. A folder's subfolders
    are not read: a folder without input files of its own is an error that says so."""
    out: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            found = [x for x in p.iterdir() if x.is_file() and is_input(x.name)]
            if not found:
                raise InputError(f"{p}: no input files (*.jsonl, *.jsonl.gz, *.ndjson, *.json, *.csv, gzipped or "
                                 "not) directly in this folder; files in its subfolders are not read: name them")
            out.update(found)
        elif p.is_file():
            out.add(p)
        else:
            raise InputError(f"{p}: no such file or folder")
    return sorted(out, key=str)


@dataclass(frozen=True, eq=False)
class Input:
    """One input file of a run. `read_path` is what the pipeline reads: the file itself, or the events
    derived from a vendor export; `line_map[i]` is the source line of derived line i+1 (None: identity);
    `translated` counts what translation decided itself (records quarantined whole, blank, superseded)."""

    idx: int
    path: str
    format: str
    sha256: str
    size: int
    already_ingested: bool
    read_path: str
    gzip: bool
    line_starts: tuple[int, ...] = (0,)  # lines before each RANGE_BYTES boundary (plain files)
    line_map: np.ndarray | None = None
    translated: Counts | None = None
    records: int | None = None
    error: str | None = None  # why the file could not be read: nothing of it lands

    def failed(self, error: str) -> Input:
        return dataclasses.replace(self, error=error)

    def derived(self, read_path: str, line_map: np.ndarray, translated: Counts, records: int) -> Input:
        """This vendor export, read through the event file derived from it."""
        return dataclasses.replace(self, read_path=read_path, gzip=False, line_starts=(0,), line_map=line_map,
                                   translated=translated, records=records)

    def record(self) -> dict:
        """The ledger's description of the file (its counts are added at commit)."""
        rec = {"path": self.path, "sha256": self.sha256, "bytes": self.size,
               "already_ingested": self.already_ingested, "format": self.format}
        if self.records is not None:
            rec["records"] = self.records
        if self.error:
            rec["error"] = self.error
        return rec


def hash_and_count(path: str | Path, range_bytes: int = RANGE_BYTES,
                   chunk: int = 8 << 20) -> tuple[str, tuple[int, ...]]:
    """(sha256 of the file's bytes, lines before each multiple of `range_bytes`), in one read. A file larger
    than a chunk is read into two buffers in turn: one is hashed on another thread (hashlib releases the
    GIL) while the next is read into the other and numpy counts its newlines (fresh buffers per chunk cost
    their page faults: 8 M events hashed in 3.3 s, 1.9 s with two). A file of one chunk is hashed in place
    (starting a thread cost 30 times its hash: 5,000 files of 10 lines, 2.7 s)."""
    h = hashlib.sha256()
    starts = [0]
    newlines, pos, next_cut = 0, 0, range_bytes
    with open(path, "rb", buffering=0) as fh, contextlib.ExitStack() as stack:
        size = os.fstat(fh.fileno()).st_size
        bufs = [bytearray(max(1, min(chunk, size))) for _ in range(2 if size > chunk else 1)]
        is_nl = np.empty(len(bufs[0]), bool)
        pool = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="sha256")) if len(bufs) > 1 else None
        hashing: Future[None] | None = None
        k = 0
        while n := fh.readinto(bufs[k]):
            data = memoryview(bufs[k])[:n]
            if hashing is not None:
                hashing.result()  # the other buffer is free again
                hashing = None
            if pool is None:
                h.update(data)
            else:
                hashing = pool.submit(h.update, data)
            nl = np.equal(np.frombuffer(bufs[k], np.uint8, n), 10, out=is_nl[:n])
            while next_cut <= pos + n:  # lines before byte next_cut: 1 + newlines in [0, next_cut - 1)
                starts.append(1 + newlines + int(np.count_nonzero(nl[:max(next_cut - 1 - pos, 0)])))
                next_cut += range_bytes
            newlines += int(np.count_nonzero(nl))
            pos += n
            k = (k + 1) % len(bufs)
        if hashing is not None:
            hashing.result()
    return h.hexdigest(), tuple(starts)


def reason(exc: BaseException) -> str:
    """Why a file could not be read, in one line (the OS's words, or the decompressor's)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__


def shown(path: str | Path) -> str:
    """A path as valid UTF-8 text, as reports, the ledger and the lake's `source_file` hold it: bytes of its
    name that are not UTF-8 as `\\xNN` (Python holds them as surrogates, which Arrow and Parquet refuse)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def probe(path: str | Path, size: int = 1 << 16) -> str | None:
    """None when the file's first bytes can be read (decompressed if gzip), else why not."""
    try:
        with open_input(path) as fh:
            fh.read(size)
    except (OSError, EOFError, zlib.error) as exc:
        return reason(exc)
    return None


def scan(paths: list[Path], formats: list[str], known: Callable[[str], bool],
         errors: dict[Path, str | None] | None = None) -> list[Input]:
    """One Input per file, in path order; a file whose content an earlier run (`known`) or an earlier file
    of this run ingested is marked already_ingested; one that cannot be read carries its `error`."""
    out: list[Input] = []
    seen: set[str] = set()
    for i, (p, fmt) in enumerate(zip(paths, formats, strict=True)):
        error = (errors or {}).get(p)
        digest, size = "", 0
        starts: tuple[int, ...] = (0,)
        if error is None:
            try:
                digest, starts = hash_and_count(p)
                size = p.stat().st_size
            except OSError as exc:
                error = reason(exc)
        out.append(Input(idx=i, path=shown(p), format=fmt, sha256=digest, size=size,
                         already_ingested=error is None and (known(digest) or digest in seen), read_path=str(p),
                         gzip=error is None and is_gzip(p), line_starts=starts, error=error))
        if error is None:
            seen.add(digest)
    return out


def ranges(inp: Input, range_bytes: int = RANGE_BYTES) -> list[Range]:
    """The ranges the pipeline reads of an input, each with the number of lines of the file before it; a
    derived vendor file is one range (its line map is carried along)."""
    if inp.line_map is not None:
        return [Range(inp.idx, inp.read_path, 0, 0, None, gzip=inp.gzip, line_map=inp.line_map)]
    return [dataclasses.replace(r, line0=inp.line_starts[r.range_idx])
            for r in plan_ranges(inp.idx, inp.read_path, range_bytes, gzip=inp.gzip)]


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def tasks(inputs: Sequence[Input], workers: int, range_bytes: int = RANGE_BYTES,
          pack_bytes: int = PACK_BYTES) -> list[Range | Pack]:
    """The pipeline's tasks, in input order: each range of a large file alone; consecutive files that are
    one range each and small packed together, up to `pack_bytes` (as stored) but into at least `workers`
    tasks when they can be, so every worker has one."""
    planned = [(r, os.path.getsize(i.read_path)) for i in inputs for r in ranges(i, range_bytes)]
    whole = [n for r, n in planned if r.end is None and r.start == 0]
    limit = max(1, min(pack_bytes, -(-sum(whole) // max(1, workers))))
    out: list[Range | Pack] = []
    pack: list[Range] = []
    held = 0

    def close() -> None:
        nonlocal pack, held
        if pack:
            out.append(pack[0] if len(pack) == 1 else Pack(tuple(pack)))
        pack, held = [], 0

    for r, n in planned:
        if r.start != 0 or r.end is not None or n > limit:
            close()
            out.append(r)
            continue
        if pack and held + n > limit:
            close()
        pack.append(r)
        held += n
    close()
    return out
