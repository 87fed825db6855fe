"""The README's `duckdb` examples work as printed: each is run, from a folder holding the environment (`.venv`)
and a built lake (`lake`), with the command-line client the environment ships (DuckDB 1.x)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
VENV = Path(sys.executable).parent.parent


def examples() -> list[str]:
    """Every README command line that runs the DuckDB client (indented code, `.venv/bin/duckdb …`)."""
    return [m.group(1) for m in re.finditer(r"^    (\.venv/bin/duckdb .+)$", README.read_text(), re.M)]


def test_the_readme_shows_the_warehouse_and_the_lake_through_the_client():
    found = examples()
    assert any("lake/warehouse.duckdb" in e for e in found) and any("lake/events/" in e for e in found)


@pytest.mark.slow
@pytest.mark.parametrize("example", examples())
def test_each_readme_duckdb_example_runs_as_printed(example: str, built: Path, tmp_path: Path):
    (tmp_path / ".venv").symlink_to(VENV)
    (tmp_path / "lake").symlink_to(built.parent)
    run = subprocess.run(["bash", "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HOME": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    assert "Error" not in run.stdout + run.stderr
    rows = [line for line in run.stdout.splitlines() if line.strip()]
    assert len(rows) >= 2, run.stdout  # a header and at least one row
