"""Shared fixtures: one small generated organization per test session, ingested once."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

SMALL = dict(seed=7, people=300, months=4, volume=0.4)

# Prefect's test server is gone when the session ends: its logs stay local, and nobody phones home.
os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Dask and Prefect log from background threads after pytest has closed its capture streams.
logging.raiseExceptions = False


@pytest.fixture(scope="session")
def small_org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from uptake.generate import generate

    out = tmp_path_factory.mktemp("org")
    generate(out, progress=False, **SMALL)
    return out


@pytest.fixture(scope="session")
def truth(small_org: Path) -> dict:
    return json.loads((small_org / "truth.json").read_text())


@pytest.fixture(scope="session")
def ingested(small_org: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """(lake, summary) of one DirectRunner ingest of the small organization, with its roster."""
    from pipelines.ingest import ingest

    lake = tmp_path_factory.mktemp("lake")
    summary = ingest([small_org / "landing"], lake=lake, reference=small_org / "reference", progress=False)
    return lake, summary


@pytest.fixture(scope="session")
def built(ingested, small_org: Path) -> Path:
    """The warehouse of the small organization, expectations included."""
    from warehouse.build import build

    lake, _ = ingested
    build(lake, small_org / "reference")
    return lake / "warehouse.duckdb"
