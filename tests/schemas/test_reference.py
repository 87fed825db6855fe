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
