"""Vendor exports in: each adapter turns one vendor format into SPEC §2 events.

An adapter reads its vendor's records and says, for each, what it becomes: events, a quarantine with a
`vendor_mapping:<what>` reason, or nothing (a blank: a record that reports no usage). The events are
written, one JSON line each, to a derived file in the run's staging folder, and from there they go
through the same validation, quarantine, dedupe, pseudonymization and accounting as every event file
(`pipelines/ingest.py`). For a vendor file the accounting counts *items*: each derived event, each record
quarantined whole, each blank record or line, each superseded copy; `lines = landed + duplicates +
quarantined + blank` holds over items, and `records` says how many vendor records were read.

Identities map to roster actors through `identities.csv` (system, external_id → actor_id): external ids
compare case-insensitively, systems the way mapping keys do (case, spaces, `_`, `-` and `.` ignored, so
`amazon-connect` is `amazon_connect`); an unknown identity is quarantined, never guessed. Event ids are a
keyed hash (the lake's pseudonym key) of the vendor record's natural key, so an overlapping re-export lands
nothing twice and no login or e-mail can be read back from an id. What maps to what (feature → app, action and
capability; queue → workflow; settings) is reference data: `vendor_mapping.csv`, over the defaults in
`schemas/vendor_mapping.csv`.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pipelines.blocks import open_input
from schemas import events as contract

SCHEMA_VERSION = "1.0"
SNIFF_BYTES = 1 << 16
DEFAULT_MAPPING = Path(__file__).resolve().parents[2] / "schemas" / "vendor_mapping.csv"


class VendorError(ValueError):
    """A vendor file that cannot be read at all, or a format that cannot be told."""


class UnreadableExport(VendorError):
    """One export that cannot be read (a truncated gzip, no permission): it fails alone."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason


# ------------------------------------------------------------------------------------------ records
@dataclass
class Record:
    """One vendor record: its line (NDJSON/CSV) or position (JSON document), raw bytes, parsed value."""

    line: int
    raw: bytes
    value: dict[str, Any] | None = None
    reason: str | None = None  # set when the record could not even be parsed
    blank: bool = False

    def quarantine(self, reason: str) -> Item:
        """This record, quarantined whole with `reason`."""
        return quarantined(self.line, reason, self.raw)


@dataclass
class Item:
    """What a record (or part of one) becomes."""

    line: int
    kind: str  # event | quarantine | blank | dropped (a content field not carried: `reason` names it)
    event: dict[str, Any] | None = None
    reason: str | None = None
    raw: bytes = b""


def quarantined(line: int, reason: str, raw: bytes) -> Item:
    return Item(line, "quarantine", reason=reason, raw=raw)


def open_bytes(path: str | Path) -> bytes:
    with open_input(path) as fh:
        return fh.read()


def head_text(path: str | Path) -> str:
    try:
        with open_input(path) as fh:
            head = fh.read(SNIFF_BYTES)
    except (OSError, EOFError):  # a broken gzip: nothing to tell; reading it for real reports the error
        return ""
    return head.decode("utf-8", errors="replace").lstrip("\ufeff")


def _line_record(line_no: int, raw: bytes) -> Record:
    if not raw.strip():
        return Record(line_no, raw, blank=True)
    if len(raw) > contract.MAX_LINE_BYTES:
        return Record(line_no, raw[: contract.MAX_LINE_BYTES], reason="line_too_long")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Record(line_no, raw, reason="invalid_utf8")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's stack
        return Record(line_no, raw, reason="malformed_json")
    if not isinstance(value, dict):
        return Record(line_no, raw, reason="not_an_object")
    return Record(line_no, raw, value)


def json_records(path: str | Path, containers: tuple[str, ...] = ()) -> Iterator[Record]:
    """Records of a JSON export: one object per line (NDJSON), or one document that is an array of
    objects or an object holding them under one of `containers` (e.g. Graph's `value`). In a document,
    a record's line is its position (1-based)."""
    data = open_bytes(path)
    body = data.lstrip(b"\xef\xbb\xbf").strip()
    doc: Any = None
    if body[:1] in (b"[", b"{"):
        try:
            doc = json.loads(body.decode("utf-8"))
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            doc = None  # not one document: NDJSON, or broken (then line by line says where)
    if isinstance(doc, dict) and not any(isinstance(doc.get(c), list) for c in containers):
        doc = None  # a single NDJSON line, read below like the rest
    if doc is not None:
        items = doc if isinstance(doc, list) else next(doc[c] for c in containers if isinstance(doc.get(c), list))
        for i, v in enumerate(items, start=1):
            raw = json.dumps(v, separators=(",", ":")).encode()
            yield Record(i, raw, v) if isinstance(v, dict) else Record(i, raw, reason="not_an_object")
        return
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the empty piece after a final newline is not a line
    for i, raw in enumerate(lines, start=1):
        raw = raw.rstrip(b"\r")
        yield _line_record(i, raw.removeprefix(b"\xef\xbb\xbf") if i == 1 else raw)


