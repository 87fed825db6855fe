"""A real Prefect flow runs (guards the fastapi pin: prefect 3.8 breaks with fastapi >= 0.151)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def prefect_server():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.mark.slow
def test_ingest_flow_runs_on_a_real_prefect_server(prefect_server, small_org: Path, truth: dict, tmp_path: Path):
    from flows.pipeline import ingest_flow

    state = ingest_flow([str(small_org / "landing")], lake=str(tmp_path / "lake"),
                        reference=str(small_org / "reference"), return_state=True)
    assert state.is_completed()
    summary = state.result()
    assert summary["total"]["landed"] == truth["totals"]["landed"]
    # a retry or re-run never double-counts
    again = ingest_flow([str(small_org / "landing")], lake=str(tmp_path / "lake"))
    assert again["total"]["landed"] == 0 and again["total"]["already_ingested"] == len(truth["files"])
