"""The `uptake` command: every SPEC §5 command is declared, with --help, and runs through the console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from uptake.cli import main

COMMANDS = ("generate", "ingest", "build", "roi", "verify", "demo", "serve")


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
    assert "apitools" not in ing.stderr  # Beam's warning about a BigQuery client uptake does not use
    summary = json.loads(ing.stdout)
    truth = json.loads((tmp_path / "d" / "truth.json").read_text())
    assert summary["total"]["landed"] == truth["totals"]["landed"]
    bad = subprocess.run([str(exe), "ingest", str(tmp_path / "missing"), "--lake", str(tmp_path / "lake")],
                         capture_output=True, text=True)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1] == f"uptake ingest: {tmp_path / 'missing'}: no such file or folder"


def _env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("UPTAKE_")}, **extra}


def test_without_a_lake_roi_and_verify_say_to_pass_lake(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no ./lake here
    monkeypatch.delenv("UPTAKE_LAKE", raising=False)
    for command in (["roi", "--month", "2026-09"], ["verify"]):
        assert main(command) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"uptake {command[0]}: lake: no lake here (the default, ./lake): pass --lake DIR or set "
                       "$UPTAKE_LAKE"]  # not "run `uptake build` first": the build is not what is missing
    monkeypatch.setenv("UPTAKE_LAKE", str(tmp_path / "elsewhere"))  # named: the plain message
    assert main(["roi", "--month", "2026-09"]) == 1
    assert capsys.readouterr().err.strip() == f"uptake roi: {tmp_path / 'elsewhere'}: no lake here"


def test_a_build_without_a_lake_says_so_in_one_line(tmp_path: Path, capsys):
    assert main(["build", "--lake", str(tmp_path / "nope"), "--reference", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"uptake build: {tmp_path / 'nope'}: no lake here (pass --lake DIR or set $UPTAKE_LAKE; "
                   "`uptake ingest` makes one)"]  # no "the previous warehouse is unchanged": there is none
    assert not (tmp_path / "nope").exists()  # and no lake made by asking


def test_the_executable_exits_as_python_does_without_tearing_modules_down(tmp_path):
    """`uptake` ends with `exit_now`: its exit code, every other thread joined, every exit handler run (the demo
    stops Prefect's server in one) and all output flushed, as Python's own exit would."""
    script = """
import atexit, sys, threading, time
from pathlib import Path
from uptake.cli import exit_now
out = Path(sys.argv[1])
atexit.register(lambda: (out / "handler").write_text("ran"))
threading.Thread(target=lambda: (time.sleep(0.5), (out / "thread").write_text("joined"))).start()
print("x" * 200_000, end="")
print("to stderr", file=sys.stderr)
exit_now(3)
"""
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert proc.stdout == "x" * 200_000
    assert proc.stderr.strip().endswith("to stderr")
    assert (tmp_path / "handler").read_text() == "ran"
    assert (tmp_path / "thread").read_text() == "joined"


def test_the_console_script_is_the_fast_exit():
    scripts = Path(sys.executable).parent / "uptake"
    assert "from uptake.cli import command" in scripts.read_text()
