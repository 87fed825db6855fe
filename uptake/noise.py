"""Library messages that say nothing to a user of uptake, dropped wherever uptake runs (the command line, and
the flows, which Prefect may run in processes of their own)."""

from __future__ import annotations

import logging

NOISE = ("apitools not found",)  # Apache Beam on import, about a BigQuery client uptake does not use


class _Noise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(NOISE)


def quiet_libraries() -> None:
    """Drop NOISE from the root logger (Beam logs it there). Idempotent."""
    root = logging.getLogger()
    if not any(isinstance(f, _Noise) for f in root.filters):
        root.addFilter(_Noise())
