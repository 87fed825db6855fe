"""`uptake report`: render the month's pack (HTML pages and report.pdf) from the data of `pages.load`.

Each `*_view` turns one page's data into what its template shows (headline tiles, charts, tables, notes);
`render_page` renders one page and its section of the PDF; `write` renders every page on two cores, joins the
sections into one numbered PDF, into a fresh folder that replaces `out` only when complete.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from report import charts, pages, pdf, workers
from report import formats as f
from report.charts import Chart
from report.queries import ReportError, Row, withheld
from report.tables import Column, stylesheet, table

TEMPLATES = Path(__file__).parent / "templates"

SUPPRESSION_NOTE = ("“suppressed”: the figure rests on fewer than 11 people or work items, so it is withheld to "
                    "protect privacy (never shown as zero). “—”: does not apply (no target, no measured workflow, "
                    "no license cost).")
MEASURED_NOTE = Markup(f"{f.MEASURED} staff time saved by a workflow-integrated tool, measured per item against a "
                       "baseline, with its 95 % interval; only staff time is valued in dollars. ")
ESTIMATE_NOTE = Markup(f"{f.ESTIMATE} assisted hours of personal-productivity tools from finance's minutes-per-action "
                       "assumptions, per business unit; never added to measured value.")


@dataclass(frozen=True)
class Tile:
    label: str
    value: Markup
    note: Markup | str = ""
    kind: str = ""   # measured | estimate | ""
    tone: str = ""   # css class: measured, estimate, behind, good


@dataclass(frozen=True)
class Written:
    folder: Path
    files: list[Path]
    seconds: dict[str, float]


def _one(rows: list[Row]) -> Row | None:
    return rows[0] if rows else None


def _sum(rows: list[Row], key: str) -> tuple[float | None, int]:
    """Σ key over the rows that have it, and how many rows were withheld (suppressed)."""
    vals = [r[key] for r in rows if r[key] is not None]
    withheld = sum(1 for r in rows if r[key] is None and r.get("suppressed"))
    return (sum(vals) if vals else None), withheld


def _withheld_note(n: int) -> str:
    return f" · excludes {n} suppressed row{'s' if n > 1 else ''}" if n else ""


def _saving_with_interval(r: Row) -> Markup:
    if r["saving_per_item"] is None:
        return f.cell(None, str, r["suppressed"])
    s = f.saving(r["saving_per_item"], r["metric"])
    iv = f.interval(r["saving_ci_low"], r["saving_ci_high"], lambda v: f.saving(v, r["metric"]))
    return Markup(f'{escape(s)}<br><span class="muted">{escape(iv)}</span>')


def _hours_with_interval(r: Row) -> Markup:
    if r["hours_saved"] is None:
        return f.cell(None, str, r["suppressed"])
    iv = f.interval(r["hours_saved_ci_low"], r["hours_saved_ci_high"], f.hours)
    return Markup(f'{escape(f.hours(r["hours_saved"]))}<br><span class="muted">{escape(iv)}</span>')


def _ratio(v: float) -> str:
    return f"{v:,.2f}×"


# --- tables shared by pages -----------------------------------------------------------------------------------

def _basis(r: Row) -> Markup:
    """'measured, <method>' and, when the warehouse flags the row, the checks it fails."""
    tag = f.measured_tag(r["method"])
    flags = r.get("diagnostics")
    if flags:
        names = ", ".join(f.humanize(str(x)).lower() for x in (flags if isinstance(flags, list) else [flags]))
        tag = Markup(f'{tag}<br><span class="muted">checks: {escape(names)}</span>')
    return tag


def _measured_table(key: str, rows: list[Row], with_unit: bool) -> Markup | None:
    """workflow_attribution_monthly rows of the shown method: saving per item, hours, value."""
    if not rows:
        return None
    cols = ([Column("unit", "Unit")] if with_unit else []) + [
        Column("workflow", "Workflow"), Column("n", "AI-assisted items", True), Column("nb", "Baseline items", True),
        Column("without", "Items without the metric", True),
        Column("saving", "Saving per item (95 % interval)", True),
        Column("hours", "Hours saved (95 % interval)", True), Column("value", "Value of staff time", True),
        Column("basis", "Basis")]
    return table(key, cols, [{
        "unit": f.text(r["unit_name"]), "workflow": f.text(f.workflow_name(r["workflow"])),
        "n": f.cell(r["n_assisted"], f.number, r["suppressed"]),
        "nb": f.cell(r["n_baseline"], f.number, r["suppressed"]),
        "without": f.cell(r["n_without_metric"], f.number, r["suppressed"]),
        "saving": _saving_with_interval(r), "hours": _hours_with_interval(r),
        "value": f.cell(r["value_usd"], f.usd, r["suppressed"]), "basis": _basis(r),
    } for r in rows])


def _roi_measured_table(key: str, rows: list[Row]) -> Markup | None:
    """The ROI table's workflow-measured rows (warehouse/roi.py's columns): hours, value, cost, net value, ROI."""
    if not rows:
        return None
    cols = [Column("unit", "Unit"), Column("workflow", "Workflow"), Column("n", "AI-assisted items", True),
            Column("without", "Items without the metric", True),
            Column("hours", "Staff hours saved (95 % interval)", True), Column("rate", "Hourly cost", True),
            Column("value", "Value", True), Column("cost", "License cost", True),
            Column("covered", "Units the cost covers"), Column("net", "Net value", True), Column("roi", "ROI", True),
            Column("basis", "Basis")]
    out = []
    for r in rows:
        sup = r["suppressed"]
        if r["hours"] is None:
            hours = f.cell(None, str, sup)
        else:
            iv = f.interval(r["hours_ci_low"], r["hours_ci_high"], f.hours)
            hours = Markup(f'{escape(f.hours(r["hours"]))}<br><span class="muted">{escape(iv)}</span>')
        covered = (r["units_covered"] or "").split(";")
        out.append({
            "unit": f.text(r["unit_name"]), "workflow": f.text(f.workflow_name(r["subject"])),
            "n": f.cell(r["n"], f.number, sup), "without": f.cell(r["n_without_metric"], f.number, sup),
            "hours": hours, "rate": f.cell(r["hourly_cost_usd"], lambda v: f"${v:,.2f}", sup),
            "value": f.cell(r["value_usd"], f.usd, sup), "cost": f.cell(r["cost_usd"], f.usd),
            "covered": Markup(f'<span class="codes">{escape(", ".join(c for c in covered if c))}</span>'),
            "net": f.cell(r["net_value_usd"], f.usd, sup), "roi": f.cell(r["roi"], _ratio, sup),
            "basis": f.measured_tag(r["method"]),
        })
    return table(key, cols, out)


def _estimate_table(key: str, rows: list[Row], with_unit: bool) -> Markup | None:
    """productivity_estimate_monthly rows: people, actions, assisted hours, value, license cost."""
    if not rows:
        return None
    cols = ([Column("unit", "Unit")] if with_unit else []) + [
        Column("tool", "Tool"), Column("users", "Active users", True), Column("actions", "Actions", True),
        Column("hours", "Assisted hours", True), Column("value", "Value", True), Column("cost", "License cost", True),
        Column("basis", "Basis")]
    return table(key, cols, [{
        "unit": f.text(r["unit_name"]), "tool": f.text(f.tool_name(r["tool"])),
        "users": f.cell(r["active_users"], f.number, r["suppressed"]),
        "actions": f.cell(r["actions"], f.number, r["suppressed"]),
        "hours": f.cell(r["assisted_hours"], f.hours, r["suppressed"]),
        "value": f.cell(r["value_usd"], f.usd, r["suppressed"]), "cost": f.cell(r["cost_usd"], f.usd),
        "basis": f.ESTIMATE,
    } for r in rows])


def _roi_estimate_table(key: str, rows: list[Row]) -> Markup | None:
    """The ROI table's business-unit estimate rows: actions, assisted hours, value, cost, net value, ROI."""
    if not rows:
        return None
    cols = [Column("unit", "Unit"), Column("tool", "Tool"), Column("actions", "Actions", True),
            Column("without", "Actions without an assumption", True), Column("hours", "Assisted hours", True),
            Column("value", "Value", True), Column("cost", "License cost", True), Column("net", "Net value", True),
            Column("roi", "ROI", True), Column("basis", "Basis")]
    return table(key, cols, [{
        "unit": f.text(r["unit_name"]), "tool": f.text(f.tool_name(r["subject"])),
        "actions": f.cell(r["n"], f.number, r["suppressed"]),
        "without": f.cell(r["n_without_metric"], f.number, r["suppressed"]),
        "hours": f.cell(r["hours"], f.hours, r["suppressed"]),
        "value": f.cell(r["value_usd"], f.usd, r["suppressed"]), "cost": f.cell(r["cost_usd"], f.usd),
        "net": f.cell(r["net_value_usd"], f.usd, r["suppressed"]), "roi": f.cell(r["roi"], _ratio, r["suppressed"]),
        "basis": f.ESTIMATE,
    } for r in rows])


