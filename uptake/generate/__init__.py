"""`uptake generate`: a realistic synthetic healthcare organization, its usage events and the truth.

Writes, under OUT:
- `reference/*.csv`: the eight reference files of SPEC §3 (org units, roster, workflows, go-live dates,
  governance, licenses, minutes per action, targets);
- `landing/YYYY-MM-<source>.jsonl[.gz]`: one file per source and month, events in time order, with
  planted faults (a few lines of every quarantine reason, exact and conflicting duplicates, blank lines,
  invalid UTF-8, PHI-like free text, non-UTC offsets, CRLF line ends, gzip);
- `truth.json`: the planted effects and the exact per-file and total counts an ingest must reproduce.

The parts, one module each: `people` (who works where, at what cost, who moves), `events` (the good events
and their planted effects), `biases` (what is planted against the naive methods), `lines` (the good events as
JSON lines, rendered column-wise), `faults` (each kind of bad line) and `landing` (the files, faults planted and
counted), `truth` (truth.json), `reference` (the CSVs), `window` (months and working days), `items`
(the same calls and letters as work items, column-wise, without events: for the methods' benchmark and tests).
Deterministic: the same seed, size, end month and biases give byte-identical files.

Biases (off by default): `trend_seconds_per_month` (ACW and letter staff time drift up in every unit),
`self_selection` (slow people take the AI most), `never_live` (a team that never goes live); see
`events.Biases`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from uptake import org
from uptake.generate import events
from uptake.generate.events import Biases
from uptake.generate.landing import write_landing
from uptake.generate.people import People, build_people
from uptake.generate.reference import write_reference
from uptake.generate.truth import truth_document, write_truth
from uptake.generate.window import DEFAULT_END_MONTH, GenerateError, next_month, window_months, workdays
from uptake.progress import Progress

VERSIONS = ("1.0", "1.3", "1.1")  # the schema versions senders write

__all__ = ["DEFAULT_END_MONTH", "Biases", "GenerateError", "generate"]


def check(people: int, months: int, end_month: str, biases: Biases) -> tuple[list[dt.date], dt.date, dt.date]:
    """The window's month starts, start and end, once the size and biases are checked."""
    if people < 300:
        raise GenerateError(f"--people {people}: at least 300, so that every team but one has 11 people or more")
    if not 1 <= months <= 36:
        raise GenerateError(f"--months {months}: between 1 and 36")
    teams = sorted({team for _, team in org.GO_LIVE})
    if biases.never_live is not None and biases.never_live not in teams:
        raise GenerateError(f"--never-live {biases.never_live}: not a team that goes live; one of {', '.join(teams)}")
    if not -600 <= biases.trend_seconds_per_month <= 600:
        raise GenerateError(f"--trend {biases.trend_seconds_per_month:g}: seconds per month, -600 to 600")
    if not -10 <= biases.self_selection <= 10:
        raise GenerateError(f"--self-selection {biases.self_selection:g}: log-odds per sd of pace, -10 to 10")
    month_starts = window_months(end_month, months)
    start, end = month_starts[0], next_month(month_starts[-1])
    if end > dt.date.today():
        raise GenerateError(f"--end {end_month}: the month has not ended yet; events must be in the past")
    return month_starts, start, end


def draw_work(rng: np.random.Generator, people: int, month_starts: list[dt.date], start: dt.date, end: dt.date,
              volume: float, biases: Biases) -> tuple[People, dict, dict[str, Any], dict[str, Any]]:
    """The people, go-lives, calls and letters: the first draws of `rng`, the same for files and items."""
    p = build_people(rng, people, start, end)
    go_live = events.go_live_times(month_starts, biases.never_live)
    days = workdays(start, end)
    calls = events.calls(rng, p, days, go_live, volume, biases)
    letters = events.letters(rng, p, days, go_live, np.datetime64(end, "us"), volume, biases)
    return p, go_live, calls, letters


def generate(out: str | Path, seed: int = 1, months: int = 6, people: int = 600,
             end_month: str = DEFAULT_END_MONTH, volume: float = 1.0, progress: bool | None = None,
             copilot_seat_shortfall: float = 0.0, biases: Biases = Biases()) -> dict[str, Any]:
    """Write a synthetic organization under `out`; returns the truth (also written to truth.json).

    `copilot_seat_shortfall` (0 to 1): licenses.csv counts that share fewer copilot seats than the people who
    hold one, so active users exceed seats (the overrun finance must true up). `biases`: see `events.Biases`."""
    if not 0 <= copilot_seat_shortfall < 1:
        raise GenerateError(f"--copilot-seat-shortfall {copilot_seat_shortfall:g}: a share, 0 to below 1")
    month_starts, start, end = check(people, months, end_month, biases)
    out = Path(out)
    (out / "landing").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    bar = Progress("generate", total=months + 2, enabled=progress)

    p, go_live, calls, letters = draw_work(rng, people, month_starts, start, end, volume, biases)
    end_ts = np.datetime64(end, "us")
    cop = events.copilot(rng, p, start, end, months, volume)
    ev = events.events_table(rng, p, calls, letters, cop, len(org.UNITS))
    seats = write_reference(out, p, month_starts, end, go_live, copilot_seat_shortfall)
    bar.advance()

    # Event ids: a keyed permutation of the row number, rendered in SQL as `<source prefix>-<16 hex>`.
    n = ev.num_rows
    order = rng.permutation(n).astype(np.uint64)
    mixed = (order * np.uint64(0x9E3779B97F4A7C15)) ^ np.uint64(seed * 0x5851F42D4C957F2D % (1 << 64))
    ts = ev.column("ts").to_numpy()
    month_idx = (ts.astype("datetime64[M]") - np.datetime64(start, "M")).astype(int)
    ev = ev.append_column("event_num", pa.array(mixed, pa.uint64()))
    version = np.where(rng.random(n) < 0.8, 0, 1)  # codes into VERSIONS
    # work_seconds came with 1.1: a 1.0 sender has no such field, so a letter that carries it says 1.1 at least
    version = np.where((version == 0) & ev.column("work_seconds").is_valid().to_numpy(zero_copy_only=False),
                       2, version)
    ev = ev.append_column("schema_version", events.labels(VERSIONS, version))
    ev = ev.append_column("month_idx", pa.array(month_idx, pa.int32()))

    truth_files = write_landing(out, ev, month_starts, rng, bar)

    truth = truth_document(seed, people, month_starts, end, go_live, n, truth_files, biases)
    submitted = letters["submitted"] < end_ts
    truth["letters"] = {
        "submitted": int(submitted.sum()),
        "without_work_seconds": int((submitted & (letters["work_seconds"] < 0)).sum()),
        "without_work_seconds_probability": org.NO_WORK_SECONDS_PROBABILITY,
    }
    truth["seats"] = seats
    write_truth(out, truth)
    bar.advance()
    bar.close()
    return truth
