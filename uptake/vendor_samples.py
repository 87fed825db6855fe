"""Realistic vendor exports for a generated organization: `uptake generate --vendor-exports`.

Writes `vendor/` beside `landing/`: a month of GitHub Copilot users-1-day NDJSON, Microsoft 365 Copilot usage
reports pulled daily (Graph JSON, and the CSV download for the last pull), a Viva Insights person query, a
ChatGPT Enterprise engagement CSV, Amazon Connect contact records (some delivered twice, some updated), and
OpenTelemetry GenAI spans (with content attributes, which must never land). Field names are the vendors'
own. Adds `reference/identities.csv` (the vendor identities of roster actors) and
`reference/vendor_mapping.csv` (the contact center's queues). What it planted goes to `vendor_truth.json`
(and is returned), so tests can check what lands against it.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

DOMAIN = "meridian.example"
# Graph's per-app column and the admin center's CSV header for it
M365_APPS = {"microsoftTeamsCopilotLastActivityDate": "Microsoft Teams Copilot Last Activity Date",
             "wordCopilotLastActivityDate": "Word Copilot Last Activity Date",
             "excelCopilotLastActivityDate": "Excel Copilot Last Activity Date",
             "powerPointCopilotLastActivityDate": "PowerPoint Copilot Last Activity Date",
             "outlookCopilotLastActivityDate": "Outlook Copilot Last Activity Date",
             "copilotChatLastActivityDate": "Copilot Chat Last Activity Date"}
VIVA_APPS = ("Teams", "Outlook", "Word", "Excel")
QUEUES = {"CC-MEM": "Member Services", "CC-PRV": "Provider Services"}
ACW_SAVING_S = 90.0


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _under(units: list[dict[str, str]], root: str) -> set[str]:
    kids: dict[str, list[str]] = {}
    for u in units:
        kids.setdefault(u["parent_org_unit"], []).append(u["org_unit"])
    out: set[str] = set()
    todo = [root]
    while todo:
        unit = todo.pop()
        out.add(unit)
        todo += kids.get(unit, [])
    return out


def write_vendor_exports(out: str | Path, seed: int = 1) -> dict[str, Any]:
    out = Path(out)
    ref, dest = out / "reference", out / "vendor"
    dest.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 7919)
    units = _read(ref / "org_units.csv")
    roster = _read(ref / "roster.csv")
    month = max(r["month"] for r in _read(ref / "licenses.csv"))
    first = dt.date.fromisoformat(month + "-01")
    last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    workdays = [d for d in days if d.weekday() < 5]

    def present(r: dict[str, str]) -> bool:  # on the roster the whole month
        return r["valid_from"] <= first.isoformat() and (not r["valid_to"] or r["valid_to"] > last.isoformat())

    corporate = sorted(r["actor_id"] for r in roster if r["org_unit"] in _under(units, "BU-CS") and present(r))
    engineers = sorted(r["actor_id"] for r in roster if r["role"] == "engineer" and present(r))
    agents = sorted((r["actor_id"], r["org_unit"]) for r in roster
                    if r["role"] == "contact_center_agent" and present(r))
    planted: dict[str, Any] = {"month": month, "copilot_actions": Counter(), "copilot_users": set(),
                               "calls": 0, "content_values": []}
    identities: list[tuple[str, str, str]] = []

    def email(a: str) -> str:
        return f"{a.lower()}@{DOMAIN}"

    # GitHub Copilot: users-1-day, one NDJSON line per engineer and day
    with (dest / f"github_copilot_users_1_day_{month}.ndjson").open("w") as fh:
        for a in engineers:
            identities.append((a, "github", f"{a.lower()}-meridian"))
            for d in workdays:
                gen = int(rng.poisson(30)) if rng.random() < 0.85 else 0
                acc = int(rng.binomial(gen, 0.3))
                chat = int(rng.poisson(4)) if rng.random() < 0.6 else 0
                features = [{"feature": "code_completion", "user_initiated_interaction_count": 0,
                             "code_generation_activity_count": gen, "code_acceptance_activity_count": acc,
                             "loc_suggested_to_add_sum": gen * 3, "loc_added_sum": acc * 3}]
                if chat:
                    features.append({"feature": "chat_panel_agent_mode", "user_initiated_interaction_count": chat,
                                     "code_generation_activity_count": chat * 2,
                                     "code_acceptance_activity_count": chat,
                                     "loc_suggested_to_add_sum": chat * 20, "loc_added_sum": chat * 12})
                fh.write(json.dumps({
                    "day": d.isoformat(), "enterprise_id": "1", "user_id": 1000 + len(identities),
                    "user_login": f"{a.lower()}-meridian", "user_initiated_interaction_count": chat,
                    "code_generation_activity_count": gen + chat * 2, "code_acceptance_activity_count": acc + chat,
                    "loc_suggested_to_add_sum": gen * 3 + chat * 20, "loc_added_sum": acc * 3 + chat * 12,
                    "used_agent": bool(chat), "used_chat": bool(chat), "used_cli": False,
                    "totals_by_feature": features,
                    "totals_by_ide": [{"ide": "vscode", "code_generation_activity_count": gen + chat * 2,
                                       "code_acceptance_activity_count": acc + chat}],
                }) + "\n")
                n = gen + chat * 2 + chat  # generations (accepted and discarded) and prompts
                if n:
                    planted["copilot_actions"]["github"] += n
                    planted["copilot_users"].add(a)

    # Microsoft 365 Copilot: the usage report pulled daily for the month's last week, and Viva Insights
    office = [a for a in corporate if a not in engineers]
    active = {a: {app: sorted({d for d in workdays if rng.random() < 0.35}) for app in M365_APPS} for a in office}
    for a in office:
        identities.append((a, "m365", email(a)))
        identities.append((a, "viva", email(a)))
    pulls = [d for d in days if d > last - dt.timedelta(days=7)]
    seen_days: set[tuple[str, str, dt.date]] = set()
    for i, pull in enumerate(pulls):
        rows = []
        for a in office:
            row: dict[str, Any] = {"reportRefreshDate": pull.isoformat(), "userPrincipalName": email(a),
                                   "displayName": f"User {a}"}
            dates: dict[str, dt.date] = {}
            for app in M365_APPS:
                past = [d for d in active[a][app] if d <= pull]
                row[app] = past[-1].isoformat() if past else ""
                if past:
                    dates[app] = past[-1]
                    seen_days.add((a, app, past[-1]))
            latest = max(dates.values(), default=None)
            row["lastActivityDate"] = latest.isoformat() if latest else ""
            rows.append(row)
        if i == len(pulls) - 1:  # the admin center's CSV download, same data, its own header names
            with (dest / f"m365_copilot_usage_{pull.isoformat()}.csv").open("w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["Report Refresh Date", "User Principal Name", "Display Name", "Last Activity Date",
                            *M365_APPS.values(),
                            "Report Period"])
                for r in rows:
                    w.writerow([r["reportRefreshDate"], r["userPrincipalName"], r["displayName"],
                                r["lastActivityDate"], *(r[app] for app in M365_APPS),
                                "7"])
        else:
            (dest / f"m365_copilot_usage_{pull.isoformat()}.json").write_text(json.dumps(
                {"@odata.context": "https://graph.microsoft.com/beta/$metadata#reports", "value": rows}, indent=1))
    for a, _app, _d in seen_days:
        planted["copilot_actions"]["m365"] += 1
        planted["copilot_users"].add(a)
    with (dest / f"viva_person_query_{month}.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["PersonId", "MetricDate", *(f"Copilot_actions_taken_in_{x}" for x in VIVA_APPS),
                    "Collaboration_hours", "Organization"])
        for a in office:
            for d in workdays:
                if d.weekday() != 0:
                    continue  # weekly rows, dated the week's Monday
                counts = [int(rng.poisson(6)) if rng.random() < 0.7 else 0 for _ in VIVA_APPS]
                w.writerow([email(a), f"{d.month}/{d.day}/{d.year}", *counts, round(float(rng.uniform(5, 20)), 1),
                            "Corporate Services"])
                planted["copilot_actions"]["viva"] += sum(counts)
                if sum(counts):
                    planted["copilot_users"].add(a)

    # ChatGPT Enterprise: weekly engagement per member of corporate services
    with (dest / f"chatgpt_user_engagement_{month}.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["period_start", "period_end", "account_id", "public_id", "name", "email", "role", "is_active",
                    "messages", "gpt_messages", "tool_messages", "project_messages"])
        for a in corporate:
            identities.append((a, "chatgpt", email(a)))
            for d in workdays:
                if d.weekday() != 0:
                    continue
                msgs = int(rng.poisson(25)) if rng.random() < 0.6 else 0
                w.writerow([d.isoformat(), (d + dt.timedelta(days=6)).isoformat(), "acct-1", f"user-{a}",
                            f"User {a}", email(a), "standard-user", str(bool(msgs)).lower(), msgs,
                            msgs // 5, msgs // 4, msgs // 10])
                planted["copilot_actions"]["chatgpt"] += msgs
                if msgs:
                    planted["copilot_users"].add(a)

    # Amazon Connect: contact records; AI summaries offered at random, after-contact work shorter with one
    contacts = []
    for a, unit in agents:
        identities.append((a, "amazon_connect", f"agent.{a.lower()}"))
        dept = next(p for p in QUEUES if unit.startswith(p))
        for d in workdays[:10]:
            for k in range(int(rng.integers(2, 5))):
                start = dt.datetime.combine(d, dt.time(13), dt.UTC) + dt.timedelta(minutes=int(rng.integers(0, 420)))
                talk, hold = int(rng.gamma(6, 50)), int(rng.integers(0, 60))
                offered = bool(rng.random() < 0.5)
                acw = max(5, int(rng.normal(240 - (ACW_SAVING_S if offered else 0), 45)))
                end = start + dt.timedelta(seconds=talk + hold)
                cid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"connect/{seed}/{a}/{d}/{k}"))
                rec = {
                    "AWSAccountId": "123456789012", "Channel": "VOICE", "ContactId": cid,
                    "InitiationMethod": "INBOUND", "InitiationTimestamp": start.isoformat().replace("+00:00", "Z"),
                    "ConnectedToSystemTimestamp": start.isoformat().replace("+00:00", "Z"),
                    "DisconnectTimestamp": end.isoformat().replace("+00:00", "Z"),
                    "LastUpdateTimestamp": (end + dt.timedelta(seconds=acw + 30)).isoformat().replace("+00:00", "Z"),
                    "Queue": {"Name": QUEUES[dept], "ARN": f"arn:aws:connect:us-east-1:123456789012:queue/{dept}",
                              "Duration": int(rng.integers(5, 120))},
                    "Agent": {"Username": f"agent.{a.lower()}", "AgentInteractionDuration": talk,
                              "CustomerHoldDuration": hold, "AfterContactWorkDuration": acw,
                              "HierarchyGroups": {"Level1": {"GroupName": "Contact Center"},
                                                  "Level2": {"GroupName": QUEUES[dept]}}},
                    "Attributes": {"ai_summary_offered": str(offered).lower(),
                                   "member_note": "member called about a claim"},
                    "ContactLens": {"ConversationalAnalytics": {"Configuration": {
                        "Enabled": True,
                        "SummaryConfiguration": {"SummaryModes": ["PostContact"] if offered else []}}}},
                }
                contacts.append(rec)
                planted["calls"] += 1
    order = rng.permutation(len(contacts))
    with (dest / f"amazon_connect_ctr_{month}.jsonl").open("w") as fh:
        for i in order:
            rec = contacts[i]
            if rng.random() < 0.05:  # first delivered while after-contact work was still running
                early = json.loads(json.dumps(rec))
                early["Agent"]["AfterContactWorkDuration"] = None
                early["LastUpdateTimestamp"] = rec["DisconnectTimestamp"]
                fh.write(json.dumps(early) + "\n")
            fh.write(json.dumps(rec) + "\n")
            if rng.random() < 0.03:  # at least once: delivered again as is
                fh.write(json.dumps(rec) + "\n")

    # OpenTelemetry GenAI: an internal prior-authorization assistant's spans, content attributes included
    users = corporate[: max(12, len(corporate) // 2)]
    spans = []
    for a in users:
        identities.append((a, "otel", email(a)))
        for _ in range(int(rng.integers(3, 12))):
            d = workdays[int(rng.integers(0, len(workdays)))]
            t0 = int(dt.datetime.combine(d, dt.time(15), dt.UTC).timestamp() * 1e9)
            t0 += int(rng.integers(0, 30_000_000_000_000))
            secret = f"patient MRN {int(rng.integers(10**6, 10**7))} needs prior auth"
            planted["content_values"].append(secret)
            spans.append({"traceId": f"{int(rng.integers(0, 2**62)):032x}",
                          "spanId": f"{int(rng.integers(0, 2**62)):016x}",
                          "name": "chat gpt-4o", "kind": 3, "startTimeUnixNano": str(t0),
                          "endTimeUnixNano": str(t0 + 2_000_000_000),
                          "attributes": [
                              {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                              {"key": "gen_ai.provider.name", "value": {"stringValue": "azure.ai.openai"}},
                              {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
                              {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "812"}},
                              {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "240"}},
                              {"key": "enduser.id", "value": {"stringValue": email(a)}},
                              {"key": "gen_ai.input.messages", "value": {"stringValue": json.dumps(
                                  [{"role": "user", "parts": [{"type": "text", "content": secret}]}])}},
                              {"key": "gen_ai.output.messages", "value": {"stringValue": "draft: " + secret}},
                          ]})
            spans.append({"traceId": spans[-1]["traceId"], "spanId": f"{int(rng.integers(0, 2**62)):016x}",
                          "name": "GET /members", "kind": 3, "startTimeUnixNano": str(t0),
                          "endTimeUnixNano": str(t0 + 10_000_000),
                          "attributes": [{"key": "http.request.method", "value": {"stringValue": "GET"}}]})
            planted["copilot_actions"]["otel"] += 1
            planted["copilot_users"].add(a)
    (dest / f"otel_genai_spans_{month}.json").write_text(json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "prior-auth-assistant"}}]},
        "scopeSpans": [{"scope": {"name": "opentelemetry.instrumentation.openai"}, "spans": spans}],
    }]}))

    with (ref / "identities.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["actor_id", "system", "external_id"])
        w.writerows(sorted(set(identities)))
    with (ref / "vendor_mapping.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["system", "kind", "vendor_key", "app", "action", "capability", "workflow", "org_unit", "value"])
        for q in QUEUES.values():
            w.writerow(["amazon_connect", "queue", q, "", "", "call_summarization.contact_lens.summary",
                        "call_summary", "", ""])
    planted["copilot_users"] = len(planted["copilot_users"])
    planted["copilot_actions"] = dict(planted["copilot_actions"])
    planted["acw_saving_seconds"] = ACW_SAVING_S
    (out / "vendor_truth.json").write_text(json.dumps(planted, indent=2, sort_keys=True))
    return planted
