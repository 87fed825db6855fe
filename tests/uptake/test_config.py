"""One settings object for the command line and the flows: the flag, then the environment, then the default."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from uptake.config import settings


def test_flag_then_environment_then_default():
    env = {"UPTAKE_LAKE": "/env/lake", "UPTAKE_REFERENCE": "/env/ref", "UPTAKE_LANDING": "/env/landing"}
    s = settings(environ={})
    assert (s.lake, s.reference, s.landing) == (Path("lake"), Path("lake/reference"), Path("landing"))
    assert s.ingest_reference is None and not s.lake_named  # at ingest the reference is optional
    s = settings(environ=env)
    assert (s.lake, s.reference, s.landing) == (Path("/env/lake"), Path("/env/ref"), Path("/env/landing"))
    assert s.ingest_reference == Path("/env/ref") and s.lake_named
    s = settings(lake="flag/lake", reference="flag/ref", landing="flag/landing", environ=env)
    assert (s.lake, s.reference, s.landing) == (Path("flag/lake"), Path("flag/ref"), Path("flag/landing"))
    # the build's default reference follows the lake, wherever the lake came from
    assert settings(environ={"UPTAKE_LAKE": "/env/lake"}).reference == Path("/env/lake/reference")
    assert settings(lake="x", environ={"UPTAKE_LAKE": "/env/lake"}).reference == Path("x/reference")


@pytest.mark.parametrize("name", ["ingest_flow", "ingest_arrival_flow", "build_flow", "pipeline_flow",
                                  "monthly_close_flow"])
def test_flows_leave_locations_to_the_settings(name):
    """No flow hard-codes a location: every lake/reference/landing parameter defaults to None (→ settings)."""
    import flows.pipeline

    params = inspect.signature(getattr(flows.pipeline, name).fn).parameters
    located = [p for p in params.values() if p.name in ("lake", "reference", "landing")]
    assert located and all(p.default is None for p in located if p.default is not inspect.Parameter.empty)