def csv_records(path: str | Path) -> Iterator[Record]:
    """Rows of a CSV export (comma- or, when its header has no comma, semicolon-separated) as dicts keyed by
    header. A record is numbered by its first physical line and keeps all of its lines (a quoted field may hold
    line ends); one holding a byte that is not UTF-8 is quarantined `invalid_utf8` (it is read with U+FFFD for
    that byte, so its quotes still close and the rows after it are read as written; in the header, the name keeps
    the U+FFFD); one over 1 MiB is `line_too_long`."""
    data = open_bytes(path).removeprefix(b"\xef\xbb\xbf")
    physical = data.split(b"\n")
    if physical and physical[-1] == b"":
        physical.pop()
    bad: set[int] = set()

    def lines() -> Iterator[str]:
        for i, raw in enumerate(physical, start=1):
            try:
                yield raw.decode("utf-8") + "\n"
            except UnicodeDecodeError:
                bad.add(i)
                yield raw.decode("utf-8", "replace") + "\n"

    csv.field_size_limit(max(csv.field_size_limit(), 2 * contract.MAX_LINE_BYTES))
    # Excel where the decimal mark is a comma saves CSV with semicolons: told by the header line
    first = next((x for x in physical if x.strip()), b"")
    reader = csv.reader(lines(), delimiter=";" if b";" in first and b"," not in first else ",")
    header: list[str] | None = None
    twice: str | None = None
    end = 0  # the last physical line read
    while True:
        try:
            row: list[str] | None = next(reader)
        except StopIteration:
            break
        except csv.Error:  # a NUL byte, a field past the limit: this record only
            row = None
        start, end = end + 1, max(reader.line_num, end + 1)
        raw = b"\n".join(physical[start - 1:end])
        if len(raw) > contract.MAX_LINE_BYTES:
            yield Record(start, raw[:contract.MAX_LINE_BYTES], reason="line_too_long")
            continue
        if row is None:
            yield Record(start, raw, reason="vendor_mapping:unreadable_csv")
            continue
        if not row or all(not c.strip() for c in row):
            yield Record(start, raw, blank=True)
            continue
        if header is None:
            header = [h.strip() for h in row]
            names = Counter(norm_key(h) for h in header)
            # two columns of one name once case and separators are ignored: no row says which to read
            twice = next((h for h in header if norm_key(h) and names[norm_key(h)] > 1), "")
            continue
        if bad.intersection(range(start, end + 1)):
            yield Record(start, raw, reason="invalid_utf8")
            continue
        if len(row) != len(header):
            yield Record(start, raw, reason="vendor_mapping:wrong_column_count")
            continue
        if twice:
            yield Record(start, raw, reason=f"vendor_mapping:duplicate_column:{twice}")
            continue
        yield Record(start, raw, dict(zip(header, (c.strip() for c in row), strict=True)))


def norm_key(name: str) -> str:
    """A header or field name compared the forgiving way: case, spaces and underscores ignored."""
    return re.sub(r"[\s_\-.]", "", name).casefold()


def by_norm(value: dict[str, Any]) -> dict[str, Any]:
    return {norm_key(k): v for k, v in value.items()}


# ------------------------------------------------------------------------------------------ mapping
@dataclass
class Mapping:
    """identities.csv and vendor_mapping.csv (over the defaults), ready for lookups."""

    key: bytes
    identities: dict[tuple[str, str], str] = field(default_factory=dict)
    rows: dict[tuple[str, str, str], dict[str, str]] = field(default_factory=dict)

    def actor(self, system: str, external_id: Any) -> str | None:
        if external_id is None or str(external_id).strip() == "":
            return None
        return self.identities.get((norm_key(system), str(external_id).strip().casefold()))

    def row(self, system: str, kind: str, vendor_key: str) -> dict[str, str] | None:
        """The mapping row for a vendor key, else the system's `*` row for that kind, else None."""
        sys_ = norm_key(system)
        return self.rows.get((sys_, kind, norm_key(vendor_key))) or self.rows.get((sys_, kind, "*"))

    def setting(self, system: str, name: str, default: str) -> str:
        r = self.rows.get((norm_key(system), "setting", norm_key(name)))
        return r["value"] if r and r.get("value") else default

    def event_id(self, system: str, *parts: object) -> str:
        msg = "\x1f".join([system, *(str(p) for p in parts)]).encode()
        return f"{system}:{hmac.new(self.key, msg, hashlib.sha256).hexdigest()[:32]}"


