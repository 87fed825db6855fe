"""Arrow string columns seen through numpy, without copying a value: what the fast path asks of whole columns.

`Strings` exposes a column's validity, offsets and bytes, so questions such as "which values start with a
digit", "which are exactly `true`" or "which are made only of these bytes" are answered with a few numpy
operations over the column instead of one Python call per value; `codes` maps a column through its few
distinct values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass
class Strings:
    """A string column's bytes seen through numpy without copying: validity, offsets, data."""

    valid: np.ndarray
    off: np.ndarray
    data: np.ndarray

    @classmethod
    def of(cls, a: pa.Array) -> Strings:
        width = np.int64 if a.type == pa.large_string() else np.int32
        off = np.frombuffer(a.buffers()[1], width)[a.offset: a.offset + len(a) + 1].astype(np.int64)
        data = np.frombuffer(a.buffers()[2], np.uint8) if a.buffers()[2] is not None else np.zeros(0, np.uint8)
        return cls(np.asarray(a.is_valid()), off, data)

    @cached_property
    def length(self) -> np.ndarray:
        return np.diff(self.off)

    @cached_property
    def first(self) -> np.ndarray:
        """First byte of each value (0 when empty or null)."""
        if not len(self.data):
            return np.zeros(len(self.valid), np.uint8)
        return np.where(self.length > 0, self.data[np.minimum(self.off[:-1], len(self.data) - 1)], 0)

    def equals_any(self, words: tuple[bytes, ...], rows: np.ndarray | None = None) -> np.ndarray:
        """Which values (of `rows`, default all) are one of `words`: only same-length values are compared."""
        out = np.zeros(len(self.valid), bool)
        length, first = self.length, self.first
        for w in words:
            same = self.valid & (length == len(w)) & (first == w[0])
            cand = np.flatnonzero(same if rows is None else same & rows)
            if len(cand):
                got = self.data[self.off[cand][:, None] + np.arange(len(w))]
                out[cand] |= (got == np.frombuffer(w, np.uint8)).all(axis=1)
        return out

    def only(self, allowed: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Which non-empty values (of `rows`, default all) are made only of bytes `allowed` (a 256-entry mask)."""
        pick = np.flatnonzero(self.valid & (self.length > 0) & (True if rows is None else rows))
        out = np.zeros(len(self.valid), bool)
        if len(pick):  # first a cheap necessary condition: the middle and last bytes are allowed
            start, n = self.off[pick], self.length[pick]
            pick = pick[allowed[self.data[start + n // 2]] & allowed[self.data[start + n - 1]]]
        if not len(pick):
            return out
        lengths = self.length[pick]
        ends = np.cumsum(lengths)
        pos = np.arange(ends[-1]) - np.repeat(ends - lengths - self.off[pick], lengths)
        bad = np.bincount(np.repeat(np.arange(len(pick)), lengths), weights=~allowed[self.data[pos]],
                          minlength=len(pick))
        out[pick] = bad == 0
        return out


def codes(a: pa.Array, lookup: Callable[[Any], int]) -> np.ndarray:
    """Each value's code by `lookup` of the column's few distinct values (null → lookup(None))."""
    d = a if pa.types.is_dictionary(a.type) else pc.dictionary_encode(a)
    table = np.array([lookup(v) for v in d.dictionary.to_pylist()] + [lookup(None)], np.int64)
    return table[np.asarray(pc.fill_null(d.indices, len(table) - 1))]
