"""`uptake build`: the DuckDB warehouse, built beside the old one and swapped in atomically.

Inputs: the lake's committed events (Parquet), its ledger, the reference folder (checked against its contract,
the roster pseudonymized with the lake's key) and the closed months' snapshots (`lake/closes/`, see
`warehouse.close`). Payroll (the roster's hourly costs) is loaded into a temporary table only: it is used by
the models and never written to the warehouse file. Models: the `.sql` files of
`warehouse/sql/`, run in name order, one table each. Each file starts with its purpose, grain and a line per
column; they become `COMMENT ON` the table and its columns, so `duckdb_tables()` and `duckdb_columns()`
document the warehouse. The new file is written as `.warehouse-building.duckdb` and renamed over
`warehouse.duckdb` only when complete: an analyst's open read-only connection keeps reading the old file.

One build at a time per lake (the lake's build lock): a second refuses with one line naming the holder's
pid, or waits (`wait=True`: the flows; `uptake build --wait`). Before anything is read, the lake is checked
against its ledger (`Lake.check`). The file is written in DuckDB's storage version `STORAGE_VERSION`, which
every DuckDB from 1.4 LTS on reads (DuckDB 2.0's own format is refused by 1.x clients and BI tools).
"""

from __future__ import annotations

import importlib
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipelines.lake import Lake, LakeError, file_sha256, fsync_dir, pseudonymize
from pipelines.sql import lit
from schemas import events as contract
from schemas.reference import TABLES, ReferenceError, load_reference
from warehouse import methods
from warehouse.close import load_published

SQL_DIR = Path(__file__).parent / "sql"
WAREHOUSE = "warehouse.duckdb"
BUILDING = ".warehouse-building.duckdb"
STORAGE_VERSION = "v1.4.0"  # readable by DuckDB 1.4 LTS and every later version


class BuildError(RuntimeError):
    pass


class BuildRefused(BuildError):
    """Refused before building anything: no lake, another build running, or the lake fails its check."""


@dataclass(frozen=True)
class Model:
    """One `.sql` file: its table, purpose, grain, column docs and statement."""

    path: Path
    table: str
    purpose: str
    grain: str
    columns: dict[str, str]
    sql: str


_HEADER = re.compile(r"^-- (?P<key>[a-z_]+|column [a-z_0-9]+): ?(?P<text>.*)$")


def read_model(path: Path) -> Model:
    table, purpose, grain, columns, key = "", [], "", {}, None
    body: list[str] = []
    for line in path.read_text().splitlines():
        m = _HEADER.match(line)
        if m and not body:
            k, text = m.group("key"), m.group("text").strip()
            if k == "grain":
                grain, key = text, "grain"
            elif k.startswith("column "):
                key = k.split(" ", 1)[1]
                columns[key] = text
            else:
                table, key = k, "purpose"
                purpose.append(text)
        elif line.startswith("-- ") and not body and key == "purpose":
            purpose.append(line[3:].strip())
        else:
            body.append(line)
    if not table or not grain:
        raise BuildError(f"{path}: a model starts with `-- <table>: <purpose>` and `-- grain: …`")
    return Model(path, table, " ".join(purpose), grain, columns, "\n".join(body))


def models() -> list[Model]:
    return [read_model(p) for p in sorted(SQL_DIR.glob("*.sql"))]


def _comment(con: duckdb.DuckDBPyConnection, table: str, doc: str, columns: dict[str, str]) -> None:
    """COMMENT ON the table and every column; a column without a doc is a build error."""
    actual = [r[0] for r in con.execute(f"select column_name from (describe {table})").fetchall()]
    missing = [c for c in actual if c not in columns]
    if missing:
        raise BuildError(f"table {table}: no description for column(s) {', '.join(missing)}")
    # one transaction: each statement on its own would be a commit of the catalog (written to the file)
    con.execute("begin transaction;\n" + f"comment on table {table} is {lit(doc)};\n"
                + "".join(f"comment on column {table}.{c} is {lit(columns[c])};\n" for c in actual) + "commit;")


@dataclass
class BuildResult:
    path: Path
    seconds: float
    rows: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    models: dict[str, float] = field(default_factory=dict)  # table: seconds its model took
    warnings: list[str] = field(default_factory=list)
    docs: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"warehouse": str(self.path), "seconds": round(self.seconds, 2), "rows": self.rows,
                "phases": {k: round(v, 2) for k, v in self.phases.items()},
                "models": {k: round(v, 3) for k, v in self.models.items()}, "warnings": self.warnings,
                "data_docs": str(self.docs) if self.docs else None}


