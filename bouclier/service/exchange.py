"""Hash-exchange formats: PDQ lists in and out.

Import (each gives (pdq hex, quality, active) records, applied in order, the last one per hash wins):
- `threatexchange`: python-threatexchange's simple signal file, one `pdq <hex>` per line (a bare hex
  line counts as PDQ; other signal types are skipped; `#` starts a comment).
- `hma`: Hasher-Matcher-Actioner's signal JSON, `{"pdq": "<hex>"}`, a list of those, or
  `{"signals": {"pdq": ...}}` as HMA returns it.
- `stopncii`: StopNCII FetchHashes-shaped JSON (`{"hashRecords": [...]}` or a list of records) with
  `signalType` ImagePDQ and `hashStatus` Active/Received (kept) or Withdrawn/Deleted (removed).
Export: our JSON (ids + tombstones), the StopNCII shape, or a threatexchange signal file (snapshot).
"""

from __future__ import annotations

import json
from datetime import datetime

from . import engine
from .errors import bad_request, too_large

IMPORT_FORMATS = ("threatexchange", "hma", "stopncii")
EXPORT_FORMATS = ("json", "stopncii", "threatexchange")
_ACTIVE = {"active": True, "received": True, "withdrawn": False, "deleted": False}


def _pdq(value, where: str) -> str:
    if not isinstance(value, str):
        raise bad_request(f"{where}: the PDQ hash must be a string of 64 hex characters", "invalid_pdq")
    try:
        return engine.normalise_pdq(value)
    except engine.FormatError:
        raise bad_request(f"{where}: not a PDQ hash (need 64 hex characters)", "invalid_pdq") from None


def _json(body: bytes):
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise bad_request(f"invalid JSON: {e}", "invalid_json") from None


def parse_import(fmt: str, body: bytes, max_records: int) -> tuple[list[tuple[str, int, bool]], int]:
    """Records and the number of skipped entries (other signal types or statuses)."""
    if fmt not in IMPORT_FORMATS:
        raise bad_request(f"format must be one of {', '.join(IMPORT_FORMATS)}", "unknown_format")
    records: list[tuple[str, int, bool]] = []
    skipped = 0
    if fmt == "threatexchange":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise bad_request("a threatexchange signal file must be UTF-8 text", "invalid_text") from None
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
                raise bad_request(f"item {n}: expected an object like {{\"pdq\": \"<hex>\"}}", "invalid_record")
            if "pdq" not in item:
                skipped += 1
                continue
            records.append((_pdq(item["pdq"], f"item {n}"), 100, True))
    else:
        doc = _json(body)
        items = doc.get("hashRecords") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise bad_request("expected {\"hashRecords\": [...]} or a list of StopNCII hash records", "invalid_record")
        good = []
        for n, r in enumerate(items):
            if not isinstance(r, dict) or "hashValue" not in r or "signalType" not in r:
                raise bad_request(f"record {n}: needs signalType and hashValue", "invalid_record")
            status = str(r.get("hashStatus", "Active")).lower()
            if r["signalType"] != "ImagePDQ" or status not in _ACTIVE:
                skipped += 1
                continue
            ts = r.get("lastModtimestamp", 0)
            ts = ts if isinstance(ts, (int, float)) and not isinstance(ts, bool) else 0
            good.append((ts, n, _pdq(r["hashValue"], f"record {n}"), _ACTIVE[status]))
        good.sort(key=lambda x: (x[0], x[1]))  # oldest first, so the newest state of a hash wins
        records = [(h, 100, active) for _, _, h, active in good]
    if len(records) > max_records:
        raise too_large(f"at most {max_records} records per import")
    return records, skipped


def _epoch(ts: str) -> int:
    try:
        return int(datetime.fromisoformat(ts).timestamp())
    except ValueError:
        return 0


def render_stopncii(page: dict) -> dict:
    recs = [{"lastModtimestamp": _epoch(s["updated_at"]), "signalType": "ImagePDQ", "hashValue": s["pdq"],
             "hashStatus": "Active" if s["op"] == "add" else "Withdrawn", "caseNumbers": {}, "CSPFeedbacks": []}
            for s in page["signals"] if s["pdq"]]
    return {"count": len(recs), "nextPageToken": str(page["cursor"]), "nextSetTimestamp": page["cursor"],
            "hasMoreRecords": page["has_more"], "hashRecords": recs}


def render_threatexchange(page: dict) -> str:
    return "".join(f"pdq {s['pdq']}\n" for s in page["signals"] if s["op"] == "add" and s["pdq"])
