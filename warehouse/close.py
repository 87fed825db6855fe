"""`uptake close`: publish a month's finance tables as a snapshot that later data never changes silently.

A close reads the current warehouse and writes, under `lake/closes/YYYY-MM/vNNN/`:
- one Parquet file per finance table (`FINANCE_TABLES`), the month's rows as they are;
- `roi.parquet` and `service_level.parquet`: the month's ROI and service-level rows, and `roi.csv`, `roi.json`:
  exactly what `uptake roi --month M` prints (its default view), printed as is from then on;
- `figures.parquet`: the month's `finance_figures` (every figure as text), what restatements compare with;
- `reference.parquet`: the sha256 of each reference file the warehouse was built from;
- `manifest.json`: month, version, when, the last ingest run the warehouse holds, and each file's sha256.

The folder is written beside its final place and renamed into it (a rename is atomic), outside the warehouse
file that every build replaces. Every build loads the snapshots (`load_published`) and computes
`restatements`: the published figures the current data no longer gives. A month is closed once; publishing
it again on purpose (`--restate`) writes the next version, and restatements compare with the latest.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.lake import Lake, file_sha256, fsync_dir

CLOSES = "closes"
FINANCE_TABLES = (
    "workflow_attribution_monthly",
    "service_level_monthly",
    "productivity_estimate_monthly",
    "license_utilization_monthly",
    "adoption_monthly",
    "leader_scorecard_monthly",
)
_VERSION = re.compile(r"^v([0-9]{3})$")


class CloseError(RuntimeError):
    pass


def check_month(month: str) -> str:
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", month):
        raise CloseError(f"--month {month!r}: expected YYYY-MM")
    return month


@dataclass(frozen=True)
class Snapshot:
    """One published version of a closed month."""

    path: Path
    month: str
    version: int
    manifest: dict[str, Any]

    @property
    def closed_at(self) -> str:
        return str(self.manifest["closed_at"])

    def table(self, name: str) -> pa.Table:
        return pq.read_table(self.path / f"{name}.parquet")


def snapshots(lake: str | Path) -> list[Snapshot]:
    """Every published version of every closed month, oldest first."""
    root = Path(lake) / CLOSES
    out = []
    for month_dir in sorted(root.glob("[0-9][0-9][0-9][0-9]-[0-9][0-9]")):
        for vdir in sorted(month_dir.iterdir()):
            m = _VERSION.match(vdir.name)
            if not m or not (vdir / "manifest.json").exists():
                continue
            try:
                manifest = json.loads((vdir / "manifest.json").read_text())
            except ValueError as exc:
                raise CloseError(f"{vdir / 'manifest.json'}: unreadable ({exc})") from exc
            out.append(Snapshot(vdir, month_dir.name, int(m.group(1)), manifest))
    return out


def published(lake: str | Path, month: str) -> Snapshot | None:
    """The latest published version of `month`, or None when the month is not closed."""
    versions = [s for s in snapshots(lake) if s.month == month]
    return versions[-1] if versions else None


def _write_parquet(table: pa.Table, path: Path) -> str:
    pq.write_table(table, path)
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
    return file_sha256(path)


def _write_text(text: str, path: Path) -> str:
    with open(path, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    return file_sha256(path)


def close(lake: str | Path, month: str, restate: bool = False) -> Snapshot:
    """Publish `month` from the current warehouse; returns the snapshot written."""
    from warehouse.build import WAREHOUSE
    from warehouse.roi import RoiResult, current_tables, write_roi

    check_month(month)
    lk = Lake(lake)
    path = lk.root / WAREHOUSE
    if not path.exists():
        raise CloseError(f"{path}: no warehouse (run `uptake build` first)")
    before = published(lk.root, month)
    if before and not restate:
        raise CloseError(f"{month} was closed on {before.closed_at} (version {before.version}); a closed month is "
                         f"never changed silently: `uptake close --month {month} --restate` publishes version "
                         f"{before.version + 1}, and the table restatements shows what changed")
    committed = max((r["run"] for r in lk.committed_runs()), default=0)
    con = duckdb.connect(str(path), read_only=True)
    try:
        (built,) = con.execute("select coalesce(max(ingest_run), 0) from quality").fetchall()[0]
        if committed > built:
            raise CloseError(f"the warehouse holds ingest runs up to {built} but the lake has up to {committed}: "
                             "run `uptake build` first, so the month is published with every event landed")
        (rows,) = con.execute("select count(*) from finance_figures where month = ?", [month]).fetchall()[0]
        if rows == 0:
            have = [r[0] for r in con.execute("select distinct month from finance_figures order by 1").fetchall()]
            span = f"{have[0]} to {have[-1]}" if have else "none"
            raise CloseError(f"no finance figures for {month} (months with data: {span})")
        version = before.version + 1 if before else 1
        final = lk.root / CLOSES / month / f"v{version:03d}"
        staging = lk.root / CLOSES / f".staging-{month}-v{version:03d}-{os.getpid()}"
        for stale in (lk.root / CLOSES).glob(f".staging-{month}-*"):  # what a killed close left: never published
            shutil.rmtree(stale, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            files: dict[str, str] = {}
            for name in FINANCE_TABLES:
                t = con.sql(f"select * from {name} where month = $month order by all",
                            params={"month": month}).to_arrow_table()
                files[f"{name}.parquet"] = _write_parquet(t, staging / f"{name}.parquet")
            figures = con.sql("select * from finance_figures where month = $month order by all",
                              params={"month": month}).to_arrow_table()
            files["figures.parquet"] = _write_parquet(figures, staging / "figures.parquet")
            roi, service = current_tables(con, month)
            files["roi.parquet"] = _write_parquet(roi, staging / "roi.parquet")
            files["service_level.parquet"] = _write_parquet(service, staging / "service_level.parquet")
            # what `uptake roi` prints for the month, as published: printed as is ever after, whatever later
            # versions of the code would render
            as_published = RoiResult(month, roi, service, "published")
            for fmt in ("csv", "json"):
                text = write_roi(as_published, fmt, None) or ""
                files[f"roi.{fmt}"] = _write_text(text, staging / f"roi.{fmt}")
            reference = con.sql("select file, sha256 from reference_files order by file").to_arrow_table()
            files["reference.parquet"] = _write_parquet(reference, staging / "reference.parquet")
            manifest = {"month": month, "version": version,
                        "closed_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "last_ingest_run": int(built), "files": files}
            with open(staging / "manifest.json", "w") as fh:
                fh.write(json.dumps(manifest, indent=1) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            fsync_dir(staging)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staging, final)  # the publication: all of it or nothing; never over an existing version
            fsync_dir(final.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    finally:
        con.close()
    return Snapshot(final, month, version, manifest)


_PUBLISHED_DOCS = {
    "published_closes": ("Closed months: one row per published version (uptake close). Grain: one row per month "
                         "and version.", {
                             "month": "the closed month, YYYY-MM",
                             "version": "1 for the first close; a deliberate re-close (--restate) adds one",
                             "closed_at": "when the version was published, UTC",
                             "last_ingest_run": "the last ingest run the warehouse held when it was published"}),
    "published_figures": ("Every figure of every published version, as text (finance_figures at the close). "
                          "Grain: one row per month, version, table, key and column.", {
                              "month": "the closed month, YYYY-MM",
                              "version": "the version that published it",
                              "table_name": "the finance table",
                              "key": "the row's key within the table and month",
                              "org_unit": "the row's org unit",
                              "tool": "the row's tool; null for the scorecard",
                              "column_name": "the column",
                              "value": "the published figure as text; null when null"}),
    "published_reference": ("The reference files each published version was built from. Grain: one row per "
                            "month, version and file.", {
                                "month": "the closed month, YYYY-MM",
                                "version": "the version",
                                "file": "the reference file's name",
                                "sha256": "sha256 of its bytes at the close"}),
}


def load_published(con: duckdb.DuckDBPyConnection, lake: str | Path) -> None:
    """Load every snapshot of `lake/closes/` into published_closes, published_figures, published_reference."""
    from warehouse.build import _comment

    closes: dict[str, list[Any]] = {"month": [], "version": [], "closed_at": [], "last_ingest_run": []}
    figures, reference = [], []
    for s in snapshots(lake):
        closes["month"].append(s.month)
        closes["version"].append(s.version)
        closes["closed_at"].append(s.closed_at)
        closes["last_ingest_run"].append(int(s.manifest["last_ingest_run"]))
        try:
            f = s.table("figures")
            r = s.table("reference")
        except (OSError, pa.ArrowException) as exc:
            raise CloseError(f"{s.path}: a published snapshot is unreadable ({exc})") from exc
        n = f.num_rows
        figures.append(f.select(["table_name", "key", "org_unit", "tool", "column_name", "value"])
                       .add_column(0, "month", pa.array([s.month] * n, pa.string()))
                       .add_column(1, "version", pa.array([s.version] * n, pa.int32())))
        reference.append(r.add_column(0, "month", pa.array([s.month] * r.num_rows, pa.string()))
                         .add_column(1, "version", pa.array([s.version] * r.num_rows, pa.int32())))
    tables = {
        "published_closes": pa.table({"month": pa.array(closes["month"], pa.string()),
                                      "version": pa.array(closes["version"], pa.int32()),
                                      "closed_at": pa.array(closes["closed_at"], pa.string()),
                                      "last_ingest_run": pa.array(closes["last_ingest_run"], pa.int64())}),
        "published_figures": pa.concat_tables(figures) if figures else pa.schema([
            ("month", pa.string()), ("version", pa.int32()), ("table_name", pa.string()), ("key", pa.string()),
            ("org_unit", pa.string()), ("tool", pa.string()), ("column_name", pa.string()),
            ("value", pa.string())]).empty_table(),
        "published_reference": pa.concat_tables(reference) if reference else pa.schema([
            ("month", pa.string()), ("version", pa.int32()), ("file", pa.string()),
            ("sha256", pa.string())]).empty_table(),
    }
    for name, t in tables.items():
        con.register("incoming", t)
        cast = "closed_at::timestamptz as closed_at" if name == "published_closes" else None
        select = f"select * exclude (closed_at), {cast} from incoming" if cast else "select * from incoming"
        con.execute(f"create table {name} as {select}")
        con.unregister("incoming")
        doc, columns = _PUBLISHED_DOCS[name]
        _comment(con, name, doc, columns)