def _load_reference(con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table], key: bytes) -> None:
    for spec in TABLES:
        t = tables[spec.name]
        if spec.name == "identities":
            continue  # vendor identities (emails, logins) are personal data: not in the warehouse
        docs = {c.name: c.doc or f"{c.name} as in {spec.file}" for c in spec.columns}
        kind = "table"
        if spec.name == "roster":  # payroll and quasi-identifiers: a temporary table, never in the file
            ids = t.column("actor_id").to_pylist()
            t = t.drop_columns(["actor_id"]).add_column(0, "actor_key", pa.array(pseudonymize(key, ids), pa.string()))
            docs["actor_key"] = "pseudonym of the actor (HMAC-SHA256 of the actor id)"
            kind = "temp table"
        con.register("incoming", t)
        con.execute(f"create {kind} ref_{spec.name} as select * from incoming")
        con.unregister("incoming")
        _comment(con, f"ref_{spec.name}", f"Reference data as loaded from {spec.file} (checked). {spec.doc}", docs)


def _load_reference_files(con: duckdb.DuckDBPyConnection, reference: Path) -> None:
    """The sha256 of each reference file: a close records them, restatements name the ones changed since."""
    names = [spec.file for spec in TABLES if (reference / spec.file).exists()]
    t = pa.table({"file": pa.array(names, pa.string()),
                  "sha256": pa.array([file_sha256(reference / n) for n in names], pa.string())})
    con.register("incoming", t)
    con.execute("create table reference_files as select * from incoming")
    con.unregister("incoming")
    _comment(con, "reference_files", "The reference files this warehouse was built from. Grain: one row per file.",
             {"file": "the reference file's name", "sha256": "sha256 of its bytes"})


def _load_events(con: duckdb.DuckDBPyConnection, lake: Lake, runs: list[dict]) -> None:
    """Every landed column of the contract, also for files landed before a field was added (null there), of the
    committed `runs`. A temp table: read once, by the events model, never written to the warehouse file."""
    empty = contract.landed_schema().empty_table()
    con.register("incoming", empty)
    con.execute("create temp table landed_events as select * from incoming")
    con.unregister("incoming")
    files = [str(lake.root / p) for r in runs for p in r.get("outputs", {}).get("events", [])]
    if files:
        try:
            con.execute("insert into landed_events by name select * from read_parquet($files, hive_partitioning = "
                        "true, union_by_name = true)", {"files": files})
        except duckdb.Error as exc:  # DuckDB names the file; one line, not a traceback
            first = str(exc).splitlines()[0]
            raise BuildError(f"cannot read the landed events: {first}; run `uptake verify`") from None


def _load_ledger(con: duckdb.DuckDBPyConnection, runs: list[dict]) -> None:
    rows: dict[str, list] = {k: [] for k in ("ingest_run", "started_at", "finished_at", "source_file", "sha256",
                                             "already_ingested", "lines", "landed", "duplicates", "quarantined",
                                             "blank", "by_reason", "dropped_fields")}
    for run in runs:
        for f in run["files"]:
            rows["ingest_run"].append(run["run"])
            rows["started_at"].append(run["started_at"])
            rows["finished_at"].append(run["finished_at"])
            rows["source_file"].append(f["path"])
            for k in ("sha256", "already_ingested", "lines", "landed", "duplicates", "quarantined", "blank"):
                rows[k].append(f[k])
            rows["by_reason"].append(list(f["by_reason"].items()))
            rows["dropped_fields"].append(list(f["dropped_fields"].items()))
    counts = pa.map_(pa.string(), pa.int64())
    t = pa.table({
        "ingest_run": pa.array(rows["ingest_run"], pa.int64()),
        "started_at": pa.array(rows["started_at"], pa.string()),
        "finished_at": pa.array(rows["finished_at"], pa.string()),
        "source_file": pa.array(rows["source_file"], pa.string()),
        "sha256": pa.array(rows["sha256"], pa.string()),
        "already_ingested": pa.array(rows["already_ingested"], pa.bool_()),
        **{k: pa.array(rows[k], pa.int64()) for k in ("lines", "landed", "duplicates", "quarantined", "blank")},
        "by_reason": pa.array(rows["by_reason"], counts),
        "dropped_fields": pa.array(rows["dropped_fields"], counts),
    })
    con.register("incoming", t)
    con.execute("create table ledger_files as select * exclude (started_at, finished_at), "
                "started_at::timestamptz as started_at, finished_at::timestamptz as finished_at from incoming")
    con.unregister("incoming")


def _load_t_quantiles(con: duckdb.DuckDBPyConnection) -> None:
    import numpy as np
    from scipy.special import stdtrit  # t's inverse CDF: scipy.stats.t.ppf's values, without importing scipy.stats

    df = np.arange(1, 1001)
    table = pa.table({"df": pa.array(df, pa.int32()), "t975": pa.array(stdtrit(df, 0.975), pa.float64())})
    con.register("incoming", table)
    con.execute("create table t_quantiles as select * from incoming")
    con.unregister("incoming")
    _comment(con, "t_quantiles", "97.5 % quantiles of Student's t by degrees of freedom, for 95 % Welch intervals "
             "(Welch df is rounded down; beyond 1000 the 1000 value is used).",
             {"df": "degrees of freedom", "t975": "the 0.975 quantile of t with df degrees of freedom"})


