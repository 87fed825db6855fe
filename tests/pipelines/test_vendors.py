"""Vendor exports in: each format's fixture (vendor field names as documented, with malformed and partial
records) lands what it should, quarantines the rest with a reason, and accounts for every item."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import IngestError, ingest
from pipelines.lake import Lake
from pipelines.vendors import FORMATS, adapters, detect

FIXTURES = Path(__file__).parent / "vendor_fixtures"
COUNTS = ("lines", "landed", "duplicates", "quarantined", "blank")


@pytest.fixture(scope="module")
def vendor_reference(small_org: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The small organization's reference data plus identities for the fixtures' users and the queue mapping."""
    ref = tmp_path_factory.mktemp("vendor_ref")
    for f in (small_org / "reference").iterdir():
        shutil.copy(f, ref / f.name)
    with (ref / "roster.csv").open() as fh:
        roster = [r for r in csv.DictReader(fh) if not r["valid_to"]]
    office = [r["actor_id"] for r in roster if r["org_unit"].startswith("CS-")]
    agents = [r["actor_id"] for r in roster
              if r["role"] == "contact_center_agent" and r["org_unit"].startswith("CC-MEM")]
    who = {"alice": office[0], "bob": office[1], "dave": office[2], "ann": office[3], "ben": office[4],
           "cy": office[5], "agent_ann": agents[0], "agent_ben": agents[1]}
    rows = [("alice", "github", "alice-hc"), ("bob", "github", "bob-hc"), ("dave", "github", "dave-hc")]
    for p in ("ann", "ben", "cy"):
        email = {"ann": "ann.lee", "ben": "ben.ortiz", "cy": "cy.park"}[p] + "@meridian.example"
        rows += [(p, "m365", email), (p, "viva", email), (p, "chatgpt", email), (p, "otel", email)]
    rows += [("agent_ann", "amazon_connect", "agent.ann"), ("agent_ben", "amazon_connect", "agent.ben")]
    with (ref / "identities.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["actor_id", "system", "external_id"])
        w.writerows((who[p], s, x) for p, s, x in rows)
    (ref / "vendor_mapping.csv").write_text(
        "system,kind,vendor_key,app,action,capability,workflow,org_unit,value\n"
        "amazon_connect,queue,Member Services,,,call_summarization.contact_lens.summary,call_summary,,\n")
    return ref, who


@pytest.fixture(scope="module")
def landed(vendor_reference, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    """(lake, first run's summary, second run's summary): the fixtures, then the re-downloaded exports."""
    ref, _ = vendor_reference
    lake = tmp_path_factory.mktemp("vendor_lake")
    first = ingest([FIXTURES], lake=lake, reference=ref, progress=False)
    second = ingest([FIXTURES / "later"], lake=lake, reference=ref, progress=False)
    return lake, first, second


def _file(summary: dict, name: str) -> dict:
    return next(f for f in summary["files"] if Path(f["path"]).name == name)


def _events(lake: Path, where: str = "true") -> list[dict]:
    rel = duckdb.sql(f"select * from read_parquet('{lake}/events/**/*.parquet', hive_partitioning = true) "
                     f"where {where} order by occurred_at, event_id")
    return [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]


@pytest.mark.parametrize("name, fmt, expected, reasons", [
    # alice: 4 accepted + 6 discarded completions, agent 1 accepted + 2 discarded + 2 prompts = 5 events (and
    # their exact re-send on the last line = 5 duplicates); bob: 1 (5 of 5 accepted) + unknown feature;
    # blank line and dave's idle day blank; mallory unknown; a truncated line; a bad day; no user_login
    ("github_copilot_users_1_day.ndjson", "github_copilot", dict(lines=18, landed=6, duplicates=5, quarantined=5,
     blank=2), {"vendor_mapping:unknown_feature": 1, "vendor_mapping:unknown_identity": 1, "malformed_json": 1,
                "vendor_mapping:invalid_value:day": 1, "vendor_mapping:missing_field:user_login": 1}),
    # Ann: Teams and Word days land, Edge has no mapping; Ben idle; a guest; a bad date; a concealed user
    ("m365_copilot_usage_2026-10-06.json", "m365_copilot_usage", dict(lines=7, landed=2, duplicates=0,
     quarantined=4, blank=1), {"vendor_mapping:unknown_app": 1, "vendor_mapping:unknown_identity": 1,
                               "vendor_mapping:invalid_value:excelcopilotlastactivitydate": 1,
                               "vendor_mapping:missing_field:userPrincipalName": 1}),
    # Ann's week: Teams, Outlook, Copilot chat (3 events); Ben idle; a non-number; Whiteboard unmapped;
    # a guest; a row in Latin-1; a cut row
    ("viva_person_query_2026-10.csv", "viva_copilot", dict(lines=9, landed=3, duplicates=0, quarantined=5,
     blank=1), {"vendor_mapping:invalid_value:Copilot_actions_taken_in_Word": 1, "vendor_mapping:unknown_app": 1,
                "vendor_mapping:unknown_identity": 1, "invalid_utf8": 1, "vendor_mapping:wrong_column_count": 1}),
    # Ann 42 messages; Ben none; a guest; no period; a negative count
    ("chatgpt_user_engagement_2026-10.csv", "chatgpt_enterprise", dict(lines=5, landed=1, duplicates=0,
     quarantined=3, blank=1), {"vendor_mapping:unknown_identity": 1, "vendor_mapping:invalid_value:period_start": 1,
                               "vendor_mapping:invalid_value:messages": 1}),
    # c-0001 three times (newest wins: 2 duplicates), c-0005 lands; c-0002 never reached an agent;
    # unmapped queue, unknown agent, an array
    ("amazon_connect_ctr.jsonl", "amazon_connect", dict(lines=8, landed=2, duplicates=2, quarantined=3, blank=1),
     {"vendor_mapping:unknown_queue": 1, "vendor_mapping:unknown_identity": 1, "not_an_object": 1}),
    # one chat span lands; an HTTP span is blank; no user; an unmapped operation; a guest; a bad end time
    ("otel_genai_spans.json", "otel_genai", dict(lines=6, landed=1, duplicates=0, quarantined=4, blank=1),
     {"vendor_mapping:missing_field:enduser.id": 1, "vendor_mapping:unknown_operation": 1,
      "vendor_mapping:unknown_identity": 1, "vendor_mapping:invalid_value:endTimeUnixNano": 1}),
])
def test_each_format_accounts_for_every_item(landed, name, fmt, expected, reasons):
    _, first, _ = landed
    f = _file(first, name)
    assert f["format"] == fmt
    assert {k: f[k] for k in COUNTS} == expected
    assert f["lines"] == f["landed"] + f["duplicates"] + f["quarantined"] + f["blank"]
    assert f["by_reason"] == reasons
    assert detect(FIXTURES / name) == fmt


def test_events_carry_what_the_vendor_said(landed, vendor_reference):
    lake, _, _ = landed
    _, who = vendor_reference
    gh = _events(lake, "source = 'github-copilot-metrics' and occurred_at < '2026-10-02'")
    got = sorted((e["action"], e["outcome"], e["count"]) for e in gh)
    assert got == sorted([("complete", "accepted", 4), ("complete", "discarded", 6), ("agent", "accepted", 1),
                          ("agent", "discarded", 2), ("prompt", None, 2), ("complete", "accepted", 5)])
    assert all(e["app"] == "github_copilot" and e["org_unit"] is None for e in gh)  # as sent: none (warehouse: roster)
    calls = {e["work_item_id"]: e for e in _events(lake, "event_type = 'call_completed'")}
    assert set(calls) == {"c-0001", "c-0005"}
    assert calls["c-0001"]["acw_seconds"] == 120  # the newest copy, not the first with its ACW still open
    assert calls["c-0001"]["handle_seconds"] == 360  # 300 s interaction + 60 s hold
    assert calls["c-0001"]["ai_summary_offered"] is True  # the contact attribute
    assert calls["c-0005"]["ai_summary_offered"] is True  # Contact Lens post-contact summary
    assert calls["c-0001"]["workflow"] == "call_summary"
    assert str(calls["c-0001"]["occurred_at"]).startswith("2026-10-06 14:06:40")
    viva = {e["app"]: e["count"] for e in _events(lake, "source = 'viva-insights-person-query'")}
    assert viva == {"teams": 3, "outlook": 2, "chat": 1}
    assert [e["count"] for e in _events(lake, "source = 'chatgpt-enterprise-engagement'")] == [42]


def test_a_redownloaded_overlapping_export_lands_nothing_twice(landed):
    lake, _, second = landed
    gh = _file(second, "github_copilot_users_1_day_redownload.ndjson")
    assert (gh["landed"], gh["duplicates"]) == (1, 5)  # Oct 1 again: 5 duplicates; Oct 2 is new
    m365 = _file(second, "m365_copilot_usage_2026-10-07.csv")
    # the next day's pull, as the CSV download: Ann's Word day again; Ann's Teams and Ben's Outlook days new
    assert (m365["lines"], m365["landed"], m365["duplicates"]) == (3, 2, 1)
    ctr = _file(second, "amazon_connect_ctr_update.jsonl")
    # c-0001 re-delivered as landed: a duplicate; c-0005 updated after it landed: landed events are
    # immutable, so the update is quarantined where it can be seen and replayed
    assert (ctr["duplicates"], ctr["by_reason"]) == (1, {"conflicting_duplicate": 1})
    ids = [e["event_id"] for e in _events(lake)]
    assert len(ids) == len(set(ids))
    again = ingest([FIXTURES], lake=lake, reference=None, progress=False)
    assert again["total"]["already_ingested"] == len(again["files"])


def test_no_identity_or_content_lands(landed):
    lake, _, _ = landed
    text = json.dumps(_events(lake), default=str)
    for secret in ("alice-hc", "ann.lee", "meridian.example", "agent.ann", "SECRET-PHI", "Jane Roe", "claim 123"):
        assert secret not in text
    q = duckdb.sql(f"select reason, raw_line::varchar as raw from read_parquet('{lake}/quarantine/*.parquet')")
    assert "SECRET-PHI" not in json.dumps(q.fetchall())  # content is stripped even from quarantined spans
    summary = _file(landed[1], "otel_genai_spans.json")
    assert summary["dropped_fields"] == {"gen_ai.input.messages": 2, "gen_ai.output.messages": 2,
                                         "gen_ai.system_instructions": 1}
    assert _file(landed[1], "amazon_connect_ctr.jsonl")["dropped_fields"] == {"Attributes": 5}


def test_formats_are_told_apart_or_named(tmp_path: Path, small_org: Path):
    assert ("auto", "events", *adapters()) == FORMATS  # --format offers every adapter, and only those
    plain = next((small_org / "landing").glob("*.jsonl*"))
    assert detect(plain) == "events"
    odd = tmp_path / "notes.csv"
    odd.write_text("a,b\n1,2\n")
    with pytest.raises(IngestError, match="cannot tell its format"):
        ingest([odd], lake=tmp_path / "lake", progress=False)
    with pytest.raises(IngestError, match="need the reference folder"):
        ingest([FIXTURES / "chatgpt_user_engagement_2026-10.csv"], lake=tmp_path / "lake", progress=False)
    broken = tmp_path / "engagement.csv.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(IngestError, match="engagement.csv.gz: Compressed file ended"):
        ingest([broken], lake=tmp_path / "lake", progress=False, reference=small_org / "reference",
               fmt="chatgpt_enterprise")
    assert Lake(tmp_path / "lake").committed_runs() == []  # nothing half-landed
    forced = ingest([FIXTURES / "chatgpt_user_engagement_2026-10.csv"], lake=tmp_path / "lake2", progress=False,
                    reference=small_org / "reference", fmt="chatgpt_enterprise")
    # no identities.csv: nobody is guessed; every user with messages is quarantined as unknown
    assert forced["total"]["by_reason"]["vendor_mapping:unknown_identity"] == 2
    assert forced["total"]["landed"] == 0


def test_identities_name_their_system_the_way_mapping_keys_do(vendor_reference, tmp_path: Path):
    """`Amazon-Connect` in identities.csv is the `amazon_connect` system (case, `-` and `_` ignored, as in
    vendor_mapping.csv): its agents are found, not quarantined as unknown identities."""
    ref, _ = vendor_reference
    mine = tmp_path / "ref"
    shutil.copytree(ref, mine)
    ids = (mine / "identities.csv").read_text()
    (mine / "identities.csv").write_text(ids.replace(",amazon_connect,", ",Amazon-Connect,"))
    s = ingest([FIXTURES / "amazon_connect_ctr.jsonl"], lake=tmp_path / "lake", reference=mine, progress=False)
    f = s["files"][0]
    # the same as with the system spelled exactly: c-0001 (newest copy) and c-0005 land, one agent is unknown
    assert (f["landed"], f["by_reason"].get("vendor_mapping:unknown_identity")) == (2, 1)


def test_hostile_records_are_quarantined_one_by_one_and_the_run_goes_on(vendor_reference, tmp_path: Path):
    """Each of these crashed the whole run, lost a row or leaked content: a count of 1e400 (infinity), JSON nested
    deeper than Python's stack, a record whose parts have unexpected types, content in a record quarantined whole,
    a header with a byte that is not UTF-8 (its first data row was taken as the header)."""
    ref, _ = vendor_reference
    landing = tmp_path / "landing"
    landing.mkdir()
    good = json.loads((FIXTURES / "github_copilot_users_1_day.ndjson").read_text().splitlines()[0])
    huge = json.loads(json.dumps(good))
    huge["totals_by_feature"][0]["code_generation_activity_count"] = "@"
    (landing / "gh.ndjson").write_text("\n".join([
        json.dumps(good), json.dumps(huge).replace('"@"', "1e400"),
        '{"day":"2026-10-01","user_login":"x","totals_by_feature":' + "[" * 100_000 + "]" * 100_000 + "}"]) + "\n")
    doc = json.loads((FIXTURES / "otel_genai_spans.json").read_text())
    (landing / "spans.json").write_text("\n".join([
        json.dumps({"resourceSpans": [*doc["resourceSpans"], 5]}),  # a document per line: the file exporter's
        json.dumps({"resourceSpans": [{"resource": [1], "scopeSpans": "oops"}]})]) + "\n")
    rows = (FIXTURES / "chatgpt_user_engagement_2026-10.csv").read_bytes().splitlines(keepends=True)
    (landing / "chatgpt.csv").write_bytes(rows[0].replace(b"department", b"d\xe9partement") + b"".join(rows[1:]))
    s = ingest([landing], lake=tmp_path / "lake", reference=ref, progress=False)
    for f in s["files"]:
        assert f["lines"] == f["landed"] + f["duplicates"] + f["quarantined"] + f["blank"], f
    gh = _file(s, "gh.ndjson")
    assert gh["by_reason"] == {"vendor_mapping:invalid_value:totals_by_feature": 1, "malformed_json": 1}
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "gh.ndjson").write_text(json.dumps(good) + "\n")
    first = _file(ingest([alone], lake=tmp_path / "lake3", reference=ref, progress=False), "gh.ndjson")["landed"]
    assert gh["landed"] == first > 0  # the 1e400 line's other features are the first line's events: duplicates
    spans = _file(s, "spans.json")
    assert spans["by_reason"]["vendor_mapping:invalid_value:resourceSpans"] == 1  # the 5
    assert spans["by_reason"]["vendor_mapping:unexpected_structure"] == 1  # the second line, whole
    raws = duckdb.sql(f"select raw_line::varchar from read_parquet('{tmp_path}/lake/quarantine/*.parquet') "
                      "where source_file like '%spans.json'").fetchall()
    assert len(raws) == spans["quarantined"] and "gen_ai.input.messages" not in json.dumps(raws)
    assert "SECRET-PHI" in (FIXTURES / "otel_genai_spans.json").read_text() and "SECRET-PHI" not in json.dumps(raws)
    clean = tmp_path / "clean"
    clean.mkdir()
    shutil.copy(FIXTURES / "chatgpt_user_engagement_2026-10.csv", clean / "chatgpt.csv")
    expected = _file(ingest([clean], lake=tmp_path / "lake2", reference=ref, progress=False), "chatgpt.csv")
    assert {k: _file(s, "chatgpt.csv")[k] for k in COUNTS} == {k: expected[k] for k in COUNTS}


def test_columns_and_records_that_said_nothing_are_named(vendor_reference, tmp_path: Path):
    """A CSV column named twice (case and separators ignored) made the last one win and a row of 18 messages blank;
    a missing `messages` column made every row blank; Viva columns written without separators were unknown apps;
    an OTel record without spans was counted as no item at all."""
    ref, _ = vendor_reference

    def run(name: str, text: str, lake: str = "") -> dict:
        folder = tmp_path / name.split(".")[0]
        folder.mkdir()
        (folder / name).write_text(text)
        s = ingest([folder], lake=tmp_path / f"lake-{lake or folder.name}", reference=ref, progress=False)
        return _file(s, name)

    row = "2026-10-05,2026-10-11,ann.lee@meridian.example"
    twice = run("twice.csv", f"period_start,period_end,email,messages,Messages\n{row},18,0\n")
    assert twice["by_reason"] == {"vendor_mapping:duplicate_column:messages": 1} and twice["blank"] == 0
    unnamed = run("unnamed.csv", f",,period_start,period_end,Email,email,messages\n1,2,{row},x@y.example,3\n")
    assert unnamed["by_reason"] == {"vendor_mapping:duplicate_column:Email": 1}  # columns without a name aside
    missing = run("missing.csv", f"period_start,period_end,email,gpt_messages\n{row},3\n")
    assert missing["by_reason"] == {"vendor_mapping:missing_field:messages": 1} and missing["blank"] == 0
    day = "ann.lee@meridian.example,10/5/2026,3,4\n"
    camel = run("camel.csv", "PersonId,MetricDate,CopilotActionsTakenInTeams,Copilot actions taken in Word\n" + day)
    assert camel["landed"] == 2 and camel["by_reason"] == {}
    usual = run("usual.csv", "PersonId,MetricDate,Copilot_actions_taken_in_Teams,Copilot_actions_taken_in_Word\n" + day,
                lake="camel")
    assert (usual["landed"], usual["duplicates"]) == (0, 2)  # the same events, ids as the usual spelling's
    empty = run("empty.json", json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": []}]}) + "\n")
    assert (empty["records"], empty["lines"], empty["blank"]) == (1, 1, 1)


def test_a_csv_record_over_several_lines_is_numbered_and_kept_whole(vendor_reference, tmp_path: Path):
    """A quoted field may hold line ends: the record is numbered by its first line and quarantined with all of
    them; a byte that is not UTF-8 inside it (it was replaced by a line end, the quote never closed and the rows
    after it were swallowed) quarantines that record alone; a row over 1 MiB is line_too_long, kept to 1 MiB."""
    ref, _ = vendor_reference
    head = b"period_start,period_end,name,email,messages\n"
    ann = b'2026-10-05,2026-10-11,"Lee\nAnn",ann.lee@meridian.example,3\n'
    nobody = b'2026-10-05,2026-10-11,"Doe\nJos\xe9",nobody@x.example,5\n'
    ben = b"2026-10-05,2026-10-11,Ben,ben.ortiz@meridian.example,4\n"
    long = b'2026-10-06,2026-10-12,"' + b"x" * (1 << 20) + b'",ben.ortiz@meridian.example,4\n'
    strange = b'2026-10-05,2026-10-11,"Roe\nJo",nobody@x.example,6\n'
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "chat.csv").write_bytes(head + ann + nobody + ben + long + strange)
    s = _file(ingest([tmp_path / "in"], lake=tmp_path / "lake", reference=ref, progress=False), "chat.csv")
    assert (s["records"], s["lines"], s["landed"]) == (5, 5, 2)
    q = duckdb.sql(f"select source_line, reason, raw_line from read_parquet('{tmp_path}/lake/quarantine/*.parquet') "
                   "order by source_line").fetchall()
    assert [(line, reason) for line, reason, _ in q] == [
        (4, "invalid_utf8"), (7, "line_too_long"), (8, "vendor_mapping:unknown_identity")]
    assert q[0][2] == nobody[:-1] and len(q[1][2]) == 1 << 20 and q[2][2] == strange[:-1]


def test_a_file_whose_format_cannot_be_told_fails_alone(vendor_reference, tmp_path: Path):
    """It stopped the whole run: now it is named with why, nothing of it lands, the next run tries it again, and
    the files beside it land. An empty export (a download that wrote nothing) has no records in any format."""
    ref, _ = vendor_reference
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(FIXTURES / "chatgpt_user_engagement_2026-10.csv", landing / "chat.csv")
    (landing / "notes.csv").write_text("a,b\n1,2\n")
    (landing / "empty.json").write_bytes(b"")
    (landing / "blank.ndjson").write_text("\n\n")
    s = ingest([landing], lake=tmp_path / "lake", reference=ref, progress=False)
    assert _file(s, "notes.csv")["error"].startswith("cannot tell its format; pass --format")
    assert _file(s, "chat.csv")["landed"] > 0 and "error" not in _file(s, "chat.csv")
    assert [_file(s, n)[k] for n in ("empty.json", "blank.ndjson") for k in ("lines", "blank")] == [0, 0, 2, 2]
    (ledger,) = Lake(tmp_path / "lake").committed_runs()
    assert [Path(f["path"]).name for f in ledger["failed"]] == ["notes.csv"]


def test_an_m365_report_is_read_as_what_it_holds_whatever_its_name(vendor_reference, tmp_path: Path):
    """The admin center's CSV was read as JSON unless its name ended in .csv (every line malformed_json)."""
    ref, _ = vendor_reference
    csv_text = ("Report Refresh Date,User Principal Name,Display Name,Last Activity Date,"
                "Word Copilot Last Activity Date,Report Period\n"
                "2026-10-31,ann.lee@meridian.example,Ann Lee,2026-10-30,2026-10-30,7\n")
    landed = []
    for name, data in (("usage.csv", csv_text.encode()), ("usage", csv_text.encode()),
                       ("usage.gz", gzip.compress(csv_text.encode())),
                       ("graph", (FIXTURES / "m365_copilot_usage_2026-10-06.json").read_bytes())):
        folder = tmp_path / name.replace(".", "-")
        folder.mkdir()
        (folder / name).write_bytes(data)
        s = _file(ingest([folder / name], lake=tmp_path / f"lake-{folder.name}", reference=ref, progress=False,
                         fmt="m365_copilot_usage"), name)
        assert "malformed_json" not in s["by_reason"], (name, s)
        landed.append(s["landed"])
    graph = ingest([FIXTURES / "m365_copilot_usage_2026-10-06.json"], lake=tmp_path / "lake-g", reference=ref,
                   progress=False)
    assert landed == [1, 1, 1, graph["total"]["landed"]] and landed[3] > 0


def test_a_semicolon_separated_export_lands_like_the_comma_one(vendor_reference, tmp_path: Path):
    """Excel where the decimal mark is a comma saves CSV with semicolons: every row was missing_field:email."""
    ref, _ = vendor_reference
    text = (FIXTURES / "chatgpt_user_engagement_2026-10.csv").read_text()
    counts = []
    for sep in (",", ";"):
        folder = tmp_path / f"sep{ord(sep)}"
        folder.mkdir()
        (folder / "chat.csv").write_text(text.replace(",", sep))
        s = _file(ingest([folder], lake=tmp_path / f"lake{ord(sep)}", reference=ref, progress=False), "chat.csv")
        counts.append({k: s[k] for k in (*COUNTS, "by_reason")})
    assert counts[0] == counts[1] and counts[0]["landed"] > 0
