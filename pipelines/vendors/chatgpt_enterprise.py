"""ChatGPT Enterprise user engagement CSV → copilot `assist` events, one per user and period.

Each row (`period_start`, `period_end`, `email`, `is_active`, `messages`, …) with messages becomes one event
on `period_start` whose count is `messages`; the breakdowns (`gpt_messages`, `tool_messages`,
`project_messages`) are parts of that total and are not landed separately. A row without messages is blank.
Identity: `email` (system `chatgpt`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pipelines.vendors import Item, Mapping, Record, as_count, assist_event, by_norm, csv_records, day_start, norm_key

SOURCE = "chatgpt-enterprise-engagement"


class ChatGPTEnterprise:
    name = "chatgpt_enterprise"
    system = "chatgpt"

    def detect(self, head: str, suffix: str) -> bool:
        first = norm_key(head.splitlines()[0]) if head else ""
        return all(k in first for k in ("periodstart", "email", "messages"))

    def records(self, path: str | Path) -> Iterator[Record]:
        return csv_records(path)

    def translate(self, rec: Record, m: Mapping) -> Iterator[Item]:
        v = by_norm(rec.value or {})
        q = rec.quarantine
        email = v.get("email")
        if not email:
            yield q("vendor_mapping:missing_field:email")
            return
        occurred = day_start(v.get("periodstart"))
        if occurred is None:
            yield q("vendor_mapping:invalid_value:period_start")
            return
        if "messages" not in v:  # an empty cell reports no messages; a missing column reports nothing
            yield q("vendor_mapping:missing_field:messages")
            return
        n = as_count(v.get("messages"))
        if n is None:
            yield q("vendor_mapping:invalid_value:messages")
            return
        if n == 0:
            yield Item(rec.line, "blank")  # an inactive seat this period
            return
        actor = m.actor(self.system, email)
        if actor is None:
            yield q("vendor_mapping:unknown_identity")
            return
        row = m.row(self.system, "assist", "messages")
        if row is None:
            yield q("vendor_mapping:unknown_feature")
            return
        period = (str(v.get("periodstart"))[:10], str(v.get("periodend") or "")[:10])
        yield Item(rec.line, "event", assist_event(m, self.system, (email.casefold(), *period), occurred, SOURCE,
                                                   actor, row, n))
