"""Progress on a terminal: one self-overwriting line on stderr, only when stderr is a TTY."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, total: int | None = None, enabled: bool | None = None, unit: str = "steps"):
        self.label, self.total, self.unit = label, total, unit
        self.done = 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self._last = 0.0

    def advance(self, n: int = 1, note: str = "") -> None:
        self.done += n
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.2 and self.done != self.total):
            return
        self._last = now
        rate = self.done / max(now - self.started, 1e-9)
        of = f"/{self.total}" if self.total else ""
        sys.stderr.write(f"\r{self.label}: {self.done:,}{of} {self.unit} ({rate:,.0f}/s) {note}\033[K")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write(f"\r{self.label}: done in {time.monotonic() - self.started:.1f}s\033[K\n")
            sys.stderr.flush()
