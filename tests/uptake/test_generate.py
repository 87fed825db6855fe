"""The generator: deterministic, and its truth.json agrees with the files counted independently."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from uptake.generate import GenerateError, generate


def _read(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()


def _lines(data: bytes) -> list[bytes]:
    out = data.split(b"\n")
    return out[:-1] if data.endswith(b"\n") else out


def test_same_seed_same_bytes(tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate(a, seed=3, people=300, months=2, volume=0.2, progress=False)
    generate(b, seed=3, people=300, months=2, volume=0.2, progress=False)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    generate(tmp_path / "c", seed=4, people=300, months=2, volume=0.2, progress=False)
    assert (tmp_path / "c" / "truth.json").read_bytes() != (a / "truth.json").read_bytes()


def test_layout(small_org: Path, truth: dict):
    ref = {p.name for p in (small_org / "reference").iterdir()}
    assert ref == {"org_units.csv", "roster.csv", "workflows.csv", "go_live.csv", "governance.csv",
                   "licenses.csv", "minutes_per_action.csv", "targets.csv"}
    landing = sorted(p.name for p in (small_org / "landing").iterdir())
    assert any(n.endswith(".jsonl.gz") for n in landing) and any(n.endswith(".jsonl") for n in landing)
    assert truth["effects"]["call_summary"] == {"metric": "acw_seconds", "saving_per_item": 90.0,
                                                "total_saving_per_item": 90.0,  # handle time unchanged
                                                "assignment": "randomized, p=0.5 in live teams"}
    assert truth["effects"]["lmn_letters"]["metric"] == "work_seconds"  # staff time is what is valued
    assert truth["effects"]["lmn_letters"]["saving_per_item"] > 0
    assert truth["service_levels"]["lmn_letters"]["metric"] == "turnaround_hours"  # beside it, never valued


def test_truth_counts_match_the_files(small_org: Path, truth: dict):
    """Count lines, blanks and the reasons a parser can tell on its own, without the pipeline's code."""
    totals: Counter[str] = Counter()
    offsets = 0
    crlf = 0
    for p in sorted((small_org / "landing").iterdir()):
        data = _read(p)
        t = truth["files"][f"landing/{p.name}"]
        lines = _lines(data)
        assert len(lines) == t["lines"], p.name
        blank = sum(1 for ln in lines if not ln.strip())
        assert blank == t["blank"], p.name
        crlf += data.count(b"\r\n")
        for ln in lines:
            if not ln.strip():
                continue
            if len(ln.rstrip(b"\r")) > (1 << 20):
                totals["line_too_long"] += 1
                continue
            try:
                text = ln.decode("utf-8")
            except UnicodeDecodeError:
                totals["invalid_utf8"] += 1
                continue
            try:
                obj = json.loads(text)
            except ValueError:
                totals["malformed_json"] += 1
                continue
            if not isinstance(obj, dict):
                totals["not_an_object"] += 1
                continue
            if obj.get("tool") not in ("copilot", "call_summarization", "lmn_drafting") and "tool" in obj \
                    and isinstance(obj["tool"], str):
                totals["unknown_tool"] += 1
            if obj.get("schema_version", "").startswith("2.") if isinstance(obj.get("schema_version"), str) else False:
                totals["unsupported"] += 1
            if isinstance(obj.get("occurred_at"), str) and obj["occurred_at"].startswith("2099"):
                totals["future"] += 1
            off = obj.get("occurred_at")
            if isinstance(off, str) and len(off) > 19 and off[-6] in "+-" and not off.endswith("+00:00"):
                offsets += 1
    by_reason = truth["totals"]["by_reason"]
    for reason in ("line_too_long", "invalid_utf8", "malformed_json", "not_an_object", "unknown_tool"):
        assert totals[reason] == by_reason.get(reason, 0), reason
    assert totals["unsupported"] == by_reason.get("unsupported_schema_version", 0)
    assert totals["future"] == by_reason.get("occurred_in_future", 0)
    assert offsets > 0 and crlf > 0  # non-UTC offsets and a CRLF file are planted
    t = truth["totals"]
    assert t["lines"] == t["landed"] + t["duplicates"] + t["quarantined"] + t["blank"]
    assert t["quarantined"] == sum(by_reason.values())
    assert t["duplicates"] > 0 and by_reason.get("conflicting_duplicate", 0) > 0
    assert set(t["dropped_fields"]) >= {"prompt_text", "summary_text", "letter_body"}


