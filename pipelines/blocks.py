"""Reading input files as bounded blocks of whole lines, and splitting a block into an Arrow array.

A plain file is cut into byte ranges that workers read in parallel (a line belongs to the range it starts
in); a gzip file (told by its magic number, `open_input`) is one range, decompressed as a stream. Each range
is read in blocks of about `block_bytes`, so memory is bounded by the block size, never by the file size.
A range carries the number of lines of its file before it (`line0`, counted while the launcher hashes the
file), so a worker numbers its lines as in the file without reading what comes before its range. Small
files are staged together (`Pack`): their blocks are joined into one (`Packed`), which maps each of its
lines back to its file, line and byte offset.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from schemas.events import MAX_LINE_BYTES

LONG_LINE_KEEP = 64 * 1024  # bytes of an over-long line kept in quarantine


GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, eq=False)
class Range:
    """Part of one input file: lines starting at byte `start` up to (not including) byte `end`.
    `line0`: lines of the file before the range; `line_map`: source line of each line of a derived file."""

    file_idx: int
    path: str
    range_idx: int
    start: int
    end: int | None  # None: to the end of the file
    gzip: bool = False
    line0: int = 0
    line_map: np.ndarray | None = None

    @property
    def stem(self) -> str:
        return f"f{self.file_idx:05d}-r{self.range_idx:05d}"


@dataclass(frozen=True)
class Block:
    """Whole lines of a range. `offset`: byte position of data[0] in the (decompressed) file;
    `line0`: lines of the range before this block. `long_line`: the true length when data holds only
    the kept prefix of one over-long line. `data` may be a view of the bytes read (not copied)."""

    data: bytes | memoryview
    offset: int
    line0: int
    long_line: int = 0

    @cached_property
    def newlines(self) -> np.ndarray:
        """Where the block's `\\n` are (found once: counting lines and splitting them both need them)."""
        return np.flatnonzero(np.frombuffer(self.data, np.uint8) == 10)


@dataclass(frozen=True, eq=False)
class Pack:
    """Whole small files staged as one task, their blocks validated together: a block has a fixed cost
    (its queries' planning, ~7 ms), which hundreds of small files would otherwise pay each."""

    ranges: tuple[Range, ...]

    @property
    def stem(self) -> str:
        return self.ranges[0].stem