def build(lake: str | Path, reference: str | Path, expectations: bool = True, wait: bool = False,
          waiting: Callable[[str], None] | None = None, threads: int | None = None) -> BuildResult:
    """Build the warehouse into the lake. With `expectations`, the suites run on the new warehouse before the
    swap: a critical failure raises BuildError and leaves the previous warehouse as it was. A build already
    running on the lake: BuildError, or with `wait` wait for it (`waiting(pid)` is told). `threads`: DuckDB's
    thread count (default: DuckDB's, one per core); the figures are the same for any count."""
    lk = Lake(lake)
    if not lk.root.is_dir():
        raise BuildRefused(f"{lk.root}: no lake here (pass --lake DIR or set $UPTAKE_LAKE; `uptake ingest` makes one)")
    try:
        with lk.locked(wait=wait, what="build", waiting=waiting):
            try:
                lk.check()
            except LakeError as exc:
                raise BuildRefused(str(exc)) from exc
            return _build(lk, reference, expectations, threads)
    except LakeError as exc:  # the lock refused, or the ledger became unreadable while building
        raise BuildRefused(str(exc)) from exc
    except OSError as exc:  # the lake's storage refused (full, read-only): nothing was swapped in
        raise BuildError(f"{exc.strerror or exc}: {exc.filename or lk.root}") from exc


def _build(lk: Lake, reference: str | Path, expectations: bool, threads: int | None = None) -> BuildResult:
    started = time.perf_counter()
    if expectations:  # importing Great Expectations takes seconds: let it overlap the DuckDB work
        threading.Thread(target=importlib.import_module, args=("great_expectations",), daemon=True).start()
    try:
        tables = load_reference(reference)
    except ReferenceError as exc:
        raise BuildError(f"reference data refused:\n{exc}") from exc
    key = lk.pseudonym_key()
    building = lk.root / BUILDING
    _discard(building)  # what a killed build left
    result = BuildResult(lk.root / WAREHOUSE, 0.0)
    con = duckdb.connect(str(building), config={"storage_compatibility_version": STORAGE_VERSION})
    try:
        con.execute("set timezone = 'UTC'")
        methods.register(con)  # the Python step of the did model (its pre-trend test)
        if threads:
            con.execute(f"set threads = {int(threads)}")
        clock = time.perf_counter()
        _load_reference(con, tables, key)
        _load_reference_files(con, Path(reference))
        load_published(con, lk.root)
        _load_t_quantiles(con)
        # one reading of the ledger for both: an ingest may commit a run while a build runs (a build holds the
        # build lock, not the ingest lock), and `quality` must not count a run whose events `events` lacks
        runs = lk.committed_runs()
        _load_events(con, lk, runs)
        _load_ledger(con, runs)
        result.phases["load_s"] = time.perf_counter() - clock
        clock = time.perf_counter()
        for m in models():
            model_clock = time.perf_counter()
            try:
                con.execute(m.sql)
            except duckdb.Error as exc:
                raise BuildError(f"{m.path.name}: {exc}") from exc
            _comment(con, m.table, f"{m.purpose} Grain: {m.grain}.", m.columns)
            result.models[m.table] = time.perf_counter() - model_clock
        result.phases["models_s"] = time.perf_counter() - clock
        con.execute("drop table landed_events")  # `events` holds every landed row, resolved
        con.execute("drop table ledger_files")  # `quality` holds the ledger
        if expectations:
            from expectations.gate import ExpectationsFailed, load_results, run_gate

            clock = time.perf_counter()
            try:
                outcomes = run_gate(con, lk.root)
            except ExpectationsFailed as exc:
                raise BuildError(str(exc)) from exc
            try:
                load_results(con, lk.root)
            except ValueError as exc:
                raise BuildError(str(exc)) from None
            result.warnings = [o.line() for o in outcomes if not o.success]
            result.docs = lk.root / "docs" / "data_docs" / "index.html"
            result.phases["expectations_s"] = time.perf_counter() - clock
        for (name,) in con.execute("select table_name from duckdb_tables() where not temporary order by 1").fetchall():
            (result.rows[name],) = con.execute(f"select count(*) from {name}").fetchall()[0]
        con.execute("checkpoint")
    except BaseException:
        con.close()
        _discard(building)
        raise
    con.close()
    try:
        os.replace(building, result.path)  # the swap: readers of the old file keep it until they close
    except OSError:
        _discard(building)  # a full disk gets its space back at once
        raise
    fsync_dir(lk.root)
    result.seconds = time.perf_counter() - started
    return result


def _discard(building: Path) -> None:
    building.unlink(missing_ok=True)
    building.with_name(building.name + ".wal").unlink(missing_ok=True)
