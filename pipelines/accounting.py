"""The accounting of an ingest: what became of every line, per range, per file and per run.

`Counts` holds the five counts of SPEC §2 (`lines = landed + duplicates + quarantined + blank`), the
quarantine reasons and the dropped field names. Every stage keeps the identity true: staging counts a line
that passed the row rules as landed, and the commit moves the copies it finds to be duplicates or
conflicting duplicates out of `landed` (`settle`).

Dropped field *names* come from the input and may themselves be free text (a key such as
`"Patient Jane Doe DOB 1961-02-03"`): a name is kept only when it looks like an identifier
(`NAME_RE`); every other name is counted under `UNNAMED`, so no input text reaches the ledger, the
`quality` table or the command's output through a field name.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

COUNT_KEYS = ("lines", "landed", "duplicates", "quarantined", "blank")
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
UNNAMED = "<unnamed>"


def field_label(name: str) -> str:
    """How a dropped field is named in the accounting: its name if it looks like an identifier, else UNNAMED."""
    return name if NAME_RE.fullmatch(name) else UNNAMED


@dataclass
class Counts:
    """What became of a set of lines: the five counts, reasons, dropped fields."""

    lines: int = 0
    landed: int = 0
    duplicates: int = 0
    quarantined: int = 0
    blank: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    dropped_fields: Counter[str] = field(default_factory=Counter)

    def add(self, other: Counts) -> Counts:
        for k in COUNT_KEYS:
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.by_reason.update(other.by_reason)
        self.dropped_fields.update(other.dropped_fields)
        return self

    def quarantine(self, reasons: Iterable[str]) -> None:
        """Lines quarantined (already counted in `lines`), one reason each."""
        new = Counter(reasons)
        self.by_reason.update(new)
        self.quarantined += sum(new.values())

    def drop(self, names: Mapping[str, int] | Iterable[tuple[str, int]]) -> None:
        """Dropped fields by name (labelled by `field_label`)."""
        for name, n in (names.items() if isinstance(names, Mapping) else names):
            self.dropped_fields[field_label(name)] += n

    def settle(self, duplicates: int, conflicts: int) -> None:
        """The commit found `duplicates` and `conflicts` among the lines counted as landed."""
        self.landed -= duplicates + conflicts
        self.duplicates += duplicates
        self.quarantined += conflicts
        if conflicts:
            self.by_reason["conflicting_duplicate"] += conflicts

    def balanced(self) -> bool:
        return self.lines == self.landed + self.duplicates + self.quarantined + self.blank

    def as_dict(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in COUNT_KEYS},
                "by_reason": dict(sorted(self.by_reason.items())),
                "dropped_fields": dict(sorted(self.dropped_fields.items()))}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Counts:
        return cls(**{k: int(d.get(k, 0)) for k in COUNT_KEYS}, by_reason=Counter(d.get("by_reason", {})),
                   dropped_fields=Counter(d.get("dropped_fields", {})))


def total(files: list[dict[str, Any]]) -> dict[str, Any]:
    """SPEC §5 `total` over per-file records: the five counts, reasons, dropped fields, files skipped."""
    t = Counts()
    for f in files:
        t.add(Counts.from_dict(f))
    out = t.as_dict()
    return {**{k: out[k] for k in COUNT_KEYS}, "already_ingested": sum(1 for f in files if f["already_ingested"]),
            "by_reason": out["by_reason"], "dropped_fields": out["dropped_fields"]}


PUBLIC_KEYS = ("path", "format", "records", "already_ingested", *COUNT_KEYS, "by_reason", "dropped_fields",
               "error")


def public(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-file records as printed (the ledger also keeps sha256 and size)."""
    return [{k: f[k] for k in PUBLIC_KEYS if k in f} for f in files]
