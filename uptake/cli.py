"""The `uptake` command line (SPEC §5). Each command parses its options and calls one module."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from pipelines.vendors import FORMATS
from uptake.config import lake_path


def _generate(args: argparse.Namespace) -> int:
    from uptake.generate import GenerateError, generate

    started = time.monotonic()
    try:
        truth = generate(args.out, seed=args.seed, months=args.months, people=args.people, end_month=args.end,
                         volume=args.volume)
    except GenerateError as exc:
        print(f"uptake generate: {exc}", file=sys.stderr)
        return 1
    if args.vendor_exports:
        from uptake.vendor_samples import write_vendor_exports

        write_vendor_exports(args.out, seed=args.seed)
    seconds = time.monotonic() - started
    t = truth["totals"]
    print(json.dumps({
        "out": str(args.out),
        "events": truth["events"],
        "lines": t["lines"],
        "files": len(truth["files"]),
        "seconds": round(seconds, 2),
        "events_per_second": round(truth["events"] / max(seconds, 1e-9)),
    }))
    return 0


def _ingest(args: argparse.Namespace) -> int:
    from pipelines.ingest import IngestError, ingest

    try:
        summary = ingest(args.paths, lake=lake_path(args.lake), reference=args.reference,
                         beam_args=args.beam_args, progress=None, fmt=args.fmt)
    except IngestError as exc:
        print(f"uptake ingest: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    failed = [f for f in summary["files"] if f.get("error")]
    for f in failed:  # the others landed; a scheduler must still notice
        print(f"uptake ingest: {f['path']}: not ingested: {f['error']}", file=sys.stderr)
    return 1 if failed else 0


def _demo(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no network here, no telemetry
    from flows.pipeline import demo

    return demo(out=args.out, seed=args.seed, people=args.people, months=args.months)


def _build(args: argparse.Namespace) -> int:
    from uptake.config import reference_path
    from warehouse.build import BuildError, build

    lake = lake_path(args.lake)
    try:
        result = build(lake, reference_path(args.reference, lake))
    except BuildError as exc:
        print(f"uptake build: {exc}", file=sys.stderr)
        print(f"uptake build: the previous warehouse is unchanged; Data Docs: {lake / 'docs/data_docs/index.html'}",
              file=sys.stderr)
        return 1
    print(json.dumps(result.as_dict(), indent=2))
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if result.docs:
        print(f"Data Docs: file://{result.docs.resolve()}", file=sys.stderr)
    return 0


def _roi(args: argparse.Namespace) -> int:
    from warehouse.roi import RoiError, roi_table, write_roi

    try:
        text = write_roi(roi_table(lake_path(args.lake), args.month), args.format, args.out)
    except RoiError as exc:
        print(f"uptake roi: {exc}", file=sys.stderr)
        return 1
    if text:
        sys.stdout.write(text)
    return 0


def _serve(args: argparse.Namespace) -> int:
    import os
    import signal

    from uptake.config import reference_path

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

    def stop(signum: int, _frame: object) -> None:  # run the clean-up (the local server) on SIGTERM too
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    from flows.serve import serve

    lake = lake_path(args.lake)
    landing = args.landing or os.environ.get("UPTAKE_LANDING") or "landing"
    return serve(str(lake), landing, str(reference_path(args.reference, lake)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uptake",
        description="Measure whether AI tools are used and what they are worth: generate, ingest, build, report.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("generate", help="write a realistic synthetic organization, its events and truth.json")
    p.add_argument("--out", required=True, help="folder to write landing/, reference/ and truth.json into")
    p.add_argument("--seed", type=int, default=1, help="random seed; the same seed gives the same files (default 1)")
    p.add_argument("--months", type=int, default=6, help="months of events (default 6)")
    p.add_argument("--people", type=int, default=600, help="head count, at least 300 (default 600)")
    p.add_argument("--end", default="2026-10", help="last month generated, YYYY-MM (default 2026-10)")
    p.add_argument("--vendor-exports", action="store_true",
                   help="also write vendor/ (GitHub, M365, Viva, ChatGPT, Amazon Connect, OTel exports) and "
                        "reference/identities.csv and vendor_mapping.csv")
    p.add_argument("--volume", type=float, default=1.0,
                   help="events per person relative to the default (default 1.0); for benchmarks")
    p.set_defaults(run=_generate)

    p = sub.add_parser("ingest", help="validate, quarantine, dedupe, pseudonymize and land events as Parquet")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="a file or a folder: event files (.jsonl[.gz]) and vendor exports (.ndjson, .json, .csv)")
    p.add_argument("--lake", help="lake folder (default $UPTAKE_LAKE, then ./lake)")
    p.add_argument("--reference", help="reference folder: the roster fills absent org units; identities.csv and "
                   "vendor_mapping.csv map vendor exports (needed for them)")
    p.add_argument("--format", dest="fmt", default="auto", choices=FORMATS,
                   help="input format; auto (default) tells each file's format from its first bytes")
    p.epilog = "Apache Beam pipeline options go after `--`, e.g. uptake ingest landing/ -- --runner=DaskRunner"
    p.set_defaults(run=_ingest)

    p = sub.add_parser("build", help="run the expectation suites, then build the DuckDB warehouse")
    p.add_argument("--lake", help="lake folder (default $UPTAKE_LAKE, then ./lake)")
    p.add_argument("--reference", help="reference folder (default $UPTAKE_REFERENCE, then <lake>/reference)")
    p.set_defaults(run=_build)

    p = sub.add_parser("roi", help="the finance tables of a month, workflow-level and estimate rows apart")
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.add_argument("--format", choices=("csv", "json", "parquet"), default="csv")
    p.add_argument("--out", help="file to write (default: standard output; required for parquet)")
    p.add_argument("--lake", help="lake folder (default $UPTAKE_LAKE, then ./lake)")
    p.set_defaults(run=_roi)

    p = sub.add_parser("demo", help="generate → ingest → build → ROI table, through the Prefect flows")
    p.add_argument("--out", default="demo", help="folder for the generated organization and its lake (default demo)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--people", type=int, default=600)
    p.add_argument("--months", type=int, default=6)
    p.set_defaults(run=_demo)

    p = sub.add_parser("serve", help="serve the Prefect deployments: schedules and file-arrival triggers")
    p.add_argument("--lake", help="lake folder (default $UPTAKE_LAKE, then ./lake)")
    p.add_argument("--landing", help="folder to watch for new files (default $UPTAKE_LANDING, then ./landing)")
    p.add_argument("--reference", help="reference folder (default $UPTAKE_REFERENCE, then <lake>/reference)")
    p.set_defaults(run=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    beam_args: list[str] = []
    if "--" in argv:  # what follows `--` is for Apache Beam
        cut = argv.index("--")
        argv, beam_args = argv[:cut], argv[cut + 1:]
    args = build_parser().parse_args(argv)
    args.beam_args = beam_args
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print(f"uptake {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
