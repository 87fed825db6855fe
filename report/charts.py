"""The pack's charts: Altair specifications rendered to static SVG by vl-convert (no browser, no network).

Every chart returns a `Chart`: the SVG (ids made unique per chart, so many can sit inline on one page), a title,
and a text alternative that says what the chart shows in words (used as the SVG's accessible name and printed
under it). Intervals are error bars. A suppressed figure is never drawn as a zero-length bar or a gap alone: it is
written "suppressed" where the mark would be.
"""

from __future__ import annotations

import base64
import copy
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import altair as alt
import vl_convert as vlc
from markupsafe import Markup, escape

from report import formats as f

FONT = "Helvetica Neue, Helvetica, Arial, DejaVu Sans, sans-serif"
INK = "#1d2733"
MUTED = "#6b7785"
GRID = "#e6e9ee"
MEASURED = "#1b6f8a"
ESTIMATE = "#c47f12"
GOOD = "#2f8f5b"
BEHIND = "#c0392b"
STAGES = ("Seats", "Active", "Sustained")
STAGE_COLORS = ("#c9d3dd", "#6fa8c3", MEASURED)
TOOL_COLORS = {"copilot": "#6a4c93", "call_summarization": MEASURED, "lmn_drafting": "#3c8d5a"}
REASON_COLORS = {"no_decision": "#c0392b", "not_cleared_for_scope": "#e67e22", "restricted": "#8e44ad",
                 "retired": "#7f8c8d"}
WIDTH = 420
VALIDATE = False  # Altair's schema validation of every spec (slow); the tests switch it on


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    summary: str  # what the chart shows, in words
    svg: Markup

    @property
    def alt_text(self) -> str:
        return f"{self.title}. {self.summary}"

    @property
    def data_uri(self) -> str:
        """The SVG as a data: URL, for the PDF: WeasyPrint reads an image's SVG with an XML parser, while inline
        SVG goes through its HTML parser and CSS cascade, node by node (a third of the PDF's time)."""
        return "data:image/svg+xml;base64," + base64.b64encode(str(self.svg).encode()).decode()


def _config(chart: Any) -> Any:
    # aria off for marks and guides: the SVG as a whole is one image whose accessible name is the summary
    return chart.configure(font=FONT, background="white", aria=False).configure_view(stroke=None).configure_axis(
        labelColor=MUTED, titleColor=MUTED, gridColor=GRID, domainColor="#c3cad3", tickColor="#c3cad3",
        labelFontSize=11, titleFontSize=11, titleFontWeight="normal",
    ).configure_legend(labelColor=INK, titleColor=MUTED, labelFontSize=11, titleFontSize=11, orient="bottom",
                       titleFontWeight="normal")


@functools.cache
def _config_dict() -> dict[str, Any]:
    """The `config` of every chart's specification. Each `configure_*` copies the whole chart (a third of the time
    of building a chart), so it is computed once, on an empty chart, and set into each specification."""
    return _config(alt.Chart().mark_point()).to_dict(validate=True)["config"]  # type: ignore[no-any-return]


def _spec(chart: Any) -> dict[str, Any]:
    """The chart's Vega-Lite specification with the pack's config (validated as a whole when VALIDATE is on)."""
    if VALIDATE:
        return _config(chart).to_dict(validate=True)  # type: ignore[no-any-return]
    spec: dict[str, Any] = chart.to_dict(validate=False)
    spec["config"] = copy.deepcopy(_config_dict())
    return spec


def render(key: str, title: str, summary: str, chart: Any) -> Chart:
    """Render an Altair chart to inline SVG with ids unique to `key` and its title and summary as its accessible
    name (the text alternative)."""
    svg = vlc.vegalite_to_svg(_spec(chart))
    # vl-convert numbers clip paths from a counter shared by all charts: renumber them per chart, in order, so
    # ids are unique on a page and the same chart gives the same bytes every time
    prefix = re.sub(r"[^A-Za-z0-9_-]", "-", key)
    ids: dict[str, str] = {}
    for old in re.findall(r'\bid="([^"]+)"', svg):
        ids.setdefault(old, f"{prefix}-{len(ids) + 1}")
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{ids[m.group(1)]}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{ids.get(m.group(1), m.group(1))})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{ids.get(m.group(1), m.group(1))}"', svg)
    label = escape(f"{title}. {summary}")
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)
    svg = re.sub(r"(<svg[^>]*>)", rf"\1<title>{label}</title>", svg, count=1)
    return Chart(key=key, title=title, summary=summary, svg=Markup(svg))


