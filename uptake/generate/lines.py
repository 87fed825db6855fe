"""The good events as JSON lines: every field rendered column-wise, then one line per event.

`EventText(events)` prepares the fields of an `events.events_table` table (plus `event_num` and
`schema_version`) once; `render(rows, nl)` gives the `Lines` of any rows of it, in the order given: each
event's SPEC §2 object in the contract's key order, an absent (null) field left out, strings quoted, integers
and booleans as written, `edit_ratio` as the shortest decimal that reads back as the same double (`0.0` for a
whole number), `occurred_at` with milliseconds in the event's offset (`Z` for UTC), and `event_id` as
`<source prefix>-<16 upper-case hex digits of event_num>`.

No Python code runs per event: a field of few distinct values (all but event_id, occurred_at, work_item_id)
is a code per row into the texts of its values, each `,"name":value` rendered once; runs of such fields are
joined once per distinct combination of their codes (`Segment`) and taken for every row; ids and times are
built as fixed-width bytes in numpy; Arrow joins the pieces. The generator's strings are identifiers and
vocabulary that need no JSON escape; a value that would is refused rather than written unescaped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas import events as contract

FIELDS = contract.COMMON_FIELDS + tuple(contract.payload_fields().values())
PER_ROW = ("event_id", "occurred_at", "work_item_id")  # fields of (about) one distinct value per row
SOURCE_PREFIX = {"genesys-cloud": "gc", "github-copilot": "gh", "lmn-assist": "lmn", "m365-copilot": "m365"}
BATCH_ROWS = 1 << 18  # rendered in batches: a batch's text stays far below Arrow's 2 GiB string limit
_HEX = np.frombuffer(b"".join(f"{i:02X}".encode() for i in range(256)), np.uint8).reshape(256, 2)


@dataclass
class Lines:
    """Lines of text, each ending with its line end `nl`, in one buffer: line i is data[offsets[i]:offsets[i+1]]."""

    data: bytes | memoryview
    offsets: np.ndarray  # int64, one more than the lines
    nl: bytes

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def line(self, i: int) -> bytes:
        """Line `i` without its line end."""
        return bytes(self.data[self.offsets[i]:self.offsets[i + 1] - len(self.nl)])

    def span(self, start: int, stop: int) -> memoryview:
        """Lines `start` to `stop` (excluded), with their line ends."""
        return memoryview(self.data)[self.offsets[start]:self.offsets[stop]]


def fixed_width(chars: np.ndarray) -> pa.Array:
    """An (n, width) array of ASCII bytes as n strings of that width, without a copy per string."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars)))


def hex_digits(numbers: np.ndarray) -> pa.Array:
    """16 upper-case hex digits of each unsigned 64-bit number: its big-endian bytes through a table."""
    return fixed_width(_HEX[numbers.astype(">u8").view(np.uint8).reshape(-1, 8)].reshape(-1, 16))


