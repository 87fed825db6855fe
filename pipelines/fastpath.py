"""The fast path of validation: one JSON parse per line, the row rules vectorized over typed columns.

`pipelines/rules.py` is the reference: it parses a line four times to learn each field's JSON type, its
text and the line's keys. Here DuckDB parses each line once (`json_transform`: string fields as VARCHAR,
the others as their JSON text) and the rules of SPEC §2 run in numpy over whole columns. A line takes
this path only when its outcome is provably the reference's; every other line is handed back (`slow`):

- the line must start with `{` and end with `}` and parse;
- a string field's value could also be what a number, boolean, object or array prints as (`42`, `true`,
  `{…}`): its JSON type is then asked of DuckDB (`json_type`), for those values only;
- numbers must be finite and integer literals shorter than 19 digits (their JSON type is then certain);
  a string over its length limit in bytes that is not all ASCII (the reference counts characters) is
  handed back.

Keys are what a typed parse cannot show: a key outside the contract, a duplicate, or a key whose value is
`null`. Each adds at least four bytes to the line, so a line shorter than the shortest text its parsed
fields can have been written as (keys, quotes, separators) plus four bytes has none of them; the keys of
the other lines are read (`json_keys`) to count their dropped fields as the reference does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.columns import Strings, codes
from pipelines.sql import lit
from schemas import events as contract
from schemas.events import Field

FIELDS: list[Field] = list(contract.COMMON_FIELDS) + list(contract.payload_fields().values())
TEXT = [f for f in FIELDS if f.kind in ("integer", "number", "boolean") or f.name == "schema_version"]
TYPE_CODES = {(t, e): i for i, (t, e) in enumerate(
    ((t, e) for t, types in contract.EVENT_TYPES.items() for e in types), start=1)}
ALLOWED = {f.name: np.isin(np.arange(len(TYPE_CODES) + 1), [TYPE_CODES[p] for p in contract.types_with_field(f.name)])
           for f in FIELDS}
SUSPECT = np.zeros(256, bool)  # first bytes of what a number, object or array prints as
SUSPECT[[ord(c) for c in "-0123456789[{"]] = True
NUMBERISH = np.zeros(256, bool)
NUMBERISH[[ord(c) for c in "0123456789+-.eE"]] = True
WORDS = (b"true", b"false", b"NaN", b"Infinity", b"-Infinity")
# what the reference calls each JSON type, as the rules need them
KINDS = {"string": ("VARCHAR",), "timestamp": ("VARCHAR",), "integer": ("BIGINT", "UBIGINT"),
         "number": ("BIGINT", "UBIGINT", "DOUBLE"), "boolean": ("BOOLEAN",)}


@cache
def transform_sql(guarded: bool = False) -> str:
    """`raw(line_no, line, len)` → per line: whether it parsed, each field (value or JSON text), and what the
    rules need from them that only DuckDB computes exactly as the reference does (timestamps, casts).

    A line parses when `json_valid` says so. `try(…)` would also turn any other error of `json_transform`
    into a line that did not parse, but costs as much as the rest of the query (DuckDB runs a `try`
    expression row by row), so the fast query has none: should DuckDB still raise on a block, the block is
    run again `guarded`, with `try`."""
    struct = "{" + ", ".join(f'"{f.name}": "{"JSON" if f in TEXT else "VARCHAR"}"' for f in FIELDS) + "}"
    cols = []
    for f in FIELDS:
        cols.append(f"j.{f.name}::varchar as {f.name}" if f in TEXT else f"j.{f.name} as {f.name}")
        if f.kind == "timestamp":
            with_offset, any_ts = lit(contract.TIMESTAMP_WITH_OFFSET_RE[1:-1]), lit(contract.TIMESTAMP_RE[1:-1])
            cols.append(f"regexp_full_match(j.{f.name}, {with_offset}) as {f.name}__ok")
            cols.append(f"case when not regexp_full_match(j.{f.name}, {with_offset}) "
                        f"then regexp_full_match(j.{f.name}, {any_ts}) end as {f.name}__re")
            cols.append(f"try_cast(j.{f.name} as timestamptz) as {f.name}__v")
        if f.kind in ("integer", "number"):
            cols.append(f"try_cast(j.{f.name}::varchar as {'bigint' if f.kind == 'integer' else 'double'}) "
                        f"as {f.name}__v")
            cols.append(f"regexp_full_match(j.{f.name}::varchar, '-?[0-9]+') as {f.name}__int")
    parse = (f"try(json_transform(line, '{struct}'))" if guarded
             else f"case when json_valid(line) then json_transform(line, '{struct}') end")
    return f"""
