"""The registry: banks, protections, withdrawals, matches and imports, kept in the database and
mirrored in the in-memory index. Every state change is one transaction with its audit entry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import delete, func, select

from . import audit, engine
from .auth import ClientInfo
from .db import Database
from .errors import ApiError, bad_request, conflict, not_found, too_large
from .index import Entry, Index
from .models import Bank, Change, MatchRecord, Meta, Protection, StoredFingerprint
from .settings import Settings

BANK_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def _sha(data: bytes | str) -> str:
    return hashlib.sha256(data if isinstance(data, bytes) else data.encode()).hexdigest()


def load_secret_key(settings: Settings) -> bytes:
    """The key case secrets are derived from (setting, else DATA_DIR/server.key, created once)."""
    if settings.secret_key:
        return settings.secret_key.encode()
    path = Path(settings.data_dir) / "server.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_hex(32).encode())
        f.flush()
        os.fsync(f.fileno())
    return path.read_bytes().strip()


@dataclass
class Submitted:
    case_id: str
    secret: str
    bank: str
    fingerprints: int
    status: str
    replayed: bool
    too_plain: list[int]  # positions only the same bytes can match (engine.too_plain)


class Registry:
    def __init__(self, settings: Settings, db: Database | None = None):
        self.settings = settings
        self.db = db or Database(settings.url)
        self.index = Index()
        self._key = load_secret_key(settings)

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Migrate, make sure the default bank exists, purge old tombstones, rebuild the index."""
        self.db.upgrade()
        self.ensure_bank(self.settings.default_bank)
        self.purge_tombstones()
        self.rebuild_index()
        self.index.match(engine.warm_up_query())  # build lazy engine structures before serving

    def rebuild_index(self) -> int:
        self.index = Index()
        with self.db.read() as s:
            for b in s.execute(select(Bank)).scalars():
                self.index.configure_bank(b.name, b.enabled, json.loads(b.thresholds) if b.thresholds else None)
            q = (select(StoredFingerprint, Bank.name, Protection.case_id)
                 .join(Bank, Bank.id == StoredFingerprint.bank_id)
                 .outerjoin(Protection, Protection.id == StoredFingerprint.protection_id)
                 .order_by(StoredFingerprint.id).execution_options(yield_per=2000))
            batch, n = [], 0
            for fp, bank, case_id in s.execute(q):
                batch.append(Entry(fp.uid, bank, case_id, fp.position, fp.source, engine.Fingerprint.from_bytes(fp.data)))
                if len(batch) >= 2000:
                    self.index.add(batch, flush=False)
                    n, batch = n + len(batch), []
            self.index.add(batch, flush=False)
        self.index.settle()  # build the descriptor indexes now, not on the first match
        return n + len(batch)

    # -- case secrets ------------------------------------------------------------------------------

    def _secret_for(self, case_id: str) -> str:
        mac = hmac.new(self._key, b"case-secret\0" + case_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:24]).decode()

    # -- banks -------------------------------------------------------------------------------------

    @staticmethod
    def _check_bank_name(name: str) -> None:
        if not (1 <= len(name) <= 64) or not set(name) <= BANK_NAME_CHARS:
            raise bad_request("bank names are 1-64 characters among letters, digits, '_', '-' and '.'")

    @staticmethod
    def _check_thresholds(th: dict | None) -> dict | None:
        if th is None:
            return None
        allowed = engine.thresholds_keys()
        if not isinstance(th, dict) or not set(th) <= allowed:
            raise bad_request(f"thresholds may only set: {', '.join(sorted(allowed))}")
        for k, v in th.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or v > 1e6:
                raise bad_request(f"threshold {k} must be a non-negative number")
        return th

    @staticmethod
    def bank_dict(b: Bank, size: int | None = None) -> dict:
        d = {"name": b.name, "enabled": b.enabled, "thresholds": json.loads(b.thresholds) if b.thresholds else None,
             "created_at": b.created_at}
        if size is not None:
            d["fingerprints"] = size
        return d

    def _bank(self, s, name: str) -> Bank:
        b = s.execute(select(Bank).where(Bank.name == name)).scalar_one_or_none()
        if b is None:
            raise not_found(f"no bank named {name!r}", "no_such_bank")
        return b

    def ensure_bank(self, name: str) -> None:
        with self.db.read() as s:
            if s.execute(select(Bank.id).where(Bank.name == name)).first():
                return
        try:
            self.create_bank(name, True, None, "system")
        except ApiError as e:
            if e.status != 409:
                raise

    def create_bank(self, name: str, enabled: bool, thresholds: dict | None, actor: str) -> dict:
        self._check_bank_name(name)
        thresholds = self._check_thresholds(thresholds)
        with self.db.tx() as s:
            if s.execute(select(Bank.id).where(Bank.name == name)).first():
                raise conflict(f"bank {name!r} already exists", "bank_exists")
            b = Bank(name=name, enabled=enabled, thresholds=json.dumps(thresholds) if thresholds else None,
                     created_at=audit.now())
            s.add(b)
            s.flush()
            audit.append(s, actor, "bank.create", f"bank:{name}", {"enabled": enabled, "thresholds": thresholds})
            out = self.bank_dict(b, 0)
        self.index.configure_bank(name, enabled, thresholds)
        return out

    def update_bank(self, name: str, enabled: bool | None, thresholds: dict | None, reset_thresholds: bool,
                    actor: str) -> dict:
        thresholds = self._check_thresholds(thresholds)
        with self.db.tx() as s:
            b = self._bank(s, name)
            if enabled is not None:
                b.enabled = enabled
            if thresholds is not None or reset_thresholds:
                b.thresholds = json.dumps(thresholds) if thresholds else None
            audit.append(s, actor, "bank.update", f"bank:{name}",
                         {"enabled": b.enabled, "thresholds": json.loads(b.thresholds) if b.thresholds else None})
            out = self.bank_dict(b)
        self.index.configure_bank(name, out["enabled"], out["thresholds"])
        out["fingerprints"] = self.index.sizes().get(name, 0)
        return out

    def list_banks(self) -> list[dict]:
        sizes = self.index.sizes()
        with self.db.read() as s:
            return [self.bank_dict(b, sizes.get(b.name, 0)) for b in s.execute(select(Bank).order_by(Bank.id)).scalars()]

    # -- protections -------------------------------------------------------------------------------

    def submit(self, client: ClientInfo, bank_name: str, data: bytes, idem_key: str | None) -> Submitted:
        """Store a bundle's fingerprints as one protection (idempotent per client and Idempotency-Key)."""
        if idem_key is not None and not (1 <= len(idem_key) <= 200 and idem_key.isprintable()):
            raise bad_request("Idempotency-Key must be 1-200 printable characters", "bad_idempotency_key")
        try:
            fps = engine.parse_bundle(data)
        except engine.FormatError as e:
            raise bad_request(f"invalid bundle: {e}", "invalid_bundle") from None
        if not fps:
            raise bad_request("the bundle holds no fingerprints", "empty_bundle")
        if len(fps) > self.settings.max_bundle_fingerprints:
            raise too_large(f"a bundle may hold at most {self.settings.max_bundle_fingerprints} fingerprints")
        req_sha = _sha(data)
        with self.db.tx() as s:
            bank = self._bank(s, bank_name)
            th = engine.bank_thresholds(json.loads(bank.thresholds) if bank.thresholds else None)
            plain = [i for i, fp in enumerate(fps) if engine.too_plain(fp, th)]
            if idem_key is not None:
                p = s.execute(select(Protection).where(Protection.client_id == client.id,
                                                       Protection.idempotency_key == idem_key)).scalar_one_or_none()
                if p is not None:
                    if p.request_sha256 != req_sha or p.bank_id != bank.id:
                        raise conflict("this Idempotency-Key was used for a different request", "idempotency_conflict")
                    return Submitted(p.case_id, self._secret_for(p.case_id), bank_name, p.n_fingerprints, p.status, True,
                                     plain)
            case_id = "case_" + secrets.token_hex(16)
            secret = self._secret_for(case_id)
            ts = audit.now()
            p = Protection(case_id=case_id, secret_hash=_sha(secret), bank_id=bank.id, client_id=client.id,
                           idempotency_key=idem_key, request_sha256=req_sha, status="active",
                           n_fingerprints=len(fps), created_at=ts)
            s.add(p)
            s.flush()
            entries = []
            for i, fp in enumerate(fps):
                fp = engine.store_form(fp, i)
                uid = secrets.token_hex(16)
                s.add(StoredFingerprint(uid=uid, bank_id=bank.id, protection_id=p.id, position=i, source="submit",
                                        pdq_hex=fp.pdq_hex, pdq_quality=fp.pdq_quality, data=fp.to_bytes(),
                                        created_at=ts))
                if fp.pdq_hex:
                    s.add(Change(bank_id=bank.id, uid=uid, op="add", pdq_hex=fp.pdq_hex, pdq_quality=fp.pdq_quality, ts=ts))
                entries.append(Entry(uid, bank_name, case_id, i, "submit", fp))
            audit.append(s, client.actor, "protection.submit", case_id,
                         {"bank": bank_name, "fingerprints": len(fps), "bundle_sha256": req_sha})
        self.index.add(entries)  # after commit: never index what the store might not keep
        return Submitted(case_id, secret, bank_name, len(fps), "active", False, plain)

    def withdraw(self, client: ClientInfo, case_id: str, secret: str) -> int:
        """Remove a protection's fingerprints from index and store. ApiError 404 on unknown case or wrong secret."""
        removed: list[Entry] = []
        try:
            with self.db.tx() as s:
                p = s.execute(select(Protection).where(Protection.case_id == case_id)).scalar_one_or_none()
                if p is None or not hmac.compare_digest(p.secret_hash, _sha(secret or "")):
                    raise not_found("no such case, or wrong case secret", "no_such_case")
                if p.status == "withdrawn":
                    return 0
                rows = s.execute(select(StoredFingerprint.uid, StoredFingerprint.pdq_hex, StoredFingerprint.bank_id)
                                 .where(StoredFingerprint.protection_id == p.id)).all()
                removed = self.index.remove([r.uid for r in rows])  # before commit: no match after this answer
                self._delete_fingerprints(s, rows)
                p.status, p.withdrawn_at = "withdrawn", audit.now()
                audit.append(s, client.actor, "protection.withdraw", case_id, {"fingerprints": len(rows)})
                return len(rows)
        except Exception:
            if removed:
                self.index.restore(removed)
            raise

    @staticmethod
    def _delete_fingerprints(s, rows) -> None:
        """Delete fingerprint rows and their exchange `add` entries; leave PDQ tombstones for copiers."""
        uids = [r.uid for r in rows]
        ts = audit.now()
        for i in range(0, len(uids), 500):
            chunk = uids[i:i + 500]
            s.execute(delete(StoredFingerprint).where(StoredFingerprint.uid.in_(chunk)))
            s.execute(delete(Change).where(Change.uid.in_(chunk), Change.op == "add"))
        for r in rows:
            if r.pdq_hex:
                s.add(Change(bank_id=r.bank_id, uid=r.uid, op="delete", pdq_hex=r.pdq_hex, ts=ts))
        s.flush()

    # -- matches -----------------------------------------------------------------------------------

    def match(self, client: ClientInfo, query: engine.Query, bank: str | None) -> dict:
        """Match one query; positive answers are recorded (never the upload itself)."""
        if bank is not None and bank not in self.index.sizes():
            raise not_found(f"no bank named {bank!r}", "no_such_bank")
        found = self.index.match_all(query, bank)
        result, entry, bank_name = found[0]
        out = _public(result.to_dict(), entry, bank_name)
        out["matches"] = []
        if result.verdict == "no-match":
            return out
        for r, e, b in found:  # every protected photo in the upload (a collage, a before/after pair)
            out["matches"].append(_public(engine.instance(r, query), e, b))
            if e is not None:
                self._record_match(client, out if r is result else r.to_dict(), e, b)
        return out

    def _record_match(self, client: ClientInfo, out: dict, entry: Entry, bank: str) -> None:
        algo = out.get("algorithm") or {}
        with self.db.tx() as s:
            m = MatchRecord(ts=audit.now(), client_id=client.id, bank=bank, case_id=entry.case_id, uid=entry.uid,
                            verdict=out["verdict"], algorithm=str(algo.get("name", "")),
                            version=str(algo.get("version", "")), edited_fraction=out.get("edited_fraction"),
                            scores=audit.canonical(out.get("scores") or {}),
                            thresholds=audit.canonical(out.get("thresholds") or {}))
            s.add(m)
            s.flush()
            audit.append(s, client.actor, "match", entry.case_id or f"signal:{entry.uid}",
                         {"match_id": m.id, "bank": bank, "verdict": m.verdict, "algorithm": algo,
                          "edited_fraction": m.edited_fraction})

    # -- exchange ----------------------------------------------------------------------------------

    def import_pdq(self, client: ClientInfo, bank_name: str, source: str,
                   records: list[tuple[str, int, bool]]) -> dict:
        """Apply (pdq hex, quality, active) records in order (the last record of a hash wins)."""
        final: dict[str, tuple[int, bool]] = {}
        for h, q, active in records:
            final[h] = (q, active)
        counts = {"added": 0, "unchanged": 0, "deleted": 0, "absent": 0}
        entries: list[Entry] = []
        removed: list[Entry] = []
        try:
            with self.db.tx() as s:
                bank = self._bank(s, bank_name)
                existing: dict[str, tuple] = {}
                keys = list(final)
                for i in range(0, len(keys), 500):
                    for r in s.execute(select(StoredFingerprint.uid, StoredFingerprint.pdq_hex, StoredFingerprint.bank_id,
                                              StoredFingerprint.external_id)
                                       .where(StoredFingerprint.bank_id == bank.id, StoredFingerprint.source == source,
                                              StoredFingerprint.external_id.in_(keys[i:i + 500]))):
                        existing[r.external_id] = r
                gone, ts = [], audit.now()
                for h, (q, active) in final.items():
                    if active and h in existing:
                        counts["unchanged"] += 1
                    elif active:
                        fp = engine.pdq_fingerprint(h, q)
                        uid = secrets.token_hex(16)
                        s.add(StoredFingerprint(uid=uid, bank_id=bank.id, protection_id=None, position=0, source=source,
                                                external_id=h, pdq_hex=h, pdq_quality=fp.pdq_quality,
                                                data=fp.to_bytes(), created_at=ts))
                        s.add(Change(bank_id=bank.id, uid=uid, op="add", pdq_hex=h, pdq_quality=fp.pdq_quality, ts=ts))
                        entries.append(Entry(uid, bank_name, None, 0, source, fp))
                        counts["added"] += 1
                    elif h in existing:
                        gone.append(existing[h])
                        counts["deleted"] += 1
                    else:
                        counts["absent"] += 1
                removed = self.index.remove([r.uid for r in gone])
                self._delete_fingerprints(s, gone)
                audit.append(s, client.actor, "exchange.import", f"bank:{bank_name}", {"format": source, **counts})
        except Exception:
            if removed:
                self.index.restore(removed)
            raise
        self.index.add(entries)
        return counts

    def export(self, bank_name: str, since: int, limit: int) -> dict:
        """Changes of a bank after `since`: adds (id, pdq, quality) and delete tombstones (id, pdq).

        since=0 is a full snapshot (current hashes only). A cursor older than the purged tombstones
        answers 410: the client must start again from 0.
        """
        with self.db.read() as s:
            bank = self._bank(s, bank_name)
            horizon = s.get(Meta, f"tombstones_purged_through:{bank.id}")
            if since > 0 and horizon is not None and since < int(horizon.value):
                raise ApiError(410, "cursor_expired", "this cursor predates purged tombstones; fetch again from since=0")
            q = select(Change).where(Change.bank_id == bank.id, Change.seq > since)
            if since == 0:
                q = q.where(Change.op == "add")
            rows = s.execute(q.order_by(Change.seq).limit(limit + 1)).scalars().all()
            has_more = len(rows) > limit
            rows = rows[:limit]
            cursor = rows[-1].seq if rows else since
            if not has_more:
                top = s.execute(select(func.max(Change.seq)).where(Change.bank_id == bank.id)).scalar()
                cursor = max(cursor, top or 0)
            return {"bank": bank_name, "since": since, "cursor": cursor, "has_more": has_more,
                    "signals": [{"id": r.uid, "op": r.op, "pdq": r.pdq_hex, "quality": r.pdq_quality, "updated_at": r.ts}
                                for r in rows]}

    def purge_tombstones(self) -> int:
        """Forget PDQ tombstones older than the retention period; remember each bank's horizon."""
        cutoff = (datetime.now(timezone.utc) - timedelta(days=self.settings.tombstone_retention_days)).isoformat(
            timespec="microseconds")
        n = 0
        with self.db.tx() as s:
            olds = s.execute(select(Change.bank_id, func.max(Change.seq), func.count())
                             .where(Change.op == "delete", Change.ts < cutoff).group_by(Change.bank_id)).all()
            for bank_id, top, count in olds:
                s.execute(delete(Change).where(Change.bank_id == bank_id, Change.op == "delete", Change.ts < cutoff))
                m = s.get(Meta, f"tombstones_purged_through:{bank_id}")
                if m is None:
                    s.add(Meta(key=f"tombstones_purged_through:{bank_id}", value=str(top)))
                else:
                    m.value = str(max(int(m.value), top))
                n += count
            if n:
                audit.append(s, "system", "exchange.purge_tombstones", "", {"tombstones": n, "before": cutoff})
        return n

    # -- metrics -----------------------------------------------------------------------------------

    def counts(self) -> dict:
        with self.db.read() as s:
            active = s.execute(select(func.count()).select_from(Protection).where(Protection.status == "active")).scalar()
            withdrawn = s.execute(select(func.count()).select_from(Protection)
                                  .where(Protection.status == "withdrawn")).scalar()
            fps = s.execute(select(func.count()).select_from(StoredFingerprint)).scalar()
            matches = s.execute(select(func.count()).select_from(MatchRecord)).scalar()
        return {"protections_active": active, "protections_withdrawn": withdrawn, "fingerprints_stored": fps,
                "matches_recorded": matches}


def _public(d: dict, entry: Entry | None, bank: str | None) -> dict:
    """A match answer as clients see it: the protected photo as its case, bank and position."""
    for k in ("key", "protected_id"):
        d.pop(k, None)
    d["protected"] = None
    if entry is not None and d["verdict"] != "no-match":
        d["protected"] = {"case_id": entry.case_id, "bank": bank, "photo": entry.position, "id": entry.uid,
                          "source": entry.source}
    return d
