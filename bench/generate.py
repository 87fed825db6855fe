"""Benchmark and identity check: `uptake generate` of this tree against a reference commit's generator.

    .venv/bin/python bench/generate.py                    # against main, the default cases, best of 3
    .venv/bin/python bench/generate.py --ref HEAD~3 --rounds 1 --case "--seed 7 --trend 15"

The reference generator is the tree of `--ref` (`git archive`, so a commit, a branch or a tag), run by the same
interpreter. For each case both generators write an organization (best wall time of `--rounds`, each in its own
process, so imports are counted as `uptake generate` pays them), and every file is compared: the same file
names, the same bytes for every reference CSV, `truth.json` and plain landing file, the same decompressed bytes
for a gzip landing file (the compressed bytes may differ: nothing reads them but gzip). Prints one line per
case (times, their ratio, `identical` or the first files that differ); exits 1 when any case differs.
"""

from __future__ import annotations

import argparse
import gzip
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CASES = (
    "--seed 1",  # the demo's organization: 600 people, 6 months
    "--seed 7 --people 300 --months 3 --trend 15 --self-selection 2",
    "--seed 11 --people 450 --months 4 --never-live CC-PRV-B --copilot-seat-shortfall 0.25",
    "--seed 3 --people 300 --months 13 --volume 0.3 --end 2025-12",
)
RUN = "import sys; from uptake.cli import main; sys.exit(main(['generate', *sys.argv[1:]]))"


def reference_tree(ref: str, into: Path) -> Path:
    """The source tree of commit `ref`, unpacked under `into`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run(tree: Path, args: list[str], out: Path, rounds: int) -> float:
    """Best wall time of `rounds` runs of `uptake generate` from `tree`, writing `out`."""
    best = float("inf")
    for _ in range(rounds):
        shutil.rmtree(out, ignore_errors=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", RUN, "--out", str(out), *args], cwd=tree, check=True,
                       capture_output=True, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})
        best = min(best, time.perf_counter() - started)
    return best


def content(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()


def differences(a: Path, b: Path) -> list[str]:
    """The files that are not the same in `a` and `b` (missing on one side, or other content)."""
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    out = [f"only in reference: {p}" for p in sorted(files_a - files_b)]
    out += [f"only in this tree: {p}" for p in sorted(files_b - files_a)]
    out += [f"differs: {p}" for p in sorted(files_a & files_b) if content(a / p) != content(b / p)]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default="main", help="commit whose generator is the reference (default main)")
    ap.add_argument("--rounds", type=int, default=3, help="runs per generator and case; the best counts (3)")
    ap.add_argument("--case", action="append", help="`uptake generate` options of a case (repeatable; default: "
                                                    "the demo's organization and three others)")
    args = ap.parse_args(argv)
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as tmp:
        work = Path(tmp)
        (work / "ref").mkdir()
        ref = reference_tree(args.ref, work / "ref")
        for case in args.case or CASES:
            opts = shlex.split(case)
            t_ref = run(ref, opts, work / "out-ref", args.rounds)
            t_new = run(ROOT, opts, work / "out-new", args.rounds)
            diff = differences(work / "out-ref", work / "out-new")
            failed |= bool(diff)
            verdict = "identical" if not diff else "DIFFERENT: " + "; ".join(diff[:5])
            print(f"{case:<80} {args.ref} {t_ref:6.2f} s  this tree {t_new:6.2f} s  "
                  f"ratio {t_new / t_ref:4.2f}  {verdict}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