def test_small_cell_team_and_organization_shape(small_org: Path):
    from schemas.reference import load_reference

    ref = load_reference(small_org / "reference")
    roster = ref["roster"].to_pylist()
    heads = Counter(r["org_unit"] for r in roster if r["valid_to"] is None)
    small = [u for u, n in heads.items() if n < 11 and u.count("-") == 2]
    assert small == ["CS-TEC-S"]  # exactly one team below the small-cell threshold
    moved = Counter(r["actor_id"] for r in roster)
    assert any(n == 2 for n in moved.values())  # someone changed org unit mid-window
    statuses = {g["status"] for g in ref["governance"].to_pylist()}
    assert statuses == {"cleared", "pilot", "restricted", "retired"}


def _good_events(small_org: Path):
    for p in sorted((small_org / "landing").iterdir()):
        for line in _lines(_read(p)):
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if isinstance(ev, dict):
                yield ev


def test_letters_carry_work_seconds_except_the_planted_share(small_org: Path, truth: dict):
    has: dict[str, bool] = {}
    versions = set()
    for ev in _good_events(small_org):
        case = ev.get("work_item_id")
        if ev.get("event_type") == "letter_submitted" and ev.get("tool") == "lmn_drafting" \
                and isinstance(case, str) and case.startswith("CASE-"):  # not a line corrupted on purpose
            has[ev["work_item_id"]] = has.get(ev["work_item_id"], False) or "work_seconds" in ev
            if "work_seconds" in ev:
                versions.add(ev["schema_version"])
    letters = truth["letters"]
    assert len(has) == letters["submitted"]
    assert sum(not h for h in has.values()) == letters["without_work_seconds"]
    assert 0.04 < letters["without_work_seconds"] / letters["submitted"] < 0.12  # planted at 8 %
    assert "1.0" not in versions  # work_seconds came with 1.1; a 1.0 sender never carries it


def test_leaders_are_published_names_not_actor_ids(small_org: Path):
    import csv

    rows = list(csv.DictReader((small_org / "reference" / "org_units.csv").open()))
    assert all(", " in r["leader"] for r in rows)
    assert {r["leader"].split(", ")[1] for r in rows} == {"Chief Executive Officer", "Vice President", "Director",
                                                         "Team Lead"}
    roster_ids = {r["actor_id"] for r in csv.DictReader((small_org / "reference" / "roster.csv").open())}
    assert not {r["leader"] for r in rows} & roster_ids


def test_copilot_seat_shortfall_writes_fewer_seats_than_holders(tmp_path: Path):
    import csv

    truth = generate(tmp_path, seed=3, people=300, months=1, volume=0.1, progress=False, copilot_seat_shortfall=0.4)
    month = truth["months"][0]
    seats, holders = truth["seats"]["copilot_seats"][month], truth["seats"]["copilot_seat_holders"][month]
    written = sum(int(r["seats"]) for r in csv.DictReader((tmp_path / "reference" / "licenses.csv").open())
                  if r["tool"] == "copilot")
    assert written == sum(seats.values())
    # 40 % fewer seats than holders (rounded in each licensed team: a 1-seat holder keeps its seat)
    assert sum(seats.values()) < 0.7 * sum(holders.values())
    assert truth["seats"]["copilot_seat_shortfall"] == 0.4


def test_refuses_what_it_cannot_make(tmp_path: Path):
    with pytest.raises(GenerateError, match="at least 300"):
        generate(tmp_path, people=50)
    with pytest.raises(GenerateError, match="has not ended"):
        generate(tmp_path, end_month="2999-01")
    with pytest.raises(GenerateError, match="copilot-seat-shortfall"):
        generate(tmp_path, copilot_seat_shortfall=1.0)