def _service_table(key: str, rows: list[Row]) -> Markup | None:
    """service_level_monthly rows of the month: turnaround of AI-drafted and baseline letters, the saving,
    the backlog at month end. Elapsed hours, never dollars."""
    if not rows:
        return None
    cols = [Column("workflow", "Workflow"), Column("submitted", "Letters submitted", True),
            Column("assisted", "Turnaround, AI-drafted (mean · median · p90)", True),
            Column("baseline", "Turnaround, baseline (mean · median · p90)", True),
            Column("saving", "Saved per letter (95 % interval)", True),
            Column("open", "Open at month end", True), Column("over", "Open beyond SLA", True),
            Column("oldest", "Oldest open", True), Column("basis", "Basis")]

    def three(r: Row, arm: str) -> Markup:
        vals = [r[f"{arm}_{s}_hours"] for s in ("mean", "median", "p90")]
        if any(v is None for v in vals):
            return f.cell(None, str, bool(r["suppressed"]))
        return Markup(escape(" · ".join(f.hours1(v) for v in vals)))

    out = []
    for r in rows:
        if r["saving_hours"] is None:
            saving = f.cell(None, str, bool(r["suppressed"]))
        else:
            iv = f.interval(r["saving_ci_low"], r["saving_ci_high"], f.hours1)
            saving = Markup(f'{escape(f.hours1(r["saving_hours"]))}<br><span class="muted">{escape(iv)}</span>')
        sla = f" (SLA {f.number(r['sla_hours'])} h)" if r["sla_hours"] is not None else " (no SLA)"
        over = f.cell(r["backlog_over_sla"], f.number, r["backlog_suppressed"])
        out.append({
            "workflow": f.text(f.workflow_name(r["workflow"])),
            "submitted": f.cell(r["submitted"], f.number, True),  # null only when fewer than 11
            "assisted": three(r, "assisted"), "baseline": three(r, "baseline"), "saving": saving,
            "open": f.cell(r["backlog_open"], f.number, r["backlog_suppressed"]),
            "over": Markup(f'{over}<br><span class="muted">{escape(sla)}</span>'),
            "oldest": f.cell(r["oldest_open_hours"], f.hours1, r["backlog_suppressed"]),
            "basis": Markup(f"{f.SERVICE_LEVEL}<br>{f.measured_tag(r['method'])}") if r["method"]
            else f.SERVICE_LEVEL,
        })
    return table(key, cols, out)