select line_no, len, j is not null as ok, {", ".join(cols)}
from (select line_no, len, {parse} as j from raw)"""


class Judged:
    """One block's lines parsed by `transform_sql`, judged by the rules. `reason[i]`: index into `reasons`,
    -1 when the line passes; `slow[i]`: the line's outcome is left to the reference."""

    def __init__(self, t: pa.Table, now: dt.datetime,
                 json_type: Callable[[dict[str, np.ndarray]], dict[str, pa.Array]]):
        self.t = t.combine_chunks()
        self.n = n = t.num_rows
        self.now = now
        self.json_type = json_type  # {field: rows} -> {field: the reference's JSON type of the field on those rows}
        self.slow = ~np.asarray(self.t.column("ok"))
        self.present: dict[str, np.ndarray] = {}
        self.kind_ok: dict[str, np.ndarray] = {}
        self.minlen = 2 + np.zeros(n, np.int64)  # braces
        self.suspects: dict[str, np.ndarray] = {}
        self.lengths: dict[str, np.ndarray] = {}
        self.strings: dict[str, Strings] = {}
        for f in FIELDS:
            self._kinds(f)
        if self.suspects:  # string fields whose value could be another JSON type's text: ask DuckDB
            for name, kinds in self.json_type(self.suspects).items():
                self.kind_ok[name][self.suspects[name]] = np.asarray(pc.equal(kinds, "VARCHAR"))
        for name, length in self.lengths.items():
            # a string value of n bytes was written with at least n + 2 (quotes); anything else with 1
            ok, valid = self.kind_ok[name], self.present[name]
            self.minlen += np.where(valid, np.where(ok, length + 2, 1) + len(name) + 3, 0)
        self.minlen += np.maximum(sum(self.present.values()) - 1, 0)  # commas
        self.reason = np.full(n, -1, np.int32)
        self.reasons: list[str] = []
        self._rules()
        self.needs_keys = np.asarray(self.t.column("len")) >= self.minlen + 4

    def col(self, name: str) -> pa.Array:
        c = self.t.column(name)
        return c.chunk(0) if c.num_chunks == 1 else c.combine_chunks()

    def bytes_of(self, name: str) -> Strings:
        if name not in self.strings:
            self.strings[name] = Strings.of(self.col(name))
        return self.strings[name]

    def _kinds(self, f: Field) -> None:
        """Presence, JSON type and shortest original text of one field."""
        s = self.bytes_of(f.name)
        first, length = s.first, s.length
        if f not in TEXT:
            self.present[f.name] = s.valid
            ok = s.valid.copy()
            maybe = s.valid & SUSPECT[first]
            maybe = (maybe & ((first == ord("{")) | (first == ord("[")) | s.only(NUMBERISH, maybe)))
            maybe |= s.equals_any(WORDS)
            if maybe.any():
                self.suspects[f.name] = np.flatnonzero(maybe)
            self.kind_ok[f.name] = ok
            self.lengths[f.name] = length
            if f.max_length is not None:  # its length in characters: as in bytes when all ASCII
                long = s.valid & (length > f.max_length)
                self.slow |= long & ~s.only(_ASCII, long)
            return
        is_str = s.valid & (first == ord('"'))
        is_bool = s.equals_any((b"true", b"false"))
        integer = (np.asarray(pc.fill_null(self.col(f"{f.name}__int"), False)) if f.kind in ("integer", "number")
                   else np.zeros(self.n, bool))  # an integer literal: digits and a sign
        self.slow |= integer & (length >= 19)  # its JSON type depends on its range: the reference decides
        if f.kind == "number":
            finite = np.asarray(pc.fill_null(pc.is_finite(self.col(f"{f.name}__v")), True))
            self.slow |= s.valid & ~is_str & ~is_bool & ~finite
        self.present[f.name] = s.valid
        self.kind_ok[f.name] = {"string": is_str, "integer": integer, "boolean": is_bool,
                                "number": s.valid & ~is_str & ~is_bool & (first != ord("{")) & (first != ord("["))
                                }[f.kind]
        # DuckDB prints integers, booleans and strings no longer than the source wrote them; others: >= 1 byte
        self.minlen += np.where(s.valid, np.where(integer | is_bool | is_str, length, 1) + len(f.name) + 3, 0)

    def _set(self, cond: np.ndarray, reason: str) -> None:
        hit = cond & (self.reason == -1)
        if hit.any():
            if reason not in self.reasons:
                self.reasons.append(reason)
            self.reason[hit] = self.reasons.index(reason)

    def _field(self, f: Field, guard: np.ndarray) -> None:
        present = self.present[f.name] & guard
        if f.required:
            self._set(guard & ~self.present[f.name], f"missing_field:{f.name}")
        self._set(present & ~self.kind_ok[f.name], f"wrong_type:{f.name}")
        p = present & self.kind_ok[f.name]
        bad = np.zeros(self.n, bool)
        if f.kind in ("integer", "number"):
            v = self.col(f"{f.name}__v")
            bad |= p & ~np.asarray(v.is_valid())
            num = pc.fill_null(v, 0).to_numpy()  # int64 or float64, compared as the reference does
            if f.minimum is not None:
                bad |= p & (num < f.minimum)
            if f.maximum is not None:
                bad |= p & (num > f.maximum)
        if f.kind == "timestamp":
            ok = np.asarray(pc.fill_null(self.col(f"{f.name}__ok"), False))
            self._set(p & ~ok & ~np.asarray(pc.fill_null(self.col(f"{f.name}__re"), False)),
                      f"invalid_value:{f.name}")
            self._set(p & ~ok, "timestamp_without_offset")
            bad |= p & ~np.asarray(self.col(f"{f.name}__v").is_valid())
        if f.kind == "string" and f.name != "schema_version":
            s = self.col(f.name)
            length = self.bytes_of(f.name).length
            if f.enum:
                bad |= p & ~np.asarray(pc.fill_null(pc.is_in(s, value_set=pa.array(f.enum)), False))
            if f.min_length is not None:
                bad |= p & (length < f.min_length)
            if f.max_length is not None:
                bad |= p & (length > f.max_length)  # bytes: a longer value not all ASCII went to the reference
        self._set(bad, f"invalid_value:{f.name}")

    def _rules(self) -> None:
        every = np.ones(self.n, bool)
        self._field(contract.COMMON_FIELDS[0], every)
        # schema_version: its few distinct texts are judged by DuckDB as the reference judges them
        p = self.present["schema_version"] & self.kind_ok["schema_version"]
        verdict = codes(self.col("schema_version"), _version_verdict)
        self._set(p & (verdict == 1), "invalid_value:schema_version")
        self._set(p & (verdict == 2), "unsupported_schema_version")
        tool, etype = self.col("tool"), self.col("event_type")
        self.et = codes(pc.binary_join_element_wise(tool, etype, "/"),
                        lambda v: {f"{t}/{e}": c for (t, e), c in TYPE_CODES.items()}.get(v, 0))
        for f in contract.COMMON_FIELDS[1:]:
            self._field(f, every)
            if f.name == "tool":
                self._set(codes(tool, lambda v: v not in contract.TOOLS).astype(bool), "unknown_tool")
            if f.name == "event_type":
                self._set(self.et == 0, "unknown_event_type")
        workflow = codes(tool, lambda v: v in contract.WORKFLOW_TOOLS).astype(bool)
        for f in contract.WORKFLOW_FIELDS:
            self._field(f, workflow)
        for tl, types in contract.EVENT_TYPES.items():
            for et, fields in types.items():
                for f in fields:
                    self._field(f, self.et == TYPE_CODES[(tl, et)])
        limit = pa.scalar(self.now + dt.timedelta(seconds=contract.FUTURE_TOLERANCE_SECONDS),
                          pa.timestamp("us", tz="UTC"))
        self._set(np.asarray(pc.fill_null(pc.greater(self.col("occurred_at__v"), limit), False)),
                  "occurred_in_future")

    def passing(self) -> np.ndarray:
        return ~self.slow & (self.reason == -1)

    def failing(self) -> np.ndarray:
        return ~self.slow & (self.reason >= 0)

    def reason_strings(self, rows: np.ndarray) -> list[str]:
        return [self.reasons[r] for r in self.reason[rows]]

    def dropped_contract_fields(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Contract fields present on `rows` that their event type does not allow: the rows (indices) of each."""
        out = {}
        for f in contract.payload_fields().values():
            hit = np.flatnonzero(rows & self.present[f.name] & ~ALLOWED[f.name][self.et])
            if len(hit):
                out[f.name] = hit
        return out

    def good(self, rows: np.ndarray) -> pa.Table:
        """The landed columns of `rows`, typed as the reference types them (raw actor id, event date)."""
        idx = pa.array(np.flatnonzero(rows))
        et = self.et[rows]
        cols: dict[str, Any] = {"line_no": self.col("line_no").take(idx)}
        for f in FIELDS:
            if f.kind == "boolean":
                v = pc.equal(self.col(f.name).take(idx), "true")
            elif f.kind == "string" and f.name == "schema_version":
                v = pc.utf8_slice_codeunits(self.col(f.name).take(idx), 1, -1)  # "1.x": no escapes
            else:
                v = self.col(f"{f.name}__v" if f.kind != "string" else f.name).take(idx)
            if f.default is not None:
                v = pc.coalesce(v, pa.scalar(f.default, v.type))
            if f not in contract.COMMON_FIELDS:
                v = pc.if_else(pa.array(ALLOWED[f.name][et]), v, pa.nulls(len(v), v.type))
            cols[f.name] = v
        cols["event_date"] = pc.cast(cols["occurred_at"], pa.date32())
        return pa.table(cols)


_ASCII = np.arange(256) < 128


@cache
def _version_verdict(text: str | None) -> int:
    """A schema_version's JSON text judged as the reference does: 0 known (1.0 … 1.9) or absent or not a
    string, 1 `invalid_value`, 2 `unsupported_schema_version`."""
    import re

    if text is None or not text.startswith('"'):
        return 0
    import json

    s = json.loads(text)
    if s in {f"{contract.SCHEMA_MAJOR}.{i}" for i in range(10)}:
        return 0
    if not re.fullmatch(contract.SCHEMA_VERSION_RE[1:-1], s, flags=re.ASCII):
        return 1
    major = int(s.split(".", 1)[0])
    return 0 if major == contract.SCHEMA_MAJOR and major < 2**63 else 2
