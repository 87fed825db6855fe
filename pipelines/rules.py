"""Row rules of SPEC §2, compiled from the contract (`schemas/events.py`) into one DuckDB query.

The query runs over a block of lines (an Arrow table `raw(line_no, line)`) and gives, for every line,
its quarantine reason (NULL when it passes), the typed fields of the event, and the names of the fields
it carried that are dropped. Each line is parsed a handful of times by DuckDB's JSON reader (in C++,
vectorized, on all cores); no Python runs per line.

Rule order (the first rule a line breaks is its reason):
`malformed_json`, `not_an_object`; schema_version (missing, wrong type, not `N.N`, other major); then
each common field in contract order (missing, wrong type, invalid value; `tool` → `unknown_tool`,
`event_type` → `unknown_event_type`, `occurred_at` → `timestamp_without_offset`); the workflow fields of
workflow tools; the event type's own fields; last `occurred_in_future`.
`invalid_utf8`, `line_too_long` and blank lines are decided before parsing (pipelines/blocks.py).
"""

from __future__ import annotations

from functools import cache

from pipelines.sql import lit as _lit
from pipelines.sql import lit_list as _list
from schemas import events as contract
from schemas.events import Field

_JSON_KINDS = {
    "string": ("VARCHAR",),
    "timestamp": ("VARCHAR",),
    "integer": ("BIGINT", "UBIGINT"),
    "number": ("BIGINT", "UBIGINT", "DOUBLE"),
    "boolean": ("BOOLEAN",),
}


def _all_fields() -> list[Field]:
    return list(contract.COMMON_FIELDS) + list(contract.payload_fields().values())


def _typed(f: Field) -> str:
    """SQL for the field's typed value, from its JSON type `t_<f>` and text `s_<f>`."""
    t, s = f"t_{f.name}", f"s_{f.name}"
    kinds = ", ".join(_lit(k) for k in _JSON_KINDS[f.kind])
    value = {
        "string": s,
        "timestamp": f"try_cast({s} as timestamptz)",
        "integer": f"try_cast({s} as bigint)",
        "number": f"try_cast({s} as double)",
        "boolean": f"({s} = 'true')",
    }[f.kind]
    return f"case when {t} in ({kinds}) then {value} end"


def _field_rules(f: Field, guard: str, required: bool | None = None) -> list[tuple[str, str]]:
    """(condition, reason) pairs for one field, in order: missing, wrong type, invalid value."""
    n, t, v = f.name, f"t_{f.name}", f"v_{f.name}"
    kinds = ", ".join(_lit(k) for k in _JSON_KINDS[f.kind])
    g = f"{guard} and " if guard else ""
    absent = f"({t} is null or {t} = 'NULL')"
    rules: list[tuple[str, str]] = []
    if f.required if required is None else required:
        rules.append((f"{g}{absent}", f"missing_field:{n}"))
    present = f"{g}not {absent}"
    rules.append((f"{present} and {t} not in ({kinds})", f"wrong_type:{n}"))
    bad: list[str] = []
    if f.kind in ("integer", "number"):
        bad.append(f"{v} is null")  # out of range for the type
    if f.kind == "number":
        bad.append(f"not isfinite({v})")  # NaN, Infinity, 1e400: DuckDB parses them; no sum survives one
    if f.kind == "timestamp":
        # `ts_ok_<f>` (the with-offset pattern) is computed once; the second pattern runs only on failures
        rules.append((f"{present} and not ts_ok_{n} and not regexp_full_match(s_{n}, "
                      f"{_lit(contract.TIMESTAMP_RE[1:-1])})", f"invalid_value:{n}"))
        rules.append((f"{present} and not ts_ok_{n}", "timestamp_without_offset"))
        bad.append(f"{v} is null")  # a well-formed string that is no instant, e.g. 2026-02-30
    if f.enum:
        bad.append(f"{v} not in ({', '.join(_lit(e) for e in f.enum)})")
    if f.min_length is not None:
        bad.append(f"length({v}) < {f.min_length}")
    if f.max_length is not None:
        bad.append(f"length({v}) > {f.max_length}")
    if f.minimum is not None:
        bad.append(f"{v} < {f.minimum!r}")
    if f.maximum is not None:
        bad.append(f"{v} > {f.maximum!r}")
    if bad:
        rules.append((f"{present} and ({' or '.join(bad)})", f"invalid_value:{n}"))
    return rules


def _type_codes() -> dict[tuple[str, str], int]:
    """A small integer per (tool, event_type): guards compare integers, not strings."""
    return {(t, e): i for i, (t, e) in enumerate(
        ((t, e) for t, types in contract.EVENT_TYPES.items() for e in types), start=1)}


def _type_guard(tool: str, event_type: str) -> str:
    return f"et = {_type_codes()[(tool, event_type)]}"


def _et_sql() -> str:
    whens = " ".join(f"when {_lit(t + '/' + e)} then {c}" for (t, e), c in _type_codes().items())
    return f"case s_tool || '/' || s_event_type {whens} end"


