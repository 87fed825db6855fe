"""Reading ranges and blocks: every line exactly once, whatever the range and block sizes."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from pipelines.blocks import plan_ranges, read_range, split_lines
from schemas.events import MAX_LINE_BYTES


def _read_all(path: Path, range_bytes: int, block_bytes: int) -> list[bytes]:
    out = []
    for r in plan_ranges(0, str(path), range_bytes):
        for b in read_range(r, block_bytes):
            if b.long_line:
                out.append(b"<long:%d>" % b.long_line)
                continue
            arr, length, offs = split_lines(b.data)
            out.extend(b.data[o:o + n] for o, n in zip(offs, length, strict=True))
    return out


@pytest.mark.parametrize("seed", range(30))
def test_ranges_and_blocks_cover_every_line_once(tmp_path: Path, seed: int):
    rnd = random.Random(seed)
    lines = [b"x" * rnd.randint(0, 40) for _ in range(rnd.randint(0, 60))]
    end = rnd.choice([b"\n", b"\r\n"])
    data = end.join(lines) + (end if rnd.random() < 0.7 else b"")
    path = tmp_path / "f.jsonl"
    path.write_bytes(data)
    expected = data.split(end)[:-1] if data.endswith(end) else data.split(end) if data else []
    assert _read_all(path, rnd.randint(1, 80), rnd.randint(1, 30)) == expected


def test_gzip_is_one_streamed_range(tmp_path: Path):
    path = tmp_path / "f.jsonl.gz"
    path.write_bytes(gzip.compress(b"a\nbb\n\nccc"))
    assert len(plan_ranges(0, str(path), 1)) == 1
    assert _read_all(path, 1, 2) == [b"a", b"bb", b"", b"ccc"]


def test_an_over_long_line_is_kept_short_and_the_next_lines_survive(tmp_path: Path):
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"first\n" + b"y" * (MAX_LINE_BYTES * 3) + b"\nlast\n")
    assert _read_all(path, 1 << 30, 64 * 1024) == [b"first", b"<long:%d>" % (MAX_LINE_BYTES * 3), b"last"]


@pytest.mark.parametrize("tail", [b"\r", b""])
@pytest.mark.parametrize("content", [MAX_LINE_BYTES, MAX_LINE_BYTES + 10])
def test_a_last_line_without_newline_reads_alike_plain_and_gzip(tmp_path: Path, content: int, tail: bytes):
    # a file's last line, shorter than a block, is whole in what was read: the validator judges its length
    # (a trailing \r is not content) and keeps its first 1 MiB, as for a line inside the file or in gzip
    data = b"first\n" + b"y" * content + tail
    plain, gz = tmp_path / "f.jsonl", tmp_path / "f.jsonl.gz"
    plain.write_bytes(data)
    gz.write_bytes(gzip.compress(data))
    for path in (plain, gz):
        assert _read_all(path, 1 << 30, 4 * MAX_LINE_BYTES) == [b"first", b"y" * content]


def test_a_last_line_longer_than_a_block_is_kept_short_plain_and_gzip(tmp_path: Path):
    data = b"first\n" + b"y" * (MAX_LINE_BYTES * 3)
    plain, gz = tmp_path / "f.jsonl", tmp_path / "f.jsonl.gz"
    plain.write_bytes(data)
    gz.write_bytes(gzip.compress(data))
    for path in (plain, gz):
        assert _read_all(path, 1 << 30, 64 * 1024) == [b"first", b"<long:%d>" % (MAX_LINE_BYTES * 3)]
