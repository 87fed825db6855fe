"""Validated blocks: a block of lines in, its good rows (typed), its quarantined lines and its counts out.

What can be told from the bytes is decided first, vectorized over the block: over-long lines, invalid
UTF-8 (one Arrow check over the block, halving only around the bad lines) and blank lines. A line that
looks like one JSON object then takes the fast path (`pipelines/fastpath.py`: one parse, the rules in
numpy), which hands back every line whose outcome it cannot prove; those, and the lines that do not look
like an object, go through the reference: the row rules of SPEC §2 as one DuckDB query (`pipelines/rules.py`).
Both give the same reasons, rows and dropped fields (`tests/pipelines/test_fastpath.py` holds them to it).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines import fastpath
from pipelines.blocks import Block, split_lines
from pipelines.rules import allowed_sql, validation_sql
from pipelines.sql import lit_list
from schemas import events as contract

SCAN_BATCH_ROWS = 8192
GOOD_SCHEMA = pa.schema([("line_no", pa.int64())] + [(f.name, {
    "string": pa.string(), "timestamp": pa.timestamp("us", tz="UTC"), "integer": pa.int64(), "number": pa.float64(),
    "boolean": pa.bool_()}[f.kind]) for f in fastpath.FIELDS] + [("event_date", pa.date32())])


def connect(threads: int | None = None) -> Any:
    import duckdb

    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    con.execute("set enable_progress_bar = false")
    if threads:
        con.execute(f"set threads = {int(threads)}")
    return con


class BlockValidator:
    """Validates blocks of lines on one DuckDB connection (one per worker)."""

    def __init__(self, now: dt.datetime, threads: int | None = None, fast: bool = True):
        self.now, self.fast = now, fast
        self.params = {"now": now}
        self.con = connect(threads)
        self.sql = validation_sql()
        self.decided: Counter[str] = Counter()  # lines decided by: fast, shape (not an object), reference

    def _query(self, sql: str, table: pa.Table, params: dict | None = None) -> pa.Table:
        # several record batches, so DuckDB scans the block on all its threads
        self.con.register("raw", pa.Table.from_batches(table.to_batches(max_chunksize=SCAN_BATCH_ROWS), table.schema))
        try:
            return self.con.sql(sql, params=params).to_arrow_table()
        finally:
            self.con.unregister("raw")

    def validate(self, block: Block, starts: np.ndarray | None = None) -> tuple[pa.Table, pa.Table, Any]:
        """(good rows, quarantined lines, counts) of one block. Line numbers count from the range's start.

        `starts`: the block's lines in groups (the files of a packed block), each group's first line (0-based,
        the first 0): the counts are then a list, one per group. Good rows carry the raw actor id; staging
        replaces it by its pseudonym before anything is written."""
        if block.long_line:
            q = pa.table({
                "line_no": pa.array([block.line0 + 1], pa.int64()),
                "reason": pa.array(["line_too_long"]),
                "raw_line": pa.array([bytes(block.data)], pa.binary()),
            })
            one = {"lines": 1, "blank": 0, "good": 0, "by_reason": {"line_too_long": 1}, "dropped_fields": {}}
            return GOOD_SCHEMA.empty_table(), q, one if starts is None else [one]
        lines, length, offs = split_lines(block.data, block.newlines)
        n = len(lines)
        line_no = np.arange(block.line0 + 1, block.line0 + 1 + n, dtype=np.int64)
        too_long = length > contract.MAX_LINE_BYTES
        utf8 = utf8_mask(lines)
        blank = blank_mask(block.data, offs, length) & utf8 & ~too_long
        parse = utf8 & ~too_long & ~blank
        goods: list[pa.Table] = []
        bads: list[pa.Table] = []
        dropped: list[tuple[np.ndarray, pa.Array]] = []  # (line_no, field name) of every dropped field
        if self.fast:
            buf = np.frombuffer(block.data, np.uint8)
            last = buf[np.maximum(offs + length - 1, 0)] if n else np.zeros(0, np.uint8)
            obj = parse & (length >= 2) & (buf[np.minimum(offs, max(len(buf) - 1, 0))] == 123) & (last == 125)
            other = parse & ~obj
            parse = np.zeros(n, bool)
            if obj.any():
                objects = pa.table({"line_no": line_no[obj], "len": length[obj], "line": _text(lines, obj)})
                rest = self._fast(objects, goods, bads, dropped)
                parse[rest - block.line0 - 1] = True
            if other.any():
                rest = self._not_objects(pa.table({"line_no": line_no[other], "line": _text(lines, other)}), bads)
                parse[rest - block.line0 - 1] = True
        if parse.any():
            self.decided["reference"] += int(parse.sum())
            raw = pa.table({"line_no": line_no[parse], "line": _text(lines, parse)})
            res = self._query(self.sql, raw, self.params)
            ok = pc.is_null(res.column("reason"))
            good = res.filter(ok)
            goods.append(good.drop_columns(["reason", "dropped"]).cast(GOOD_SCHEMA).sort_by("line_no"))
            bads.append(res.filter(pc.invert(ok)).select(["line_no", "reason"]))
            dropped.append(_each(good.column("line_no").to_numpy(), good.column("dropped")))
        goods = [g for g in goods if g.num_rows]
        good = (GOOD_SCHEMA.empty_table() if not goods else goods[0] if len(goods) == 1  # each is in line order
                else pa.concat_tables(goods).sort_by("line_no"))
        bad = pa.concat_tables(bads) if bads else pa.table({"line_no": pa.array([], pa.int64()),
                                                            "reason": pa.array([], pa.string())})

        # quarantine: pre-parse reasons, then the rule the line broke; raw bytes without the line end
        pre_idx = np.flatnonzero(too_long | ~utf8)
        pre_reason = np.where(too_long[pre_idx], "line_too_long", "invalid_utf8")
        bad_idx = bad.column("line_no").to_numpy() - block.line0 - 1
        q_idx = np.concatenate([pre_idx, bad_idx]).astype(np.int64)
        q_reason = np.concatenate([pre_reason, bad.column("reason").to_numpy(zero_copy_only=False)])
        order = np.argsort(q_idx, kind="stable")
        q_idx, q_reason = q_idx[order], q_reason[order]
        raws = [bytes(block.data[offs[i]: offs[i] + min(length[i], contract.MAX_LINE_BYTES)]) for i in q_idx]
        q = pa.table({
            "line_no": pa.array(line_no[q_idx], pa.int64()),
            "reason": pa.array(q_reason.astype(str) if len(q_reason) else [], pa.string()),
            "raw_line": pa.array(raws, pa.binary()),
        })
        idx = good.column("line_no").to_numpy() - block.line0 - 1
        groups = np.zeros(1, np.int64) if starts is None else np.asarray(starts, np.int64)
        counts = _counts(groups, n, blank, idx, q_idx, q_reason,
                         [(line - block.line0 - 1, names) for line, names in dropped])
        good = good.append_column("src_offset", pa.array(block.offset + offs[idx], pa.int64()))
        good = good.append_column("src_length", pa.array(length[idx], pa.int64()))
        return good, q, counts[0] if starts is None else counts

    def _fast(self, raw: pa.Table, goods: list[pa.Table], bads: list[pa.Table],
              dropped: list[tuple[np.ndarray, pa.Array]]) -> np.ndarray:
        """Validate object-looking lines on the fast path; returns the line numbers it hands back."""
        import duckdb

        lines = raw.column("line")

        def json_type(suspects: dict[str, np.ndarray]) -> dict[str, pa.Array]:
            rows = np.unique(np.concatenate(list(suspects.values())))
            names = list(suspects)
            res = self._query(f"select json_type(line, {lit_list(['$.' + n for n in names])}) as t from raw",
                              pa.table({"line": lines.take(pa.array(rows))}))
            types = pc.list_flatten(res.column("t")).to_numpy(zero_copy_only=False).reshape(len(rows), len(names))
            return {n: pa.array(types[np.searchsorted(rows, suspects[n]), k]) for k, n in enumerate(names)}

        try:
            parsed = self._query(fastpath.transform_sql(), raw)
        except duckdb.Error:  # an error json_valid did not foresee: the block again, each such line unparsed
            parsed = self._query(fastpath.transform_sql(guarded=True), raw)
        j = fastpath.Judged(parsed, self.now, json_type)
        line_no = j.col("line_no").to_numpy()
        passing, failing = j.passing(), j.failing()
        self.decided["fast"] += int(passing.sum() + failing.sum())
        goods.append(j.good(passing).cast(GOOD_SCHEMA))
        bads.append(pa.table({"line_no": pa.array(line_no[failing], pa.int64()),
                              "reason": pa.array(j.reason_strings(np.flatnonzero(failing)), pa.string())}))
        for name, rows in j.dropped_contract_fields(passing & ~j.needs_keys).items():
            dropped.append((line_no[rows], pa.repeat(pa.scalar(name), len(rows))))
        keyed = passing & j.needs_keys
        if keyed.any():
            res = self._query(f"select list_filter(json_keys(line), lambda k: not list_contains({allowed_sql()}, k)) "
                              "as dropped from raw", pa.table({"line": lines.filter(pa.array(keyed)),
                                                               "et": pa.array(j.et[keyed], pa.int32())}))
            dropped.append(_each(line_no[keyed], res.column("dropped")))
        return line_no[j.slow]

    def _not_objects(self, raw: pa.Table, bads: list[pa.Table]) -> np.ndarray:
        """Lines that do not start with `{` and end with `}`: malformed or not an object (as the reference
        tells them, `json_valid` and the first non-blank byte); returns the few it must hand on."""
        res = self._query("select line_no, json_valid(line) as ok, starts_with(ltrim(line, e' \\t\\r\\n'), '{') as obj "
                          "from raw", raw)
        ok = np.asarray(res.column("ok"))
        obj = np.asarray(res.column("obj"))
        no = res.column("line_no").to_numpy()
        self.decided["shape"] += int((~(ok & obj)).sum())
        bads.append(pa.table({"line_no": pa.array(np.concatenate([no[~ok], no[ok & ~obj]]), pa.int64()),
                              "reason": pa.array(["malformed_json"] * int((~ok).sum())
                                                 + ["not_an_object"] * int((ok & ~obj).sum()), pa.string())}))
        return no[ok & obj]


def utf8_mask(lines: pa.BinaryArray) -> np.ndarray:
    """Which lines are valid UTF-8: one vectorized check, halving only around the bad lines."""
    n = len(lines)
    ok = np.ones(n, bool)
    todo = [(0, n)]
    while todo:
        lo, hi = todo.pop()
        try:
            lines.slice(lo, hi - lo).cast(pa.string())
        except pa.ArrowInvalid:
            if hi - lo <= 64:
                ok[lo:hi] = [_is_utf8(b) for b in lines.slice(lo, hi - lo).to_pylist()]
            else:
                mid = (lo + hi) // 2
                todo += [(lo, mid), (mid, hi)]
    return ok


_WHITESPACE = np.zeros(256, bool)
_WHITESPACE[[9, 10, 11, 12, 13, 32]] = True


def blank_mask(data: bytes | memoryview, offs: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Empty or whitespace-only lines. Only lines whose first byte is whitespace are looked at closely."""
    buf = np.frombuffer(data, np.uint8)
    blank = length == 0
    maybe = np.flatnonzero(~blank & _WHITESPACE[buf[np.minimum(offs, len(buf) - 1)]]) if len(buf) else np.zeros(0, int)
    for i in maybe:
        blank[i] = not bytes(data[offs[i]: offs[i] + length[i]]).strip()
    return blank


