"""The reference-data contract (SPEC §3): one CSV per table, with a header row, in one folder.

`load_reference(folder)` checks every file against its contract and returns Arrow tables, or raises
`ReferenceError` naming the file, line and column of the first problems. Nothing is half-loaded:
either every file passes or none is returned.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

import pyarrow as pa

ColKind = Literal["string", "decimal", "integer", "date", "month", "enum"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColKind = "string"
    required: bool = True
    enum: tuple[str, ...] | None = None
    minimum: float | None = None
    doc: str = ""
    in_header: bool = True  # False: a column added later; a file written before it may leave it out (empty)
    refused: dict[str, str] | None = None  # value -> what to change, for values an earlier contract allowed


@dataclass(frozen=True)
class Table:
    file: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    optional: bool = False
    doc: str = ""

    @property
    def name(self) -> str:
        return self.file.removesuffix(".csv")


LEVELS = ("enterprise", "business_unit", "department", "team")
METRICS = ("acw_seconds", "work_seconds", "assisted_minutes")  # staff time: the only thing valued in dollars
SERVICE_METRICS = ("turnaround_hours",)

TABLES: tuple[Table, ...] = (
    Table(
        "org_units.csv",
        (
            Column("org_unit"),
            Column("name"),
            Column("parent_org_unit", required=False, doc="empty at the root"),
            Column("level", "enum", enum=LEVELS),
            Column("leader", required=False,
                   doc="the accountable leader as the organization publishes them (name and title), shown as given"),
        ),
        key=("org_unit",),
        doc="the organization's hierarchy",
    ),
    Table(
        "roster.csv",
        (
            Column("actor_id"),
            Column("org_unit"),
            Column("role"),
            Column("site", required=False),
            Column("hourly_cost_usd", "decimal", minimum=0),
            Column("valid_from", "date"),
            Column("valid_to", "date", required=False, doc="empty = open; exclusive"),
        ),
        key=("actor_id", "valid_from"),
        doc="who is where, when, and what an hour of their time costs",
    ),
    Table(
        "workflows.csv",
        (
            Column("workflow"),
            Column("tool"),
            Column("accountability", "enum", enum=("workflow", "business_unit")),
            Column("unit_of_work"),
            Column("metric", "enum", enum=METRICS, doc="the staff time that is valued",
                   refused={"turnaround_hours": "turnaround is elapsed time, not staff time: set metric to "
                                                "work_seconds and service_metric to turnaround_hours"}),
            Column("service_metric", "enum", required=False, enum=SERVICE_METRICS, in_header=False,
                   doc="a service level reported beside the value, never in dollars; empty = none"),
            Column("sla_hours", "decimal", required=False, minimum=0, in_header=False,
                   doc="the service-level agreement on service_metric, hours; empty = none"),
            Column("budget_owner"),
        ),
        key=("workflow",),
        doc="the workflows, the staff-time metric each is valued by, and its service level",
    ),
    Table(
        "go_live.csv",
        (Column("workflow"), Column("org_unit"), Column("go_live_date", "date")),
        key=("workflow", "org_unit"),
    ),
    Table(
        "governance.csv",
        (
            Column("capability"),
            Column("status", "enum", enum=("cleared", "pilot", "restricted", "retired")),
            Column("scope_org_unit", doc="covers its subtree; * = all"),
            Column("effective_from", "date"),
            Column("effective_to", "date", required=False),
            Column("decision_ref"),
        ),
        key=("capability", "scope_org_unit", "effective_from"),
    ),
    Table(
        "licenses.csv",
        (
            Column("tool"),
            Column("org_unit"),
            Column("month", "month"),
            Column("seats", "integer", minimum=0),
            Column("cost_usd", "decimal", minimum=0),
        ),
        key=("tool", "org_unit", "month"),
    ),
    Table(
        "minutes_per_action.csv",
        (Column("app"), Column("action"), Column("minutes_saved", "decimal", minimum=0)),
        key=("app", "action"),
    ),
    Table(
        "targets.csv",
        (Column("org_unit"), Column("month", "month"), Column("target_hours_saved", "decimal", minimum=0)),
        key=("org_unit", "month"),
    ),
    Table(
        "identities.csv",
        (Column("actor_id"), Column("system"), Column("external_id")),
        key=("system", "external_id"),
        optional=True,
        doc="vendor identities (login, UPN, e-mail, agent username) of roster actors",
    ),
    Table(
        "vendor_mapping.csv",
        (
            Column("system", doc="github, m365, viva, chatgpt, amazon_connect or otel"),
            Column("kind", "enum", enum=("assist", "queue", "setting")),
            Column("vendor_key", doc="feature, app, operation or queue name as the vendor writes it; * = any other"),
            Column("app", required=False, doc="assist: the event's app (minutes_per_action keys on it)"),
            Column("action", required=False, doc="assist: the event's action"),
            Column("capability", required=False, doc="assist and queue: the capability governance keys on"),
            Column("workflow", required=False, doc="queue: the workflow of workflows.csv"),
            Column("org_unit", required=False, doc="queue: the org unit; empty = the agent's unit in the roster"),
            Column("value", required=False, doc="setting: its value"),
        ),
        key=("system", "kind", "vendor_key"),
        optional=True,
        doc="how vendor exports map to events; rows here override the defaults of schemas/vendor_mapping.csv",
    ),
)

TABLES_BY_FILE = {t.file: t for t in TABLES}
_MONTH_RE = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
_ARROW = {
    "string": pa.string(),
    "enum": pa.string(),
    "decimal": pa.float64(),
    "integer": pa.int64(),
    "date": pa.date32(),
    "month": pa.string(),
}
MAX_ERRORS = 20


class ReferenceError(ValueError):
    """A reference file broke its contract; the message names file, line and column."""


def _parse(col: Column, raw: str) -> tuple[object, str | None]:
    """(value, error) for one cell."""
    if raw == "":
        return None, ("is required" if col.required else None)
    if col.refused and raw in col.refused:
        return None, f"{raw!r} is no longer accepted: {col.refused[raw]}"
    try:
        if col.kind == "decimal":
            value: object = float(Decimal(raw))
            if value != value or value in (float("inf"), float("-inf")):
                return None, f"{raw!r} is not a finite number"
        elif col.kind == "integer":
            if not re.fullmatch(r"-?[0-9]+", raw):
                return None, f"{raw!r} is not an integer"
            value = int(raw)
        elif col.kind == "date":
            value = dt.date.fromisoformat(raw)
            if len(raw) != 10:
                return None, f"{raw!r} is not a date YYYY-MM-DD"
        elif col.kind == "month":
            if not _MONTH_RE.match(raw):
                return None, f"{raw!r} is not a month YYYY-MM"
            value = raw
        else:
            value = raw
    except (InvalidOperation, ValueError):
        return None, f"{raw!r} is not a {'date YYYY-MM-DD' if col.kind == 'date' else col.kind}"
    if col.enum is not None and value not in col.enum:
        return None, f"{raw!r} is not one of {', '.join(col.enum)}"
    if col.minimum is not None and isinstance(value, int | float) and value < col.minimum:
        return None, f"{raw!r} is below {col.minimum:g}"
    return value, None


def read_table(path: Path, table: Table) -> tuple[pa.Table, list[str]]:
    """Parse one CSV against its contract: (table, errors). Errors read `file:line: column c: message`."""
    errors: list[str] = []
    names = [c.name for c in table.columns]
    values: dict[str, list[object]] = {n: [] for n in names}
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise ReferenceError(f"{path}: cannot open: {exc.strerror}") from exc
    with fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ReferenceError(f"{path}:1: unreadable header: {exc}") from exc
        if header is None:
            raise ReferenceError(f"{path}:1: empty file, expected header {','.join(names)}")
        header = [h.strip().lstrip("\ufeff") for h in header]
        missing = [c.name for c in table.columns if c.name not in header and c.in_header]
        if missing:
            raise ReferenceError(f"{path}:1: column {missing[0]}: missing from header (have {','.join(header)})")
        index = {n: header.index(n) for n in names if n in header}
        seen: dict[tuple[object, ...], int] = {}
        line = 1
        try:
            for row in reader:
                line = reader.line_num
                if not row or all(c.strip() == "" for c in row):
                    continue
                if len(row) != len(header):
                    errors.append(f"{path}:{line}: expected {len(header)} columns, found {len(row)}")
                    continue
                parsed: dict[str, object] = {}
                for col in table.columns:
                    value, err = _parse(col, row[index[col.name]].strip() if col.name in index else "")
                    if err:
                        errors.append(f"{path}:{line}: column {col.name}: {err}")
                    parsed[col.name] = value
                key = tuple(parsed[k] for k in table.key)
                if key in seen:
                    errors.append(f"{path}:{line}: column {table.key[0]}: duplicate key {key} "
                                  f"(first on line {seen[key]})")
                else:
                    seen[key] = line
                for n in names:
                    values[n].append(parsed[n])
                if len(errors) >= MAX_ERRORS:
                    break
        except (UnicodeDecodeError, csv.Error) as exc:
            errors.append(f"{path}:{line + 1}: unreadable: {exc}")
    arrays = {n: pa.array(values[n], type=_ARROW[c.kind]) for n, c in zip(names, table.columns, strict=True)}
    return pa.table(arrays), errors


def _cross_checks(folder: Path, tables: dict[str, pa.Table]) -> list[str]:
    """Rules that span files: every org unit referenced exists; one root; no cycles; dates ordered."""
    errors: list[str] = []
    units = tables["org_units"].to_pylist()
    known = {u["org_unit"] for u in units}
    roots = [u for u in units if u["parent_org_unit"] is None]
    path = folder / "org_units.csv"
    if len(roots) != 1:
        errors.append(f"{path}:2: column parent_org_unit: expected exactly one root, found {len(roots)}")
    parent = {u["org_unit"]: u["parent_org_unit"] for u in units}
    for i, u in enumerate(units, start=2):
        if u["parent_org_unit"] is not None and u["parent_org_unit"] not in known:
            errors.append(f"{path}:{i}: column parent_org_unit: unknown org unit {u['parent_org_unit']!r}")
        seen, cur = set(), u["org_unit"]
        while cur is not None and cur not in seen:
            seen.add(cur)
            cur = parent.get(cur)
        if cur is not None:
            errors.append(f"{path}:{i}: column parent_org_unit: cycle through {cur!r}")

    def check_units(name: str, column: str, wildcard: bool = False) -> None:
        for i, v in enumerate(tables[name].column(column).to_pylist(), start=2):
            if v is not None and v not in known and not (wildcard and v == "*"):
                errors.append(f"{folder / (name + '.csv')}:{i}: column {column}: unknown org unit {v!r}")

    check_units("roster", "org_unit")
    check_units("go_live", "org_unit")
    check_units("governance", "scope_org_unit", wildcard=True)
    check_units("licenses", "org_unit")
    check_units("targets", "org_unit")
    check_units("vendor_mapping", "org_unit")
    for name, lo, hi in (("roster", "valid_from", "valid_to"), ("governance", "effective_from", "effective_to")):
        t = tables[name]
        for i, (a, b) in enumerate(zip(t.column(lo).to_pylist(), t.column(hi).to_pylist(), strict=True), start=2):
            if b is not None and b <= a:
                errors.append(f"{folder / (name + '.csv')}:{i}: column {hi}: {b} is not after {lo} {a}")
    workflows = set(tables["workflows"].column("workflow").to_pylist())
    for i, w in enumerate(tables["go_live"].column("workflow").to_pylist(), start=2):
        if w not in workflows:
            errors.append(f"{folder / 'go_live.csv'}:{i}: column workflow: unknown workflow {w!r}")
    return errors


def load_reference(folder: str | Path) -> dict[str, pa.Table]:
    """Every reference table of `folder`, checked; raises ReferenceError listing the problems."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ReferenceError(f"{folder}: reference folder not found")
    tables: dict[str, pa.Table] = {}
    errors: list[str] = []
    for table in TABLES:
        path = folder / table.file
        if not path.exists():
            if table.optional:
                tables[table.name] = pa.table(
                    {c.name: pa.array([], type=_ARROW[c.kind]) for c in table.columns}
                )
                continue
            errors.append(f"{path}: required reference file is missing")
            continue
        t, errs = read_table(path, table)
        tables[table.name] = t
        errors.extend(errs)
    if not errors:
        errors = _cross_checks(folder, tables)
    if errors:
        more = f"\n… and more ({len(errors) - MAX_ERRORS} not shown)" if len(errors) > MAX_ERRORS else ""
        raise ReferenceError("\n".join(errors[:MAX_ERRORS]) + more)
    return tables
