"""The fast path decides every line exactly as the reference rules do: reasons, landed rows, dropped fields.

Both run over the same hostile corpus (every reason, every JSON type in every field, nulls, duplicate keys,
huge numbers, nested values, escapes, unicode, whitespace) and a few thousand random mutations of valid
events; their outputs must be identical, and the fast path must have decided most lines itself.
"""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from pipelines.blocks import Block
from pipelines.validate import BlockValidator
from schemas import events as contract

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
BASE = {"schema_version": "1.0", "event_id": "e-1", "occurred_at": "2026-10-01T09:30:00.123-05:00",
        "source": "genesys-cloud", "actor_id": "E0000001", "capability": "cap.x", "org_unit": "CC-1", "site": "Tampa"}
VALID = {
    ("copilot", "assist"): {"app": "word", "action": "draft", "outcome": "accepted", "count": 3},
    ("call_summarization", "call_completed"): {"workflow": "call_summary", "work_item_id": "C1",
                                               "handle_seconds": 300, "acw_seconds": 12.5,
                                               "ai_summary_offered": True, "queue": "q"},
    ("call_summarization", "summary_reviewed"): {"workflow": "call_summary", "work_item_id": "C1",
                                                 "outcome": "edited", "edit_ratio": 0.25},
    ("lmn_drafting", "letter_requested"): {"workflow": "lmn", "work_item_id": "L1", "letter_type": "appeal",
                                           "payer": "Aetna"},
    ("lmn_drafting", "letter_drafted"): {"workflow": "lmn", "work_item_id": "L1", "ai_drafted": False,
                                         "outcome": "rejected", "edit_ratio": 1},
    ("lmn_drafting", "letter_submitted"): {"workflow": "lmn", "work_item_id": "L1"},
    ("lmn_drafting", "letter_decided"): {"workflow": "lmn", "work_item_id": "L1", "decision": "denied"},
}
VALUES = ['"x"', '""', '"42"', '"true"', '"1.0"', '"2.0"', '"2026-10-01T09:30:00Z"', '"é\\u00e9\\ud83d\\ude00"',
          '"a\\"b\\\\c"', '"\\u0000"', '"line\\nbreak"', '"x' + "y" * 130 + '"', '"' + "é" * 70 + '"',
          '"' + "é" * 130 + '"', "0", "-0", "1", "-1", "3", "2.0", "2.5", "1e2", "1E2", "-1.5e-3",
          "9223372036854775807", "9223372036854775808", "18446744073709551616", "123456789012345678901234567890",
          "1E400", "NaN", "Infinity", "-Infinity", "true", "false", "null", "{}", "[]", '{"a":1}', "[1,2]",
          '{"a":null}', "[null]"]


def event(kind=("copilot", "assist"), **changes) -> dict:
    e = {**BASE, "tool": kind[0], "event_type": kind[1], **VALID[kind]}
    e.update(changes)
    return e


def compact(e: dict) -> str:
    return json.dumps(e, separators=(",", ":"), ensure_ascii=False)


def with_raw(e: dict, key: str, raw: str) -> str:
    """The event with `key` set to a raw JSON value text (kept as written)."""
    return compact({**e, key: "@@"}).replace('"@@"', raw)


def hostile() -> list[str]:
    lines = []
    for kind in VALID:
        e = event(kind)
        lines += [compact(e), json.dumps(e), json.dumps(e, indent=None, sort_keys=True)]
        for f in contract.event_fields(*kind) + (contract.Field("prompt_text", "string"),
                                                 contract.Field("acw_seconds", "number")):
            lines += [with_raw(e, f.name, v) for v in VALUES]
            lines.append(compact({k: v for k, v in e.items() if k != f.name}))
    e = compact(event())
    lines += [
        "", "   ", "\t", "{", "}", "{}", "[]", "null", "42", '"text"', "[" + e + "]", e + " ", " " + e, e + e,
        e + " " + e, e[:-1] + ',"x":1,}', e[:-1] + ',"app":"excel"}', e[:-1] + ',"app":null}',
        e[:-1] + ',"prompt_text":null}', e[:-1] + ',"Patient Jane Doe DOB 1961-02-03":"x"}', e[:-1] + ',"":1}',
        e.replace('"tool"', '"t\\u006fol"'), e.replace(":", " : "), e.replace(",", " , "), "\ufeff" + e,
        e[:-1] + ',"nested":{"deep":[1,{"x":null}]}}', e.replace('"1.0"', '"1.10"'), e.replace('"1.0"', '"2.0"'),
        e.replace('"1.0"', '"v1"'), e.replace('"1.0"', '"01.5"'), e.replace('"1.0"', '"99999999999999999999.1"'),
        e.replace("-05:00", ""), e.replace("2026-10-01", "2026-02-30"), e.replace("2026-10-01", "2099-10-01"),
        e.replace("09:30:00.123-05:00", "12:04:59Z").replace("2026-10-01", "2026-11-01"),
        e.replace("09:30:00.123-05:00", "12:05:01Z").replace("2026-10-01", "2026-11-01"),
        e.replace('"copilot"', '"Copilot"'), e.replace('"assist"', '"call_completed"'),
    ]
    return lines


