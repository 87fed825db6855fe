"""GitHub Copilot usage-metrics reports (`users-1-day`, NDJSON) → copilot `assist` events.

One record per user and day. For each entry of `totals_by_feature` (feature mapped by `vendor_mapping.csv`,
system `github`): code generations accepted (`outcome` accepted, count = `code_acceptance_activity_count`),
generations not accepted (`outcome` discarded, count = generations − acceptances), and the user's own
prompts (action `prompt`, count = `user_initiated_interaction_count`). A day with no activity is blank.
Identity: `user_login` through identities.csv (system `github`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from pipelines.vendors import Item, Mapping, Record, as_count, assist_event, day_start, json_records

SOURCE = "github-copilot-metrics"


class GitHubCopilot:
    name = "github_copilot"
    system = "github"

    def detect(self, head: str, suffix: str) -> bool:
        return bool(re.search(r'"user_login"\s*:', head) and re.search(r'"totals_by_feature"\s*:', head))

    def records(self, path: str | Path) -> Iterator[Record]:
        return json_records(path)

    def translate(self, rec: Record, m: Mapping) -> Iterator[Item]:
        v = rec.value or {}
        q = rec.quarantine
        login, day = v.get("user_login"), v.get("day")
        if not isinstance(login, str) or not login:
            yield q("vendor_mapping:missing_field:user_login")
            return
        occurred = day_start(day)
        if occurred is None or not isinstance(day, str):
            yield q("vendor_mapping:invalid_value:day")
            return
        features = v.get("totals_by_feature")
        if features is None:
            features = []
        if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
            yield q("vendor_mapping:invalid_value:totals_by_feature")
            return
        actor = m.actor(self.system, login)
        if actor is None:
            yield q("vendor_mapping:unknown_identity")
            return
        prompt_action = m.setting(self.system, "prompt_action", "prompt")
        emitted = False
        for f in features:
            feature = f.get("feature")
            gen = as_count(f.get("code_generation_activity_count"))
            acc = as_count(f.get("code_acceptance_activity_count"))
            asked = as_count(f.get("user_initiated_interaction_count"))
            if not isinstance(feature, str) or not feature:
                yield q("vendor_mapping:missing_field:feature")
                continue
            if gen is None or acc is None or asked is None or acc > gen:
                yield q("vendor_mapping:invalid_value:totals_by_feature")
                continue
            if gen == 0 and asked == 0:
                continue
            row = m.row(self.system, "assist", feature)
            if row is None:
                yield q("vendor_mapping:unknown_feature")
                continue
            parts = (login.casefold(), day[:10], feature)
            for outcome, n in (("accepted", acc), ("discarded", gen - acc)):
                if n:
                    yield Item(rec.line, "event", assist_event(m, self.system, (*parts, outcome), occurred, SOURCE,
                                                               actor, row, n, outcome))
                    emitted = True
            if asked:
                prompt = {**row, "action": prompt_action}
                yield Item(rec.line, "event", assist_event(m, self.system, (*parts, "prompt"), occurred, SOURCE,
                                                           actor, prompt, asked))
                emitted = True
        if not emitted:
            yield Item(rec.line, "blank")
