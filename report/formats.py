"""How figures read on the page: one place for numbers, units, names and the suppressed / not-applicable marks.

Every function returns escaped HTML (`Markup`): text from the warehouse (unit and capability names, leader names)
goes through `escape` here or in the templates, never around it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from markupsafe import Markup, escape

SUPPRESSED = Markup('<span class="sup">suppressed</span>')
NOT_APPLICABLE = Markup('<span class="na">—</span>')
MEASURED = Markup('<span class="tag measured">measured</span>')
ESTIMATE = Markup('<span class="tag estimate">estimate</span>')

TOOLS = {"copilot": "Copilot", "call_summarization": "Call summarization", "lmn_drafting": "LMN drafting"}
WORKFLOWS = {"call_summary": "Call summary", "lmn_letters": "LMN & appeal letters"}
REASONS = {
    "no_decision": "No decision",
    "not_cleared_for_scope": "Out of scope",
    "restricted": "Restricted",
    "retired": "Retired",
}
METHODS = {  # how each attribution method reads beside a measured figure ("measured, within-person comparison")
    "concurrent_control": "concurrent comparison",
    "pre_go_live": "before and after go-live",
    "within_actor": "within-person comparison",
    "did": "difference-in-differences",
}
SERVICE_LEVEL = Markup('<span class="tag service">service level</span>')
TABLES = {  # the finance tables a close publishes, as restatements name them
    "workflow_attribution_monthly": "Workflow value",
    "service_level_monthly": "Service levels",
    "productivity_estimate_monthly": "Estimates",
    "license_utilization_monthly": "Seats",
    "adoption_monthly": "Adoption",
    "leader_scorecard_monthly": "Scorecard",
}
# metric → (what is saved, unit shown, factor from the metric's unit to the unit shown); HOURS_OF says what the
# hours saved are hours of: staff time, except for turnaround (elapsed time, a service level)
METRICS: dict[str, tuple[str, str, float]] = {
    "acw_seconds": ("after-call work per call", "s", 1.0),
    "work_seconds": ("staff time per letter", "min", 1 / 60),
    "turnaround_hours": ("turnaround per letter", "h", 1.0),
}


def humanize(code: str) -> str:
    return code.replace("_", " ").capitalize()


def tool_name(code: str) -> str:
    return TOOLS.get(code, humanize(code))


def workflow_name(code: str) -> str:
    return WORKFLOWS.get(code, humanize(code))


def reason_name(code: str) -> str:
    return REASONS.get(code, humanize(code))


def method_name(code: str) -> str:
    return METHODS.get(code, humanize(code))


def measured_tag(method: str | None) -> Markup:
    """The basis of a measured figure with the method that measured it: "measured, within-person comparison"."""
    if not method:
        return MEASURED
    return Markup(f'<span class="tag measured">measured<span class="how">, {escape(method_name(method))}</span>'
                  "</span>")


def table_name(code: str) -> str:
    return TABLES.get(code, humanize(code))


HOURS_OF = {"turnaround_hours": "turnaround"}


def hours_of(code: str) -> str:
    return HOURS_OF.get(code, "staff time")


def metric(code: str) -> tuple[str, str, float]:
    return METRICS.get(code, (humanize(code), "", 1.0))


def month_name(month: str, short: bool = False) -> str:
    d = dt.date.fromisoformat(month + "-01")
    return d.strftime("%b %Y" if short else "%B %Y")


def month_abbr(month: str) -> str:
    return dt.date.fromisoformat(month + "-01").strftime("%b")


# --- plain numbers (text, no markup) ------------------------------------------------------------------------

def number(v: float, digits: int = 0) -> str:
    return f"{v:,.{digits}f}"


def percent(v: float) -> str:
    return f"{v * 100:,.0f} %"


def usd(v: float, compact: bool = False) -> str:
    sign = "−" if v < 0 else ""
    a = abs(v)
    if compact and a >= 1e6:
        return f"{sign}${a / 1e6:,.1f}M"
    if compact and a >= 1e4:
        return f"{sign}${a / 1e3:,.0f}k"
    return f"{sign}${a:,.0f}"


def hours(v: float) -> str:
    return f"{v:,.0f} h" if abs(v) >= 10 else f"{v:,.1f} h"


def hours1(v: float) -> str:
    """Elapsed hours to a tenth (turnaround)."""
    return f"{v:,.1f} h"


def figure(text: str | None) -> str:
    """A published or current figure as restatements store it (text): numbers to at most 2 decimals."""
    if text is None:
        return "none"
    try:
        v = float(text)
    except ValueError:
        return text
    if v != v or v in (float("inf"), float("-inf")):
        return text
    return f"{v:,.2f}".rstrip("0").rstrip(".") if v != int(v) or abs(v) >= 1e15 else f"{int(v):,}"


def saving(v: float, metric_code: str) -> str:
    _, unit, factor = metric(metric_code)
    x = v * factor
    return f"{x:,.0f} {unit}" if abs(x) >= 10 else f"{x:,.1f} {unit}"


def interval(lo: float, hi: float, fmt: Callable[[float], str]) -> str:
    return f"{fmt(lo)} to {fmt(hi)}"


# --- cells (markup) -------------------------------------------------------------------------------------------

def cell(value: Any, fmt: Callable[[Any], str], suppressed: bool = False) -> Markup:
    """A figure as it shows: 'suppressed' when withheld, '—' when it does not apply, else formatted."""
    if value is None or (isinstance(value, float) and value != value):
        return SUPPRESSED if suppressed else NOT_APPLICABLE
    return Markup(escape(fmt(value)))


def text(value: Any) -> Markup:
    return Markup(escape("" if value is None else str(value)))
