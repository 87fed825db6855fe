"""End to end: realistic exports of all five vendor formats ingest, build, and show in the warehouse."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import ingest
from uptake.generate import generate
from uptake.vendor_samples import write_vendor_exports
from warehouse.build import build


@pytest.mark.slow
def test_vendor_exports_reach_adoption_estimates_and_attribution(tmp_path: Path):
    generate(tmp_path / "org", seed=3, people=300, months=2, volume=0.2, progress=False)
    planted = write_vendor_exports(tmp_path / "org", seed=3)
    ref, lake = tmp_path / "org" / "reference", tmp_path / "lake"
    summary = ingest([tmp_path / "org" / "vendor"], lake=lake, reference=ref, progress=False)
    formats = {f["format"] for f in summary["files"]}
    assert formats == {"github_copilot", "m365_copilot_usage", "viva_copilot", "chatgpt_enterprise",
                       "amazon_connect", "otel_genai"}
    t = summary["total"]
    assert t["quarantined"] == 0 and t["lines"] == t["landed"] + t["duplicates"] + t["blank"]
    build(lake, ref)

    con = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)
    month = planted["month"]
    active, rate = con.execute("select active_users, active_rate from adoption_monthly where tool = 'copilot' "
                               "and org_unit = 'ENT' and month = ?", [month]).fetchone()
    assert active == planted["copilot_users"] and 0 < rate <= 1
    actions, hours, users = con.execute(
        "select actions, assisted_hours, active_users from productivity_estimate_monthly "
        "where org_unit = 'ENT' and month = ? and tool = 'copilot'", [month]).fetchone()
    assert actions == sum(planted["copilot_actions"].values())  # every vendor's counts, each once
    assert hours > 0 and users == planted["copilot_users"]
    calls = con.execute("select count(*) from calls where month = ?", [month]).fetchone()[0]
    assert calls == planted["calls"]  # each contact once, whatever its deliveries and updates
    low, high, n = con.execute(
        "select saving_ci_low, saving_ci_high, n_assisted from workflow_attribution_monthly "
        "where workflow = 'call_summary' and org_unit = 'BU-CC' and month = ? and method = 'concurrent_control'",
        [month]).fetchone()
    assert n > 100 and low <= planted["acw_saving_seconds"] <= high  # calls of units live with AI summaries
    text = json.dumps(con.execute("select * from events").fetchall(), default=str)
    assert not any(v in text for v in planted["content_values"][:50])
    assert "meridian.example" not in text
