"""The close writes the month's pack: `uptake close` (and the monthly_close flow, tests/flows) publishes the month,
then writes <lake>/reports/M/, whose finance page shows the ROI table as published."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from report import pack
from report.queries import ReportError
from tests.report.test_pack import cells
from uptake.cli import main


@pytest.mark.slow
def test_uptake_close_writes_the_pack_of_the_month_as_published(built, month, tmp_path, capsys, monkeypatch):
    lake = tmp_path / "lake"
    shutil.copytree(built.parent, lake)

    # a pack that cannot be written: the month is closed all the same, the command says so and fails
    def broken(*_args, **_kwargs):
        raise ReportError("the disk is full")

    monkeypatch.setattr(pack, "write", broken)
    assert main(["close", "--month", month, "--lake", str(lake)]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["report"] is None and json.loads(out)["version"] == 1
    assert err.strip() == f"uptake close: {month} is closed, but its pack was not written: the disk is full"
    assert (lake / "closes" / month / "v001" / "manifest.json").exists()
    assert not (lake / "reports").exists()
    monkeypatch.undo()

    # published again on purpose: version 2, and its pack
    assert main(["close", "--month", month, "--restate", "--lake", str(lake)]) == 0
    index = Path(json.loads(capsys.readouterr().out)["report"])
    assert index == lake / "reports" / month / "index.html"
    assert sorted(p.name for p in index.parent.iterdir()) == ["BU-CC.html", "BU-CS.html", "BU-SP.html",
                                                              "finance.html", "governance.html", "index.html",
                                                              "report.pdf"]
    finance = (index.parent / "finance.html").read_text()
    assert "is closed: the ROI table as published on" in finance and "(version 2)" in finance
    # the rows shown are the published snapshot's: the enterprise's call-summary hours, as stored at the close
    roi = pq.read_table(lake / "closes" / month / "v002" / "roi.parquet").to_pylist()
    (ent,) = [r for r in roi if r["attribution"] == "workflow_measured" and r["subject"] == "call_summary"
              and r["level"] == "enterprise" and r["recommended"]]  # the method the pack shows
    row = next(r for r in cells(finance)["fin-measured"] if r[:2] == ["Meridian Health Plan", "Call summary"])
    assert row[4].startswith(f"{ent['hours']:,.0f} h")
