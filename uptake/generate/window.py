"""The generated time window: its months and working days."""

from __future__ import annotations

import datetime as dt

import numpy as np

DEFAULT_END_MONTH = "2026-10"


class GenerateError(ValueError):
    pass


def window_months(end_month: str, months: int) -> list[dt.date]:
    try:
        y, m = (int(x) for x in end_month.split("-"))
        dt.date(y, m, 1)
    except ValueError as exc:
        raise GenerateError(f"--end {end_month!r}: expected YYYY-MM") from exc
    out = []
    for _ in range(months):
        out.append(dt.date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def next_month(d: dt.date) -> dt.date:
    return dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)


def workdays(start: dt.date, end: dt.date) -> np.ndarray:
    days = np.arange(np.datetime64(start), np.datetime64(end), dtype="datetime64[D]")
    return days[np.is_busday(days)]


