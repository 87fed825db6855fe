"""The expectations gate of `uptake build`: compute the figures, validate them with Great Expectations,
store the results, build the Data Docs, and stop the build on a critical failure.

Great Expectations is imported here only (it takes seconds), on a file context rooted in the lake
(`lake/gx/`), with its analytics off: nothing is written to the user's home. Data Docs go to
`lake/docs/data_docs/index.html`. Every run's results are appended to `lake/quality/expectations.jsonl` —
failed builds included, since their warehouse is discarded — and loaded into the warehouse's
`quality_expectations` table by the next build that succeeds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from expectations.suites import SUITES, Check, checks
from pipelines.sql import lit

RESULTS = Path("quality") / "expectations.jsonl"
DOCS = Path("docs") / "data_docs"


@dataclass
class Outcome:
    check: Check
    success: bool
    observed: list[tuple[str, float | None]]  # the failing groups and values (all of them when it passed)

    def line(self) -> str:
        shown = ", ".join(f"{v:.4g}" if g == "all" else f"{g}: {v:.4g}" for g, v in self.observed[:3]
                          if v is not None)
        more = f" (+{len(self.observed) - 3} more)" if len(self.observed) > 3 else ""
        return (f"suite {self.check.suite}, expectation {self.check.name} ({self.check.severity}): "
                f"column {self.check.figure}, observed {shown or 'none'}{more}, threshold {self.check.threshold()}")


class ExpectationsFailed(RuntimeError):
    def __init__(self, failures: list[Outcome]):
        self.failures = failures
        super().__init__("critical expectations failed:\n" + "\n".join(o.line() for o in failures))


def figures(con: duckdb.DuckDBPyConnection, suite: str) -> tuple[list[Check], Any]:
    """The suite's checks and one small pandas frame: check, grp, value."""
    import pandas as pd

    rows: list[tuple[str, str, float | None]] = []
    todo = checks(suite)
    for c in todo:
        for grp, value in con.execute(c.sql).fetchall():
            rows.append((c.name, str(grp), None if value is None else float(value)))
    return todo, pd.DataFrame(rows, columns=["check", "grp", "value"])


