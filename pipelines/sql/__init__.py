"""SQL the ingest runs: the commit's statements in `.sql` files beside this module, and the one helper that
writes a SQL string literal.

Values are bound as parameters wherever DuckDB allows it. A literal is written only where it cannot be bound:
a file path or glob as the target or source of `COPY` / `read_parquet`, and values the contract owns (field
names, enums) compiled into the validation query. Never user input.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent


def lit(value: str | Path) -> str:
    """`value` as a SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def lit_list(values: Iterable[str | Path]) -> str:
    """A SQL list of string literals, e.g. the files of a `read_parquet`."""
    return "[" + ", ".join(lit(v) for v in values) + "]"


@cache
def load(name: str) -> str:
    """The statement in `pipelines/sql/<name>.sql` (its header comment included)."""
    return (HERE / f"{name}.sql").read_text()
