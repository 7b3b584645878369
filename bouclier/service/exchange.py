"""Hash-exchange formats over HTTP: PDQ lists in (bouclier.hashlist's formats) and out.

Import records are applied in order, the last one per hash wins. Export: our JSON (ids + tombstones),
the StopNCII shape, or a threatexchange signal file (snapshot).
"""

from __future__ import annotations

from .. import hashlist
from .errors import bad_request, too_large

IMPORT_FORMATS = hashlist.FORMATS
EXPORT_FORMATS = ("json", "stopncii", "threatexchange")


def parse_import(fmt: str, body: bytes, max_records: int) -> tuple[list[tuple[str, int, bool]], int]:
    """Records and the number of skipped entries (other signal types or statuses)."""
    try:
        records, skipped = hashlist.parse(fmt, body)
    except hashlist.HashListError as e:
        raise bad_request(str(e), e.code) from None
    if len(records) > max_records:
        raise too_large(f"at most {max_records} records per import")
    return records, skipped


def render_stopncii(page: dict) -> dict:
    recs = hashlist.stopncii_records([(s["pdq"], s["op"] == "add", hashlist.epoch(s["updated_at"]))
                                      for s in page["signals"] if s["pdq"]])
    return {"count": len(recs), "nextPageToken": str(page["cursor"]), "nextSetTimestamp": page["cursor"],
            "hasMoreRecords": page["has_more"], "hashRecords": recs}


def render_threatexchange(page: dict) -> str:
    return hashlist.threatexchange_text([s["pdq"] for s in page["signals"] if s["op"] == "add" and s["pdq"]])