def _exceptions_table(key: str, rows: list[Row], with_unit: bool) -> Markup | None:
    if not rows:
        return None
    cols = ([Column("unit", "Unit")] if with_unit else []) + [
        Column("capability", "Capability"), Column("reason", "Reason"), Column("decision", "Decision"),
        Column("users", "People", True), Column("events", "Uses", True)]
    return table(key, cols, [{
        "unit": f.text(r["unit_name"]), "capability": f.text(r["capability"]),
        "reason": f.text(f.reason_name(r["reason"])), "decision": f.cell(r["decision_ref"], str),
        "users": f.cell(r["users"], f.number, r["suppressed"]),
        "events": f.cell(r["events"], f.number, r["suppressed"]),
    } for r in rows])


def _habits_table(key: str, rows: list[Row], with_unit: bool) -> Markup | None:
    if not rows:
        return None
    cols = ([Column("unit", "Unit")] if with_unit else []) + [
        Column("capability", "Capability in pilot"), Column("decision", "Pilot decision"),
        Column("sustained", "Sustained users", True), Column("active", "Active users", True)]
    return table(key, cols, [{
        "unit": f.text(r["unit_name"]), "capability": f.text(r["capability"]),
        "decision": f.cell(r["decision_ref"], str),
        "sustained": f.cell(r["sustained_users"], f.number, r["sustained_suppressed"]),
        "active": f.cell(r["active_users"], f.number, r["active_suppressed"]),
    } for r in rows])


# --- tiles ------------------------------------------------------------------------------------------------------

def _attainment_tile(sc: Row | None) -> Tile:
    if sc is None:
        return Tile("Target attainment", f.NOT_APPLICABLE, "no scorecard row", "measured")
    att, sup = sc["attainment"], withheld(sc, "attainment")
    target = f"target {f.hours(sc['target_hours_saved'])}" if sc["target_hours_saved"] is not None else "no target set"
    if att is None:
        note = target if sc["hours_saved"] is not None or sup else f"no measured workflow · {target}"
        return Tile("Target attainment", f.cell(None, str, sup), note, "measured")
    return Tile("Target attainment", f.cell(att, f.percent), f"{f.hours(sc['hours_saved'])} of {target}",
                "measured", "behind" if att < 1 else "good")


def _hours_tile(total: float | None, withheld: int, measured_now: list[Row]) -> Tile:
    shown = [r for r in measured_now if r["hours_saved"] is not None]
    if total is None:
        return Tile("Hours saved", f.cell(None, str, withheld > 0),
                    "fewer than 11 items" if withheld else "no workflow measured", "measured", "measured")
    if len(shown) == 1 and not withheld:
        r = shown[0]
        note = f"95 % interval {f.interval(r['hours_saved_ci_low'], r['hours_saved_ci_high'], f.hours)}"
    else:
        note = f"{len(shown)} workflows; intervals per workflow below"
    return Tile("Hours saved", f.cell(total, f.hours), note + _withheld_note(withheld), "measured", "measured")


def _value_tile(total: float | None, withheld: int, cost: float | None) -> Tile:
    note = f"staff time at hourly cost · license {f.usd(cost, True)}" if cost else "staff time at hourly cost"
    if total is None:
        return Tile("Value", f.cell(None, str, withheld > 0),
                    "fewer than 11 items" if withheld else "no workflow measured", "measured", "measured")
    return Tile("Value", f.cell(total, lambda v: f.usd(v, True), withheld > 0), note + _withheld_note(withheld),
                "measured", "measured")


def _estimate_tile(rows: list[Row]) -> Tile:
    hrs, withheld = _sum(rows, "assisted_hours")
    val, _ = _sum(rows, "value_usd")
    note = f"worth {f.usd(val, True)} · not added to measured" if val is not None else "not added to measured"
    if not rows:
        note = "no personal-productivity tool used"
    elif hrs is None:
        return Tile("Assisted hours", f.cell(None, str, withheld > 0),
                    "fewer than 11 people" if withheld else "no assumption for these actions", "estimate", "estimate")
    return Tile("Assisted hours", f.cell(hrs, f.hours, withheld > 0), note + _withheld_note(withheld),
                "estimate", "estimate")


def _adoption_tile(rows: list[Row]) -> Tile:
    """Sustained users over seats across the tools whose cells are not suppressed."""
    shown = [r for r in rows if not r["suppressed"] and r["seats"]]
    withheld = [f.tool_name(r["tool"]) for r in rows if r["suppressed"]]
    aside = f" · {', '.join(withheld)} suppressed" if withheld else ""
    if not shown:
        return Tile("Sustained users", f.cell(None, str, bool(withheld)),
                    "fewer than 11 people" if withheld else "no seats licensed")
    seats = sum(r["seats"] for r in shown)
    sustained = sum(r["sustained_users"] for r in shown) / seats
    active = sum(r["active_users"] for r in shown) / seats
    return Tile("Sustained users", f.cell(sustained, f.percent), f"of seats · active {f.percent(active)}{aside}")


