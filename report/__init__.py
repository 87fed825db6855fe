"""The monthly operating-review pack: HTML pages (enterprise, each business unit, finance, governance) and a PDF.

`queries.py` reads the warehouse (read-only; every query of the pack is there), `pages.py` assembles each page's
data, `charts.py` draws Altair charts as static SVG (vl-convert, no browser), `tables.py` lays out tables with
great_tables, `pack.py` renders the Jinja2 templates and writes the pages and `report.pdf` (WeasyPrint).

    uptake report --month 2026-10 --lake demo/lake        # → demo/lake/reports/2026-10/index.html, report.pdf
"""
