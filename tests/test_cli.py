"""The `uptake` command: every SPEC §5 command is declared, with --help, and runs through the console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from uptake.cli import main

COMMANDS = ("generate", "ingest", "build", "roi", "demo", "serve")


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert all(c in out for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "usage: uptake " + command in capsys.readouterr().out


def test_generate_then_ingest_through_the_console_script(tmp_path: Path):
    exe = Path(sys.executable).parent / "uptake"
    gen = subprocess.run([str(exe), "generate", "--out", str(tmp_path / "d"), "--seed", "1", "--people", "300",
                          "--months", "2", "--volume", "0.2"], capture_output=True, text=True, check=True)
    assert json.loads(gen.stdout)["events"] > 0
    ing = subprocess.run([str(exe), "ingest", str(tmp_path / "d" / "landing"), "--lake", str(tmp_path / "lake"),
                          "--", "--direct_num_workers=1"], capture_output=True, text=True)
    assert ing.returncode == 0, ing.stderr
    summary = json.loads(ing.stdout)
    truth = json.loads((tmp_path / "d" / "truth.json").read_text())
    assert summary["total"]["landed"] == truth["totals"]["landed"]
    bad = subprocess.run([str(exe), "ingest", str(tmp_path / "missing"), "--lake", str(tmp_path / "lake")],
                         capture_output=True, text=True)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1] == f"uptake ingest: {tmp_path / 'missing'}: no such file or folder"