@dataclass(frozen=True, eq=False)
class Packed:
    """Blocks of one task's ranges as one block (lines numbered from 1, bytes from 0), and where each of
    its parts came from: `part_range[k]`, the index of part k's range in the task; `first_line[k]` and
    `first_byte[k]`, where part k starts in the block; `line0[k]`, the lines of its range before it;
    `offset[k]`, its byte position in its (decompressed) file."""

    block: Block
    part_range: np.ndarray
    first_line: np.ndarray
    first_byte: np.ndarray
    line0: np.ndarray
    offset: np.ndarray

    @classmethod
    def of(cls, parts: list[tuple[int, Block]]) -> Packed:
        """`parts`: (range index, block) in order; an over-long line's block comes alone. A part that does not
        end with `\n` gets one, so its last line stays its own (its content is unchanged: a line's length
        excludes its end)."""
        if len(parts) == 1:  # as read, not copied
            block = parts[0][1]
            datas, block = [block.data], Block(block.data, 0, 0, block.long_line)
        else:
            datas = [b.data if not len(b.data) or b.data[-1] == 10 else bytes(b.data) + b"\n" for _, b in parts]
            block = Block(b"".join(datas), 0, 0)
        lines = [len(b.newlines) + (len(b.data) > 0 and b.data[-1] != 10) for _, b in parts]
        first_byte = np.cumsum([0, *(len(d) for d in datas[:-1])])
        # the joined block's newlines from its parts' (found when they were read): not searched for again
        block.__dict__["newlines"] = np.concatenate([
            (b.newlines if len(d) == len(b.data) else np.append(b.newlines, len(b.data))) + start
            for (_, b), d, start in zip(parts, datas, first_byte.tolist(), strict=True)])
        return cls(block, np.array([i for i, _ in parts]), np.cumsum([0, *lines[:-1]]), first_byte,
                   np.array([b.line0 for _, b in parts]), np.array([b.offset for _, b in parts]))

    def locate(self, line_no: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(part, line in its range) of each line of the block (`line_no`: 1-based)."""
        part = np.searchsorted(self.first_line, line_no - 1, "right") - 1
        return part, self.line0[part] + line_no - self.first_line[part]

    def lineage(self, ranges: Sequence[Range], t: pa.Table) -> pa.Table:
        """Rows of the block (`line_no`, and `src_offset` when `t` has it) with their file, its line in the file
        read and in the source (they differ for events derived from a vendor export), and their byte offset
        in the file read."""
        part, in_range = self.locate(t.column("line_no").to_numpy())
        rng = self.part_range[part]
        line = in_range + np.array([r.line0 for r in ranges])[rng]
        source_line = line.copy()
        for i in np.unique(rng):
            if ranges[i].line_map is not None:
                at = rng == i
                source_line[at] = ranges[i].line_map[line[at] - 1]
        if "src_offset" in t.column_names:
            offset = self.offset[part] + t.column("src_offset").to_numpy() - self.first_byte[part]
            t = t.set_column(t.schema.get_field_index("src_offset"), "src_offset", pa.array(offset, pa.int64()))
        return (t.append_column("file_idx", pa.array(np.array([r.file_idx for r in ranges], np.int32)[rng]))
                .append_column("line", pa.array(line, pa.int64()))
                .append_column("source_line", pa.array(source_line, pa.int64())))


def is_gzip(path: str | Path) -> bool:
    """Whether the file starts with gzip's magic number (its name does not matter)."""
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def open_input(path: str | Path) -> BinaryIO:
    """The file's bytes, decompressed when it is gzip."""
    if is_gzip(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")  # noqa: SIM115


def plan_ranges(file_idx: int, path: str, range_bytes: int, gzip: bool | None = None) -> list[Range]:
    """Ranges of about `range_bytes` for a plain file; a single range for a gzip file."""
    gz = is_gzip(path) if gzip is None else gzip
    size = os.path.getsize(path)
    if gz or size <= range_bytes:
        return [Range(file_idx, path, 0, 0, None, gzip=gz)]
    starts = list(range(0, size, range_bytes))
    return [
        Range(file_idx, path, i, s, starts[i + 1] if i + 1 < len(starts) else None)
        for i, s in enumerate(starts)
    ]


def read_range(r: Range, block_bytes: int = 16 << 20) -> Iterator[Block]:
    """The blocks of whole lines that start in range `r`."""
    with open_input(r.path) as fh:
        pos = r.start  # stream offset of `pending`, the start of a line not yet terminated
        if r.start > 0:
            fh.seek(r.start - 1)
            if fh.read(1) != b"\n":  # inside a line that started in the previous range: it is not ours
                while True:
                    chunk = fh.readline(block_bytes)
                    pos += len(chunk)
                    if not chunk or chunk.endswith(b"\n"):
                        break
        line0, pending = 0, b""
        seekable = not r.gzip  # a plain file is read again from each block's end: no partial line carried
        while r.end is None or pos < r.end:
            chunk = fh.read(block_bytes)
            data = pending + chunk if pending else chunk
            if not chunk:
                if data:
                    yield Block(memoryview(data), pos, line0)
                return
            last = data.rfind(b"\n")
            if last < 0:
                if len(data) <= MAX_LINE_BYTES:
                    pending = data
                    continue
                # an over-long line: keep a prefix, stream past the rest
                total, rest, found = len(data), b"", False
                while chunk:
                    chunk = fh.read(block_bytes)
                    nl = chunk.find(b"\n")
                    if nl >= 0:
                        total, rest, found = total + nl, chunk[nl + 1:], True
                        break
                    total += len(chunk)
                if not found and total == len(data):  # the file's last line, whole in `data`: a line like any other
                    yield Block(memoryview(data), pos, line0)
                    return
                yield Block(memoryview(data)[:LONG_LINE_KEEP], pos, line0, long_line=total)
                line0, pos, pending = line0 + 1, pos + total + found, rest
                if not found:
                    return
                if seekable:
                    fh.seek(pos)
                    pending = b""
                continue
            end = last + 1
            if r.end is not None and pos + end > r.end:
                # the last line of this range is the one holding byte end-1; the rest is the next range's
                end = data.find(b"\n", max(0, r.end - pos - 1), end) + 1
                if end:
                    yield Block(memoryview(data)[:end], pos, line0)
                return
            block = Block(memoryview(data)[:end], pos, line0)
            yield block
            line0 += len(block.newlines)
            pos += end
            pending = data[end:] if not seekable else b""
            if seekable and end < len(data):
                fh.seek(pos)


def split_lines(data: bytes | memoryview, newlines: np.ndarray | None = None
                ) -> tuple[pa.BinaryArray, np.ndarray, np.ndarray]:
    """(lines, content lengths, byte offsets): lines as a zero-copy Arrow array over `data` (each value
    keeps its line end); content length excludes `\\n` and a `\\r` before it. `newlines`: where the `\\n` are,
    when known."""
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10) if newlines is None else newlines
    offsets = np.concatenate(([0], nl + 1))
    if offsets[-1] < len(buf):
        offsets = np.append(offsets, len(buf))
    n = len(offsets) - 1
    ends = offsets[1:]
    length = ends - offsets[:-1]
    has_nl = buf[ends - 1] == 10 if n else np.zeros(0, bool)
    length = length - has_nl
    has_cr = np.zeros(n, bool)
    nz = length > 0
    has_cr[nz] = buf[(offsets[:-1] + length)[nz] - 1] == 13
    length = length - has_cr
    arr = pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)])
    return arr, length, offsets[:-1]
