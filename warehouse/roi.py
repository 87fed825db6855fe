"""`uptake roi`: the finance table of a month, workflow-measured and estimate rows side by side, never summed.

Columns (stable; documented in README):
attribution (workflow_measured | business_unit_estimate), org_unit, level, month, subject (workflow or tool),
method (concurrent_control | pre_go_live | minutes_per_action), metric, n (assisted items, or actions),
hours (hours saved, or assisted hours), hours_ci_low, hours_ci_high (workflow rows only), value_usd,
cost_usd, net_value_usd, roi, suppressed.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.build import WAREHOUSE

ROI_SQL = """
select 'workflow_measured' as attribution, org_unit, level, month, workflow as subject, method, metric,
  n_assisted as n, hours_saved as hours, hours_saved_ci_low as hours_ci_low, hours_saved_ci_high as hours_ci_high,
  value_usd, cost_usd, net_value_usd, roi, suppressed
from workflow_attribution_monthly where month = $month
union all
select 'business_unit_estimate', org_unit, level, month, tool, 'minutes_per_action', 'assisted_minutes',
  actions, assisted_hours, null, null, value_usd, cost_usd, value_usd - cost_usd,
  (value_usd - cost_usd) / nullif(cost_usd, 0), suppressed
from productivity_estimate_monthly where month = $month
order by attribution desc, subject, method, org_unit
"""


class RoiError(RuntimeError):
    pass


def roi_table(lake: str | Path, month: str) -> pa.Table:
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", month):
        raise RoiError(f"--month {month!r}: expected YYYY-MM")
    path = Path(lake) / WAREHOUSE
    if not path.exists():
        raise RoiError(f"{path}: no warehouse (run `uptake build` first)")
    con = duckdb.connect(str(path), read_only=True)
    try:
        table = con.sql(ROI_SQL, params={"month": month}).to_arrow_table()
        if table.num_rows == 0:
            months = [r[0] for r in con.execute(
                "select distinct month from workflow_attribution_monthly union "
                "select distinct month from productivity_estimate_monthly order by 1").fetchall()]
            have = f"{months[0]} to {months[-1]}" if months else "none"
            raise RoiError(f"no ROI rows for {month} (months with data: {have})")
        return table
    finally:
        con.close()


def write_roi(table: pa.Table, fmt: str, out: str | None) -> str | None:
    """Write to `out`, or return the text for standard output (csv, json)."""
    if fmt == "parquet":
        if not out:
            raise RoiError("--format parquet needs --out FILE")
        pq.write_table(table, out)
        return None
    rows = table.to_pylist()
    if fmt == "json":
        text = json.dumps(rows, indent=1, default=str) + "\n"
    else:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=table.column_names, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        text = buf.getvalue()
    if out:
        Path(out).write_text(text)
        return None
    return text
