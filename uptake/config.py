"""Where things live. One switch per place: a flag, then an environment variable, then a local default."""

from __future__ import annotations

import os
from pathlib import Path


def lake_path(flag: str | None = None) -> Path:
    """The lake folder: `--lake`, then `$UPTAKE_LAKE`, then `./lake`."""
    return Path(flag or os.environ.get("UPTAKE_LAKE") or "lake")


def reference_path(flag: str | None, lake: Path) -> Path:
    """The reference folder: `--reference`, then `$UPTAKE_REFERENCE`, then `<lake>/reference`."""
    return Path(flag or os.environ.get("UPTAKE_REFERENCE") or lake / "reference")