def _governance_tile(exceptions: list[Row], habits: list[Row]) -> Tile:
    n = len(exceptions)
    h = len(habits)
    note = (f"uncleared capability uses · {h} pilot{'s' if h != 1 else ''} forming habits" if n or h
            else "every use cleared")
    return Tile("Governance exceptions", Markup(escape(str(n))), note, "", "behind" if n else "good")


# --- pages -------------------------------------------------------------------------------------------------------

def _notes(*extra: str | Markup) -> list[Markup | str]:
    return [MEASURED_NOTE + ESTIMATE_NOTE, SUPPRESSION_NOTE, *extra]


def _method_note(rows: list[Row], rule: str) -> str:
    methods = sorted({r["method"] for r in rows if r["method"]})
    if not methods:
        return ""
    return ("Measured with: " + ", ".join(f.method_name(m) for m in methods) + f" ({rule}); each figure's method "
            "is named beside it.")


def _attainment_rows(p: pages.UnitPage) -> list[Row]:
    """The scorecard's months, each marked suppressed when the scorecard withholds its hours saved."""
    return [r | {"suppressed": withheld(r, "hours_saved")} for r in p.scorecard]


def unit_view(p: pages.UnitPage) -> dict[str, Any]:
    u = p.unit
    sc = _one(p.now(p.scorecard))
    measured_now = p.now(p.measured)
    hours_total, hours_withheld = _sum(measured_now, "hours_saved")
    value_total, value_withheld = _sum(measured_now, "value_usd")
    cost = sum(r["cost_usd"] or 0 for r in measured_now) or None
    tiles = [
        _attainment_tile(sc),
        _hours_tile(hours_total, hours_withheld, measured_now),
        _value_tile(value_total, value_withheld, cost),
        _adoption_tile(p.now(p.adoption)),
        _estimate_tile(p.now(p.estimates)),
        _governance_tile(p.exceptions, p.habits),
    ]
    key = u.org_unit.lower()
    savings = []
    for wf in sorted({r["workflow"] for r in p.measured}):
        own = [r for r in p.measured if r["workflow"] == wf]
        savings.append(charts.saving_trend(f"{key}-saving-{wf}", wf, own[-1]["metric"], own, p.months))
    detail_rows = [{
        "unit": Markup(f'<span class="indent-{min(r["depth"] - 1, 2)}">{escape(r["unit_name"])}</span>'),
        "workflow": f.text(f.workflow_name(r["workflow"])),
        "n": f.cell(r["n_assisted"], f.number, r["suppressed"]),
        "saving": _saving_with_interval(r), "hours": _hours_with_interval(r),
        "value": f.cell(r["value_usd"], f.usd, r["suppressed"]),
    } for r in p.detail]
    detail = table(f"{key}-detail", [
        Column("unit", "Department / team"), Column("workflow", "Workflow"), Column("n", "AI-assisted items", True),
        Column("saving", "Saving per item (95 % interval)", True), Column("hours", "Hours saved (95 % interval)", True),
        Column("value", "Value of staff time", True)], detail_rows) if detail_rows else None
    service: list[Chart] = []
    for wf in sorted({r["workflow"] for r in p.service}):
        own = [r | {"saving_per_item": r["saving_hours"]} for r in p.service if r["workflow"] == wf]
        service.append(charts.saving_trend(f"{key}-turnaround-{wf}", wf, own[-1]["metric"], own, p.months))
        service.append(charts.backlog(f"{key}-backlog-{wf}", wf, own, p.months))
    leader = f"Leader: {u.leader} · " if u.leader else ""
    return {
        "title": u.name, "kicker": f"Business unit {u.org_unit}",
        "subtitle": f"{leader}{f.month_name(p.month)} · headline figures for the month, trends over "
                    f"{len(p.months)} months",
        "tiles": tiles,
        "charts": {
            "funnel": charts.funnel(f"{key}-funnel", p.now(p.adoption)),
            "trend": charts.adoption_trend(f"{key}-trend", p.adoption, p.months),
            "attainment": charts.attainment(f"{key}-attainment", _attainment_rows(p), p.months),
            "savings": savings,
            "service": service,
        },
        "tables": {
            "wins": _measured_table(f"{key}-wins", measured_now, with_unit=False),
            "service": _service_table(f"{key}-service", p.now(p.service)),
            "estimate": _estimate_table(f"{key}-estimate", p.now(p.estimates), with_unit=False),
            "exceptions": _exceptions_table(f"{key}-exceptions", p.exceptions, with_unit=False),
            "habits": _habits_table(f"{key}-habits", p.habits, with_unit=False),
            "detail": detail,
        },
        "notes": _notes(_method_note(p.measured, p.method_rule)),
    }


def _win_line(w: Row) -> Markup:
    what, unit, factor = f.metric(w["metric"])
    s = w["saving_per_item"] * factor
    lo, hi = w["saving_ci_low"] * factor, w["saving_ci_high"] * factor
    items = {"acw_seconds": "calls"}.get(w["metric"], "letters" if "letter" in what else "items")
    return Markup(
        f'<span class="who">{escape(w["unit_name"])}</span> · {escape(f.workflow_name(w["workflow"]))}: '
        f"{escape(f'{s:,.0f} {unit}')} less {escape(what)} (95 % interval {escape(f'{lo:,.0f} to {hi:,.0f} {unit}')})"
        f" over {escape(f.number(w['n_assisted']))} AI-assisted {items}: {escape(f.hours(w['hours_saved']))} "
        f"of {escape(f.hours_of(w['metric']))}, {escape(f.usd(w['value_usd']))} {f.measured_tag(w['method'])}")


