"""Amazon Connect contact records (CTR JSON: one per line, or a JSON array) → `call_completed` events.

Contact records are delivered at least once and updated: within a run, the copy with the newest
`LastUpdateTimestamp` per `ContactId` is the one translated, the others count as duplicates. The call's
work item is its `ContactId`; `occurred_at` its `DisconnectTimestamp`; `handle_seconds` the agent's
interaction plus hold time; `acw_seconds` `Agent.AfterContactWorkDuration`. Whether an AI summary was offered
comes from the contact attribute named by the `ai_summary_attribute` setting, else from Contact Lens
(`SummaryModes` holding `PostContact`). `Queue.Name` maps to a workflow (and optionally an org unit) through
`vendor_mapping.csv` rows of kind `queue`. A contact that never reached an agent is blank. Contact
attributes are never landed (they may carry member data): they are counted as dropped.
Identity: `Agent.Username` (system `amazon_connect`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipelines.vendors import SCHEMA_VERSION, Item, Mapping, Record, json_records

SOURCE = "amazon-connect-ctr"
TRUE = {"true", "yes", "1", "y", "offered"}
FALSE = {"false", "no", "0", "n", "not_offered", ""}


def _ts(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def _seconds(value: Any) -> float | None:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


class AmazonConnect:
    name = "amazon_connect"
    system = "amazon_connect"

    def detect(self, head: str, suffix: str) -> bool:
        return bool(re.search(r'"ContactId"\s*:', head) and re.search(r'"InitiationTimestamp"\s*:', head))

    def records(self, path: str | Path) -> Iterator[Record]:
        return json_records(path)

    def version_key(self, rec: Record) -> tuple[str, str] | None:
        """(ContactId, version): the run keeps the newest version of each contact."""
        v = rec.value
        if not v or not isinstance(v.get("ContactId"), str):
            return None
        t = _ts(v.get("LastUpdateTimestamp"))
        return v["ContactId"], (t.astimezone(dt.UTC).isoformat() if t else "")

    def translate(self, rec: Record, m: Mapping) -> Iterator[Item]:
        v = rec.value or {}
        q = rec.quarantine
        contact = v.get("ContactId")
        if not isinstance(contact, str) or not contact:
            yield q("vendor_mapping:missing_field:ContactId")
            return
        if v.get("Attributes"):
            yield Item(rec.line, "dropped", reason="Attributes")
        agent = v.get("Agent")
        if agent is None:
            yield Item(rec.line, "blank")  # abandoned, self-service or transferred away before an agent
            return
        if not isinstance(agent, dict):
            yield q("vendor_mapping:invalid_value:Agent")
            return
        username = agent.get("Username")
        if not isinstance(username, str) or not username:
            yield q("vendor_mapping:missing_field:Agent.Username")
            return
        ended = _ts(v.get("DisconnectTimestamp"))
        if ended is None:
            yield q("vendor_mapping:invalid_value:DisconnectTimestamp")
            return
        talk, hold, acw = (_seconds(agent.get(k)) for k in
                           ("AgentInteractionDuration", "CustomerHoldDuration", "AfterContactWorkDuration"))
        if talk is None or hold is None or acw is None:
            yield q("vendor_mapping:invalid_value:Agent.duration")
            return
        queue = v.get("Queue") or {}
        queue_name = queue.get("Name") if isinstance(queue, dict) else None
        row = m.row(self.system, "queue", queue_name or "")
        if row is None or not row.get("workflow"):
            yield q("vendor_mapping:unknown_queue")
            return
        offered = self._offered(v, m)
        if offered is None:
            yield q("vendor_mapping:invalid_value:ai_summary_attribute")
            return
        actor = m.actor(self.system, username)
        if actor is None:
            yield q("vendor_mapping:unknown_identity")
            return
        ev: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "event_id": m.event_id(self.system, contact),
            "occurred_at": ended.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "source": SOURCE,
            "tool": "call_summarization",
            "event_type": "call_completed",
            "actor_id": actor,
            "capability": row.get("capability") or m.setting(self.system, "capability",
                                                             "call_summarization.contact_lens.summary"),
            "workflow": row["workflow"],
            "work_item_id": contact,
            "handle_seconds": talk + hold,
            "acw_seconds": acw,
            "ai_summary_offered": offered,
        }
        if queue_name:
            ev["queue"] = queue_name
        if row.get("org_unit"):
            ev["org_unit"] = row["org_unit"]
        yield Item(rec.line, "event", ev)

    def _offered(self, v: dict[str, Any], m: Mapping) -> bool | None:
        attrs = v.get("Attributes") or {}
        name = m.setting(self.system, "ai_summary_attribute", "ai_summary_offered")
        if isinstance(attrs, dict) and name in attrs:
            flag = str(attrs[name]).strip().casefold()
            return True if flag in TRUE else False if flag in FALSE else None
        modes = (((v.get("ContactLens") or {}).get("ConversationalAnalytics") or {}).get("Configuration") or {})
        modes = (modes.get("SummaryConfiguration") or {}).get("SummaryModes") or []
        return isinstance(modes, list) and "PostContact" in modes
