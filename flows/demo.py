"""`uptake demo`: a generated organization taken through the Prefect flows, with the time each step took.

Kept apart from `flows/pipeline.py` so the command starts at once: Prefect (seconds to import) is imported on
another thread while the organization is generated and Prefect's server starts in its own process.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

from flows.serve import LocalServer

SERVER_START_TIMEOUT_S = 120


def _import_heavy_modules() -> None:
    """Prefect, Apache Beam, Great Expectations and the report's libraries (pandas, Altair, great_tables,
    WeasyPrint) take seconds to import: done on the other core while the demo generates, in the order the steps
    need them (what is not imported when generation ends goes on while the demo ingests); then the report's
    worker process starts warming up."""
    import importlib

    for name in ("flows.pipeline", "pipelines.stage", "great_expectations", "weasyprint", "report.pack"):
        importlib.import_module(name)
    from report import workers

    workers.start()


class DemoError(Exception):
    """The demo cannot use the folder it was given."""


DEMO_PARTS = ("landing", "reference", "lake", "truth.json")


def start_over(out: Path) -> None:
    """Make `out` ready for a new demo: a previous demo there (it has truth.json) is removed (generating the same
    seed again would find every file already ingested in its lake); a folder that holds anything else is refused."""
    if not out.exists():
        return
    if not out.is_dir():
        raise DemoError(f"{out}: exists and is not a folder; choose another --out")
    entries = {p.name for p in out.iterdir()}
    if not entries:
        return
    if "truth.json" not in entries or entries - set(DEMO_PARTS):
        raise DemoError(f"{out}: not empty and not a previous demo ({', '.join(sorted(entries)[:3])}, ...); "
                        "choose another --out")
    print(f"replacing the previous demo in {out}")
    for name in DEMO_PARTS:
        part = out / name
        if part.is_dir():
            shutil.rmtree(part)
        else:
            part.unlink(missing_ok=True)


def demo(out: str = "demo", seed: int = 1, people: int = 600, months: int = 6,
         started: float | None = None) -> int:
    """`uptake demo`: generate an organization (while Prefect's server starts and the heavy modules are imported),
    ingest and build it through the Prefect flows, print the finance tables of the last month and write its
    operating-review pack; the time each step took, last. `started`: when the command started (perf_counter),
    so the time in all is the command's."""
    from uptake.generate import generate

    started = time.perf_counter() if started is None else started
    try:
        start_over(Path(out))
    except DemoError as exc:
        print(f"uptake demo: {exc}", file=sys.stderr)
        return 1
    phases: dict[str, float] = {}
    startup = time.perf_counter() - started
    clock = time.perf_counter()
    # Prefect's server in its own process, started first (it takes longest): Prefect's default home, as its
    # temporary server would use; this process never imports the server. Its UI too: the flow runs' "View at"
    # links work while the demo runs. Stopped at exit, after Prefect's own exit handlers (registered later, so
    # run first) have sent the runs' last logs and events to it. An API named in the environment is used instead.
    server = None if os.environ.get("PREFECT_API_URL") else LocalServer(home=None, ui=True)
    if server:
        atexit.register(server.stop)
    threading.Thread(target=_import_heavy_modules, daemon=True).start()  # Prefect itself first
    truth = generate(out, seed=seed, people=people, months=months, progress=False)
    phases["generate"] = time.perf_counter() - clock
    print(f"generated {truth['events']:,} events in {len(truth['files'])} files under {out}")
    clock = time.perf_counter()
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.pipeline import COUNTS, demo_flow

    if server and PREFECT_API_URL.value():  # the Prefect profile names an API: that one is used
        server.stop()
        server = None
    api = {PREFECT_API_URL: server.wait(SERVER_START_TIMEOUT_S)} if server else {}
    phases["waiting for Prefect"] = time.perf_counter() - clock
    with temporary_settings(api):
        result = demo_flow(out=out, last_month=truth["months"][-1])
    phases.update(result["phases"])
    clock = time.perf_counter()
    same = all(result["ingest"][k] == truth["totals"][k] for k in COUNTS)
    month = truth["months"][-1]
    print_finance(Path(out) / "lake", month, truth)
    print(f"\ningest counts {'equal' if same else 'DIFFER FROM'} truth.json "
          f"({result['ingest']['lines']:,} lines, {result['ingest']['landed']:,} landed)")
    print(f"warehouse: {result['build']['warehouse']}")
    print(f"Data Docs: {result['build']['data_docs']}")
    for w in result["build"]["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    phases["finance tables"] = time.perf_counter() - clock
    clock = time.perf_counter()
    from report.pack import write as write_pack

    print(f"operating-review pack: {write_pack(Path(out) / 'lake', month).folder / 'index.html'}")
    phases["report"] = time.perf_counter() - clock
    print("\ndemo took " + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items())
          + f"; {time.perf_counter() - started:.1f} s in all with the command's start-up ({startup:.1f} s; "
          "Prefect's server started during generation)")
    return 0 if same else 1


def print_finance(lake: Path, month: str, truth: dict[str, Any]) -> None:
    """The demo's finance printout: ROI rows, service-level rows beside them, one seats line per tool, and each
    planted saving against the interval the warehouse measured for it."""
    import duckdb

    from warehouse.roi import roi_tables, shown

    result = roi_tables(lake, month)
    roi, service = shown(result)  # the recommended method's rows, as `uptake roi` prints them
    cols = ["attribution", "org_unit", "subject", "method", "n", "hours", "hours_ci_low", "hours_ci_high",
            "value_usd", "cost_usd", "roi", "suppressed"]
    rows = [r for r in roi.select(cols).to_pylist() if r["org_unit"].count("-") < 2]  # teams left out
    print(f"\nROI {month}: staff time only, the recommended method of each row (business units and departments; "
          f"`uptake roi --month {month} --lake {lake} --all-methods` for every method and team):")
    _table(cols, rows)
    scols = ["org_unit", "method", "submitted", "assisted_mean_hours", "baseline_mean_hours", "saving_hours",
             "saving_ci_low", "saving_ci_high", "backlog_open", "backlog_over_sla"]
    srows = [r for r in service.select(["workflow", *scols]).to_pylist() if r["org_unit"].count("-") < 2]
    print(f"\nservice levels {month}: letter turnaround in hours (elapsed time: never in dollars):")
    _table(["workflow", *scols], srows)
    con = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)
    try:
        seats = con.execute("""select tool, seats, active_users, users_over_seats, idle_seats, idle_seat_cost_usd
                               from license_utilization_monthly where month = ? and level = 'enterprise'
                               order by tool""", [month]).fetchall()
        print(f"\nseats {month} (enterprise):")
        for tool, n, active, over, idle, idle_cost in seats:
            print(f"  {tool}: {n} seats, {_fmt(active)} active users, {_fmt(over)} over seats, {_fmt(idle)} idle "
                  f"(${_fmt(idle_cost)})")
        print("\nplanted savings against the intervals measured (the recommended method, enterprise):")
        for wf, effect in truth["effects"].items():
            got = con.execute("""select saving_ci_low, saving_ci_high, method from workflow_attribution_monthly
                                 where workflow = ? and month = ? and level = 'enterprise' and recommended""",
                              [wf, month]).fetchall()
            _planted(f"{wf} staff time ({effect['metric']})", effect["saving_per_item"], got)
        for wf, effect in truth.get("service_levels", {}).items():
            got = con.execute("""select saving_ci_low, saving_ci_high, method from service_level_monthly
                                 where workflow = ? and month = ? and level = 'enterprise' and recommended""",
                              [wf, month]).fetchall()
            _planted(f"{wf} service level ({effect['metric']})", effect["saving_per_item"], got)
    finally:
        con.close()


def _planted(what: str, effect: float, got: list[tuple[Any, ...]]) -> None:
    """One line: the planted effect against the interval (lo, hi, method) the warehouse measured."""
    lo, hi, method = got[0] if got else (None, None, None)
    verdict = "no interval" if lo is None or hi is None else ("inside" if lo <= effect <= hi else "OUTSIDE")
    print(f"  {what}: planted {effect:g}, 95 % interval [{_fmt(lo)}, {_fmt(hi)}] ({method or 'no row'}): {verdict}")


def _table(cols: list[str], rows: list[dict[str, Any]]) -> None:
    print("  ".join(f"{c:>14}" for c in cols))
    for r in rows:
        print("  ".join(f"{_fmt(r[c]):>14}" for c in cols))


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 10 else f"{v:.2f}"
    return str(v)
