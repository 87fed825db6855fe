"""`uptake report`: render the month's pack (HTML pages and report.pdf) from the data of `pages.load`.

Each `*_view` turns one page's data into what its template shows (headline tiles, charts, tables, notes); `write`
renders every page, then the whole pack as one PDF, into a fresh folder that replaces `out` only when complete.
"""

from __future__ import annotations

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

from report import charts, pages
from report import formats as f
from report.queries import ReportError, Row
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

def _measured_table(key: str, rows: list[Row], with_unit: bool, finance: bool = False) -> Markup | None:
    if not rows:
        return None
    cols = ([Column("unit", "Unit")] if with_unit else []) + [
        Column("workflow", "Workflow"), Column("method", "Method"),
        Column("n", "AI-assisted items", True), Column("nb", "Baseline items", True),
        Column("saving", "Saving per item (95 % interval)", True),
        Column("hours", "Hours saved (95 % interval)", True), Column("value", "Value of staff time", True)]
    if finance:
        cols += [Column("cost", "License cost", True), Column("net", "Net value", True), Column("roi", "ROI", True)]
    cols.append(Column("basis", "Basis"))
    out = []
    for r in rows:
        sup = r["suppressed"]
        row = {
            "unit": f.text(r["unit_name"]), "workflow": f.text(f.workflow_name(r["workflow"])),
            "method": f.text(f.method_name(r["method"])),
            "n": f.cell(r["n_assisted"], f.number, sup), "nb": f.cell(r["n_baseline"], f.number, sup),
            "saving": _saving_with_interval(r), "hours": _hours_with_interval(r),
            "value": f.cell(r["value_usd"], f.usd, sup), "basis": f.MEASURED,
        }
        if finance:
            row |= {"cost": f.cell(r["cost_usd"], f.usd), "net": f.cell(r["net_value_usd"], f.usd, sup),
                    "roi": f.cell(r["roi"], _ratio, sup)}
        out.append(row)
    return table(key, cols, out)


def _estimate_table(key: str, rows: list[Row], with_unit: bool, finance: bool = False) -> Markup | None:
    if not rows:
        return None
    cols = ([Column("unit", "Unit")] if with_unit else []) + [
        Column("tool", "Tool"), Column("users", "Active users", True), Column("actions", "Actions", True),
        Column("hours", "Assisted hours", True), Column("value", "Value", True), Column("cost", "License cost", True)]
    if finance:
        cols += [Column("net", "Net value", True), Column("roi", "ROI", True)]
    cols.append(Column("basis", "Basis"))
    out = []
    for r in rows:
        sup = r["suppressed"]
        net = None if r["value_usd"] is None else r["value_usd"] - (r["cost_usd"] or 0)
        roi = None if net is None or not r["cost_usd"] else net / r["cost_usd"]
        out.append({
            "unit": f.text(r["unit_name"]), "tool": f.text(f.tool_name(r["tool"])),
            "users": f.cell(r["active_users"], f.number, sup), "actions": f.cell(r["actions"], f.number, sup),
            "hours": f.cell(r["assisted_hours"], f.hours, sup), "value": f.cell(r["value_usd"], f.usd, sup),
            "cost": f.cell(r["cost_usd"], f.usd), "net": f.cell(net, f.usd, sup), "roi": f.cell(roi, _ratio, sup),
            "basis": f.ESTIMATE,
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
    att, sup = sc["attainment"], sc["suppressed"]
    target = f"target {f.hours(sc['target_hours_saved'])}" if sc["target_hours_saved"] is not None else "no target set"
    if att is None:
        note = target if sc["hours_saved"] is not None or sup else f"no measured workflow · {target}"
        return Tile("Target attainment", f.cell(None, str, sup and sc["hours_saved"] is None), note, "measured")
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


def _method_note(rows: list[Row]) -> str:
    methods = sorted({r["method"] for r in rows})
    if not methods:
        return ""
    return ("Method: " + ", ".join(f.method_name(m) for m in methods)
            + " (the recommended method for each workflow, unit and month).")


def _attainment_rows(p: pages.UnitPage) -> list[Row]:
    """The scorecard's months, each marked suppressed only when a workflow's hours of that month are withheld
    (the scorecard's own flag covers the whole row: adoption and estimates too)."""
    withheld = {r["month"] for r in p.measured if r["hours_saved"] is None and r["suppressed"]}
    return [r | {"suppressed": r["month"] in withheld} for r in p.scorecard]


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
        },
        "tables": {
            "wins": _measured_table(f"{key}-wins", measured_now, with_unit=False),
            "estimate": _estimate_table(f"{key}-estimate", p.now(p.estimates), with_unit=False),
            "exceptions": _exceptions_table(f"{key}-exceptions", p.exceptions, with_unit=False),
            "habits": _habits_table(f"{key}-habits", p.habits, with_unit=False),
            "detail": detail,
        },
        "notes": _notes(_method_note(p.measured)),
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
        f"of {escape(f.hours_of(w['metric']))}, {escape(f.usd(w['value_usd']))} {f.MEASURED}")


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
        sup = bool(r and r["suppressed"])
        att = r["attainment"] if r else None
        att_cell = f.cell(att, f.percent, sup and r is not None and r["hours_saved"] is None)
        if att is not None:
            att_cell = Markup(f'<span class="{"behind" if att < 1 else "ok"}">{att_cell}</span>')
        unit_rows.append({
            "unit": Markup(f'<a href="{escape(u.file)}">{escape(u.name)}</a>'),
            "leader": f.cell(u.leader, str),
            "attainment": att_cell,
            "hours": f.cell(r and r["hours_saved"], f.hours, sup),
            "target": f.cell(r and r["target_hours_saved"], f.hours),
            "value": f.cell(r and r["value_usd"], f.usd, sup),
            "sustained": f.cell(r and r["sustained_rate"], f.percent, sup),
            "active": f.cell(r and r["active_rate"], f.percent, sup),
            "est_hours": f.cell(r and r["assisted_hours"], f.hours, sup),
            "exceptions": Markup(escape(str(exc_count[u.org_unit]))),
        })
        chart_rows.append({"name": names[u.org_unit].name, "attainment": att,
                           "sustained_rate": r["sustained_rate"] if r else None,
                           "suppressed": sup, "hours_saved": r["hours_saved"] if r else None})
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
        "notes": _notes(_method_note(p.measured)),
    }


