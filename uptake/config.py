"""Where things live: one settings object, shared by the command line and the Prefect flows.

Every setting is resolved the same way: the flag (or the flow's parameter), then the environment variable,
then the local default.

| setting   | flag          | environment          | default                                          |
|-----------|---------------|----------------------|--------------------------------------------------|
| lake      | `--lake`      | `$UPTAKE_LAKE`       | `./lake`                                         |
| reference | `--reference` | `$UPTAKE_REFERENCE`  | `<lake>/reference` (build); none at ingest       |
| landing   | `--landing`   | `$UPTAKE_LANDING`    | `./landing`                                      |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

LAKE_ENV = "UPTAKE_LAKE"
REFERENCE_ENV = "UPTAKE_REFERENCE"
LANDING_ENV = "UPTAKE_LANDING"


@dataclass(frozen=True)
class Settings:
    lake: Path
    reference: Path  # for the build: always one
    landing: Path
    reference_named: bool  # given by flag or environment (not the `<lake>/reference` default)
    lake_named: bool  # given by flag or environment (not the `./lake` default)

    @property
    def ingest_reference(self) -> Path | None:
        """At ingest the reference folder is optional (vendor exports need it): used when it was named."""
        return self.reference if self.reference_named else None


def settings(lake: str | Path | None = None, reference: str | Path | None = None,
             landing: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve every setting: the argument, then the environment, then the default."""
    env = os.environ if environ is None else environ
    lake_value = lake or env.get(LAKE_ENV) or None
    lake_dir = Path(lake_value or "lake")
    reference_value = reference or env.get(REFERENCE_ENV) or None
    return Settings(
        lake=lake_dir,
        reference=Path(reference_value) if reference_value else lake_dir / "reference",
        landing=Path(landing or env.get(LANDING_ENV) or "landing"),
        reference_named=reference_value is not None,
        lake_named=lake_value is not None,
    )


def lake_path(flag: str | None = None) -> Path:
    """The lake folder: `--lake`, then `$UPTAKE_LAKE`, then `./lake`."""
    return settings(lake=flag).lake


def reference_path(flag: str | None, lake: Path) -> Path:
    """The reference folder: `--reference`, then `$UPTAKE_REFERENCE`, then `<lake>/reference`."""
    return settings(lake=lake, reference=flag).reference