def _rules() -> list[tuple[str, str]]:
    rules: list[tuple[str, str]] = [
        ("not ok", "malformed_json"),
        ("not obj", "not_an_object"),
    ]
    sv = contract.COMMON_FIELDS[0]
    assert sv.name == "schema_version"
    rules += _field_rules(sv, "")[:2]
    # `sv_ok`: one of the common versions; the pattern and the major are checked only for the others
    rules.append(("not sv_ok and not regexp_full_match(s_schema_version, "
                  + _lit(contract.SCHEMA_VERSION_RE[1:-1]) + ")", "invalid_value:schema_version"))
    rules.append((f"not sv_ok and try_cast(split_part(s_schema_version, '.', 1) as bigint) "
                  f"is distinct from {contract.SCHEMA_MAJOR}", "unsupported_schema_version"))
    for f in contract.COMMON_FIELDS[1:]:
        rules += _field_rules(f, "")
        if f.name == "tool":
            rules.append((f"tool_ not in ({', '.join(_lit(t) for t in contract.TOOLS)})", "unknown_tool"))
        if f.name == "event_type":
            rules.append(("et is null", "unknown_event_type"))
    workflow_tools = ", ".join(_lit(t) for t in sorted(contract.WORKFLOW_TOOLS))
    for f in contract.WORKFLOW_FIELDS:
        rules += _field_rules(f, f"tool_ in ({workflow_tools})")
    for tool, types in contract.EVENT_TYPES.items():
        for et, fields in types.items():
            for f in fields:
                # a shared column (outcome, edit_ratio) is checked with this type's own enum and bounds
                rules += _field_rules(f, _type_guard(tool, et))
    rules.append((f"v_occurred_at > $now + interval {contract.FUTURE_TOLERANCE_SECONDS} second",
                  "occurred_in_future"))
    return rules


def allowed_sql() -> str:
    """SQL for the list of field names the line's event type may carry."""
    whens = [
        f"when {_type_guard(tool, et)} then {_list(sorted(contract.allowed_fields(tool, et)))}"
        for tool, types in contract.EVENT_TYPES.items()
        for et in types
    ]
    return "case " + " ".join(whens) + " end"


def _landed_value(f: Field) -> str:
    """SQL for the landed value of a field: only when the event type allows it; defaults applied."""
    v = f"v_{f.name}"
    if f.default is not None:
        v = f"coalesce({v}, {f.default!r})"
    if f in contract.COMMON_FIELDS:
        return v
    codes = ", ".join(str(_type_codes()[p]) for p in contract.types_with_field(f.name))
    return f"case when et in ({codes}) then {v} end"


@cache
def validation_sql() -> str:
    """The query: `raw(line_no, line)` → line_no, reason, dropped, every landed field (raw actor_id),
    and event_date. Parameter `$now`: the ingest time."""
    fields = _all_fields()
    paths = _list([f"$.{f.name}" for f in fields])
    unpack = ",\n    ".join(f"ty[{i}] as t_{f.name}, sv[{i}] as s_{f.name}" for i, f in enumerate(fields, start=1))
    typed = ",\n    ".join(f"{_typed(f)} as v_{f.name}" for f in fields)
    ts_ok = ",\n    ".join(
        f"regexp_full_match(s_{f.name}, {_lit(contract.TIMESTAMP_WITH_OFFSET_RE[1:-1])}) as ts_ok_{f.name}"
        for f in fields if f.kind == "timestamp")
    reason = "\n      ".join(f"when {c} then {_lit(r)}" for c, r in _rules())
    out = ",\n  ".join(f"{_landed_value(f)} as {f.name}" for f in fields)
    # keys present that the line's event type allows (json null counts: it is not dropped either)
    def allowed_present(f: Field) -> str:
        if f in contract.COMMON_FIELDS:
            return f"(t_{f.name} is not null)::int"
        codes = ", ".join(str(_type_codes()[p]) for p in contract.types_with_field(f.name))
        return f"(t_{f.name} is not null and et in ({codes}))::int"

    present = " + ".join(allowed_present(f) for f in fields)
    present = f"({present})"
    return f"""
with parsed as (
  select line_no, ok, obj,
    case when obj then json_type(line, {paths}) end as ty,
    case when obj then json_extract_string(line, {paths}) end as sv,
    case when obj then json_keys(line) end as keys
  from (
    select line_no, line, json_valid(line) as ok,
      json_valid(line) and starts_with(ltrim(line, e' \\t\\r\\n'), '{{') as obj
    from raw
  )
), unpacked as (
  select line_no, ok, obj, keys,
    {unpack}
  from parsed
), typed as (
  select *,
    s_tool as tool_, {_et_sql()} as et,
    s_schema_version in ({", ".join(_lit(f"{contract.SCHEMA_MAJOR}.{i}") for i in range(10))}) as sv_ok,
    {ts_ok},
    {typed}
  from unpacked
), judged as (
  select *,
    case
      {reason}
    end as reason
  from typed
)
select line_no, reason,
  case when reason is null and len(keys) > {present}
       then list_filter(keys, lambda k: not list_contains({allowed_sql()}, k)) end as dropped,
  {out},
  cast(timezone('UTC', v_occurred_at) as date) as event_date
from judged
"""
