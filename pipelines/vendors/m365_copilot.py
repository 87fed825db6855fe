"""Microsoft 365 Copilot: the Graph usage report and the Viva Insights person query → copilot `assist` events.

*Usage report* (`getMicrosoft365CopilotUsageUserDetail`, JSON `{"value": [...]}` or the CSV download): one row
per licensed user with the last day Copilot was used in each app (`… Last Activity Date`). Each dated
app becomes an `active_day` event for that user, app and day; the event id is built from them, so daily pulls
accumulate activity days and a day seen again is a duplicate. Only the last day per app is in a pull: pull
daily to see every active day. Identity: `User Principal Name` (system `m365`).

*Viva Insights person query* (CSV): one row per person and `MetricDate` with `Copilot_actions_taken_in_<App>`
columns; each non-zero count becomes an event with that count, which the estimate values through
minutes_per_action.csv. Identity: `PersonId` (system `viva`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from pipelines.vendors import (
    Item,
    Mapping,
    Record,
    as_count,
    assist_event,
    by_norm,
    csv_records,
    day_start,
    head_text,
    json_records,
    norm_key,
)

USAGE_SOURCE = "m365-copilot-usage-report"
VIVA_SOURCE = "viva-insights-person-query"
# Per-app columns of the usage report end so (normalized): `wordCopilotLastActivityDate`,
# `copilotChatLastActivityDate`, …; the app is what comes before, mapped by vendor_mapping.csv (system m365).
APP_COLUMN_SUFFIX = "lastactivitydate"
VIVA_PREFIX = norm_key("Copilot_actions_taken_in_")


def _app(col: str) -> str:
    """The app of a Viva metric column, however its prefix is spelled (`Copilot_actions_taken_in_Teams`,
    `CopilotActionsTakenInTeams` → `Teams`): the part after the prefix's letters, as written. A prefix spelled
    with its separators is cut at its length, as it always was: the app is in the event id."""
    usual = len("Copilot_actions_taken_in_")
    if norm_key(col[:usual]) == VIVA_PREFIX:
        return col[usual:]
    seen = 0
    for i, ch in enumerate(col):
        if seen == len(VIVA_PREFIX):
            return col[i:].lstrip(" _-.")
        seen += bool(norm_key(ch))
    return ""


class M365CopilotUsage:
    name = "m365_copilot_usage"
    system = "m365"

    def detect(self, head: str, suffix: str) -> bool:
        h = norm_key(head)
        return "userprincipalname" in h and "copilotlastactivitydate" in h

    def records(self, path: str | Path) -> Iterator[Record]:
        """The admin center's CSV or Graph's JSON, told by the first character (the file's name may say neither)."""
        if head_text(path).lstrip()[:1] in ("[", "{"):
            return json_records(path, containers=("value",))
        return csv_records(path)

    def translate(self, rec: Record, m: Mapping) -> Iterator[Item]:
        v = by_norm(rec.value or {})
        q = rec.quarantine
        upn = v.get("userprincipalname")
        if not isinstance(upn, str) or not upn.strip():
            yield q("vendor_mapping:missing_field:userPrincipalName")
            return
        dated = []
        for col, value in v.items():
            if not col.endswith(APP_COLUMN_SUFFIX) or col == APP_COLUMN_SUFFIX or value in (None, ""):
                continue
            app = col.removesuffix(APP_COLUMN_SUFFIX).removesuffix("copilot")
            occurred = day_start(value)
            if occurred is None:
                yield q(f"vendor_mapping:invalid_value:{col}")
                return
            dated.append((app, value[:10], occurred))
        if not dated:
            yield Item(rec.line, "blank")  # a licensed user with no Copilot activity in the period
            return
        actor = m.actor(self.system, upn)
        if actor is None:
            yield q("vendor_mapping:unknown_identity")
            return
        for app, day, occurred in dated:
            row = m.row(self.system, "assist", app)
            if row is None:
                yield q("vendor_mapping:unknown_app")
                continue
            yield Item(rec.line, "event", assist_event(m, self.system, (upn.strip().casefold(), app, day), occurred,
                                                       USAGE_SOURCE, actor, row, 1))


class VivaCopilot:
    name = "viva_copilot"
    system = "viva"

    def detect(self, head: str, suffix: str) -> bool:
        h = norm_key(head)
        return "personid" in h and "metricdate" in h and VIVA_PREFIX in h

    def records(self, path: str | Path) -> Iterator[Record]:
        return csv_records(path)

    def translate(self, rec: Record, m: Mapping) -> Iterator[Item]:
        raw_cols = rec.value or {}
        v = by_norm(raw_cols)
        q = rec.quarantine
        person, day = v.get("personid"), v.get("metricdate")
        if not person:
            yield q("vendor_mapping:missing_field:PersonId")
            return
        occurred = day_start(_iso_day(day))
        if occurred is None:
            yield q("vendor_mapping:invalid_value:MetricDate")
            return
        counts = []
        for col, value in raw_cols.items():
            k = norm_key(col)
            if not k.startswith(VIVA_PREFIX):
                continue
            n = as_count(value)
            if n is None:
                yield q(f"vendor_mapping:invalid_value:{col}")
                return
            if n:
                counts.append((_app(col), n))
        if not counts:
            yield Item(rec.line, "blank")
            return
        actor = m.actor(self.system, person)
        if actor is None:
            yield q("vendor_mapping:unknown_identity")
            return
        for app, n in counts:
            row = m.row(self.system, "assist", app)
            if row is None:
                yield q("vendor_mapping:unknown_app")
                continue
            yield Item(rec.line, "event", assist_event(m, self.system, (str(person).casefold(), _iso_day(day), app),
                                                       occurred, VIVA_SOURCE, actor, row, n))


def _iso_day(value: object) -> str:
    """Viva writes dates as `M/D/YYYY` in CSV downloads and `YYYY-MM-DD` elsewhere."""
    s = str(value or "").strip()
    mdy = re.fullmatch(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})", s)
    if mdy:
        return f"{mdy.group(3)}-{int(mdy.group(1)):02d}-{int(mdy.group(2)):02d}"
    return s
