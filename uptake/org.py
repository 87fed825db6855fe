"""The synthetic organization's fixed design: its hierarchy, tools, capabilities and governance.

`uptake generate` (the `uptake/generate/` package) turns this design, a seed and a size into reference CSVs and
usage events. Kept apart so a reader can see the whole organization on one page.
"""

from __future__ import annotations

from dataclasses import dataclass

ENTERPRISE = ("ENT", "Meridian Health Plan")


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    parent: str | None
    level: str
    share: float = 0.0  # teams: share of the staff
    role: str = ""
    site: str = ""
    fixed_size: int = 0  # a team with a fixed head count (the small cell)


UNITS: tuple[Unit, ...] = (
    Unit("ENT", "Meridian Health Plan", None, "enterprise"),
    Unit("BU-CC", "Member Contact Center", "ENT", "business_unit"),
    Unit("CC-MEM", "Member Services", "BU-CC", "department"),
    Unit("CC-MEM-N", "Member Services North", "CC-MEM", "team", 0.14, "contact_center_agent", "Phoenix AZ"),
    Unit("CC-MEM-S", "Member Services South", "CC-MEM", "team", 0.14, "contact_center_agent", "Tampa FL"),
    Unit("CC-MEM-W", "Member Services West", "CC-MEM", "team", 0.10, "contact_center_agent", "remote"),
    Unit("CC-PRV", "Provider Services", "BU-CC", "department"),
    Unit("CC-PRV-A", "Provider Line A", "CC-PRV", "team", 0.10, "contact_center_agent", "Phoenix AZ"),
    Unit("CC-PRV-B", "Provider Line B", "CC-PRV", "team", 0.08, "contact_center_agent", "Tampa FL"),
    Unit("BU-SP", "Specialty Pharmacy", "ENT", "business_unit"),
    Unit("SP-INT", "Intake and Benefits Verification", "BU-SP", "department"),
    Unit("SP-INT-1", "Prior Authorization Intake", "SP-INT", "team", 0.07, "benefits_specialist", "Columbus OH"),
    Unit("SP-APL", "Appeals and Medical Necessity", "BU-SP", "department"),
    Unit("SP-APL-E", "Appeals East", "SP-APL", "team", 0.08, "appeals_specialist", "Columbus OH"),
    Unit("SP-APL-W", "Appeals West", "SP-APL", "team", 0.07, "appeals_specialist", "remote"),
    Unit("BU-CS", "Corporate Services", "ENT", "business_unit"),
    Unit("CS-FIN", "Finance", "BU-CS", "department"),
    Unit("CS-FIN-1", "Financial Planning and Analysis", "CS-FIN", "team", 0.06, "financial_analyst", "Columbus OH"),
    Unit("CS-TEC", "Technology", "BU-CS", "department"),
    Unit("CS-TEC-P", "Platform Engineering", "CS-TEC", "team", 0.08, "engineer", "remote"),
    Unit("CS-TEC-S", "Security Operations", "CS-TEC", "team", 0.0, "security_analyst", "Columbus OH", fixed_size=7),
    Unit("CS-HR", "People", "BU-CS", "department"),
    Unit("CS-HR-1", "People Partners", "CS-HR", "team", 0.08, "hr_partner", "Columbus OH"),
)
SMALL_TEAM = "CS-TEC-S"
UNIT_BY_CODE = {u.code: u for u in UNITS}
TEAMS = tuple(u for u in UNITS if u.level == "team")

HOURLY_COST = {  # role -> (mean, spread) in USD
    "contact_center_agent": (31.0, 3.0),
    "benefits_specialist": (38.0, 4.0),
    "appeals_specialist": (44.0, 5.0),
    "financial_analyst": (62.0, 8.0),
    "engineer": (82.0, 10.0),
    "security_analyst": (78.0, 8.0),
    "hr_partner": (52.0, 6.0),
    "team_lead": (48.0, 5.0),
    "director": (105.0, 10.0),
    "vice_president": (140.0, 12.0),
    "chief_executive": (260.0, 0.0),
}

# The accountable leader of each unit, as the organization publishes them (org_units.csv `leader`).
LEADER_NAMES = {
    "ENT": "Margaret Ellison", "BU-CC": "Renee Okafor", "CC-MEM": "Luis Carvalho", "CC-MEM-N": "Tanya Brooks",
    "CC-MEM-S": "Owen Delgado", "CC-MEM-W": "Priya Natarajan", "CC-PRV": "Samuel Whitaker",
    "CC-PRV-A": "Grace Lindqvist", "CC-PRV-B": "Marcus Bell", "BU-SP": "Helen Achterberg",
    "SP-INT": "Daniel Osei", "SP-INT-1": "Rosa Jimenez", "SP-APL": "Kevin Marsh", "SP-APL-E": "Aisha Rahman",
    "SP-APL-W": "Tom Kowalski", "BU-CS": "Ingrid Solberg", "CS-FIN": "Victor Huang", "CS-FIN-1": "Nadia Petrov",
    "CS-TEC": "Elena Rossi", "CS-TEC-P": "Jamal Wright", "CS-TEC-S": "Chloe Martin", "CS-HR": "Ben Adeyemi",
    "CS-HR-1": "Laura Fischer",
}
LEADER_TITLE = {"enterprise": "Chief Executive Officer", "business_unit": "Vice President",
                "department": "Director", "team": "Team Lead"}


def leader(u: Unit) -> str:
    """`Name, Title` as org_units.csv publishes the unit's leader."""
    return f"{LEADER_NAMES[u.code]}, {LEADER_TITLE[u.level]}"