def digits(chars: np.ndarray, at: int, value: np.ndarray, width: int) -> None:
    """Write `value` as `width` decimal digits into columns at..at+width of `chars`."""
    for k in range(width):
        chars[:, at + width - 1 - k] = 48 + (value // 10**k) % 10


def local_times(ts: np.ndarray, offset_min: np.ndarray) -> pa.Array:
    """`YYYY-MM-DDTHH:MM:SS.mmm` of each UTC instant at its offset in minutes."""
    local = ts.astype("datetime64[us]") + offset_min.astype(np.int64) * np.timedelta64(60_000_000, "us")
    day = local.astype("datetime64[D]")
    month = day.astype("datetime64[M]")
    chars = np.frombuffer(b"0000-00-00T00:00:00.000" * len(ts), np.uint8).reshape(-1, 23).copy()
    digits(chars, 0, month.astype("datetime64[Y]").astype(np.int64) + 1970, 4)
    digits(chars, 5, month.astype(np.int64) % 12 + 1, 2)
    digits(chars, 8, (day - month).astype(np.int64) + 1, 2)
    ms = (local - day).astype("timedelta64[ms]").astype(np.int64)
    for at, value, width in ((11, ms // 3_600_000, 2), (14, ms // 60_000 % 60, 2), (17, ms // 1000 % 60, 2),
                             (20, ms % 1000, 3)):
        digits(chars, at, value, width)
    return fixed_width(chars)


def offset_text(minutes: int) -> str:
    if minutes == 0:
        return "Z"
    return f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def plain(name: str, value: str) -> str:
    """A string written as is between quotes; one that JSON must escape, or not ASCII, is refused."""
    if not (value.isascii() and value.isprintable()) or '"' in value or "\\" in value:
        raise ValueError(f"generated field {name}: {value!r} needs a JSON escape; the lines cannot quote it as is")
    return value


def value_json(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{plain(name, value)}"'
    return repr(value)  # an int, or a float as the shortest decimal that reads back as it (`1.0` when whole)


@dataclass
class Coded:
    """A field's rows as codes into the texts of its distinct values (`,"name":value`, or `{"name":value` for
    the first field); code len(texts): absent on that row."""

    texts: list[str]
    codes: np.ndarray


def coded(key: str, name: str, column: pa.ChunkedArray) -> Coded:
    encoded = pc.dictionary_encode(column).combine_chunks()
    texts = [key + value_json(name, v) for v in encoded.dictionary.to_pylist()]
    return Coded(texts, encoded.indices.fill_null(len(texts)).to_numpy())


class Segment:
    """Consecutive coded fields rendered together: each distinct combination of their values is joined once,
    then taken for every row."""

    def __init__(self, n: int) -> None:
        self.texts: list[list[str]] = []
        self.codes: list[np.ndarray] = []
        self.code = np.zeros(n, np.int64)  # dense: 0 .. combinations - 1
        self.combinations = 1

    def add(self, texts: list[str], codes: np.ndarray, limit: int) -> bool:
        """Add a field if the combinations stay within `limit` (the first field always)."""
        code = self.code * (len(texts) + 1) + codes
        if self.combinations * (len(texts) + 1) <= 4 * len(code):  # few possible: count them
            seen = np.bincount(code, minlength=self.combinations * (len(texts) + 1)) > 0
            combinations = int(np.count_nonzero(seen))
            dense = (np.cumsum(seen) - 1)[code] if combinations <= limit or not self.texts else code
        else:
            _, dense = np.unique(code, return_inverse=True)
            combinations = int(dense.max()) + 1 if len(dense) else 0
        if self.texts and combinations > limit:
            return False
        self.texts.append(texts)
        self.codes.append(codes)
        self.code, self.combinations = dense.ravel(), combinations
        return True

    def texts_and_codes(self) -> tuple[pa.Array, np.ndarray]:
        """The text of each combination, and each row's combination."""
        first = np.empty(self.combinations, np.int64)
        first[self.code[::-1]] = np.arange(len(self.code))[::-1]  # a row of each combination
        parts = [pa.array([*t, None], pa.string()).take(pa.array(c[first])) for t, c in zip(self.texts, self.codes,
                                                                                           strict=True)]
        joined = pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")
        return joined, self.code


class EventText:
    """The events' fields prepared once for all rows, to render the lines of any of them: runs of coded fields
    as the texts of their combinations and each row's combination (`Segment`), the per-row fields as columns."""

    def __init__(self, ev: pa.Table) -> None:
        self.layout: list[str | tuple[pa.Array, np.ndarray]] = []  # a per-row field, or a run's texts and codes
        run = Segment(ev.num_rows)
        for i, f in enumerate(FIELDS):
            if f.name in PER_ROW:
                if run.texts:
                    self.layout.append(run.texts_and_codes())
                    run = Segment(ev.num_rows)
                self.layout.append(f.name)
            elif ev.column(f.name).null_count < ev.num_rows:
                c = coded(f'{"," if i else "{"}"{f.name}":', f.name, ev.column(f.name))
                if not run.add(c.texts, c.codes, ev.num_rows // 8):
                    self.layout.append(run.texts_and_codes())
                    run = Segment(ev.num_rows)
                    run.add(c.texts, c.codes, ev.num_rows // 8)
        if run.texts:
            self.layout.append(run.texts_and_codes())
        sources = pc.index_in(ev.column("source"), pa.array(list(SOURCE_PREFIX)))
        if sources.null_count:
            raise ValueError(f"generated field source: one not in {', '.join(SOURCE_PREFIX)}")
        self.prefix = pa.array([f'"{p}-' for p in SOURCE_PREFIX.values()]).take(sources).combine_chunks()
        self.event_num = ev.column("event_num").to_numpy()
        self.ts = ev.column("ts").to_numpy()
        self.offset_min = ev.column("offset_min").to_numpy()
        self.work_item_id = ev.column("work_item_id").combine_chunks()
        if not pc.all(pc.match_substring_regex(self.work_item_id, "^[A-Za-z0-9_.:-]*$")).as_py():
            raise ValueError("generated field work_item_id: a value needs a JSON escape; the lines cannot quote it")

    def render(self, rows: np.ndarray, nl: bytes) -> Lines:
        """The JSON lines of the events `rows` (row numbers), in that order, each ending with `nl`."""
        data, offsets, base = [], [np.zeros(1, np.int64)], 0
        for start in range(0, len(rows), BATCH_ROWS):
            arr = self.render_batch(rows[start:start + BATCH_ROWS], nl.decode())
            offs = np.frombuffer(arr.buffers()[1], np.int32)[arr.offset:arr.offset + len(arr) + 1].astype(np.int64)
            data.append(memoryview(arr.buffers()[2])[offs[0]:offs[-1]])
            offsets.append(offs[1:] - offs[0] + base)
            base += int(offs[-1] - offs[0])
        return Lines(data[0] if len(data) == 1 else b"".join(data), np.concatenate(offsets), nl)

    def render_batch(self, rows: np.ndarray, nl: str) -> pa.Array:
        """One line per row (`nl` at its end), as one join of texts."""
        take = pa.array(rows)
        offset_min = self.offset_min[rows]
        offsets, which = np.unique(offset_min, return_inverse=True)
        per_row = {  # the texts after the key
            "event_id": [self.prefix.take(take), hex_digits(self.event_num[rows]), '"'],
            "occurred_at": ['"', local_times(self.ts[rows], offset_min),
                            pa.array([f'{offset_text(int(m))}"' for m in offsets]).take(pa.array(which.ravel()))],
        }
        work_item_id = self.work_item_id.take(take)  # absent on copilot's events: the key too
        per_row["work_item_id"] = [pc.binary_join_element_wise(',"work_item_id":"', work_item_id, '"', "")]
        pieces: list[str | pa.Array] = []
        for part in self.layout:
            if isinstance(part, str):
                key = [] if part == "work_item_id" else [f'{"," if part != FIELDS[0].name else "{"}"{part}":']
                pieces += [*key, *per_row[part]]
            else:
                texts, codes = part
                pieces.append(texts.take(pa.array(codes[rows])))
        merged: list[str | pa.Array] = []
        for piece in [*pieces, "}" + nl]:  # adjacent constant texts as one
            if isinstance(piece, str) and merged and isinstance(merged[-1], str):
                merged[-1] += piece
            else:
                merged.append(piece)
        line = pc.binary_join_element_wise(*merged, "", null_handling="replace", null_replacement="")
        return line.combine_chunks() if isinstance(line, pa.ChunkedArray) else line
