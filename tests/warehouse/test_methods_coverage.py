"""The coverage benchmark (bench/coverage.py) runs, a few replications at a time, so it cannot rot; and even with
so few, the naive methods miss the planted saving under both biases while within_actor and did do not."""

from __future__ import annotations

import pytest

from bench import coverage


def test_coverage_bench_runs_and_separates_naive_from_robust_methods():
    rows = coverage.run(reps=3, jobs=1, seed=7, scenarios=("both",))
    by = {(r["method"], r["level"]): r for r in rows}
    assert len(rows) == (len(coverage.METHODS) + 1) * len(coverage.TARGETS)  # + the recommended method's row
    for level in coverage.TARGETS:
        for method in coverage.METHODS:
            assert by[(method, level)]["n"] == 3, (method, level)  # every target row exists in every replication
        # 15 s a month of drift and slow people choosing the AI: the naive methods miss by tens of seconds
        assert by[("pre_go_live", level)]["bias"] < -30
        assert by[("concurrent_control", level)]["bias"] < -20
        assert by[("concurrent_control", level)]["coverage"] == 0
        # within-person and difference-in-differences recover 90 s
        for robust in ("within_actor", "did"):
            assert abs(by[(robust, level)]["bias"]) < 12, (robust, level)
        # what finance is shown: the recommended row, never a naive one under these biases
        assert by[("recommended", level)]["n"] == 3 and abs(by[("recommended", level)]["bias"]) < 12
        assert by[("concurrent_control", level)]["chosen"] == by[("pre_go_live", level)]["chosen"] == 0
    text = coverage.table(rows)
    assert text.count("\n") == len(rows) + 1 and "| both | did | department | 3 |" in text


def test_wilson_interval():
    lo, hi = coverage.wilson(190, 200)  # 95 %: Wilson 91.0 %–97.3 %
    assert (round(lo, 3), round(hi, 3)) == (0.910, 0.973)
    assert coverage.wilson(0, 10)[0] == pytest.approx(0.0, abs=1e-12)