def test_columnar_work_items_are_the_items_the_warehouse_builds_from_the_events(built):
    """The methods' bias tests and bench/coverage.py run on `items.work_items` (no events, no ingest) instead of
    a generate → ingest → build: they are only as good as this equality. Same seed and size as the session's
    small organization: per workflow, metric, unit and month, the same items, values, and assisted items."""
    import duckdb

    from tests.conftest import SMALL
    from uptake.generate.items import work_items

    items = work_items(**SMALL)
    con = duckdb.connect()
    try:
        con.execute("attach ? as w (read_only)", [str(built)])
        con.register("columnar", items.work_items)
        per_key = """select workflow, metric, org_unit, month, count(*) as n, count(value) as n_value,
                       sum(value) as total, count(*) filter (where assisted) as n_assisted,
                       count(*) filter (where live) as n_live, count(distinct actor_key) as people
                     from {} group by all"""
        diff = con.execute(f"""
            select coalesce(a.workflow, b.workflow), coalesce(a.metric, b.metric), coalesce(a.org_unit, b.org_unit),
              coalesce(a.month, b.month), a.n, b.n, a.total, b.total
            from ({per_key.format('columnar')}) a full join ({per_key.format('w.work_items')}) b
              using (workflow, metric, org_unit, month)
            where a.n is distinct from b.n or a.n_value is distinct from b.n_value
               or a.n_assisted is distinct from b.n_assisted or a.n_live is distinct from b.n_live
               or a.people is distinct from b.people or abs(a.total - b.total) > 1e-6 * (1 + abs(b.total))
               or (a.total is null) <> (b.total is null)""").fetchall()
        (keys,) = con.execute(f"select count(*) from ({per_key.format('w.work_items')})").fetchone()  # type: ignore[misc]
    finally:
        con.close()
    assert keys >= 40 and diff == [], diff[:5]  # 44 keys: 3 metrics x live units x 4 months


def test_generate_plants_the_biases_asked_on_the_command_line_and_records_them(tmp_path: Path, capsys):
    """`uptake generate --trend --self-selection --never-live`: truth.json records them, the never-live team has no
    go-live, and ACW drifts up month by month in the events written (the trend the naive pre_go_live books)."""
    import gzip

    from uptake.cli import main

    out = tmp_path / "biased"
    args = ["generate", "--out", str(out), "--people", "300", "--months", "4", "--volume", "0.2", "--seed", "5"]
    assert main([*args, "--trend", "15", "--self-selection", "2", "--never-live", "CC-PRV-B"]) == 0
    truth = json.loads((out / "truth.json").read_text())
    assert truth["biases"] == {"trend_seconds_per_month": 15.0, "self_selection": 2.0, "never_live": "CC-PRV-B",
                               "trend_metrics": ["acw_seconds", "work_seconds"]}
    assert not [k for k in truth["go_live"] if k.endswith("/CC-PRV-B")]
    assert "CC-PRV-B" not in (out / "reference" / "go_live.csv").read_text()
    # unassisted ACW by generated month: rises by about 15 s a month
    acw: dict[str, list[float]] = {}
    for f in sorted((out / "landing").glob("*genesys*")):
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rb") as fh:
            for raw in fh:
                try:  # the generator plants bad lines too: skip what does not parse
                    e = json.loads(raw)
                except ValueError:
                    continue
                call = isinstance(e, dict) and e.get("event_type") == "call_completed"
                if call and e.get("ai_summary_offered") is False and isinstance(e.get("acw_seconds"), int | float):
                    acw.setdefault(e["occurred_at"][:7], []).append(e["acw_seconds"])
    means = [sum(acw[m]) / len(acw[m]) for m in truth["months"]]  # (a few events fall outside: late, planted)
    steps = [b - a for a, b in zip(means, means[1:], strict=False)]
    assert len(steps) == 3 and all(5 < s < 25 for s in steps), means

    assert main(["generate", "--out", str(tmp_path / "bad"), "--never-live", "NOPE"]) == 1
    assert "NOPE" in capsys.readouterr().err


# The small organization's files as main's generator wrote them before the generator was made faster (#14): a
# sha256 of each file's path and content (gzip files decompressed), in path order. The faster generator must
# write the same organization; a deliberate change to what is generated updates this digest in the same commit
# (bench/generate.py compares two commits' output file by file and tells which files differ).
SMALL_ORG_DIGEST = "4f8c7fc5efd9253b781ad29b7baf03261a1f304ebacc1c2cdae6b2ea6fedb309"


def test_small_organization_is_the_one_generated_before(small_org: Path):
    import hashlib

    digest = hashlib.sha256()
    for p in sorted(q for q in small_org.rglob("*") if q.is_file()):
        digest.update(p.relative_to(small_org).as_posix().encode() + b"\0" + hashlib.sha256(_read(p)).digest())
    assert digest.hexdigest() == SMALL_ORG_DIGEST
