"""The expectations gate: each critical expectation fails on data broken just for it, a generated organization
passes, a failed build leaves the previous warehouse untouched, and Data Docs are written."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from expectations.gate import ExpectationsFailed, run_gate
from expectations.suites import checks

BREAKS = {
    "org_unit_resolved": "update events set org_unit_known = false where hash(event_id) % 40 = 0",  # ~2.5 %
    "actor_in_roster": "update events set actor_in_roster = false where hash(event_id) % 20 = 0",  # ~5 %
    "event_id_unique": "insert into events select * from events limit 3",
    "review_has_call": "delete from calls where hash(call_id) % 20 = 0",
    "submission_has_request": "update letters set status = 'unmatched' where hash(case_id) % 20 = 0 "
                              "and status = 'submitted'",
    "rates_not_negative": "update leader_scorecard_monthly set sustained_rate = -0.1 "
                          "where sustained_rate is not null",
    "staff_time_only": "update workflow_attribution_monthly set metric = 'turnaround_hours' "
                       "where workflow = 'lmn_letters'",
    "seats_not_negative": "update adoption_monthly set seats = -4 "
                          "where seats = (select max(seats) from adoption_monthly)",
    "finance_rows_not_mixed": "update productivity_estimate_monthly set attribution = 'workflow_measured' "
                              "where org_unit = 'ENT'",
    "small_cells_suppressed": "update adoption_monthly set active_users = 7, suppressed = false "
                              "where active_users = (select min(active_users) from adoption_monthly)",
}


def test_every_critical_expectation_has_a_breaking_case():
    assert set(BREAKS) == {c.name for c in checks() if c.severity == "critical"}


def test_a_generated_organization_passes(built):
    lake = built.parent
    results = [json.loads(line) for line in (lake / "quality" / "expectations.jsonl").read_text().splitlines()]
    last = [r for r in results if r["run_id"] == results[-1]["run_id"]]
    assert {r["expectation"] for r in last} == {c.name for c in checks()}
    assert all(r["success"] for r in last if r["severity"] == "critical")
    assert (lake / "docs" / "data_docs" / "index.html").exists()
    stored = duckdb.connect(str(built), read_only=True).execute(
        "select count(*), count(distinct run_id) from quality_expectations").fetchall()[0]
    assert stored[0] >= len(checks()) and stored[1] >= 1


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_each_critical_expectation_fails_on_a_batch_broken_for_it(built, tmp_path, name):
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(built, copy)
    con = duckdb.connect(str(copy))
    con.execute(BREAKS[name])
    with pytest.raises(ExpectationsFailed) as failed:
        run_gate(con, tmp_path)
    con.close()
    assert [o.check.name for o in failed.value.failures] == [name]
    line = str(failed.value).splitlines()[1]
    check = next(c for c in checks() if c.name == name)
    assert line.startswith(f"suite {check.suite}, expectation {name} (critical): column {check.figure}, observed ")
    assert line.endswith(f"threshold {check.threshold()}")


def _unknown_events(path: Path, n: int) -> None:
    rnd = random.Random(5)
    with path.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({
                "schema_version": "1.0", "event_id": f"unk-{i}", "occurred_at": "2026-10-15T14:00:00Z",
                "source": "new-vendor", "tool": "copilot", "event_type": "assist", "actor_id": f"X{rnd.randrange(500)}",
                "capability": "copilot.word.draft", "org_unit": "UNKNOWN-UNIT", "app": "word", "action": "draft",
            }) + "\n")


@pytest.mark.slow
def test_unknown_org_units_and_actors_fail_the_build_and_keep_the_old_warehouse(built, small_org, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(built.parent, lake)
    before = (lake / "warehouse.duckdb").read_bytes()
    _unknown_events(tmp_path / "unknown.jsonl", 40_000)
    exe = str(Path(sys.executable).parent / "uptake")
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    ing = subprocess.run([exe, "ingest", str(tmp_path / "unknown.jsonl"), "--lake", str(lake)],
                         capture_output=True, text=True, env=env)
    assert ing.returncode == 0, ing.stderr
    reader = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)
    out = subprocess.run([exe, "build", "--lake", str(lake), "--reference", str(small_org / "reference")],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 1
    err = out.stderr
    assert "expectation org_unit_resolved (critical): column share_org_unit_known" in err
    assert "expectation actor_in_roster (critical): column share_actor_in_roster" in err
    assert "threshold ≥ 0.99" in err and "threshold ≥ 0.98" in err
    assert (lake / "warehouse.duckdb").read_bytes() == before  # the last good warehouse, byte for byte
    assert reader.execute("select count(*) from events where org_unit = 'UNKNOWN-UNIT'").fetchall() == [(0,)]
    reader.close()
    assert (lake / "docs" / "data_docs" / "index.html").exists()
    # no Great Expectations state left in the user's home (Beam keeps a cache in ~/.apache_beam)
    assert [p.name for p in home.iterdir() if p.name != ".apache_beam"] == []


def test_a_results_file_cut_mid_line_is_mended_and_a_corrupt_one_named(built, small_org, tmp_path):
    """A build killed (or a disk filling) while appending its results left part of a line, and every build after
    failed with a JSONDecodeError traceback: the part is cut off and the next build appends whole lines. A line
    broken anywhere else is named, file and line, in one message."""
    from expectations.gate import RESULTS
    from warehouse.build import BuildError, build

    lake = tmp_path / "lake"
    shutil.copytree(built.parent, lake)
    results = lake / RESULTS
    whole = results.read_bytes()
    results.write_bytes(whole[:-120])  # torn in its last line
    build(lake, small_org / "reference")
    lines = results.read_bytes().splitlines()
    assert all(json.loads(x)["run_id"] for x in lines)
    this = [x for x in lines if json.loads(x)["run_id"] == json.loads(lines[-1])["run_id"]]
    assert len(lines) == len(whole.splitlines()) - 1 + len(this)  # the torn result dropped, this build's added
    with duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from quality_expectations").fetchall() == [(len(lines),)]
    results.write_bytes(b'{"run_id": "x"\n' + results.read_bytes())
    with pytest.raises(BuildError, match=r"expectations\.jsonl: line 1: not an expectation result"):
        build(lake, small_org / "reference")
