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


@pytest.mark.slow
def _latest_artifact(key: str):
    """The newest artifact with this key, from the test server's API."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def latest():
        async with get_client() as client:
            found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                                limit=1, sort="CREATED_DESC")
        return found[0]

    return asyncio.run(latest())


def test_pipeline_and_monthly_close_export_and_rerun_idempotently(prefect_server, small_org: Path, truth: dict,
                                                                tmp_path: Path):
    from flows.pipeline import monthly_close_flow, pipeline_flow

    lake = tmp_path / "lake"
    result = pipeline_flow(str(small_org / "landing"), lake=str(lake), reference=str(small_org / "reference"))
    assert result["ingest"]["landed"] == truth["totals"]["landed"]
    assert result["month"] == truth["months"][-1]
    latest = lake / "exports" / "latest" / "roi.csv"
    assert latest.read_text().startswith("attribution,org_unit,")
    month = truth["months"][-2]
    closed = monthly_close_flow(lake=str(lake), month=month)
    assert closed["version"] == 1 and not closed["already_closed"]  # the flow publishes the month (uptake close)
    assert (lake / "closes" / month / "v001" / "manifest.json").exists()
    assert sorted(Path(p).name for p in closed["exports"]) == ["roi.csv", "roi.parquet", "roi.service_level.csv",
                                                               "roi.service_level.parquet"]
    # the close writes the month's operating-review pack and links it in a Prefect artifact
    assert closed["report"] == str(lake / "reports" / month / "index.html") and Path(closed["report"]).exists()
    assert (lake / "reports" / month / "report.pdf").stat().st_size > 0
    link = (lake / "reports" / month / "index.html").resolve().as_uri()
    assert _latest_artifact("operating-review-pack").data == f"[Operating review {month}]({link})"
    first = (lake / "exports" / month / "roi.csv").read_bytes()
    again_closed = monthly_close_flow(lake=str(lake), month=month)  # a re-run keeps what was published
    assert again_closed["already_closed"] and again_closed["version"] == 1
    assert (lake / "exports" / month / "roi.csv").read_bytes() == first
    again = pipeline_flow(str(small_org / "landing"), lake=str(lake), reference=str(small_org / "reference"))
    assert again["ingest"]["landed"] == 0  # nothing new in the landing folder: nothing counted twice


@pytest.mark.slow
def test_ingest_flow_is_one_run_and_publishes_each_files_counts(prefect_server, small_org: Path, truth: dict,
                                                                 tmp_path: Path):
    """All the files of a flow run go through one pipeline run; the per-file accounting is the artifact."""
    import asyncio
    import json

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.pipeline import ingest_flow
    from pipelines.lake import Lake

    lake = tmp_path / "lake"
    ingest_flow([str(small_org / "landing")], lake=str(lake), reference=str(small_org / "reference"))
    (run,) = Lake(lake).committed_runs()  # one run, not one per file
    assert len(run["files"]) == len(truth["files"])

    async def latest() -> list[dict]:
        async with get_client() as client:
            found = await client.read_artifacts(artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["ingest-accounting"])), limit=1, sort="CREATED_DESC")
        data = found[0].data
        return json.loads(data) if isinstance(data, str) else data

    rows = {Path(r["path"]).name: r for r in asyncio.run(latest())}
    assert len(rows) == len(truth["files"])
    for name, t in truth["files"].items():
        assert {k: rows[Path(name).name][k] for k in ("lines", "landed", "duplicates", "quarantined", "blank")} == \
            {k: t[k] for k in ("lines", "landed", "duplicates", "quarantined", "blank")}


@pytest.mark.slow
def test_flows_take_the_lake_from_the_environment_like_the_cli(prefect_server, small_org: Path, tmp_path: Path,
                                                              monkeypatch):
    """No `lake` parameter: the flow lands in $UPTAKE_LAKE (it used to default to ./lake, ignoring it)."""
    from flows.pipeline import ingest_flow

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UPTAKE_LAKE", str(tmp_path / "env-lake"))
    first = sorted((small_org / "landing").glob("*.jsonl"))[0]
    summary = ingest_flow([str(first)])
    assert summary["total"]["landed"] > 0
    assert len(list((tmp_path / "env-lake" / "ledger" / "runs").glob("run-*.json"))) == 1
    assert not (tmp_path / "lake").exists()


@pytest.mark.slow
def test_the_demo_ends_without_warnings_about_its_own_data(prefect_server, tmp_path: Path, capsys):
    """The demo's data ends with its last generated month: no freshness warning about it, no progress bars."""
    from flows.pipeline import demo

    assert demo(out=str(tmp_path / "demo"), seed=3, people=300, months=3) == 0
    out, err = capsys.readouterr()
    assert "ingest counts equal truth.json" in out
    assert "freshness" not in err and "warning:" not in err, err[-2000:]
    assert "Calculating Metrics" not in out + err  # GX's progress bars
    assert "weasyprint" not in (out + err).lower() and "Traceback" not in out + err
    # every planted saving is checked against the recommended row, and lies inside its interval
    planted = [line for line in out.splitlines() if ": planted " in line]
    assert len(planted) == 3 and all(line.endswith(": inside") for line in planted), planted
    assert all(any(f"({m})" in line for m in ("did", "within_actor", "concurrent_control", "pre_go_live"))
               for line in planted)
    assert f"operating-review pack: {tmp_path / 'demo' / 'lake' / 'reports'}" in out
    assert "demo took generate" in out


def test_a_second_demo_in_the_same_folder_starts_over_and_a_foreign_folder_is_refused(tmp_path: Path, capsys):
    """Generating the same seed into a previous demo's lake would find every file already ingested (0 landed,
    "counts differ"): the demo removes its own previous output first, and refuses a folder it did not make."""
    from flows.pipeline import DemoError, demo, start_over

    old = tmp_path / "demo"
    for part in ("landing", "reference", "lake/events"):
        (old / part).mkdir(parents=True)
    (old / "truth.json").write_text("{}")
    (old / "lake" / "events" / "x.parquet").write_bytes(b"PAR1")
    start_over(old)
    assert old.is_dir() and list(old.iterdir()) == []
    start_over(tmp_path / "absent")  # nothing to do

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("do not delete")
    with pytest.raises(DemoError, match="not empty and not a previous demo"):
        start_over(mine)
    (mine / "truth.json").write_text("{}")  # a demo's name among other things is still not a demo
    with pytest.raises(DemoError):
        start_over(mine)
    assert (mine / "thesis.tex").read_text() == "do not delete"
    assert demo(out=str(mine)) == 1
    assert capsys.readouterr().err.startswith(f"uptake demo: {mine}: not empty and not a previous demo")
