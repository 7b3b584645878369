"""Tables of the cases domain (schema created by migration 0002).

Persons are pseudonymous: a pseudonym, a contact only if given, an under-18 flag. Items hold what was
learned from a suspect (hashes, query fingerprint, verdict, scores, edit map, report with the suspect
blurred); the suspect's bytes only when kept for review, encrypted, outside the database.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..service.models import Base, BigId


class Person(Base):
    __tablename__ = "case_persons"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pseudonym: Mapped[str] = mapped_column(String(120))
    contact: Mapped[str | None] = mapped_column(Text)
    under_18: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[str] = mapped_column(String(32))


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("case_persons.id"))
    kind: Mapped[str] = mapped_column(String(32))
    jurisdictions: Mapped[str] = mapped_column(Text)  # JSON list
    status: Mapped[str] = mapped_column(String(16))  # open | closed
    route: Mapped[str] = mapped_column(String(32))  # standard | child-protection
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))


class CaseItem(Base):
    __tablename__ = "case_items"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    url: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(String(255))
    captured_at: Mapped[str | None] = mapped_column(String(32))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    query_fp: Mapped[bytes | None] = mapped_column(LargeBinary)  # engine Query bytes
    verdict: Mapped[str | None] = mapped_column(String(32))
    protected_case_id: Mapped[str | None] = mapped_column(String(40))
    bank: Mapped[str | None] = mapped_column(String(64))
    fingerprint_uid: Mapped[str | None] = mapped_column(String(32))
    photo: Mapped[int | None] = mapped_column(Integer)
    edited_fraction: Mapped[float | None] = mapped_column(Float)
    scores: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    thresholds: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    algorithm: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    edit_map_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    report_html: Mapped[str | None] = mapped_column(Text)
    media: Mapped[str | None] = mapped_column(String(80))  # name of the encrypted file under DATA_DIR/media
    decision: Mapped[str | None] = mapped_column(String(16))  # confirmed | rejected
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(160))
    decided_at: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[str] = mapped_column(String(32))


class CaseProtection(Base):
    __tablename__ = "case_protections"
    __table_args__ = (UniqueConstraint("case_id", "protection_case_id", name="uq_case_protection"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    protection_case_id: Mapped[str] = mapped_column(String(40))
    linked_by: Mapped[str] = mapped_column(String(160))
    linked_at: Mapped[str] = mapped_column(String(32))


class CaseEvent(Base):
    """The timeline. Chain-of-custody events (viewed, revealed, exported...) have custody=True."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    ts: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(160))
    action: Mapped[str] = mapped_column(String(64))
    artefact: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    custody: Mapped[bool] = mapped_column(Boolean, default=False)


class CaseNotice(Base):
    __tablename__ = "case_notices"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    lang: Mapped[str] = mapped_column(String(8))
    platform: Mapped[str] = mapped_column(String(120))
    item_ids: Mapped[str] = mapped_column(Text, default="[]")  # JSON
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[str] = mapped_column(String(32))


class CaseDeadline(Base):
    __tablename__ = "case_deadlines"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("case_notices.id"))
    kind: Mapped[str] = mapped_column(String(48))
    label: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[str] = mapped_column(String(32))
    warn_at: Mapped[str | None] = mapped_column(String(32))
    due_at: Mapped[str] = mapped_column(String(32))
    closed_at: Mapped[str | None] = mapped_column(String(32))
    closed_by: Mapped[str | None] = mapped_column(String(160))