# Workflows (workflows.csv).
WORKFLOWS = (
    # workflow, tool, accountability, unit_of_work, metric, service_metric, sla_hours, budget_owner
    ("call_summary", "call_summarization", "workflow", "call", "acw_seconds", "", "", "BU-CC"),
    ("lmn_letters", "lmn_drafting", "workflow", "letter", "work_seconds", "turnaround_hours", "96", "BU-SP"),
    ("copilot_productivity", "copilot", "business_unit", "action", "assisted_minutes", "", "", "BU-CS"),
)
CALL_TEAMS = ("CC-MEM-N", "CC-MEM-S", "CC-MEM-W", "CC-PRV-A", "CC-PRV-B")
LETTER_TEAMS = ("SP-INT-1", "SP-APL-E", "SP-APL-W")
# Go-live per team: (month index from the first generated month, day). None: never live (pure control).
# CC-MEM-W and SP-INT-1 go live in month 1: fewer than 3 full months before it, so no pre_go_live baseline.
GO_LIVE = {
    ("call_summary", "CC-MEM-N"): (3, 1),
    ("call_summary", "CC-MEM-S"): (4, 15),
    ("call_summary", "CC-MEM-W"): (1, 10),
    ("call_summary", "CC-PRV-A"): (3, 1),
    ("call_summary", "CC-PRV-B"): (5, 1),
    ("lmn_letters", "SP-APL-E"): (3, 1),
    ("lmn_letters", "SP-APL-W"): (4, 1),
    ("lmn_letters", "SP-INT-1"): (1, 20),
}

# Planted effects: what the AI saves per work item, in the workflow's metric.
ACW_SAVING_SECONDS = 90.0
WORK_SAVING_SECONDS = 1200.0  # staff time per AI-drafted letter (the valued saving)
TURNAROUND_SAVING_HOURS = 24.0  # elapsed time per AI-drafted letter (a service level, never valued)
LETTER_WORK_SECONDS = (4500.0, 900.0, 1200.0)  # unassisted staff time per letter: mean, per-person sd, per-letter sd
NO_WORK_SECONDS_PROBABILITY = 0.08  # letters submitted from a queue without time tracking: no work_seconds
OFFER_PROBABILITY = 0.5  # calls in live teams get an AI summary at random: an unbiased concurrent control
AI_DRAFT_PROBABILITY = 0.6

CALL_CAPABILITY = "call_summarization.genesys.summary"
LETTER_CAPABILITY = "lmn_drafting.letter.draft"
RETIRED_LETTER_CAPABILITY = "lmn_drafting.template.v1"

# Copilot app/action: (capability, minutes saved per action, weight)
COPILOT_ACTIONS = (
    ("outlook", "draft", "copilot.outlook.draft", 4.0, 0.22),
    ("outlook", "summarize", "copilot.outlook.summarize", 3.0, 0.15),
    ("word", "draft", "copilot.word.draft", 12.0, 0.12),
    ("excel", "formula", "copilot.excel.formula", 6.0, 0.10),
    ("excel", "analyze", "copilot.excel.analyst", 15.0, 0.07),  # pilot in CS-FIN only
    ("teams", "recap", "copilot.teams.recap", 8.0, 0.14),  # restricted in BU-CC from month 3
    ("chat", "ask", "copilot.chat.web", 5.0, 0.08),  # no decision: shadow AI
    ("vscode", "complete", "copilot.github.completion", 2.0, 0.12),  # engineers only
)
COPILOT_UNITS = ("BU-CS", "BU-SP")  # licensed subtrees; contact-center team leads and leaders also licensed


def governance_rows(start_iso: str, month_start: list[str]) -> list[tuple[str, str, str, str, str, str]]:
    """governance.csv rows: cleared, pilot-scoped, restricted from a date, retired; chat has none."""
    m3 = month_start[min(3, len(month_start) - 1)]
    m2 = month_start[min(2, len(month_start) - 1)]
    return [
        ("copilot.outlook.draft", "cleared", "*", start_iso, "", "ARB-2024-001"),
        ("copilot.outlook.summarize", "cleared", "*", start_iso, "", "ARB-2024-001"),
        ("copilot.word.draft", "cleared", "*", start_iso, "", "ARB-2024-002"),
        ("copilot.excel.formula", "cleared", "*", start_iso, "", "ARB-2024-002"),
        ("copilot.excel.analyst", "pilot", "CS-FIN", start_iso, "", "ARB-2024-007"),
        ("copilot.teams.recap", "cleared", "*", start_iso, "", "ARB-2024-003"),
        ("copilot.teams.recap", "restricted", "BU-CC", m3, "", "ARB-2025-014"),
        ("copilot.github.completion", "cleared", "CS-TEC", start_iso, "", "ARB-2024-005"),
        (CALL_CAPABILITY, "cleared", "BU-CC", start_iso, "", "ARB-2024-010"),
        (LETTER_CAPABILITY, "cleared", "BU-SP", start_iso, "", "ARB-2024-011"),
        (RETIRED_LETTER_CAPABILITY, "cleared", "BU-SP", start_iso, m2, "ARB-2023-020"),
        (RETIRED_LETTER_CAPABILITY, "retired", "*", m2, "", "ARB-2025-003"),
    ]


LICENSE_PRICE = {"copilot": 30.0, "call_summarization": 18.0, "lmn_drafting": 45.0}  # USD per seat-month
