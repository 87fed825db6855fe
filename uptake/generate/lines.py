"""The good events as JSON lines: every field rendered column-wise by Arrow, then one line per event.

`render(events, nl)` turns a table of `events.events_table` rows (plus `event_num` and `schema_version`) into
`Lines`: each event's SPEC §2 object in the contract's key order, an absent (null) field left out, strings
quoted, integers and booleans as written, `edit_ratio` as the shortest decimal that reads back as the same
double (`0.0` for a whole number), `occurred_at` with milliseconds in the event's offset (`Z` for UTC), and
`event_id` as `<source prefix>-<16 upper-case hex digits of event_num>`. No Python code runs per event, so a
month of events is rendered in a fraction of a second. The generator's string values are identifiers and
vocabulary that need no JSON escape; `render` checks that and refuses a value that would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas import events as contract

FIELDS = contract.COMMON_FIELDS + tuple(contract.payload_fields().values())
SOURCE_PREFIX = {"genesys-cloud": "gc", "github-copilot": "gh", "lmn-assist": "lmn", "m365-copilot": "m365"}
BATCH_ROWS = 1 << 18  # rendered in batches: a batch's text stays far below Arrow's 2 GiB string limit
_HEX = np.frombuffer(b"".join(f"{i:02X}".encode() for i in range(256)), np.uint8).reshape(256, 2)


@dataclass
class Lines:
    """Lines of text, each ending with its line end `nl`, in one buffer: line i is data[offsets[i]:offsets[i+1]]."""

    data: bytes
    offsets: np.ndarray  # int64, one more than the lines
    nl: bytes

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def line(self, i: int) -> bytes:
        """Line `i` without its line end."""
        return self.data[self.offsets[i]:self.offsets[i + 1] - len(self.nl)]

    def span(self, start: int, stop: int) -> memoryview:
        """Lines `start` to `stop` (excluded), with their line ends."""
        return memoryview(self.data)[self.offsets[start]:self.offsets[stop]]


def fixed_width(chars: np.ndarray) -> pa.Array:
    """An (n, width) array of ASCII bytes as n strings of that width, without a copy per string."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars)))


def event_ids(source: pa.ChunkedArray, event_num: np.ndarray) -> pa.Array:
    """`<prefix>-<16 upper-case hex digits>`: the big-endian bytes of each number through a hex table."""
    digits = fixed_width(_HEX[event_num.astype(">u8").view(np.uint8).reshape(-1, 8)].reshape(-1, 16))
    prefix = pa.array([p + "-" for p in SOURCE_PREFIX.values()]).take(
        pc.index_in(source, pa.array(list(SOURCE_PREFIX))))
    return pc.binary_join_element_wise(prefix, digits, "")