def _suppressed_text(data: list[dict[str, Any]], **encode: Any) -> Any:
    return alt.Chart(alt.Data(values=data)).mark_text(
        align="left", dx=4, fontStyle="italic", color=MUTED, fontSize=11).encode(text="label:N", **encode)


def _sentence(parts: Sequence[str], empty: str) -> str:
    """The parts as one sentence: capitalized, '; '-separated, ending with a full stop."""
    text = "; ".join(p for p in parts if p) or empty
    return text[:1].upper() + text[1:].rstrip(".") + "."


# --- adoption -------------------------------------------------------------------------------------------------

def funnel(key: str, rows: list[dict[str, Any]]) -> Chart:
    """Seats → active → sustained users per tool, for one unit and month (rows of queries.adoption)."""
    data: list[dict[str, Any]] = []
    words: list[str] = []
    tools = [f.tool_name(r["tool"]) for r in rows]
    for r in rows:
        name = f.tool_name(r["tool"])
        seats = r["seats"]
        data.append({"tool": name, "stage": "Seats", "value": seats or 0,
                     "label": f.number(seats) if seats is not None else "no seats licensed"})
        if r["suppressed"]:
            for stage in STAGES[1:]:  # no value: nothing is drawn, the words say why
                data.append({"tool": name, "stage": stage, "label": "suppressed (fewer than 11 people)", "sup": True})
            words.append(f"{name}: {f.number(seats or 0)} seats, users suppressed (fewer than 11 people)")
            continue
        for stage, users, rate in (("Active", r["active_users"], r["active_rate"]),
                                   ("Sustained", r["sustained_users"], r["sustained_rate"])):
            share = f" · {f.percent(rate)} of seats" if rate is not None else ""
            data.append({"tool": name, "stage": stage, "value": users, "label": f"{f.number(users)}{share}"})
        words.append(f"{name}: {f.number(seats or 0)} seats, {f.number(r['active_users'])} active, "
                     f"{f.number(r['sustained_users'])} sustained")
    shown = [d for d in data if not d.get("sup")]
    y = alt.Y("tool:N", sort=tools, title=None, scale=alt.Scale(paddingInner=0.3, paddingOuter=0.15),
              axis=alt.Axis(labelFontSize=12, labelColor=INK, labelLimit=160))
    offset = alt.YOffset("stage:N", sort=list(STAGES), scale=alt.Scale(paddingInner=0.1))
    bars = alt.Chart(alt.Data(values=shown)).mark_bar(cornerRadiusEnd=2, height={"band": 1}).encode(
        y=y, yOffset=offset, x=alt.X("value:Q", title="people", axis=alt.Axis(grid=True, tickCount=5)),
        color=alt.Color("stage:N", sort=list(STAGES), title=None,
                        scale=alt.Scale(domain=list(STAGES), range=list(STAGE_COLORS))))
    labels = alt.Chart(alt.Data(values=shown)).mark_text(align="left", dx=4, fontSize=11, color=INK).encode(
        y=y, yOffset=offset, x="value:Q", text="label:N")
    sup = _suppressed_text([d for d in data if d.get("sup")], y=y, yOffset=offset, x=alt.value(0))
    # with an offset channel the height's step is one stage's bar; the tools' bands are padded apart
    chart = alt.layer(bars, labels, sup).properties(width=WIDTH - 150, height=alt.Step(15))
    title = "Seats → active → sustained users"
    return render(key, title, _sentence(words, "No tool licensed or used."), chart)