def enterprise_view(p: pages.EnterprisePage) -> dict[str, Any]:
    ent = p.enterprise
    hours_total, hours_withheld = _sum(p.measured, "hours_saved")
    value_total, value_withheld = _sum(p.measured, "value_usd")
    cost = sum(r["cost_usd"] or 0 for r in p.measured) or None
    scored = [r for r in p.scorecard if r["attainment"] is not None]
    behind = [r for r in scored if r["attainment"] < 1]
    ent_exceptions = [r for r in p.exceptions if r["org_unit"] == ent.org_unit]
    tiles = [
        Tile("Units below target", Markup(escape(f"{len(behind)} of {len(p.units)}")),
             ", ".join(r["name"] for r in behind) or "every measured unit at or above target", "",
             "behind" if behind else "good"),
        _hours_tile(hours_total, hours_withheld, p.measured),
        _value_tile(value_total, value_withheld, cost),
        _adoption_tile(p.adoption),
        _estimate_tile(p.estimates),
        _governance_tile(ent_exceptions, [r for r in p.habits if r["org_unit"] == ent.org_unit]),
    ]
    by_unit = {r["org_unit"]: r for r in p.scorecard}
    names = {u.org_unit: u for u in p.units}
    ordered = sorted(p.units, key=lambda u: (by_unit.get(u.org_unit, {}).get("attainment") is None,
                                             by_unit.get(u.org_unit, {}).get("attainment") or 0, u.name))
    exc_count = {u.org_unit: sum(1 for r in p.exceptions if r["org_unit"] == u.org_unit) for u in p.units}
    unit_rows = []
    chart_rows = []
    for u in ordered:
        r = by_unit.get(u.org_unit)
        att = r["attainment"] if r else None
        att_cell = f.cell(att, f.percent, withheld(r, "attainment"))
        if att is not None:
            att_cell = Markup(f'<span class="{"behind" if att < 1 else "ok"}">{att_cell}</span>')
        unit_rows.append({
            "unit": Markup(f'<a href="{escape(u.file)}">{escape(u.name)}</a>'),
            "leader": f.cell(u.leader, str),
            "attainment": att_cell,
            "hours": f.cell(r and r["hours_saved"], f.hours, withheld(r, "hours_saved")),
            "target": f.cell(r and r["target_hours_saved"], f.hours),
            "value": f.cell(r and r["value_usd"], f.usd, withheld(r, "value_usd")),
            "sustained": f.cell(r and r["sustained_rate"], f.percent, withheld(r, "sustained_rate")),
            "active": f.cell(r and r["active_rate"], f.percent, withheld(r, "active_rate")),
            "est_hours": f.cell(r and r["assisted_hours"], f.hours, withheld(r, "assisted_hours")),
            "exceptions": Markup(escape(str(exc_count[u.org_unit]))),
        })
        chart_rows.append({"name": names[u.org_unit].name, "attainment": att,
                           "sustained_rate": r["sustained_rate"] if r else None,
                           "attainment_suppressed": withheld(r, "attainment"),
                           "sustained_rate_suppressed": withheld(r, "sustained_rate")})
    cols = [Column("unit", "Business unit")] + ([Column("leader", "Leader")] if any(u.leader for u in p.units) else [])
    cols += [
            Column("attainment", "Target attainment", True), Column("hours", "Hours saved", True),
            Column("target", "Target", True), Column("value", "Value", True),
            Column("sustained", "Sustained / seats", True), Column("active", "Active / seats", True),
            Column("est_hours", "Assisted hours", True), Column("exceptions", "Governance exceptions", True)]
    units_table = table("units", cols, unit_rows, spanners=[
        ("Measured", ["attainment", "hours", "target", "value"]), ("Adoption", ["sustained", "active"]),
        ("Estimate", ["est_hours"])])
    return {
        "title": ent.name, "kicker": "Enterprise",
        "subtitle": f"{f.month_name(p.month)} · {len(p.units)} business units · measured value and estimates "
                    "shown apart",
        "tiles": tiles,
        "charts": {"units": charts.units_side_by_side("units-chart", chart_rows),
                   "funnel": charts.funnel("ent-funnel", p.adoption)},
        "tables": {"units": units_table,
                   "measured": _measured_table("ent-measured", p.measured, with_unit=False),
                   "estimate": _estimate_table("ent-estimate", p.estimates, with_unit=False)},
        "wins": [_win_line(w) for w in p.wins],
        "notes": _notes(_method_note(p.measured, p.method_rule)),
    }


RESTATED_SHOWN = 30  # restated figures listed on the finance page (business units and the enterprise first)


def _restatement_row(r: Row) -> dict[str, Markup]:
    parts = dict(p.split("=", 1) for p in r["key"].split("|") if "=" in p)
    what = [f.table_name(r["table_name"])]
    if "workflow" in parts:
        what.append(f.workflow_name(parts["workflow"]))
    if "tool" in parts:
        what.append(f.tool_name(parts["tool"]))
    what.append(r["unit_name"] or parts.get("org_unit", ""))
    if "method" in parts:
        what.append(f.method_name(parts["method"]))
    change = None
    with contextlib.suppress(TypeError, ValueError):
        change = float(r["current"]) - float(r["published"])
    causes = []
    if r["ingest_runs"]:
        runs = ", ".join(str(n) for n in r["ingest_runs"])
        causes.append(f"ingest run{'s' if len(r['ingest_runs']) > 1 else ''} {runs} (landed after the close)")
    if r["reference_files"]:
        causes.append(", ".join(r["reference_files"]) + " changed")
    return {
        "month": f.text(f.month_name(r["month"], True)),
        "figure": f.text(" · ".join(w for w in what if w)),
        "column": f.text(f.humanize(r["column_name"])),
        "published": f.text(f.figure(r["published"])), "current": f.text(f.figure(r["current"])),
        "change": f.cell(change, lambda v: ("+" if v > 0 else "") + f.figure(repr(v))),
        "cause": f.text("; ".join(causes) or "code or rules changed"),
    }