def _text(lines: pa.BinaryArray, rows: np.ndarray) -> pa.StringArray:
    """`rows` of `lines` as text: lines `utf8_mask` found valid, so not validated again."""
    return (lines if rows.all() else lines.filter(pa.array(rows))).view(pa.string())


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _each(line_no: np.ndarray, names: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """(line, name) of every name in the lists `names` (one list per line of `line_no`)."""
    names = names.combine_chunks()
    return line_no[pc.list_parent_indices(names).to_numpy()], pc.list_flatten(names)


def _counts(starts: np.ndarray, n: int, blank: np.ndarray, good: np.ndarray, q_idx: np.ndarray,
            q_reason: np.ndarray, dropped: list[tuple[np.ndarray, pa.Array]]) -> list[dict[str, Any]]:
    """The counts of each group of lines (`starts`: each group's first line; lines as block indices)."""
    g = len(starts)
    ends = np.append(starts[1:], n)

    def group(idx: np.ndarray) -> np.ndarray:
        return np.searchsorted(starts, idx, "right") - 1

    blank_n = np.bincount(group(np.flatnonzero(blank)), minlength=g)
    good_n = np.bincount(group(good), minlength=g)
    reasons: list[Counter[str]] = [Counter() for _ in range(g)]
    for k, r in zip(group(q_idx).tolist(), q_reason.tolist(), strict=True):
        reasons[k][r] += 1
    fields: list[Counter[str]] = [Counter() for _ in range(g)]
    for idx, names in dropped:
        if len(idx):
            for (k, name), c in Counter(zip(group(idx).tolist(), names.to_pylist(), strict=True)).items():
                fields[k][name] += c
    return [{"lines": int(ends[k] - starts[k]), "blank": int(blank_n[k]), "good": int(good_n[k]),
             "by_reason": dict(reasons[k]), "dropped_fields": dict(fields[k])} for k in range(g)]
