"""PDQ hash lists in the formats of other hash-sharing tools, in and out.

- `threatexchange`: python-threatexchange's simple signal file, one `pdq <hex>` per line (a bare hex
  line counts as PDQ; other signal types are skipped; `#` starts a comment).
- `hma`: Hasher-Matcher-Actioner's signal JSON, `{"pdq": "<hex>"}`, a list of those, or
  `{"signals": {"pdq": ...}}` as HMA returns it.
- `stopncii`: StopNCII FetchHashes-shaped JSON (`{"hashRecords": [...]}` or a list of records) with
  `signalType` ImagePDQ and `hashStatus` Active/Received (kept) or Withdrawn/Deleted (removed).

None of them carries a PDQ quality: imported hashes get 100. Used by `bouclier hashes` (files) and by
the service's exchange endpoints (HTTP).
"""

from __future__ import annotations

import json
from datetime import datetime

from .errors import FormatError
from .signals.pdq import PDQ

FORMATS = ("threatexchange", "hma", "stopncii")
_ACTIVE = {"active": True, "received": True, "withdrawn": False, "deleted": False}


class HashListError(FormatError):
    """A malformed hash list; `code` is a stable name for the problem (the API answers with it)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def _pdq(value, where: str) -> str:
    if not isinstance(value, str):
        raise HashListError(f"{where}: the PDQ hash must be a string of 64 hex characters", "invalid_pdq")
    try:
        return PDQ.from_hex(value).hash.hex()
    except FormatError:
        raise HashListError(f"{where}: not a PDQ hash (need 64 hex characters)", "invalid_pdq") from None


def _json(body: bytes):
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise HashListError(f"invalid JSON: {e}", "invalid_json") from None


def parse(fmt: str, body: bytes) -> tuple[list[tuple[str, int, bool]], int]:
    """(pdq hex, quality, active) records in the order to apply them, and the number of entries
    skipped (other signal types or statuses)."""
    if fmt not in FORMATS:
        raise HashListError(f"format must be one of {', '.join(FORMATS)}", "unknown_format")
    records: list[tuple[str, int, bool]] = []
    skipped = 0
    if fmt == "threatexchange":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise HashListError("a threatexchange signal file must be UTF-8 text", "invalid_text") from None
        for n, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            kind, _, value = line.partition(" ")
            if not value:
                kind, value = "pdq", kind
            if kind.lower() != "pdq":
                skipped += 1
                continue
            records.append((_pdq(value.strip(), f"line {n}"), 100, True))
    elif fmt == "hma":
        doc = _json(body)
        items = doc if isinstance(doc, list) else [doc]
        for n, item in enumerate(items):
            if isinstance(item, dict) and isinstance(item.get("signals"), dict):
                item = item["signals"]
            if not isinstance(item, dict):
                raise HashListError(f"item {n}: expected an object like {{\"pdq\": \"<hex>\"}}", "invalid_record")
            if "pdq" not in item:
                skipped += 1
                continue
            records.append((_pdq(item["pdq"], f"item {n}"), 100, True))
    else:
        doc = _json(body)
        items = doc.get("hashRecords") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise HashListError("expected {\"hashRecords\": [...]} or a list of StopNCII hash records", "invalid_record")
        good = []
        for n, r in enumerate(items):
            if not isinstance(r, dict) or "hashValue" not in r or "signalType" not in r:
                raise HashListError(f"record {n}: needs signalType and hashValue", "invalid_record")
            status = str(r.get("hashStatus", "Active")).lower()
            if r["signalType"] != "ImagePDQ" or status not in _ACTIVE:
                skipped += 1
                continue
            ts = r.get("lastModtimestamp", 0)
            ts = ts if isinstance(ts, (int, float)) and not isinstance(ts, bool) else 0
            good.append((ts, n, _pdq(r["hashValue"], f"record {n}"), _ACTIVE[status]))
        good.sort(key=lambda x: (x[0], x[1]))  # oldest first, so the newest state of a hash wins
        records = [(h, 100, active) for _, _, h, active in good]
    return records, skipped


def latest(records: list[tuple[str, int, bool]]) -> dict[str, int]:
    """The hashes a list leaves active (the last record per hash wins), with their quality."""
    out: dict[str, int] = {}
    for h, quality, active in records:
        if active:
            out[h] = quality
        else:
            out.pop(h, None)
    return out


def threatexchange_text(hashes: list[str]) -> str:
    return "".join(f"pdq {h}\n" for h in hashes)


def hma_json(hashes: list[str]) -> list[dict]:
    return [{"pdq": h} for h in hashes]


def epoch(iso) -> int:
    """Epoch seconds of an ISO time (StopNCII's lastModtimestamp); 0 when missing or unreadable."""
    try:
        return int(datetime.fromisoformat(iso).timestamp())
    except (TypeError, ValueError):
        return 0


def stopncii_records(entries: list[tuple[str, bool, int]]) -> list[dict]:
    """StopNCII hash records of (pdq hex, active, last change as epoch seconds) entries."""
    return [{"lastModtimestamp": ts, "signalType": "ImagePDQ", "hashValue": h,
             "hashStatus": "Active" if active else "Withdrawn", "caseNumbers": {}, "CSPFeedbacks": []}
            for h, active, ts in entries]