def load_mapping(reference: str | Path | None, key: bytes) -> Mapping:
    """Identities and mapping rows from the reference folder (both optional), checked by their contract."""
    from schemas.reference import TABLES_BY_FILE, ReferenceError, read_table

    m = Mapping(key)
    files = [DEFAULT_MAPPING]
    if reference and (Path(reference) / "vendor_mapping.csv").exists():
        files.append(Path(reference) / "vendor_mapping.csv")  # the customer's rows win
    for path in files:
        table, errors = read_table(path, TABLES_BY_FILE["vendor_mapping.csv"])
        if errors:
            raise ReferenceError("\n".join(errors))
        for r in table.to_pylist():
            m.rows[(norm_key(r["system"]), r["kind"], norm_key(r["vendor_key"]))] = {
                k: ("" if v is None else str(v)) for k, v in r.items()}
    if reference and (Path(reference) / "identities.csv").exists():
        path = Path(reference) / "identities.csv"
        table, errors = read_table(path, TABLES_BY_FILE["identities.csv"])
        if errors:
            raise ReferenceError("\n".join(errors))
        for r in table.to_pylist():
            m.identities[(norm_key(r["system"]), r["external_id"].strip().casefold())] = r["actor_id"]
    return m


def day_start(value: Any) -> str | None:
    """`YYYY-MM-DD` (or a date-time starting with one) → that day's start in UTC, RFC 3339."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        d = dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
    return f"{d.isoformat()}T00:00:00Z"


def assist_event(m: Mapping, system: str, id_parts: Iterable[object], occurred_at: str, source: str,
                 actor_id: str, row: dict[str, str], count: int, outcome: str | None = None) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "event_id": m.event_id(system, *id_parts),
        "occurred_at": occurred_at,
        "source": source,
        "tool": "copilot",
        "event_type": "assist",
        "actor_id": actor_id,
        "capability": row["capability"],
        "app": row["app"],
        "action": row["action"],
        "count": int(count),
    }
    if outcome:
        ev["outcome"] = outcome
    return ev


def as_count(value: Any) -> int | None:
    """A non-negative whole count from a JSON number or a CSV cell; None when it is not one."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):  # 1e400 reads as infinity
        return int(value) if math.isfinite(value) and value >= 0 and value.is_integer() else None
    if isinstance(value, str) and re.fullmatch(r"[0-9]+(\.0+)?", value.strip()):
        return int(float(value))
    return None


# ------------------------------------------------------------------------------------------ adapters
class Adapter(Protocol):
    name: str
    system: str

    def detect(self, head: str, suffix: str) -> bool: ...
    def records(self, path: str | Path) -> Iterator[Record]: ...
    def translate(self, rec: Record, m: Mapping) -> Iterator[Item]: ...


def adapters() -> dict[str, Adapter]:
    from pipelines.vendors import amazon_connect, chatgpt_enterprise, github_copilot, m365_copilot, otel_genai

    found: list[Adapter] = [github_copilot.GitHubCopilot(), m365_copilot.M365CopilotUsage(),
                            m365_copilot.VivaCopilot(), chatgpt_enterprise.ChatGPTEnterprise(),
                            amazon_connect.AmazonConnect(), otel_genai.OtelGenAI()]
    return {a.name: a for a in found}


FORMATS = ("auto", "events", "github_copilot", "m365_copilot_usage", "viva_copilot", "chatgpt_enterprise",
           "amazon_connect", "otel_genai")
_EVENT_KEYS = re.compile(r'"(event_id|schema_version|event_type)"\s*:')


def detect(path: str | Path) -> str:
    """The format of a file, told from its first bytes; VendorError when no format or several fit."""
    head = head_text(path)
    if not head.strip():  # empty, or blank lines: no records in any format; read as events, its lines are blank
        return "events"
    suffix = "".join(Path(path).suffixes).removesuffix(".gz").lower()
    fits = [name for name, a in adapters().items() if a.detect(head, suffix)]
    if len(fits) == 1:
        return fits[0]
    if not fits and (suffix in (".jsonl", ".ndjson", ".json") and (_EVENT_KEYS.search(head) or suffix == ".jsonl")):
        return "events"
    if fits:
        raise VendorError(f"{path}: could be {' or '.join(fits)}; pass --format")
    raise VendorError(f"{path}: cannot tell its format; pass --format ({', '.join(FORMATS[1:])})")