def digits(chars: np.ndarray, at: int, value: np.ndarray, width: int) -> None:
    """Write `value` as `width` decimal digits into columns at..at+width of `chars`."""
    for k in range(width):
        chars[:, at + width - 1 - k] = 48 + (value // 10**k) % 10


def occurred_at(ts: np.ndarray, offset_min: np.ndarray) -> pa.Array:
    """`YYYY-MM-DDTHH:MM:SS.mmm` of each UTC instant at its offset, then the offset (`Z` for UTC)."""
    local = ts.astype("datetime64[us]") + offset_min.astype(np.int64) * np.timedelta64(60_000_000, "us")
    day = local.astype("datetime64[D]")
    month = day.astype("datetime64[M]")
    chars = np.frombuffer(b"0000-00-00T00:00:00.000" * len(ts), np.uint8).reshape(-1, 23).copy()
    digits(chars, 0, month.astype("datetime64[Y]").astype(np.int64) + 1970, 4)
    digits(chars, 5, month.astype(np.int64) % 12 + 1, 2)
    digits(chars, 8, (day - month).astype(np.int64) + 1, 2)
    ms = (local - day).astype("timedelta64[ms]").astype(np.int64)
    for at, unit, width in ((11, 3_600_000, 2), (14, 60_000, 2), (17, 1000, 2), (20, 1, 3)):
        digits(chars, at, ms // unit % (1000 if unit == 1 else 60 if unit < 3_600_000 else 24), width)
    offsets, which = np.unique(offset_min, return_inverse=True)
    suffixes = pa.array([offset_text(int(m)) for m in offsets], pa.string())
    return pc.binary_join_element_wise(fixed_width(chars), suffixes.take(pa.array(which.ravel())), "")


def offset_text(minutes: int) -> str:
    if minutes == 0:
        return "Z"
    return f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def json_text(name: str, value: object) -> str:
    """A value as JSON (the generator's strings are written as they are: one that needs an escape is refused)."""
    if isinstance(value, str) and json.dumps(value) != f'"{value}"':
        raise ValueError(f"generated field {name}: {value!r} needs a JSON escape; the lines cannot quote it as is")
    return json.dumps(value)


@dataclass
class Coded:
    """A field's rows as codes into the texts of its distinct values (`"name":value` with the comma or brace
    before it; code len(texts): absent)."""

    texts: list[str]
    codes: np.ndarray


def coded(key: str, name: str, column: pa.ChunkedArray) -> Coded:
    encoded = pc.dictionary_encode(column).combine_chunks()
    texts = [key + json_text(name, v) for v in encoded.dictionary.to_pylist()]
    return Coded(texts, encoded.indices.fill_null(len(texts)).to_numpy().astype(np.int64))


class Segment:
    """Consecutive fields of few distinct values, rendered together: each distinct combination of their values
    is joined once, then taken for every row."""

    def __init__(self, n: int) -> None:
        self.fields: list[Coded] = []
        self.code = np.zeros(n, np.int64)  # dense: 0 .. combinations - 1
        self.combinations = 1

    def add(self, f: Coded, limit: int) -> bool:
        """Add `f` if the combinations stay within `limit` (the first field always)."""
        code = self.code * (len(f.texts) + 1) + f.codes
        seen = np.bincount(code, minlength=self.combinations * (len(f.texts) + 1)) > 0
        combinations = int(seen.sum())
        if self.fields and combinations > limit:
            return False
        self.fields.append(f)
        self.code, self.combinations = (np.cumsum(seen) - 1)[code], combinations
        return True

    def text(self) -> pa.Array:
        first = np.empty(self.combinations, np.int64)
        first[self.code[::-1]] = np.arange(len(self.code))[::-1]  # a row of each combination
        parts = [pa.array(f.texts + [None], pa.string()).take(pa.array(f.codes[first])) for f in self.fields]
        joined = pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")
        return joined.take(pa.array(self.code))


def distinct_few(column: pa.ChunkedArray, n: int) -> bool:
    """Whether a field has few distinct values (rendered once each) rather than one per row or so."""
    return column.type != pa.string() or pc.count_distinct(column).as_py() <= max(64, n // 16)


def check_plain(name: str, column: pa.ChunkedArray) -> None:
    """Refuse a string that JSON must escape (a quote, a backslash, a control character) or that is not ASCII:
    the lines quote strings as they are."""
    for chunk in column.chunks:
        if not len(chunk) or chunk.buffers()[2] is None:
            continue
        offsets = np.frombuffer(chunk.buffers()[1], np.int32)
        raw = np.frombuffer(chunk.buffers()[2], np.uint8)[offsets[chunk.offset]:offsets[chunk.offset + len(chunk)]]
        if ((raw < 0x20) | (raw == 0x22) | (raw == 0x5C) | (raw >= 0x7F)).any():
            raise ValueError(f"generated field {name}: a value needs a JSON escape; the lines cannot quote it as is")


def render_batch(ev: pa.Table, nl: str) -> pa.Array:
    """One line per row of `ev` (`nl` at its end), as one join of texts.

    A field of many distinct values (event_id, occurred_at, work_item_id) adds its key and its value (strings
    quoted; a field absent on some rows adds key and value joined, null where absent, then nothing); runs of
    the other fields are rendered together, each combination of their values once (`segment`)."""
    n = ev.num_rows
    pieces: list[str | pa.ChunkedArray | pa.Array] = []
    run = Segment(n)
    for i, f in enumerate(FIELDS):
        key = f'{"," if i else "{"}"{f.name}":'
        if f.name == "event_id":
            text = event_ids(ev.column("source"), ev.column("event_num").to_numpy())
        elif f.name == "occurred_at":
            text = occurred_at(ev.column("ts").to_numpy(), ev.column("offset_min").to_numpy())
        else:
            column = ev.column(f.name)
            if column.null_count == n:
                continue
            if distinct_few(column, n):
                c = coded(key, f.name, column)
                if not run.add(c, n // 8):
                    pieces.append(run.text())
                    run = Segment(n)
                    run.add(c, n // 8)
                continue
            if pa.types.is_string(column.type):
                check_plain(f.name, column)
                text = column
            else:
                text = pc.cast(column, pa.string())
        if run.fields:
            pieces.append(run.text())
            run = Segment(n)
        quote = '"' if f.kind in ("string", "timestamp") else ""
        if text.null_count:
            pieces.append(pc.binary_join_element_wise(key + quote, text, quote, ""))
        else:
            pieces += [key + quote, text, quote]
    if run.fields:
        pieces.append(run.text())
    merged: list[str | pa.ChunkedArray | pa.Array] = []
    for piece in [*pieces, "}" + nl]:  # adjacent constant texts as one
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    line = pc.binary_join_element_wise(*merged, "", null_handling="replace", null_replacement="")
    return line.combine_chunks() if isinstance(line, pa.ChunkedArray) else line


def render(ev: pa.Table, nl: bytes) -> Lines:
    """The JSON lines of the events of `ev`, in its row order."""
    data, offsets, base = [], [np.zeros(1, np.int64)], 0
    for start in range(0, ev.num_rows, BATCH_ROWS):
        arr = render_batch(ev.slice(start, BATCH_ROWS), nl.decode())
        offs = np.frombuffer(arr.buffers()[1], np.int32)[arr.offset:arr.offset + len(arr) + 1].astype(np.int64)
        data.append(memoryview(arr.buffers()[2])[offs[0]:offs[-1]])
        offsets.append(offs[1:] - offs[0] + base)
        base += int(offs[-1] - offs[0])
    return Lines(b"".join(data), np.concatenate(offsets), nl)