def adoption_trend(key: str, rows: list[dict[str, Any]], months: list[str]) -> Chart:
    """Sustained (solid) and active (dashed) users over seats per tool, month by month."""
    data: list[dict[str, Any]] = []
    sup: list[dict[str, Any]] = []
    rows_of: dict[str, int] = {}  # tool → its line of "suppressed" marks at the top
    words: list[str] = []
    for tool in sorted({r["tool"] for r in rows}):
        own = sorted((r for r in rows if r["tool"] == tool), key=lambda r: r["month"])
        name = f.tool_name(tool)
        for r in own:
            if r["suppressed"]:
                rows_of.setdefault(name, len(rows_of))
                sup.append({"month": f.month_abbr(r["month"]), "tool": name, "label": "suppressed",
                            "row": rows_of[name]})
                continue
            for measure, v in (("sustained", r["sustained_rate"]), ("active", r["active_rate"])):
                if v is not None:
                    data.append({"month": f.month_abbr(r["month"]), "tool": name, "measure": measure, "rate": v})
        sustained = [(r["month"], r["sustained_rate"]) for r in own if not r["suppressed"]
                     and r["sustained_rate"] is not None]
        if sustained:
            (m0, v0), (m1, v1) = sustained[0], sustained[-1]
            words.append(f"{name} sustained rate {f.percent(v0)} in {f.month_name(m0, True)}, "
                         f"{f.percent(v1)} in {f.month_name(m1, True)}")
        n_sup = sum(1 for r in own if r["suppressed"])
        if n_sup:
            words.append(f"{name} suppressed in {n_sup} month{'s' if n_sup > 1 else ''} (fewer than 11 people)")
    order = [f.month_abbr(m) for m in months]
    top = max([1.0] + [d["rate"] for d in data]) * (1 + 0.09 * (len(rows_of) + 1) if rows_of else 1)  # room on top
    x = alt.X("month:O", sort=order, title=None, scale=alt.Scale(domain=order), axis=alt.Axis(labelAngle=0))
    present = [t for t in TOOL_COLORS if any(r["tool"] == t for r in rows)]
    present += sorted({r["tool"] for r in rows} - set(present))
    color = alt.Color("tool:N", title=None, scale=alt.Scale(
        domain=[f.tool_name(t) for t in present], range=[TOOL_COLORS.get(t, MUTED) for t in present]))
    base = alt.Chart(alt.Data(values=data)).encode(
        x=x, y=alt.Y("rate:Q", title="users / seats", scale=alt.Scale(domain=[0, top]),
                     axis=alt.Axis(format="%", tickCount=5)),
        color=color, detail="measure:N")
    lines = base.mark_line(strokeWidth=2.5).encode(strokeDash=alt.StrokeDash(
        "measure:N", title=None, sort=["sustained", "active"],
        scale=alt.Scale(domain=["sustained", "active"], range=[[1, 0], [5, 3]])))
    points = base.mark_point(filled=True, size=36)
    layers = [lines, points]
    if sup:
        for row in sorted({d["row"] for d in sup}):  # one line of marks per tool, in the tool's colour
            layers.append(alt.Chart(alt.Data(values=[d for d in sup if d["row"] == row])).mark_text(
                fontStyle="italic", fontSize=9, dy=0).encode(
                x=x, y=alt.value(6 + 11 * row), text="label:N", color=color))
    chart = alt.layer(*layers).properties(width=WIDTH - 60, height=170)
    title = f"Adoption over {len(months)} months"
    return render(key, title, _sentence(words, "no use in these months"), chart)


# --- measured value -----------------------------------------------------------------------------------------