def _restatement_summary(rows: list[Row]) -> list[str]:
    """One line per closed month with restated figures: its close and how many figures differ now."""
    out = []
    for month in sorted({r["month"] for r in rows}, reverse=True):
        own = [r for r in rows if r["month"] == month]
        closed = own[0]["closed_at"]
        when = closed.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if isinstance(closed, dt.datetime) \
            else str(closed)
        out.append(f"{f.month_name(month)}, closed {when} (version {own[0]['version']}): {len(own)} published "
                   f"figure{'s differ' if len(own) != 1 else ' differs'} in the current data")
    return out


def _utilization_tiles(rows: list[Row], enterprise: str) -> list[Tile]:
    ent = [r for r in rows if r["org_unit"] == enterprise]
    shown = [r for r in ent if not r["suppressed"]]
    left_out = [f.tool_name(r["tool"]) for r in ent if r["suppressed"]]
    aside = f" · {', '.join(left_out)} suppressed" if left_out else ""
    if not shown:
        na = f.cell(None, str, bool(left_out))
        return [Tile("Idle seats", na, "no seats licensed" if not ent else "fewer than 11 people"),
                Tile("Idle seat cost", na, ""), Tile("Users over seats", na, "")]
    idle = sum(r["idle_seats"] for r in shown)
    seats = sum(r["seats"] for r in shown)
    cost = sum(r["idle_seat_cost_usd"] or 0 for r in shown)
    over = sum(r["users_over_seats"] for r in shown)
    return [
        Tile("Idle seats", Markup(escape(f.number(idle))), f"of {f.number(seats)} seats, no use this month{aside}",
             "", "behind" if idle else "good"),
        Tile("Idle seat cost", Markup(escape(f.usd(cost, True))), "what finance can reclaim" + aside, "",
             "behind" if cost else "good"),
        Tile("Users over seats", Markup(escape(f.number(over))), "people using a tool beyond its seats: true up"
             + aside, "", "behind" if over else "good"),
    ]


def finance_view(p: pages.FinancePage, enterprise: str) -> dict[str, Any]:
    roi = p.roi
    ent_measured = [r for r in roi.measured if r["org_unit"] == enterprise]
    ent_estimate = [r for r in roi.estimates if r["org_unit"] == enterprise]
    net, net_withheld = _sum([r | {"net": r["net_value_usd"]} for r in ent_measured], "net")
    est, est_withheld = _sum(ent_estimate, "value_usd")
    tiles = [
        Tile("Net value", f.cell(net, lambda v: f.usd(v, True), net_withheld > 0 and net is None),
             "staff time saved, less license cost" + _withheld_note(net_withheld) if ent_measured
             else "no workflow measured", "measured", "measured"),
        Tile("Estimated value", f.cell(est, lambda v: f.usd(v, True), est_withheld > 0 and est is None),
             "personal-productivity tools · never added to measured" if ent_estimate
             else "no personal-productivity tool used", "estimate", "estimate"),
        *_utilization_tiles(p.utilization, enterprise),
        Tile("Restated figures", Markup(escape(f.number(len(p.restatements)))),
             "published figures the current data gives differently" if p.restatements
             else "no closed month changed since its close", "", "behind" if p.restatements else "good"),
    ]
    if roi.source == "published":
        source = (f"{f.month_name(p.month)} is closed: the ROI table as published on {roi.closed_at} "
                  f"(version {roi.version}), whatever arrived since; the unit pages show the current data.")
    else:
        source = (f"{f.month_name(p.month)} is not closed: current figures (`uptake close --month {p.month}` "
                  "publishes them).")
    util_rows = [{
        "tool": f.text(f.tool_name(r["tool"])), "unit": f.text(r["unit_name"]),
        "seats": Markup(escape(f.number(r["seats"]))), "cost": f.cell(r["cost_usd"], f.usd),
        "active": f.cell(r["active_users"], f.number, r["suppressed"]),
        "sustained": f.cell(r["sustained_users"], f.number, r["suppressed"]),
        "idle": f.cell(r["idle_seats"], f.number, r["suppressed"]),
        "idle_cost": f.cell(r["idle_seat_cost_usd"], f.usd, r["suppressed"]),
        "over": f.cell(r["users_over_seats"], f.number, r["suppressed"]),
    } for r in p.utilization]
    utilization = table("fin-seats", [
        Column("tool", "Tool"), Column("unit", "Unit"), Column("seats", "Seats", True),
        Column("cost", "License cost", True), Column("active", "Active users", True),
        Column("sustained", "Sustained users", True), Column("idle", "Idle seats", True),
        Column("idle_cost", "Idle seat cost", True), Column("over", "Users over seats", True)],
        util_rows) if util_rows else None
    listed = [r for r in p.restatements if r["depth"] <= 1][:RESTATED_SHOWN]
    restated = table("fin-restated", [
        Column("month", "Closed month"), Column("figure", "Figure"), Column("column", "Column"),
        Column("published", "Published", True), Column("current", "Now", True), Column("change", "Change", True),
        Column("cause", "Cause")], [_restatement_row(r) for r in listed]) if listed else None
    more = len(p.restatements) - len(listed)
    return {
        "title": "Finance", "kicker": "Return on AI spend",
        "subtitle": f"{f.month_name(p.month)} · workflow-measured rows and business-unit estimates, kept apart",
        "tiles": tiles,
        "source": source,
        "restated_summary": _restatement_summary(p.restatements),
        "restated_more": (f"{f.number(more)} more restated figure{'s' if more != 1 else ''} (departments and teams, "
                          f"or beyond the first {RESTATED_SHOWN}): the warehouse's table restatements lists each "
                          "one.") if more else "",
        "tables": {"measured": _roi_measured_table("fin-measured", roi.measured),
                   "estimate": _roi_estimate_table("fin-estimate", roi.estimates),
                   "utilization": utilization, "restated": restated},
        "notes": _notes(_method_note([{"method": r["method"]} for r in roi.measured], p.method_rule),
                        "ROI = net value / license cost; — when there is no license cost. License cost of a "
                        "workflow row: the licenses of the units it covers, shared by their active users.",
                        "Idle seats: seats with no use in the month; their cost at the mean seat price. Users over "
                        "seats: people using a tool beyond the seats licensed (free tiers, a late license file, "
                        "movers): a finding to true up, not an error."),
    }