def finance_view(p: pages.FinancePage) -> dict[str, Any]:
    return {
        "title": "Finance", "kicker": "Return on AI spend",
        "subtitle": f"{f.month_name(p.month)} · workflow-measured rows and business-unit estimates, kept apart",
        "tables": {"measured": _measured_table("fin-measured", p.measured, with_unit=True, finance=True),
                   "estimate": _estimate_table("fin-estimate", p.estimates, with_unit=True, finance=True)},
        "notes": _notes(_method_note(p.measured),
                        "ROI = net value / license cost; — when there is no license cost."),
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

def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals |= {"MEASURED": f.MEASURED, "ESTIMATE": f.ESTIMATE}
    return env


def _anchor(file: str) -> str:
    return "p-" + file.removesuffix(".html")


def render_pages(pack: pages.Pack) -> tuple[dict[str, str], str]:
    """Every page's HTML by file name, and the HTML of the whole pack as one document for the PDF."""
    env = _environment()
    css = (TEMPLATES / "style.css").read_text() + "\n/* great_tables */\n" + str(stylesheet())
    common = {"css": Markup(css), "month_name": f.month_name(pack.month), "units": pack.enterprise.units}
    assert pack.finance is not None and pack.governance is not None
    views: list[tuple[str, str, dict[str, Any]]] = [("index.html", "enterprise.html", enterprise_view(pack.enterprise))]
    views += [(u.unit.file, "unit.html", unit_view(u)) for u in pack.units]
    views += [("finance.html", "finance.html", finance_view(pack.finance)),
              ("governance.html", "governance.html",
               governance_view(pack.governance, pack.enterprise.enterprise.org_unit))]
    html: dict[str, str] = {}
    sections: list[Markup] = []
    for file, template, view in views:
        t = env.get_template(template)
        html[file] = t.render(common, **view, active=file, embed=False, link=lambda x: x)
        sections.append(Markup(t.render(common, **view, active=file, embed=True, anchor=_anchor(file),
                                        link=lambda x: "#" + _anchor(x))))
    pdf = env.get_template("pdf.html").render(common, sections=sections,
                                              enterprise_name=pack.enterprise.enterprise.name)
    return html, pdf


def write_pdf(html: str, path: Path) -> None:
    """The PDF of the whole pack. Everything is embedded, so a URL other than data: is a bug: it stops the
    rendering instead of becoming a request."""
    from weasyprint import HTML
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    fetcher = URLFetcher(allowed_protocols=("data",), fail_on_errors=True)
    try:
        HTML(string=html, base_url=str(TEMPLATES), url_fetcher=fetcher).write_pdf(path)
    except FatalURLFetchingError as exc:
        raise ReportError(f"{path.name}: {exc}: the pack must embed everything it shows") from None


def write(lake: str | Path, month: str, out: str | Path | None = None,
          timer: Callable[[], float] = time.monotonic) -> Written:
    """Write the month's pack into `out` (default `<lake>/reports/<month>/`): index.html, one page per business
    unit, finance.html, governance.html and report.pdf. The folder is replaced whole, or not at all."""
    t0 = timer()
    pack = pages.load(lake, month)
    t1 = timer()
    html, pdf_html = render_pages(pack)
    t2 = timer()
    folder = Path(out) if out else Path(lake) / "reports" / month
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        for name, text in html.items():
            (tmp / name).write_text(text, encoding="utf-8")
        write_pdf(pdf_html, tmp / "report.pdf")
        t3 = timer()
        os.chmod(tmp, 0o755)
        _replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files = sorted(folder.iterdir())
    return Written(folder, files, {"query": t1 - t0, "html": t2 - t1, "pdf": t3 - t2, "total": t3 - t0})


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