def saving_trend(key: str, workflow: str, metric_code: str, rows: list[dict[str, Any]], months: list[str]) -> Chart:
    """Saving per assisted item, month by month, with its 95 % interval as error bars (measured)."""
    what, unit, factor = f.metric(metric_code)
    order = [f.month_abbr(m) for m in months]
    data, sup, words = [], [], []
    for r in sorted(rows, key=lambda r: r["month"]):
        if r["saving_per_item"] is None:
            sup.append({"month": f.month_abbr(r["month"]), "label": "suppressed" if r["suppressed"] else "—"})
            continue
        data.append({"month": f.month_abbr(r["month"]), "saving": r["saving_per_item"] * factor,
                     "low": r["saving_ci_low"] * factor, "high": r["saving_ci_high"] * factor})
    if data:
        last = data[-1]
        words.append(f"{last['month']}: {last['saving']:,.1f} {unit} saved per item "
                     f"(95 % interval {last['low']:,.1f} to {last['high']:,.1f})")
        words.append(f"range over the months shown {min(d['saving'] for d in data):,.1f} to "
                     f"{max(d['saving'] for d in data):,.1f} {unit}")
    for label, status in (("suppressed", "suppressed (fewer than 11 items)"), ("—", "not measured")):
        months_of = [d["month"] for d in sup if d["label"] == label]
        if months_of:
            words.append(f"{status} in {', '.join(months_of)}")
    x = alt.X("month:O", sort=order, title=None, scale=alt.Scale(domain=order), axis=alt.Axis(labelAngle=0))
    y = alt.Y("low:Q", title=f"{unit} saved per item", scale=alt.Scale(zero=True))
    bars = alt.Chart(alt.Data(values=data)).mark_errorbar(ticks=True, thickness=2, color=MEASURED).encode(
        x=x, y=y, y2="high:Q")
    points = alt.Chart(alt.Data(values=data)).mark_point(filled=True, size=60, color=MEASURED).encode(
        x=x, y="saving:Q")
    zero = alt.Chart(alt.Data(values=[{"z": 0}])).mark_rule(color="#9aa5b1").encode(y="z:Q")
    layers = [zero, bars, points]
    if sup:
        layers.append(alt.Chart(alt.Data(values=sup)).mark_text(fontStyle="italic", fontSize=10, color=MUTED).encode(
            x=x, y=alt.value(8), text="label:N"))
    chart = alt.layer(*layers).properties(width=WIDTH - 60, height=160)
    title = f"{f.workflow_name(workflow)}: {what} saved ({unit}), 95 % interval"
    return render(key, title, _sentence(words, "No measured month."), chart)


def attainment(key: str, rows: list[dict[str, Any]], months: list[str]) -> Chart:
    """Measured hours saved per month (bars) against the month's target (black ticks) for one business unit."""
    order = [f.month_abbr(m) for m in months]
    data, sup, words = [], [], []
    for r in sorted(rows, key=lambda r: r["month"]):
        m = f.month_abbr(r["month"])
        if r["hours_saved"] is None:
            sup.append({"month": m, "label": "suppressed" if r["suppressed"] else "none"})
        else:
            label = f.percent(r["attainment"]) if r["attainment"] is not None else ""
            data.append({"month": m, "hours": r["hours_saved"], "label": label,
                         "met": r["attainment"] is not None and r["attainment"] >= 1})
        if r["target_hours_saved"] is not None:
            data.append({"month": m, "target": r["target_hours_saved"]})
    cur = [r for r in rows if r["month"] == months[-1]]
    if cur and cur[0]["hours_saved"] is not None:
        c = cur[0]
        target = f"against a target of {f.hours(c['target_hours_saved'])}" if c["target_hours_saved"] else "no target"
        att = f" ({f.percent(c['attainment'])} attained)" if c["attainment"] is not None else ""
        words.append(f"{f.month_name(c['month'], True)}: {f.hours(c['hours_saved'])} measured {target}{att}")
    for label, what in (("none", "no measured hours"), ("suppressed", "suppressed (fewer than 11 items)")):
        months_of = [d["month"] for d in sup if d["label"] == label]
        if months_of:
            words.append(f"{what} in {', '.join(months_of)}" if len(months_of) < len(order) else
                         f"{what} in any month shown")
    targets = sorted({r["target_hours_saved"] for r in rows if r["target_hours_saved"] is not None})
    if not any(r["hours_saved"] is not None for r in rows) and targets:
        low, high = f.hours(targets[0]), f.hours(targets[-1])
        words.append(f"target {low} a month" if low == high else f"targets {low} to {high} a month")
    x = alt.X("month:O", sort=order, title=None, scale=alt.Scale(domain=order), axis=alt.Axis(labelAngle=0))
    hrs = [d for d in data if "hours" in d]
    tgt = [d for d in data if "target" in d]
    bars = alt.Chart(alt.Data(values=hrs)).mark_bar(size=26, cornerRadiusEnd=2).encode(
        x=x, y=alt.Y("hours:Q", title="hours saved (measured)"),
        color=alt.Color("met:N", legend=None, scale=alt.Scale(domain=[True, False], range=[GOOD, MEASURED])))
    labels = alt.Chart(alt.Data(values=hrs)).mark_text(dy=-7, fontSize=10, color=INK).encode(
        x=x, y="hours:Q", text="label:N")
    ticks = alt.Chart(alt.Data(values=tgt)).mark_tick(color=INK, thickness=2.5, size=38).encode(x=x, y="target:Q")
    layers = [bars, ticks, labels]
    if sup:  # where the bar would stand
        layers.append(alt.Chart(alt.Data(values=sup)).mark_text(
            fontStyle="italic", fontSize=9, color=MUTED, baseline="bottom").encode(
            x=x, y=alt.value(166), text="label:N"))
    chart = alt.layer(*layers).properties(width=WIDTH - 60, height=170)
    title = "Measured hours saved against target (black tick); label: attainment"
    return render(key, title, _sentence(words, "No measured hours in these months."), chart)


