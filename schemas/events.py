"""The usage-event contract (SPEC §2), written once.

Everything else is derived from the tables below: the Arrow schema of landed events
(`landed_schema()`), the vectorized validation rules (`pipelines/validate.py` compiles them to SQL),
the allowed-field lists that decide which fields are dropped, and the contract section of the README
(`uptake contract` prints it). Change a rule here and every consumer follows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

Kind = Literal["string", "integer", "number", "boolean", "timestamp"]

SCHEMA_MAJOR = 1
SCHEMA_MINOR = 1  # the newest minor this contract knows: 1.1 added letter_submitted.work_seconds
SCHEMA_VERSION_RE = r"^[0-9]+\.[0-9]+$"  # well-formed `major.minor`; only major 1 is supported
MAX_LINE_BYTES = 1 << 20  # a longer line is quarantined `line_too_long`
FUTURE_TOLERANCE_SECONDS = 300  # occurred_at more than this after ingest time is `occurred_in_future`
# RFC 3339 date-time; group 'offset' absent means `timestamp_without_offset`.
TIMESTAMP_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})?$"
TIMESTAMP_WITH_OFFSET_RE = TIMESTAMP_RE.replace(")?$", ")$")


@dataclass(frozen=True)
class Field:
    """One field of an event: its JSON kind and the rules a value must meet."""

    name: str
    kind: Kind
    required: bool = False
    enum: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    default: int | None = None
    doc: str = ""


# Fields every event carries, in the order their rules are checked.
COMMON_FIELDS: tuple[Field, ...] = (
    Field("schema_version", "string", True, doc="`1.<minor>`; another major is unsupported"),
    Field("event_id", "string", True, min_length=1, max_length=128, doc="the source's id; a re-send repeats it"),
    Field("occurred_at", "timestamp", True, doc="RFC 3339 with offset; stored as UTC"),
    Field("source", "string", True, min_length=1, doc="emitting system, e.g. genesys-cloud"),
    Field("tool", "string", True, doc="copilot, call_summarization or lmn_drafting"),
    Field("event_type", "string", True, doc="one of the tool's event types"),
    Field("actor_id", "string", True, min_length=1, doc="the person; pseudonymized at ingest"),
    Field("capability", "string", True, min_length=1, doc="AI capability used; governance keys on it"),
    Field("org_unit", "string", doc="when absent: the actor's org unit in the roster at occurred_at"),
    Field("site", "string"),
)

# Fields a workflow-integrated tool's events must also carry.
WORKFLOW_FIELDS: tuple[Field, ...] = (
    Field("workflow", "string", True, min_length=1, doc="a workflow of workflows.csv"),
    Field("work_item_id", "string", True, min_length=1, doc="the call id or the letter's case id"),
)

OUTCOME_REVIEW = ("accepted", "edited", "rejected")

# tool -> event_type -> the event type's own fields.
EVENT_TYPES: dict[str, dict[str, tuple[Field, ...]]] = {
    "copilot": {
        "assist": (
            Field("app", "string", True, min_length=1),
            Field("action", "string", True, min_length=1),
            Field("outcome", "string", enum=("accepted", "discarded")),
            Field("count", "integer", minimum=1, default=1, doc="for pre-aggregated exports"),
        ),
    },
    "call_summarization": {
        "call_completed": (
            Field("handle_seconds", "number", True, minimum=0),
            Field("acw_seconds", "number", True, minimum=0),
            Field("ai_summary_offered", "boolean", True),
            Field("queue", "string"),
        ),
        "summary_reviewed": (
            Field("outcome", "string", True, enum=OUTCOME_REVIEW),
            Field("edit_ratio", "number", minimum=0, maximum=1),
        ),
    },
    "lmn_drafting": {
        "letter_requested": (
            Field("letter_type", "string", True, enum=("lmn", "appeal", "denial_response", "prior_auth")),
            Field("payer", "string"),
        ),
        "letter_drafted": (
            Field("ai_drafted", "boolean", True),
            Field("outcome", "string", enum=OUTCOME_REVIEW),
            Field("edit_ratio", "number", minimum=0, maximum=1),
        ),
        "letter_submitted": (
            Field("work_seconds", "number", minimum=0,
                  doc="active staff time spent on the case (drafting, editing, assembling), from the letter "
                      "tool's or work queue's time tracking; since 1.1"),
        ),
        "letter_decided": (
            Field("decision", "string", True, enum=("approved", "denied")),
        ),
    },
}

WORKFLOW_TOOLS: frozenset[str] = frozenset({"call_summarization", "lmn_drafting"})
TOOLS: tuple[str, ...] = tuple(EVENT_TYPES)

# Every quarantine reason code, in SPEC §2's words. `missing_field:<f>` and friends are families.
REASON_CODES: tuple[str, ...] = (
    "invalid_utf8",
    "line_too_long",
    "malformed_json",
    "not_an_object",
    "missing_field:<f>",
    "wrong_type:<f>",
    "invalid_value:<f>",
    "unknown_tool",
    "unknown_event_type",
    "unsupported_schema_version",
    "timestamp_without_offset",
    "occurred_in_future",
    "conflicting_duplicate",
)

_ARROW_TYPES: dict[Kind, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


def event_fields(tool: str, event_type: str) -> tuple[Field, ...]:
    """The fields an event of this tool and type may carry (common first)."""
    own = EVENT_TYPES[tool][event_type]
    extra = WORKFLOW_FIELDS if tool in WORKFLOW_TOOLS else ()
    return COMMON_FIELDS + extra + own


def payload_fields() -> dict[str, Field]:
    """Every field that is not common, by name: the union over tools and event types.

    A name used by several event types has one kind everywhere (checked here), so it is one column.
    """
    out: dict[str, Field] = {}
    for tool, types in EVENT_TYPES.items():
        extra = WORKFLOW_FIELDS if tool in WORKFLOW_TOOLS else ()
        for fields in types.values():
            for f in extra + fields:
                seen = out.get(f.name)
                if seen is not None and seen.kind != f.kind:
                    raise TypeError(f"field {f.name} has two kinds: {seen.kind} and {f.kind}")
                out.setdefault(f.name, f)
    return out


def types_with_field(name: str) -> list[tuple[str, str]]:
    """The (tool, event_type) pairs whose events may carry `name`."""
    return [
        (tool, et)
        for tool, types in EVENT_TYPES.items()
        for et in types
        if any(f.name == name for f in event_fields(tool, et))
    ]


# Columns of a landed event that are not fields of the contract: how it was landed.
LINEAGE_COLUMNS: tuple[tuple[str, pa.DataType, str], ...] = (
    ("event_date", pa.date32(), "UTC date of occurred_at (partition key)"),
    ("ingest_run", pa.int64(), "sequence number of the ingest run that landed the event"),
    ("source_file", pa.string(), "input file the event came from"),
    ("source_line", pa.int64(), "1-based line number in that file"),
)


def landed_columns() -> list[tuple[str, pa.DataType, str]]:
    """(name, Arrow type, description) of every landed column, in order.

    `actor_id` lands as `actor_key`, the keyed hash; the raw id never lands.
    """
    cols: list[tuple[str, pa.DataType, str]] = []
    for f in COMMON_FIELDS:
        name = "actor_key" if f.name == "actor_id" else f.name
        doc = "HMAC-SHA256 pseudonym of the actor id" if f.name == "actor_id" else f.doc
        cols.append((name, _ARROW_TYPES[f.kind], doc))
    for f in payload_fields().values():
        cols.append((f.name, _ARROW_TYPES[f.kind], f.doc))
    cols.extend(LINEAGE_COLUMNS)
    return cols


def landed_schema() -> pa.Schema:
    """Arrow schema of the landed event Parquet files (partition columns `tool`, `event_date` included)."""
    return pa.schema([pa.field(n, t) for n, t, _ in landed_columns()])


def content_columns() -> list[str]:
    """Landed columns that make up an event's content (what a duplicate must repeat)."""
    lineage = {n for n, _, _ in LINEAGE_COLUMNS}
    return [n for n, _, _ in landed_columns() if n not in lineage]