def governance_view(p: pages.GovernancePage, enterprise: str) -> dict[str, Any]:
    ent_x = [r for r in p.exceptions if r["org_unit"] == enterprise]
    bu_x = [r for r in p.exceptions if r["org_unit"] != enterprise]
    by_reason = {k: sum(1 for r in ent_x if r["reason"] == k) for k in f.REASONS}
    tiles = [Tile(f.reason_name(k), Markup(escape(str(n))), "capabilities", "", "behind" if n else "good")
             for k, n in by_reason.items()]
    hab = [r for r in p.habits if r["org_unit"] == enterprise]
    tiles.append(Tile("Pilots forming habits", Markup(escape(str(len(hab)))), "capabilities in pilot with "
                      "sustained users", "", "behind" if hab else "good"))
    tiles.append(Tile("Units affected", Markup(escape(str(len({r["org_unit"] for r in bu_x})))),
                      "business units with an exception"))
    return {
        "title": "Governance", "kicker": "For the AI review board",
        "subtitle": f"{f.month_name(p.month)} · clear capabilities before habits form",
        "tiles": tiles,
        "exceptions": bu_x,
        "charts": {"exceptions": charts.exceptions_by_unit("gov-exceptions", bu_x)},
        "tables": {"exceptions": _exceptions_table("gov-exceptions-table", bu_x, with_unit=True),
                   "habits": _habits_table("gov-habits", [r for r in p.habits if r["org_unit"] != enterprise],
                                           with_unit=True)},
        "notes": _notes("People and uses of an exception are counted over each business unit's whole subtree; "
                        "the enterprise counts each person once."),
    }


# --- rendering -------------------------------------------------------------------------------------------------

@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals |= {"MEASURED": f.MEASURED, "ESTIMATE": f.ESTIMATE, "SERVICE_LEVEL": f.SERVICE_LEVEL}
    return env


def _anchor(file: str) -> str:
    return "p-" + file.removesuffix(".html")


def _common(pack: pages.Pack) -> dict[str, Any]:
    """What every template of the pack is given."""
    css = (TEMPLATES / "style.css").read_text() + "\n/* great_tables */\n" + str(stylesheet())
    return {"css": Markup(css), "month_name": f.month_name(pack.month), "units": pack.enterprise.units,
            "enterprise_name": pack.enterprise.enterprise.name}


def page_files(pack: pages.Pack) -> list[str]:
    """The pack's pages in the order of the PDF: the enterprise, each business unit, finance, governance."""
    return ["index.html", *(u.unit.file for u in pack.units), "finance.html", "governance.html"]


def _view(pack: pages.Pack, file: str) -> tuple[str, dict[str, Any]]:
    """The template of the page `file` and what it shows."""
    assert pack.finance is not None and pack.governance is not None
    enterprise = pack.enterprise.enterprise.org_unit
    if file == "index.html":
        return "enterprise.html", enterprise_view(pack.enterprise)
    if file == "finance.html":
        return "finance.html", finance_view(pack.finance, enterprise)
    if file == "governance.html":
        return "governance.html", governance_view(pack.governance, enterprise)
    return "unit.html", unit_view(next(u for u in pack.units if u.unit.file == file))


def _cost(pack: pages.Pack, file: str) -> int:
    """About how long the page takes to render, in charts (a chart costs about what a table costs in the PDF):
    the pages are handed out costliest first, so that the two cores finish together."""
    if file == "index.html":
        return 5
    if file == "finance.html":
        return 3  # tables only, but long ones
    if file == "governance.html":
        return 2
    u = next(u for u in pack.units if u.unit.file == file)
    return 3 + len({r["workflow"] for r in u.measured}) + 2 * len({r["workflow"] for r in u.service})


@dataclass(frozen=True)
class Page:
    file: str
    html: str      # the page as a file of its own
    section: str   # the page as the PDF shows it: a document of its own (see write_pdf and report/pdf.py)