def backlog(key: str, workflow: str, rows: list[dict[str, Any]], months: list[str]) -> Chart:
    """Cases open at each month's end, split into those within and beyond the SLA (a service level: never
    dollars); a month whose backlog rests on fewer than 11 cases is written "suppressed"."""
    order = [f.month_abbr(m) for m in months]
    data, sup, words = [], [], []
    for r in sorted(rows, key=lambda r: r["month"]):
        m = f.month_abbr(r["month"])
        if r["backlog_open"] is None:
            sup.append({"month": m, "label": "suppressed" if r["backlog_suppressed"] else "—"})
            continue
        over = r["backlog_over_sla"]
        within = r["backlog_open"] - (over or 0)
        data.append({"month": m, "part": "within SLA", "n": within, "order": 1})
        if over is not None:
            data.append({"month": m, "part": "beyond SLA", "n": over, "order": 0})
    last = [r for r in rows if r["month"] == months[-1]]
    if last and last[0]["backlog_open"] is not None:
        r = last[0]
        sla = f"beyond the {f.number(r['sla_hours'])} h SLA" if r["sla_hours"] is not None else "(no SLA set)"
        over_text = f"{f.number(r['backlog_over_sla'])} {sla}" if r["backlog_over_sla"] is not None else sla
        words.append(f"{f.month_name(r['month'], True)}: {f.number(r['backlog_open'])} cases open at month end, "
                     f"{over_text}; the oldest open {r['oldest_open_hours']:,.0f} h")
    months_sup = [d["month"] for d in sup if d["label"] == "suppressed"]
    if months_sup:
        words.append(f"suppressed (fewer than 11 open cases) in {', '.join(months_sup)}")
    x = alt.X("month:O", sort=order, title=None, scale=alt.Scale(domain=order), axis=alt.Axis(labelAngle=0))
    bars = alt.Chart(alt.Data(values=data)).mark_bar(size=26).encode(
        x=x, y=alt.Y("n:Q", title="cases open at month end", stack="zero"),
        order=alt.Order("order:Q"),
        color=alt.Color("part:N", title=None, sort=["beyond SLA", "within SLA"],
                        scale=alt.Scale(domain=["beyond SLA", "within SLA"], range=[BEHIND, "#b9c6d2"])))
    layers = [bars]
    if sup:
        layers.append(alt.Chart(alt.Data(values=sup)).mark_text(
            fontStyle="italic", fontSize=9, color=MUTED, baseline="bottom").encode(
            x=x, y=alt.value(146), text="label:N"))
    chart = alt.layer(*layers).properties(width=WIDTH - 60, height=150)
    title = f"{f.workflow_name(workflow)}: backlog at month end, beyond SLA in red"
    return render(key, title, _sentence(words, "No backlog in these months."), chart)


# --- enterprise -------------------------------------------------------------------------------------------

