"""SQLAlchemy 2 models of the registry. The schema itself is created by the Alembic migrations.

No table holds uploaded pixels or anything derived from an uploaded (queried) image: only the
fingerprints that submitters chose to send, and match outcomes (scores, ids, time).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# BIGINT on PostgreSQL, INTEGER (rowid alias, so autoincrement works) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class Bank(Base):
    """A collection of protected fingerprints with its own thresholds and an enabled flag."""

    __tablename__ = "banks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    thresholds: Mapped[str | None] = mapped_column(Text)  # JSON object, None = engine defaults
    created_at: Mapped[str] = mapped_column(String(32))


class Client(Base):
    """An API key. Only the SHA-256 of the key is stored; `prefix` helps people recognise it."""

    __tablename__ = "clients"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(128))  # space-separated
    rate_per_minute: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[str | None] = mapped_column(String(32))


class Protection(Base):
    """A submitted bundle. The case secret is stored hashed."""

    __tablename__ = "protections"
    __table_args__ = (UniqueConstraint("client_id", "idempotency_key", name="uq_protection_idem"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(40), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_sha256: Mapped[str] = mapped_column(String(64))  # of the bundle file (for idempotency checks)
    status: Mapped[str] = mapped_column(String(16))  # active | withdrawn
    n_fingerprints: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[str] = mapped_column(String(32))
    withdrawn_at: Mapped[str | None] = mapped_column(String(32))


class StoredFingerprint(Base):
    """One protected fingerprint. `uid` is its public, opaque id (index key, exchange id)."""

    __tablename__ = "fingerprints"
    __table_args__ = (UniqueConstraint("bank_id", "source", "external_id", name="uq_fingerprint_external"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    protection_id: Mapped[int | None] = mapped_column(ForeignKey("protections.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)  # index of the photo within its bundle
    source: Mapped[str] = mapped_column(String(32))  # submit | threatexchange | hma | stopncii
    external_id: Mapped[str | None] = mapped_column(String(200))  # imports: the hash value
    pdq_hex: Mapped[str | None] = mapped_column(String(64))
    pdq_quality: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)  # Fingerprint.to_bytes()
    created_at: Mapped[str] = mapped_column(String(32))


class Change(Base):
    """The exchange log of one bank: `add` rows (deleted again on removal) and `delete` tombstones."""

    __tablename__ = "changes"
    __table_args__ = {"sqlite_autoincrement": True}  # never reuse a sequence number
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    uid: Mapped[str] = mapped_column(String(32), index=True)
    op: Mapped[str] = mapped_column(String(8))  # add | delete
    pdq_hex: Mapped[str | None] = mapped_column(String(64))
    pdq_quality: Mapped[int | None] = mapped_column(Integer)
    ts: Mapped[str] = mapped_column(String(32))


class MatchRecord(Base):
    """A positive match answer. Never the uploaded pixels nor any fingerprint of the upload."""

    __tablename__ = "matches"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ts: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[int | None] = mapped_column(Integer)
    bank: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str | None] = mapped_column(String(40), index=True)
    uid: Mapped[str] = mapped_column(String(32))
    verdict: Mapped[str] = mapped_column(String(32))
    algorithm: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    edited_fraction: Mapped[float | None] = mapped_column(Float)
    scores: Mapped[str] = mapped_column(Text)  # JSON
    thresholds: Mapped[str] = mapped_column(Text)  # JSON


class AuditEntry(Base):
    """Append-only, hash-chained audit log. `hash` = SHA-256 over prev_hash and the entry's fields."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(160))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """A single row: the chain head. Locking it serialises every state change (see store.tx)."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))


class Meta(Base):
    """Small key/value facts, e.g. the tombstone purge horizon of each bank."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
