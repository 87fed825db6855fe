"""Tables of the pack, laid out by great_tables. Cells arrive as escaped HTML (`formats.cell`/`formats.text`), so
text from the warehouse is escaped exactly once; nothing is re-interpreted here.

Every table has the same options, so great_tables' stylesheet (which it scopes to each table's id) is emitted once
per page by `stylesheet()`, scoped to the class `gt`, instead of once per table: a page stays small and the PDF
renderer matches a few dozen rules instead of a thousand.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import great_tables as gt
import pandas as pd
from markupsafe import Markup, escape

FONT = ["Helvetica Neue", "Helvetica", "Arial", "DejaVu Sans", "sans-serif"]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool = False


def table(key: str, columns: Sequence[Column], rows: Sequence[dict[str, Markup]],
          notes: Sequence[str | Markup] = (), spanners: Sequence[tuple[str, Sequence[str]]] = ()) -> Markup:
    """A great_tables table as HTML; `rows` map column keys to escaped HTML cells; `notes` go under it."""
    keys = [c.key for c in columns]
    frame = pd.DataFrame([[str(r.get(k, "")) for k in keys] for r in rows], columns=keys, dtype="object")
    t = gt.GT(frame, id=key)
    t = t.fmt(lambda v: v, columns=keys)  # cells are HTML already
    labels: dict[str, Any] = {c.key: gt.html(str(escape(c.label))) for c in columns}
    t = t.cols_label(**labels)
    numeric = [c.key for c in columns if c.numeric]
    if numeric:
        t = t.cols_align("right", columns=numeric)
    text_cols = [c.key for c in columns if not c.numeric]
    if text_cols:
        t = t.cols_align("left", columns=text_cols)
    for label, cols in spanners:
        t = t.tab_spanner(label=gt.html(str(escape(label))), columns=list(cols))
    for note in notes:
        t = t.tab_source_note(gt.html(str(note if isinstance(note, Markup) else escape(note))))
    html = _styled(t).as_raw_html(inline_css=False)
    html = re.sub(r"<style>.*?</style>", "", html, count=1, flags=re.S)
    return Markup(html.replace(f'<div id="{key}"', f'<div id="{key}" class="gt"', 1))


@functools.cache
def stylesheet() -> Markup:
    """great_tables' stylesheet for every table of the pack (scoped to `.gt`)."""
    html = _styled(gt.GT(pd.DataFrame({"x": [""]}), id="gt-shared")).as_raw_html(inline_css=False)
    css = re.search(r"<style>(.*?)</style>", html, flags=re.S)
    assert css is not None
    return Markup(css.group(1).replace("#gt-shared", ".gt"))


def _styled(t: gt.GT) -> gt.GT:
    return t.tab_options(
        table_font_names=FONT, table_font_size="13px", table_width="100%",
        column_labels_font_weight="600", column_labels_font_size="12px",
        column_labels_border_bottom_color="#1d2733", column_labels_border_top_style="none",
        table_border_top_style="none", table_border_bottom_color="#c3cad3", table_border_bottom_width="1px",
        row_striping_include_table_body=True, row_striping_background_color="#f6f8fa",
        data_row_padding="5px", source_notes_font_size="11px", table_font_color="#1d2733",
        table_body_hlines_color="#eef1f4",
    )