def units_side_by_side(key: str, rows: list[dict[str, Any]]) -> Chart:
    """Business units side by side: target attainment (100 % rule) and sustained rate."""
    names = [r["name"] for r in rows]
    panels = []
    words = []
    for field, title in (("attainment", "Target attainment (measured hours / target)"),
                         ("sustained_rate", "Sustained users / seats")):
        shown = [{"name": r["name"], "v": r[field], "label": f.percent(r[field]),
                  "behind": field == "attainment" and r[field] < 1}
                 for r in rows if r[field] is not None]
        missing = [{"name": r["name"], "label": "suppressed" if r[f"{field}_suppressed"] else
                    ("no measured workflow" if field == "attainment" else "no seats")}
                   for r in rows if r[field] is None]
        top = min(max([1.2] + [d["v"] * 1.25 for d in shown]), 2.5)  # an outlier is clipped, its label says it
        y = alt.Y("name:N", sort=names, title=None, axis=alt.Axis(labelLimit=170, labelColor=INK, labelFontSize=12))
        color = (alt.Color("behind:N", legend=None, scale=alt.Scale(domain=[True, False], range=[BEHIND, GOOD]))
                 if field == "attainment" else alt.value(MEASURED))
        for d in shown:
            d["x"] = min(d["v"], top)
        xs = alt.X("x:Q", title=title, scale=alt.Scale(domain=[0, top]), axis=alt.Axis(format="%", tickCount=5))
        layers = [alt.Chart(alt.Data(values=shown)).mark_bar(cornerRadiusEnd=2, size=18).encode(
                      y=y, x=xs, color=color),
                  alt.Chart(alt.Data(values=shown)).mark_text(align="left", dx=4, fontSize=11, color=INK).encode(
                      y=y, x="x:Q", text="label:N"),
                  _suppressed_text(missing, y=y, x=alt.value(0))]
        if field == "attainment":
            layers.insert(1, alt.Chart(alt.Data(values=[{"x": 1}])).mark_rule(
                color=INK, strokeDash=[4, 3]).encode(x="x:Q"))
        panels.append(alt.layer(*layers).properties(width=250, height=alt.Step(30)))
        words.append(title + ": " + ", ".join(
            f"{d['name']} {d['label']}" for d in shown) + "".join(f", {m['name']} {m['label']}" for m in missing))
    chart = alt.hconcat(*panels, spacing=30)
    title = "Business units side by side"
    return render(key, title, _sentence(words, ""), chart)


# --- governance -----------------------------------------------------------------------------------------------

def exceptions_by_unit(key: str, rows: list[dict[str, Any]]) -> Chart:
    """People using capabilities governance has not cleared, per business unit and capability, coloured by reason."""
    data, sup, words = [], [], []
    for r in rows:
        label = f"{r['capability']} · {r['unit_name']}"
        if r["users"] is None:
            sup.append({"row": label, "label": "suppressed (fewer than 11 people)", "reason": r["reason"]})
            words.append(f"{label}: {f.reason_name(r['reason'])}, suppressed")
        else:
            data.append({"row": label, "users": r["users"], "reason": f.reason_name(r["reason"]),
                         "label": f"{f.number(r['users'])} people · {f.number(r['events'])} uses"})
            words.append(f"{label}: {f.reason_name(r['reason'])}, {r['users']} people")
    order = [f"{r['capability']} · {r['unit_name']}" for r in rows]
    y = alt.Y("row:N", sort=order, title=None, axis=alt.Axis(labelLimit=260, labelColor=INK, labelFontSize=11))
    x = alt.X("users:Q", title="people", axis=alt.Axis(tickCount=5))
    color = alt.Color("reason:N", title=None, scale=alt.Scale(
        domain=[f.reason_name(k) for k in REASON_COLORS], range=list(REASON_COLORS.values())))
    bars = alt.Chart(alt.Data(values=data)).mark_bar(size=14, cornerRadiusEnd=2).encode(y=y, x=x, color=color)
    labels = alt.Chart(alt.Data(values=data)).mark_text(align="left", dx=4, fontSize=10, color=INK).encode(
        y=y, x="users:Q", text="label:N")
    chart = alt.layer(bars, labels, _suppressed_text(sup, y=y, x=alt.value(0))).properties(
        width=WIDTH, height=alt.Step(22))
    title = "People using capabilities governance has not cleared, by business unit"
    return render(key, title, _sentence(words, "None this month."), chart)
