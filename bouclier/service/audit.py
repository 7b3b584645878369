"""Append-only audit log, each entry hash-chained to the previous one.

hash(n) = SHA-256 of the canonical JSON [seq, ts, actor, action, subject, details, hash(n-1)], with
hash(0) = 64 zeros. The single `audit_head` row holds the last (seq, hash): appending locks it, so
entries are strictly sequential even across processes, and `verify` also detects a truncated tail.
Details never contain fingerprints or anything derived from uploaded images.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditEntry, AuditHead

GENESIS = "0" * 64


def now() -> str:
    """UTC timestamp as stored everywhere in the registry (text, so it hashes identically on any DB)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(seq: int, ts: str, actor: str, action: str, subject: str, details: str, prev: str) -> str:
    return hashlib.sha256(canonical([seq, ts, actor, action, subject, details, prev]).encode()).hexdigest()


def lock_head(session: Session) -> AuditHead:
    """Lock and return the chain head (row lock on PostgreSQL; SQLite transactions are already exclusive)."""
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    return head


def append(session: Session, actor: str, action: str, subject: str = "", details: dict | None = None) -> AuditEntry:
    """Append one entry in the caller's transaction (committed, or rolled back, with the state change)."""
    head = lock_head(session)
    seq, ts, det = head.seq + 1, now(), canonical(details or {})
    h = entry_hash(seq, ts, actor, action, subject, det, head.hash)
    entry = AuditEntry(seq=seq, ts=ts, actor=actor, action=action, subject=subject, details=det,
                       prev_hash=head.hash, hash=h)
    session.add(entry)
    head.seq, head.hash = seq, h
    session.flush()
    return entry


@dataclass
class VerifyResult:
    ok: bool
    entries: int
    head_hash: str
    error: str | None = None
    bad_seq: int | None = None

    def to_dict(self) -> dict:
        return {"ok": self.ok, "entries": self.entries, "head_hash": self.head_hash, "error": self.error,
                "bad_seq": self.bad_seq}


def verify(session: Session, batch: int = 2000) -> VerifyResult:
    """Re-compute the whole chain; report the first broken entry."""
    prev, expected, last = GENESIS, 1, 0
    while True:
        rows = session.execute(
            select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
        ).scalars().all()
        if not rows:
            break
        for e in rows:
            if e.seq != expected:
                return VerifyResult(False, expected - 1, prev, f"entry {expected} is missing", expected)
            if e.prev_hash != prev:
                return VerifyResult(False, e.seq - 1, prev, f"entry {e.seq} does not link to entry {e.seq - 1}", e.seq)
            h = entry_hash(e.seq, e.ts, e.actor, e.action, e.subject, e.details, e.prev_hash)
            if h != e.hash:
                return VerifyResult(False, e.seq - 1, prev, f"entry {e.seq} was altered (hash mismatch)", e.seq)
            prev, expected, last = e.hash, e.seq + 1, e.seq
        session.expunge_all()
    head = session.get(AuditHead, 1)
    if head is None or head.seq != last or head.hash != prev:
        return VerifyResult(False, last, prev, "the chain head does not match the last entry (entries removed?)",
                            last + 1)
    return VerifyResult(True, last, prev)