def mutations(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    extra = ["prompt_text", "summary_text", "acw_seconds", "workflow", "app", "count", "x.y", "", "Name With Space"]
    out = []
    for _ in range(n):
        kind = rnd.choice(list(VALID))
        e = event(kind)
        for _ in range(rnd.randint(0, 3)):
            op = rnd.random()
            keys = list(e)
            if op < 0.3:
                e.pop(rnd.choice(keys), None)
            elif op < 0.8:
                e[rnd.choice(keys + extra)] = "@" + rnd.choice(VALUES) + "@"
            else:
                e[rnd.choice(extra)] = rnd.choice(["free text", 1, None, [1], {"a": "b"}])
        text = json.dumps(e, separators=rnd.choice([(",", ":"), (", ", ": ")]), ensure_ascii=rnd.random() < 0.5)
        for v in VALUES:  # raw values are written as they are
            text = text.replace(json.dumps("@" + v + "@", ensure_ascii=False), v).replace(json.dumps("@" + v + "@"), v)
        out.append(text)
    return out


def rows(table) -> list[dict]:
    """Rows, NaN written out (NaN != NaN would hide equal rows)."""
    return [{k: ("NaN" if isinstance(v, float) and v != v else v) for k, v in r.items()} for r in table.to_pylist()]


def run(lines: list[str], fast: bool):
    data = "\n".join(lines).encode() + b"\n"
    v = BlockValidator(NOW, fast=fast)
    good, q, counts = v.validate(Block(data, 0, 0))
    return good, q, counts, v


@pytest.mark.parametrize("corpus", ["hostile", "mutations"])
def test_fast_path_decides_like_the_reference(corpus):
    lines = hostile() if corpus == "hostile" else mutations(3000, seed=5)
    good_f, q_f, counts_f, v = run(lines, fast=True)
    good_r, q_r, counts_r, _ = run(lines, fast=False)
    assert counts_f == counts_r
    assert q_f.to_pylist() == q_r.to_pylist()
    assert good_f.schema == good_r.schema
    assert rows(good_f) == rows(good_r)
    # the reference saw only what the fast path could not decide: most lines were decided fast
    assert v.decided["fast"] > 0.5 * len(lines), v.decided
    print(corpus, dict(v.decided), len(lines))
    assert {r.split(":")[0] for r in counts_r["by_reason"]} >= (
        {"missing_field", "wrong_type", "invalid_value", "unknown_tool"} if corpus == "mutations"
        else {r.split(":")[0] for r in contract.REASON_CODES} - {"conflicting_duplicate", "invalid_utf8",
                                                                   "line_too_long"})


@pytest.mark.parametrize("fast", [True, False])
def test_a_number_that_is_not_finite_is_an_invalid_value(fast: bool):
    """NaN, Infinity and numbers beyond a double (1e400) parse, but one of them in the lake makes every sum and
    mean over it NaN or infinite: quarantined; the largest finite double lands."""
    e = event(("call_summarization", "call_completed"))
    texts = ["NaN", "Infinity", "-Infinity", "1e400", "-1E400", "1e308"]
    good, q, counts, _ = run([with_raw(e, "handle_seconds", t) for t in texts], fast=fast)
    assert q.column("reason").to_pylist() == ["invalid_value:handle_seconds"] * 5
    assert good.column("handle_seconds").to_pylist() == [1e308]
    assert counts["by_reason"] == {"invalid_value:handle_seconds": 5}


def test_fast_path_on_realistic_lines_hands_back_nothing(small_org):
    path = sorted((small_org / "landing").glob("*genesys*.jsonl"))[0]
    data = path.read_bytes()[:4_000_000]
    data = data[: data.rfind(b"\n") + 1]
    v = BlockValidator(NOW, fast=True)
    good, q, counts = v.validate(Block(data, 0, 0))
    ref = BlockValidator(NOW, fast=False).validate(Block(data, 0, 0))
    assert (rows(good), q.to_pylist(), counts) == (rows(ref[0]), ref[1].to_pylist(), ref[2])
    # every line of a real export is decided without the reference rules
    assert v.decided["reference"] == 0 and v.decided["fast"] > 0.99 * counts["lines"], v.decided


def test_a_parse_error_json_valid_did_not_foresee_reruns_the_block_guarded(monkeypatch):
    # The fast query parses only lines json_valid accepts, without try(); should DuckDB still raise on a
    # block, the block runs again with try(). Simulated: the unguarded query raises on every block.
    from pipelines import fastpath

    real = fastpath.transform_sql
    calls = []

    def raising(guarded: bool = False) -> str:
        calls.append(guarded)
        return real(guarded=True) if guarded else "select error('json_transform failed') as x from raw"

    lines = hostile()
    expected = run(lines, fast=True)[:3]
    monkeypatch.setattr(fastpath, "transform_sql", raising)
    good, q, counts, _ = run(lines, fast=True)
    assert calls == [False, True]  # one block: tried fast, then guarded
    assert (rows(good), q.to_pylist(), counts) == (rows(expected[0]), expected[1].to_pylist(), expected[2])