# ------------------------------------------------------------------------------------------ translate
def _records(a: Adapter, path: str) -> Iterator[Record]:
    try:
        yield from a.records(path)
    except (OSError, EOFError) as exc:  # unreadable as a whole (a truncated gzip): nothing is half-landed
        raise UnreadableExport(path, str(exc)) from exc

# a record whose shape an adapter did not expect (a string where an object belongs, a list for a map…)
UNEXPECTED = (AttributeError, TypeError, KeyError, IndexError, ValueError, OverflowError, RecursionError)


def _items(a: Adapter, rec: Record, m: Mapping) -> list[Item]:
    """What the record becomes (a record that yields nothing is blank); quarantined whole as
    `vendor_mapping:unexpected_structure` when its shape breaks the adapter (a record is never half translated)."""
    try:
        return list(a.translate(rec, m)) or [Item(rec.line, "blank")]  # nothing in it: it reports no usage
    except UNEXPECTED:
        return [rec.quarantine("vendor_mapping:unexpected_structure")]


def _version(pick: Any, rec: Record) -> tuple[str, Any] | None:
    """The record's (identity, version) for newest-copy-wins; None when its shape has none (translate says why)."""
    try:
        return pick(rec) if rec.value is not None else None
    except UNEXPECTED:
        return None


@dataclass
class Translated:
    """A vendor file turned into derived events, plus what was decided without them."""

    file_idx: int
    format: str
    records: int = 0
    blank: int = 0
    superseded: int = 0
    quarantine: list[tuple[int, str, bytes]] = field(default_factory=list)  # (line, reason, raw)
    line_map: list[int] = field(default_factory=list)  # derived line i+1 → source line
    dropped_fields: Counter[str] = field(default_factory=Counter)


def translate(files: list[tuple[int, str, str]], m: Mapping, out_dir: Path) -> dict[int, Translated]:
    """Translate vendor files (file_idx, path, format), in path order, each to `out_dir/fNNNNN.jsonl`.
    A file that cannot be read (a broken gzip) raises VendorError naming it."""
    table = adapters()
    out_dir.mkdir(parents=True, exist_ok=True)
    # Records delivered more than once and updated (contact records): the newest copy in the run wins.
    newest: dict[str, dict[str, tuple[Any, ...]]] = {}
    for idx, path, fmt in files:
        pick = getattr(table[fmt], "version_key", None)
        if pick is None:
            continue
        best = newest.setdefault(fmt, {})
        for rec in _records(table[fmt], path):
            k = _version(pick, rec)
            if k is not None:
                ident, version = k
                cand = (version, -idx, -rec.line)
                if ident not in best or cand > best[ident]:
                    best[ident] = cand
    result: dict[int, Translated] = {}
    for idx, path, fmt in files:
        a = table[fmt]
        t = Translated(idx, fmt)
        pick = getattr(a, "version_key", None)
        tmp = out_dir / f"f{idx:05d}.jsonl.tmp"
        with open(tmp, "wb") as out:
            for rec in _records(a, path):
                t.records += 1
                if rec.blank:
                    t.blank += 1
                    continue
                if rec.reason:
                    t.quarantine.append((rec.line, rec.reason, rec.raw))
                    continue
                if pick is not None:
                    k = _version(pick, rec)
                    if k is not None and newest[fmt][k[0]] != (k[1], -idx, -rec.line):
                        t.superseded += 1  # an older (or repeated) copy of a record the run has newer
                        continue
                for item in _items(a, rec, m):
                    if item.kind == "event":
                        assert item.event is not None
                        out.write(json.dumps(item.event, separators=(",", ":")).encode() + b"\n")
                        t.line_map.append(item.line)
                    elif item.kind == "quarantine":
                        t.quarantine.append((item.line, item.reason or "vendor_mapping:unmapped", item.raw))
                    elif item.kind == "blank":
                        t.blank += 1
                    elif item.kind == "dropped":
                        t.dropped_fields[item.reason or "?"] += 1
        tmp.replace(out_dir / f"f{idx:05d}.jsonl")
        result[idx] = t
    return result


