"""`make lint` covers every package and CI runs it before the tests, so it stays passing; ruff is clean."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_checks_every_package():
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"][
        "packages"]
    (line,) = re.findall(r"^\t\$\(VENV\)/bin/mypy (.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert sorted(line.split()) == sorted(packages)


def test_ci_runs_lint_before_the_tests():
    steps = [s.strip() for s in (ROOT / ".ci" / "run").read_text().splitlines() if s.startswith("make ")]
    assert steps == ["make lint", "make test"]


def test_ruff_is_clean():
    ruff = Path(sys.executable).parent / "ruff"
    run = subprocess.run([str(ruff), "check", str(ROOT)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout
