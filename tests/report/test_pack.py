"""The pack as a person sees it: pages in a real browser with the network blocked, the PDF's sections, nothing
private anywhere in it, suppressed figures that stay suppressed, hostile names escaped, clear errors."""

from __future__ import annotations

import csv
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from PIL import Image, ImageStat
from pypdf import PdfReader

from report import charts, formats, pack, pages
from report.queries import ReportError
from tests.report.browser import visit
from tests.report.conftest import HOSTILE_CAPABILITY, RESTATED, TINY, TINY_KEY, TINY_LEADER, TINY_NAME
from uptake.cli import main
from uptake.generate.faults import PHI_TEXT

BUSINESS_UNITS = ["BU-CC", "BU-CS", "BU-SP"]  # the generated organization's (uptake/org.py)


# --- reading a page back -------------------------------------------------------------------------------------

class _Cells(HTMLParser):
    """Text of every table cell, per table id (the great_tables wrapper's), and of every element by class."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.by_class: dict[str, list[str]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._open: list[tuple[str, list[str]]] = []  # (tag, classes) of open elements, with collected text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "div" and "gt" in (a.get("class") or "").split():
            self._table = a.get("id") or ""
            self.tables[self._table] = []
        if tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        if tag in ("td", "th") and self._table is not None:
            self._cell = []
        if tag == "br" and self._cell is not None:
            self._cell.append(" ")
        if tag not in ("br", "img", "meta", "input"):
            self._open.append((tag, (a.get("class") or "").split()))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        if tag == "table":
            self._table = None
        while self._open:
            t, _ = self._open.pop()
            if t == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def cells(html: str) -> dict[str, list[list[str]]]:
    p = _Cells()
    p.feed(html)
    return {k: [r for r in v if r] for k, v in p.tables.items()}


def tiles(html: str) -> dict[str, str]:
    """Headline tile label → value text."""
    out = {}
    for m in re.finditer(r'<div class="tile[^"]*">\s*<div class="label">(.*?)</div>\s*<div class="value">(.*?)</div>',
                         html, flags=re.S):
        label = re.sub(r"<[^>]+>", "", m.group(1)).replace("measured", "").replace("estimate", "").strip()
        out[label] = re.sub(r"<[^>]+>", "", m.group(2)).strip()
    return out


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


# --- the browser -----------------------------------------------------------------------------------------------

def test_the_blocked_browser_sees_a_page_that_reaches_out(tmp_path):
    """The detector itself: a page that loads an image and fetches from the internet is caught."""
    page = tmp_path / "leaky.html"
    page.write_text('<h1>x</h1><img src="https://example.com/a.png"><script>fetch("http://example.org/b")</script>')
    seen = visit(page.as_uri(), tmp_path / "leaky.png", height=300)
    assert "https://example.com/a.png" in seen.page_requests
    assert seen.responses == 0


@pytest.mark.slow
@pytest.mark.parametrize("page", ["index", *BUSINESS_UNITS])
def test_pages_render_offline_with_their_charts(pack_dir, tmp_path, page):
    seen = visit((pack_dir / f"{page}.html").as_uri(), tmp_path / f"{page}.png")
    assert seen.page_requests == [], "the page asked the network for something"
    assert seen.responses == 0, "a response came back: the network was reachable"
    # not blank: a white or one-colour page has almost no variance and no ink
    img = Image.open(seen.screenshot).convert("L")
    assert ImageStat.Stat(img).stddev[0] > 20
    ink = sum(n for v, n in enumerate(img.histogram()) if v < 160) / (img.width * img.height)
    assert ink > 0.01, f"only {ink:.1%} of the page is text or chart"
    # the charts are there, as inline SVG with marks and a text alternative
    svgs = re.findall(r"<svg\b[^>]*>.*?</svg>", seen.dom, flags=re.S)
    charts_in_dom = [s for s in svgs if 'role="img"' in s[:400]]
    assert len(charts_in_dom) >= (2 if page == "index" else 3), len(charts_in_dom)
    for svg in charts_in_dom:
        label = re.search(r'aria-label="([^"]+)"', svg)
        assert label and len(label.group(1)) > 20
        assert svg.count("<path") + svg.count("<rect") > 10, "an empty chart"
        assert "<text" in svg
    assert seen.dom.count("<figcaption>") == len(charts_in_dom)
    assert 'class="gt"' in seen.dom  # tables


def test_the_pack_references_nothing_outside_itself(pack_dir):
    files = sorted(p.name for p in pack_dir.iterdir())
    assert files == sorted(["index.html", "finance.html", "governance.html", "report.pdf",
                            *[f"{u}.html" for u in BUSINESS_UNITS]])
    for page in pack_dir.glob("*.html"):
        html = page.read_text()
        # links and sources: only the pack's own pages (the SVG namespace is an identifier, not a request)
        refs = re.findall(r'(?:href|src)="([^"#]*)', html) + re.findall(r"url\(([^)#]*)\)", html)
        assert {r for r in refs if r} <= set(files), page.name
        assert "@import" not in html and "<script" not in html and "<link" not in html


# --- the PDF -------------------------------------------------------------------------------------------------

def test_pdf_has_a_page_or_more_per_section(pack_dir):
    reader = PdfReader(pack_dir / "report.pdf")
    items = [item for item in reader.outline if not isinstance(item, list)]
    outline = [(item.title, reader.get_destination_page_number(item)) for item in items]
    names = [t for t, _ in outline]
    assert names == ["Meridian Health Plan", "Member Contact Center", "Corporate Services", "Specialty Pharmacy",
                     "Finance", "Governance"]
    starts = [n for _, n in outline]
    assert starts == sorted(set(starts)), "two sections share a page"
    for item, n in zip(items, starts, strict=True):  # each section's title opens its page (under the kicker)
        height = float(reader.pages[n].mediabox.height)
        assert height - float(item.top) < 80, (item.title, height - float(item.top))
    assert len(reader.pages) >= len(outline)
    assert starts[0] == 0
    text = pdf_text(pack_dir / "report.pdf")
    assert "suppressed" in text and "MEASURED" in text and "ESTIMATE" in text


# --- privacy -------------------------------------------------------------------------------------------------

def _private_strings(lake: Path, reference: Path) -> set[str]:
    con = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)
    try:
        keys = {r[0] for r in con.execute("select distinct actor_key from events").fetchall()}
    finally:
        con.close()
    with open(reference / "roster.csv", newline="") as fh:
        ids = {r["actor_id"] for r in csv.DictReader(fh)}
    phi = set(PHI_TEXT) | {w for t in PHI_TEXT for w in re.findall(r"[A-Z0-9-]{8,}", t)}  # MRNs, member ids
    assert len(keys) > 100 and len(ids) > 100 and len(phi) > 3
    return keys | ids | phi


def _found(private: set[str], text: str) -> set[str]:
    """The private strings that occur in `text` (every window of each length, so a match inside a longer run
    of characters counts too)."""
    found = set()
    for n in {len(s) for s in private}:
        same = {s for s in private if len(s) == n}
        if len(same) < 50:  # a few strings: search for each
            found |= {s for s in same if s in text}
        else:  # thousands of keys or ids: every window of the text, once
            found |= same & {text[i:i + n] for i in range(len(text) - n + 1)}
    return found


def test_the_privacy_scan_finds_what_it_looks_for():
    assert _found({"E0103064", "ab" * 16}, "x" + "ab" * 17 + " id E0103064.") == {"E0103064", "ab" * 16}
    assert _found({"E0103064"}, "E010306 4") == set()
    many = {f"{i:032x}" for i in range(100)}  # the path for thousands of keys
    assert _found(many, f"key={5:032x}z, x{99:032x}") == {f"{5:032x}", f"{99:032x}"}


@pytest.mark.parametrize("which", ["pack_dir", "hostile_pack"])
def test_the_pack_holds_no_pseudonym_raw_id_or_free_text(request, small_org, which):
    folder: Path = request.getfixturevalue(which)
    lake = request.getfixturevalue("built").parent if which == "pack_dir" else request.getfixturevalue(
        "hostile_lake")
    private = _private_strings(lake, small_org / "reference")
    if which == "hostile_pack":
        assert TINY_KEY in private
    texts = {p.name: p.read_text() for p in folder.glob("*.html")}
    texts["report.pdf (text)"] = pdf_text(folder / "report.pdf")
    texts["report.pdf (bytes)"] = (folder / "report.pdf").read_bytes().decode("latin-1")
    found = {(name, s) for name, text in texts.items() for s in _found(private, text)}
    assert found == set()


# --- suppression -------------------------------------------------------------------------------------------------

def test_a_suppressed_unit_stays_suppressed(hostile_pack):
    html = (hostile_pack / f"{TINY}.html").read_text()
    shown = tiles(html)
    # 7 people: sustained rate, measured hours and value, estimate all withheld, never 0 or blank
    assert shown["Sustained users"] == "suppressed"
    assert shown["Hours saved"] == "suppressed"
    assert shown["Value"] == "suppressed"
    assert shown["Assisted hours"] == "suppressed"
    assert shown["Target attainment"] == "suppressed"
    t = cells(html)
    # the call_summary row: every figure from items withheld; its basis names the method
    wins = t[f"{TINY.lower()}-wins"][1]
    assert wins == ["Call summary", *["suppressed"] * 6, "measured, concurrent comparison"]
    # the letters' service level: comparison and backlog withheld (fewer than 11 letters or cases), the SLA stays
    service = t[f"{TINY.lower()}-service"][1]
    assert service == ["LMN & appeal letters", *["suppressed"] * 5, "suppressed (SLA 96 h)", "suppressed",
                       "service level measured, concurrent comparison"]
    backlog = re.search(r'<figure class="chart" id="bu-tiny-backlog-lmn_letters">.*?</figure>', html, flags=re.S)
    assert backlog and "suppressed (fewer than 11 open cases)" in backlog.group(0).lower()
    # the estimate: people withheld, the license cost ($210) is not built from people and stays
    est = t[f"{TINY.lower()}-estimate"][1]
    assert est == ["Copilot", "suppressed", "suppressed", "suppressed", "suppressed", "$210", "estimate"]
    # governance: 3 people and 9 uses in the warehouse; withheld in the pack, the exception itself shown
    exc = t[f"{TINY.lower()}-exceptions"][1]
    assert exc == [HOSTILE_CAPABILITY, "No decision", "—", "suppressed", "suppressed"]
    hab = t[f"{TINY.lower()}-habits"][1]
    assert hab == ["copilot.excel.analyst", "ARB-PILOT", "suppressed", "suppressed"]
    # the funnel: 7 seats drawn, users written as suppressed where the bars would be
    funnel = re.search(r'<figure class="chart" id="bu-tiny-funnel">.*?</figure>', html, flags=re.S)
    assert funnel
    assert funnel.group(0).count("suppressed (fewer than 11 people)") >= 2
    assert ">7<" in funnel.group(0)
    # and on the enterprise page, its row
    row = next(r for r in cells((hostile_pack / "index.html").read_text())["units"] if r[0] == TINY_NAME)
    assert row[2:] == ["suppressed", "suppressed", "40 h", "suppressed", "suppressed", "suppressed", "suppressed", "1"]


def test_suppressed_figures_are_suppressed_in_the_generated_org(pack_dir):
    """The contact center has 8 copilot seats and fewer than 11 users: its copilot cells read suppressed."""
    html = (pack_dir / "BU-CC.html").read_text()
    est = cells(html)["bu-cc-estimate"][1]
    assert est[0] == "Copilot" and est[1:5] == ["suppressed"] * 4


# --- finance ---------------------------------------------------------------------------------------------------

def test_a_restated_figure_is_listed_on_the_finance_page(hostile_pack, truth, month):
    """conftest's RESTATED: the contact center's call-summary hours of the month before, published 600 h, now
    612.5 h, after ingest run 9 and a changed licenses.csv."""
    before = truth["months"][-2]
    html = (hostile_pack / "finance.html").read_text()
    (header, row) = cells(html)["fin-restated"]
    assert header == ["Closed month", "Figure", "Column", "Published", "Now", "Change", "Cause"]
    assert row == [formats.month_name(before, True),
                   "Workflow value · Call summary · Member Contact Center · concurrent comparison",
                   "Hours saved", RESTATED["published"], RESTATED["current"],
                   "+12.5",  # 612.5 − 600
                   "ingest run 9 (landed after the close); licenses.csv changed"]
    assert (f"{formats.month_name(before)}, closed {month}-03 08:00 UTC (version 1): 1 published figure differs "
            "in the current data") in html
    assert tiles(html)["Restated figures"] == "1"
    assert "is not closed: current figures" in html  # the report's own month is not closed in this lake


def test_the_finance_page_shows_roi_seats_and_no_restatement_without_a_close(pack_dir, built, month):
    html = (pack_dir / "finance.html").read_text()
    t = cells(html)
    measured, estimate, seats = t["fin-measured"], t["fin-estimate"], t["fin-seats"]
    # each measured row names its method: the one the warehouse recommends for that workflow, unit and month
    assert measured[0][-1] == "Basis" and {r[-1] for r in measured[1:]} <= {
        "measured, concurrent comparison", "measured, before and after go-live", "measured, within-person comparison",
        "measured, difference-in-differences"}
    assert {r[-1] for r in estimate[1:]} == {"estimate"}
    con = duckdb.connect(str(built), read_only=True)
    try:
        (n_seats,) = con.execute("select count(*) from license_utilization_monthly where month = ?",
                                 [month]).fetchone()  # type: ignore[misc]
        (idle,) = con.execute("""select sum(idle_seats) from license_utilization_monthly
                                 where month = ? and level = 'enterprise' and not suppressed""",
                              [month]).fetchone()  # type: ignore[misc]
    finally:
        con.close()
    assert len(seats) - 1 == n_seats  # every tool × unit row of the month
    assert tiles(html)["Idle seats"] == f"{idle:,}"
    assert "No published figure has changed since its month was closed." in html
    assert tiles(html)["Restated figures"] == "0"


# --- hostile input -------------------------------------------------------------------------------------------

def test_names_with_html_special_characters_are_escaped(hostile_pack):
    for page in hostile_pack.glob("*.html"):
        html = page.read_text()
        for raw in (TINY_NAME, TINY_LEADER, HOSTILE_CAPABILITY, "<script>alert", "<img src=x", "<svg onload"):
            assert raw not in html, (page.name, raw)
    html = (hostile_pack / f"{TINY}.html").read_text()
    assert "R&amp;D &lt;script&gt;alert(&#34;unit&#34;)&lt;/script&gt; &amp; &#34;Labs&#34;" in html
    assert "Dana O&#39;Brien &lt;b&gt;&amp;amp;&lt;/b&gt; &lt;img src=x onerror=alert(1)&gt;" in html
    index = (hostile_pack / "index.html").read_text()
    assert 'href="BU-TINY.html"' in index


@pytest.mark.slow
def test_hostile_names_do_not_run_in_the_browser(hostile_pack, tmp_path):
    seen = visit((hostile_pack / f"{TINY}.html").as_uri(), tmp_path / "tiny.png")
    assert seen.page_requests == []  # <img src=x> would have been requested had it been markup
    assert "<script>alert" not in seen.dom and "onerror=" not in seen.dom.replace("onerror=alert(1)&gt;", "")
    assert TINY_NAME.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in seen.dom


def test_a_business_unit_without_workflows(pack_dir):
    """Corporate Services has no workflow-integrated tool: no measured figure, said in words, not as zeros."""
    html = (pack_dir / "BU-CS.html").read_text()
    shown = tiles(html)
    assert shown["Hours saved"] == "—" and shown["Value"] == "—" and shown["Target attainment"] == "—"
    assert "No workflow-integrated AI tool is measured in this unit" in html
    assert "bu-cs-wins" not in cells(html)
    assert shown["Assisted hours"].endswith(" h")  # its copilot estimate is there


def test_a_month_without_data_is_one_clear_error(built, tmp_path, capsys):
    out = tmp_path / "pack"
    assert main(["report", "--month", "2019-01", "--lake", str(built.parent), "--out", str(out)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("uptake report: no data for 2019-01 in ") and "months with data: " in lines[0]
    assert not out.exists()
    with pytest.raises(ReportError, match="expected YYYY-MM"):
        pages.load(built.parent, "2026-1")


def test_a_failed_write_leaves_the_previous_pack(pack_dir, built, month, monkeypatch, tmp_path):
    out = tmp_path / "pack"
    shutil.copytree(pack_dir, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(html: str, path: Path) -> None:
        path.write_bytes(b"%PDF half")
        raise OSError("disk full")

    monkeypatch.setattr(pack, "write_pdf", broken)
    with pytest.raises(OSError, match="disk full"):
        pack.write(built.parent, month, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack"]  # no half-written folder left beside it


def test_every_chart_spec_is_valid_and_the_same_data_gives_the_same_pages(pack_dir, built, month, monkeypatch):
    """Altair's schema validation is off when rendering (it is slow): here every chart of the pack passes it.
    And rendered again, later in the same process, every page is byte for byte the one written before."""
    monkeypatch.setattr(charts, "VALIDATE", True)
    html, _ = pack.render_pages(pages.load(built.parent, month))
    assert html.keys() == {p.name for p in pack_dir.glob("*.html")}
    for name, text in html.items():
        assert text == (pack_dir / name).read_text(), name


def test_the_pdf_renderer_never_fetches_a_url(tmp_path):
    """A stylesheet or image by URL stops the PDF (the pack embeds everything) instead of becoming a request."""
    for html in ("<style>@import url('https://fonts.example.com/inter.css');</style><p>x</p>",
                 "<img src='file:///etc/hostname'>"):
        with pytest.raises(ReportError, match="must embed everything"):
            pack.write_pdf(html, tmp_path / "x.pdf")