def run_gate(con: duckdb.DuckDBPyConnection, lake: Path, run_id: str | None = None) -> list[Outcome]:
    """Validate every suite; store the results; build Data Docs. Raises ExpectationsFailed on a critical one."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.store.store import DataDocsSiteConfigTypedDict
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.row_conditions import Column

    run_id = run_id or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    context = gx.get_context(mode="file", project_root_dir=str(lake))
    # the site's folder relative to the context's root (lake/gx): right for a relative --lake, and for a lake
    # that is moved or copied; a site recorded otherwise (absolute, or an older relative path) is replaced
    site: DataDocsSiteConfigTypedDict = {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": str(Path("..") / DOCS)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}}
    sites = context.list_data_docs_sites()
    if "lake" not in sites:
        context.add_data_docs_site(site_name="lake", site_config=site)
    elif sites["lake"]["store_backend"] != site["store_backend"]:
        context.update_data_docs_site(site_name="lake", site_config=site)
    bars = context.variables.progress_bars  # an object when set here, a dict when read from the project file
    if (bars.get("globally", True) if isinstance(bars, dict) else getattr(bars, "globally", True)):
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        context.variables.save()
    # the frames live in memory: the data source and its assets are made anew each run
    for vd_name in SUITES:
        with contextlib.suppress(Exception):
            context.validation_definitions.delete(vd_name)
    with contextlib.suppress(Exception):
        context.data_sources.delete("uptake")
    source = context.data_sources.add_pandas("uptake")
    outcomes: list[Outcome] = []
    definitions = []
    frames = {}
    for suite_name in SUITES:
        todo, frame = figures(con, suite_name)
        frames[suite_name] = frame
        asset = source.add_dataframe_asset(name=suite_name)
        batch = asset.add_batch_definition_whole_dataframe("whole")
        suite = gx.ExpectationSuite(name=suite_name)
        for c in todo:
            suite.add_expectation(gx.expectations.ExpectColumnValuesToBeBetween(
                column="value", min_value=c.min_value, max_value=c.max_value,
                row_condition=Column("check") == c.name,
                meta={"name": c.name, "severity": c.severity, "figure": c.figure, "description": c.description}))
        suite = context.suites.add_or_update(suite)
        definitions.append(context.validation_definitions.add(
            gx.ValidationDefinition(data=batch, suite=suite, name=suite_name)))
    for suite_name, vd in zip(SUITES, definitions, strict=True):
        result = vd.run(batch_parameters={"dataframe": frames[suite_name]}, result_format="COMPLETE")
        by_name = {c.name: c for c in checks(suite_name)}
        frame = frames[suite_name]
        for r in result.results:
            assert r.expectation_config is not None  # a result of this suite: it carries its expectation
            c = by_name[r.expectation_config.meta["name"]]
            rows = frame[frame["check"] == c.name]
            failing = set(r.result.get("unexpected_index_list") or [])
            observed = [(g, v) for i, g, v in zip(rows.index, rows["grp"], rows["value"], strict=True)
                        if not failing or i in failing]
            outcomes.append(Outcome(c, bool(r.success), observed))
    context.build_data_docs(site_names=["lake"])
    _store(lake, run_id, outcomes)
    failures = [o for o in outcomes if not o.success and o.check.severity == "critical"]
    if failures:
        raise ExpectationsFailed(failures)
    return outcomes


def _store(lake: Path, run_id: str, outcomes: list[Outcome]) -> None:
    """Append the build's results, one JSON line each, in one write. A build killed while appending (or a full
    disk) may have left part of a line: it is cut off first, so the file stays JSON lines."""
    path = lake / RESULTS
    path.parent.mkdir(parents=True, exist_ok=True)
    at = dt.datetime.now(dt.UTC).isoformat()
    text = "".join(json.dumps({
        "run_id": run_id, "validated_at": at, "suite": o.check.suite, "expectation": o.check.name,
        "severity": o.check.severity, "column": o.check.figure, "threshold": o.check.threshold(),
        "success": o.success, "observed": [[g, v] for g, v in o.observed[:20]],
        "description": o.check.description,
    }) + "\n" for o in outcomes)
    with path.open("a+b") as fh:  # appends go to the end whatever the position read from
        size = fh.seek(0, os.SEEK_END)
        if size:
            fh.seek(size - 1)
            if fh.read(1) != b"\n":
                fh.seek(0)
                fh.truncate(fh.read().rfind(b"\n") + 1)
        fh.write(text.encode())
        fh.flush()
        os.fsync(fh.fileno())


def load_results(con: duckdb.DuckDBPyConnection, lake: Path) -> None:
    """`quality_expectations`: every run's results, from the lake's results file. A line that is not a result is
    a ValueError naming the file and line."""
    path = lake / RESULTS
    con.execute("""create or replace table quality_expectations (
        run_id varchar, validated_at timestamptz, suite varchar, expectation varchar, severity varchar,
        "column" varchar, threshold varchar, success boolean, observed varchar, description varchar)""")
    if path.exists():
        rows = []
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                rows.append((r["run_id"], r["validated_at"], r["suite"], r["expectation"], r["severity"],
                             r["column"], r["threshold"], r["success"], json.dumps(r["observed"]), r["description"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}: line {n}: not an expectation result ({exc}); move the file away to "
                                 "start its history again") from None
        con.executemany("insert into quality_expectations values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    docs = {
        "run_id": "the build's validation run", "validated_at": "when it ran, UTC", "suite": "the suite",
        "expectation": "the expectation", "severity": "critical (blocks the build) or warning",
        "column": "the figure validated", "threshold": "the range it must lie in", "success": "it did",
        "observed": "the observed values (the failing groups when it failed), JSON",
        "description": "what the expectation means",
    }
    con.execute("comment on table quality_expectations is 'Expectation results of every build, failed builds "
                "included. Grain: one row per build run and expectation.'")
    for c, d in docs.items():
        con.execute(f"comment on column quality_expectations.\"{c}\" is {lit(d)}")
