"""bench/build.py's arithmetic: the cost per million events is the slope between two sizes, and a model whose time
grows faster than the events is named (the benchmark itself runs for minutes, so only its arithmetic is tested
here; the build's per-model times it reads are tested in tests/warehouse/test_build.py)."""

from __future__ import annotations

from bench import build as bench_build


def _size(events: int, wall: float, load: float, models: dict[str, float]) -> dict:
    return {"events": events, "wall_s": wall, "phases": {"load_s": load}, "models": models}


def test_cost_per_million_events_is_the_slope_and_superlinear_models_are_named():
    small = _size(1_000_000, 20.0, 5.0, {"events": 1.0, "did_group_time": 0.5, "tiny": 0.01})
    large = _size(10_000_000, 155.0, 41.0, {"events": 10.0, "did_group_time": 7.5, "tiny": 0.15})
    g = bench_build.growth(small, large)
    assert g["seconds_per_million_events"] == 15.0  # (155 − 20) s / 9 M events
    assert g["fixed_seconds"] == 5.0  # 20 s − 15 s/M × 1 M
    assert g["phases_seconds_per_million_events"] == {"load_s": 4.0}  # (41 − 5) / 9
    assert (g["events_ratio"], g["time_ratio"]) == (10.0, 7.75)
    # did_group_time: 15× the time for 10× the events (> 12×); events grows linearly; tiny is too small to judge
    assert g["superlinear_models"] == {"did_group_time": 15.0}
