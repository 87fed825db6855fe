"""Reference data: a generated folder loads; a bad file is refused naming file, line and column."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from schemas.reference import ReferenceError, load_reference


def test_generated_reference_loads(small_org: Path):
    tables = load_reference(small_org / "reference")
    assert set(tables) >= {"org_units", "roster", "workflows", "go_live", "governance", "licenses",
                           "minutes_per_action", "targets", "identities"}
    levels = set(tables["org_units"].column("level").to_pylist())
    assert levels == {"enterprise", "business_unit", "department", "team"}
    assert tables["identities"].num_rows == 0  # optional file, absent


def _broken(small_org: Path, tmp_path: Path, file: str, line: int, column: str, value: str) -> Path:
    """A copy of the reference folder with one cell changed."""
    ref = tmp_path / "ref"
    shutil.copytree(small_org / "reference", ref)
    with (ref / file).open(newline="") as fh:
        rows = list(csv.reader(fh))
    rows[line - 1][rows[0].index(column)] = value
    with (ref / file).open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return ref


@pytest.mark.parametrize("file,line,column,value", [
    ("roster.csv", 3, "hourly_cost_usd", "twenty"),       # not a number
    ("roster.csv", 4, "valid_from", "2026-02-30"),        # no such date
    ("licenses.csv", 4, "month", "2026/05"),              # not YYYY-MM
    ("licenses.csv", 2, "seats", "-3"),                   # below 0
    ("governance.csv", 2, "status", "approved"),          # not one of the statuses
    ("org_units.csv", 3, "parent_org_unit", "NOPE"),      # unknown parent
    ("roster.csv", 5, "org_unit", "NOPE"),                # unknown org unit
])
def test_bad_reference_file_names_file_line_and_column(small_org, tmp_path, file, line, column, value):
    ref = _broken(small_org, tmp_path, file, line, column, value)
    with pytest.raises(ReferenceError) as err:
        load_reference(ref)
    assert f"{ref / file}:{line}: column {column}:" in str(err.value)


def test_missing_required_file_is_refused(small_org, tmp_path):
    ref = tmp_path / "ref"
    shutil.copytree(small_org / "reference", ref)
    (ref / "workflows.csv").unlink()
    with pytest.raises(ReferenceError, match="workflows.csv: required reference file is missing"):
        load_reference(ref)


def _workflows(tmp_path: Path, small_org: Path, header: str, rows: list[str]) -> Path:
    ref = tmp_path / "ref"
    shutil.copytree(small_org / "reference", ref)
    (ref / "workflows.csv").write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return ref


def test_generated_workflows_name_staff_time_and_the_service_level(small_org):
    rows = {r["workflow"]: r for r in load_reference(small_org / "reference")["workflows"].to_pylist()}
    assert rows["lmn_letters"]["metric"] == "work_seconds"
    assert rows["lmn_letters"]["service_metric"] == "turnaround_hours" and rows["lmn_letters"]["sla_hours"] > 0
    assert rows["call_summary"]["service_metric"] is None and rows["call_summary"]["sla_hours"] is None


def test_turnaround_as_the_valued_metric_is_refused_with_one_line_saying_what_to_change(small_org, tmp_path):
    # a workflows.csv written before service levels: no service_metric, no sla_hours, letters valued by turnaround
    ref = _workflows(tmp_path, small_org, "workflow,tool,accountability,unit_of_work,metric,budget_owner",
                     ["call_summary,call_summarization,workflow,call,acw_seconds,BU-CC",
                      "lmn_letters,lmn_drafting,workflow,letter,turnaround_hours,BU-SP",
                      "copilot_productivity,copilot,business_unit,action,assisted_minutes,BU-CS"])
    with pytest.raises(ReferenceError) as err:
        load_reference(ref)
    message = str(err.value)
    assert message.count("\n") == 0  # one line
    assert message.startswith(f"{ref / 'workflows.csv'}:3: column metric: 'turnaround_hours'")
    assert "set metric to work_seconds and service_metric to turnaround_hours" in message


def test_a_workflows_file_without_the_new_columns_still_loads(small_org, tmp_path):
    ref = _workflows(tmp_path, small_org, "workflow,tool,accountability,unit_of_work,metric,budget_owner",
                     ["call_summary,call_summarization,workflow,call,acw_seconds,BU-CC",
                      "lmn_letters,lmn_drafting,workflow,letter,work_seconds,BU-SP"])
    rows = load_reference(ref)["workflows"].to_pylist()
    assert [r["service_metric"] for r in rows] == [None, None]  # no service level until the file names one


@pytest.mark.parametrize("column,value,message", [
    ("service_metric", "work_seconds", "is not one of turnaround_hours"),
    ("sla_hours", "-4", "is below 0"),
    ("sla_hours", "two days", "is not a decimal"),
])
def test_bad_service_level_columns_are_refused(small_org, tmp_path, column, value, message):
    ref = _broken(small_org, tmp_path, "workflows.csv", 3, column, value)
    with pytest.raises(ReferenceError, match=f"workflows.csv:3: column {column}: .*{message}"):
        load_reference(ref)