def render_page(pack: pages.Pack, file: str) -> Page:
    """One page of the pack: its HTML file, and its section of the PDF as a document of its own (charts as
    images, no page footers: those are drawn once the sections are joined)."""
    common = _common(pack)
    template, view = _view(pack, file)
    t = _environment().get_template(template)
    html = t.render(common, **view, active=file, embed=False, link=lambda x: x)
    section = Markup(t.render(common, **view, active=file, embed=True, anchor=_anchor(file),
                              link=lambda x: "#" + _anchor(x)))
    pdf = _environment().get_template("pdf.html").render(common, section=section, first=file == "index.html")
    return Page(file, html, pdf)


def render_pages(pack: pages.Pack) -> tuple[dict[str, str], list[str]]:
    """Every page's HTML by file name, and the PDF's sections in order (each a document), in this process."""
    done = [render_page(pack, file) for file in page_files(pack)]
    return {p.file: p.html for p in done}, [p.section for p in done]


def footers(pack: pages.Pack, n_pages: int) -> str:
    """The HTML of the PDF's page footers alone, for `n_pages` pages (drawn over the joined sections)."""
    return _environment().get_template("footers.html").render(_common(pack), pages=n_pages)


def write_pdf(html: str, path: Path) -> int:
    """One HTML document as a PDF; returns its number of pages. Everything is embedded, so a URL other than data:
    is a bug: it stops the rendering instead of becoming a request."""
    from weasyprint import HTML
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    fetcher = URLFetcher(allowed_protocols=("data",), fail_on_errors=True)
    # WeasyPrint warns once per table about the screen-only CSS great_tables writes (overflow-x: auto): noise in
    # every run's log, while a URL it would fetch is an error above
    css_log = logging.getLogger("weasyprint")
    level = css_log.level
    css_log.setLevel(logging.ERROR)
    try:
        doc = HTML(string=html, base_url=str(TEMPLATES), url_fetcher=fetcher).render()
        doc.write_pdf(path)
        return len(doc.pages)
    except FatalURLFetchingError as exc:
        raise ReportError(f"{path.name}: {exc}: the pack must embed everything it shows") from None
    finally:
        css_log.setLevel(level)


def _render_part(pack: pages.Pack, task: tuple[str, Path]) -> tuple[Page, int]:
    """In this process or the worker: a page, with its section of the PDF written to the part's file, and the
    section's number of pages."""
    file, part = task
    page = render_page(pack, file)
    return page, write_pdf(page.section, part)


def _write_footers(pack: pages.Pack, n_pages: int, path: Path) -> Path:
    write_pdf(footers(pack, n_pages), path)
    return path


def write(lake: str | Path, month: str, out: str | Path | None = None,
          timer: Callable[[], float] = time.monotonic) -> Written:
    """Write the month's pack into `out` (default `<lake>/reports/<month>/`): index.html, one page per business
    unit, finance.html, governance.html and report.pdf. The folder is replaced whole, or not at all.

    The pages are rendered on two cores (report/workers.py): each page's HTML and its section of the PDF, a PDF
    of its own; the sections are then joined into report.pdf and numbered (report/pdf.py)."""
    t0 = timer()
    pack = pages.load(lake, month)
    t1 = timer()
    folder = Path(out) if out else Path(lake) / "reports" / month
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        files = page_files(pack)
        parts = {file: tmp / f".part-{i:02d}.pdf" for i, file in enumerate(files)}
        order = sorted(files, key=lambda file: -_cost(pack, file))
        done = workers.run(_render_part, pack, [(file, parts[file]) for file in order])
        for page, _ in done:
            (tmp / page.file).write_text(page.html, encoding="utf-8")
        t2 = timer()
        # the footers (they need the number of pages) are drawn by the worker while this process joins the parts
        drawn = workers.submit(_write_footers, pack, sum(n for _, n in done), tmp / ".footers.pdf")
        joined = pdf.Joined([parts[file] for file in files])
        joined.number(drawn.result())
        joined.write(tmp / "report.pdf")
        for p in [*parts.values(), tmp / ".footers.pdf"]:
            p.unlink()
        t3 = timer()
        os.chmod(tmp, 0o755)
        _replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    written = sorted(folder.iterdir())
    return Written(folder, written, {"query": t1 - t0, "pages": t2 - t1, "pdf": t3 - t2, "total": t3 - t0})


ARTIFACT_KEY = "operating-review-pack"


def publish_artifact(written: Written, month: str) -> None:
    """Inside a Prefect flow run: a link artifact to the pack's index.html (key ARTIFACT_KEY, so the UI keeps
    every month's as versions of one artifact) and a markdown artifact linking each page and the PDF."""
    from prefect.artifacts import create_link_artifact, create_markdown_artifact

    folder = written.folder.resolve()
    create_link_artifact(link=(folder / "index.html").as_uri(), link_text=f"Operating review {month}",
                         key=ARTIFACT_KEY, description=f"The {month} operating-review pack: {folder}")
    pages_md = "\n".join(f"- [{p.name}]({p.resolve().as_uri()})" for p in written.files)
    create_markdown_artifact(key=f"{ARTIFACT_KEY}-files", description=f"Pages of the {month} pack",
                             markdown=f"# Operating review {month}\n\nFolder: `{folder}`\n\n{pages_md}\n")


def _replace(new: Path, folder: Path) -> None:
    """Put `new` in place of `folder`: the old one is renamed away first, then deleted."""
    if folder.exists():
        if not folder.is_dir():
            raise ReportError(f"{folder}: exists and is not a folder")
        old = folder.with_name(f".{folder.name}-old-{os.getpid()}")
        folder.rename(old)
        new.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        new.rename(folder)