def allowed_fields(tool: str, event_type: str) -> frozenset[str]:
    return frozenset(f.name for f in event_fields(tool, event_type))


def contract_markdown() -> str:
    """The contract as a Markdown table, for the README (generated, never retyped)."""
    lines = ["| tool | event_type | field | kind | required | rule |", "|---|---|---|---|---|---|"]

    def rule(f: Field) -> str:
        parts = []
        if f.enum:
            parts.append(" / ".join(f.enum))
        if f.minimum is not None:
            parts.append(f"≥ {f.minimum:g}")
        if f.maximum is not None:
            parts.append(f"≤ {f.maximum:g}")
        if f.max_length is not None:
            parts.append(f"{f.min_length or 0}–{f.max_length} chars")
        if f.default is not None:
            parts.append(f"default {f.default}")
        if f.doc:
            parts.append(f.doc)
        return "; ".join(parts)

    def row(tool: str, et: str, f: Field) -> str:
        return f"| {tool} | {et} | {f.name} | {f.kind} | {'yes' if f.required else ''} | {rule(f)} |"

    lines += [row("*", "*", f) for f in COMMON_FIELDS]
    lines += [row(", ".join(sorted(WORKFLOW_TOOLS)), "*", f) for f in WORKFLOW_FIELDS]
    for tool, types in EVENT_TYPES.items():
        for et, own in types.items():
            lines += [row(tool, et, f) for f in own] or [f"| {tool} | {et} | — | | | |"]
    return "\n".join(lines)


def _check() -> None:
    payload_fields()  # raises when a name has two kinds
    re.compile(TIMESTAMP_RE)
    re.compile(TIMESTAMP_WITH_OFFSET_RE)


_check()
