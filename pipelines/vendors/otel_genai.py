"""OpenTelemetry GenAI spans in OTLP/JSON → copilot `assist` events, one per GenAI span.

Reads an `ExportTraceServiceRequest` document (`resourceSpans[].scopeSpans[].spans[]`) or the file
exporter's JSON lines (one such document per line). A span is GenAI when it has `gen_ai.operation.name`;
other spans are blank. The operation maps to app, action and capability (`vendor_mapping.csv`, system
`otel`); the user comes from the attribute named by the `user_attribute` setting (default `enduser.id`, then
`user.id`), on the span or its resource. Provider, model and token counts are not in the event contract and
are not landed. Content attributes (`gen_ai.input.messages`, `gen_ai.output.messages`,
`gen_ai.system_instructions`, tool call arguments and results) are never landed, and are stripped even from
quarantined spans and records (a record that does not parse is kept as read, as any quarantined line); they are
counted as dropped fields. Identity: the user id (system `otel`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from pipelines.vendors import Item, Mapping, Record, assist_event, json_records, quarantined

SOURCE = "otel-genai"
CONTENT_ATTRIBUTES = frozenset({
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "gen_ai.tool.definitions",
    "gen_ai.prompt", "gen_ai.completion",  # older semantic conventions
})


def _value(v: Any) -> Any:
    """An OTLP/JSON AnyValue as a Python value (int64 arrive as strings in OTLP/JSON)."""
    if not isinstance(v, dict):
        return None
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        try:
            return int(v["intValue"])
        except (TypeError, ValueError):
            return None
    if "doubleValue" in v:
        return v["doubleValue"]
    if "boolValue" in v:
        return v["boolValue"]
    if "arrayValue" in v:
        return [_value(x) for x in (v["arrayValue"] or {}).get("values", [])]
    return None


def _attributes(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in items if isinstance(items, list) else []:
        if isinstance(a, dict) and isinstance(a.get("key"), str):
            out[a["key"]] = _value(a.get("value"))
    return out


def _strip_content(span: dict[str, Any]) -> bytes:
    clean = dict(span)
    clean["attributes"] = [a for a in span.get("attributes") or []
                           if not (isinstance(a, dict) and a.get("key") in CONTENT_ATTRIBUTES)]
    clean.pop("events", None)  # span events may carry content under the older conventions
    return json.dumps(clean, separators=(",", ":")).encode()


def _without_content(v: Any) -> Any:
    """A record without content attributes and span events, at any depth (its shape may be unexpected)."""
    if isinstance(v, dict):
        return {k: _without_content(x) for k, x in v.items() if k != "events"}
    if isinstance(v, list):
        return [_without_content(x) for x in v if not (isinstance(x, dict) and x.get("key") in CONTENT_ATTRIBUTES)]
    return v


class OtelGenAI:
    name = "otel_genai"
    system = "otel"

    def detect(self, head: str, suffix: str) -> bool:
        return bool(re.search(r'"resourceSpans"\s*:', head))

    def records(self, path: str | Path) -> Iterator[Record]:
        """The records, each one's raw bytes (what quarantine keeps of it) without content, wherever it sits."""
        for rec in json_records(path, containers=("resourceSpans",)):
            if rec.value is None:
                yield rec
                continue
            try:
                raw = json.dumps(_without_content(rec.value), separators=(",", ":")).encode()
            except RecursionError:  # nested too deep to strip: not kept
                yield Record(rec.line, b"", reason="vendor_mapping:unexpected_structure")
                continue
            yield Record(rec.line, raw, rec.value)

    def translate(self, rec: Record, m: Mapping) -> Iterator[Item]:
        v = rec.value or {}
        resources = v.get("resourceSpans") if "resourceSpans" in v else [v]
        if not isinstance(resources, list):
            yield rec.quarantine("vendor_mapping:invalid_value:resourceSpans")
            return
        user_attr = m.setting(self.system, "user_attribute", "enduser.id")
        for rs in resources:
            if not isinstance(rs, dict):
                yield rec.quarantine("vendor_mapping:invalid_value:resourceSpans")
                continue
            resource = _attributes((rs.get("resource") or {}).get("attributes"))
            for ss in rs.get("scopeSpans") or []:
                for span in (ss or {}).get("spans") or []:
                    if isinstance(span, dict):
                        yield from self._span(rec.line, span, resource, user_attr, m)

    def _span(self, line: int, span: dict[str, Any], resource: dict[str, Any], user_attr: str,
              m: Mapping) -> Iterator[Item]:
        attrs = _attributes(span.get("attributes"))
        for name in sorted(CONTENT_ATTRIBUTES & attrs.keys()):
            yield Item(line, "dropped", reason=name)
        operation = attrs.get("gen_ai.operation.name")
        if not operation:
            yield Item(line, "blank")  # not a GenAI span (an HTTP call, a database query, …)
            return
        q = partial(quarantined, line, raw=_strip_content(span))
        trace, span_id = span.get("traceId"), span.get("spanId")
        if not trace or not span_id:
            yield q("vendor_mapping:missing_field:spanId")
            return
        try:
            ended = dt.datetime.fromtimestamp(int(span["endTimeUnixNano"]) / 1e9, dt.UTC)
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            yield q("vendor_mapping:invalid_value:endTimeUnixNano")
            return
        user = next((x[k] for x in (attrs, resource) for k in (user_attr, "user.id") if x.get(k)), None)
        if user is None:
            yield q(f"vendor_mapping:missing_field:{user_attr}")
            return
        row = m.row(self.system, "assist", str(operation))
        if row is None:
            yield q("vendor_mapping:unknown_operation")
            return
        actor = m.actor(self.system, user)
        if actor is None:
            yield q("vendor_mapping:unknown_identity")
            return
        occurred = ended.isoformat(timespec="microseconds").replace("+00:00", "Z")
        source = str(resource.get("service.name") or SOURCE)
        yield Item(line, "event", assist_event(m, self.system, (trace, span_id), occurred, source, actor, row, 1))
