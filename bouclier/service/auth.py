"""API keys: random, high-entropy, shown once; only their SHA-256 is stored.

A key looks like `bcl_<prefix>_<secret>`; the prefix (not secret) lets admins recognise a key in
`bouclier keys list`. Scopes: submit, match, export, admin, cases (admin does not imply the others).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from . import audit
from .db import Database
from .models import Client

SCOPES = ("submit", "match", "export", "admin", "cases")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ClientInfo:
    id: int
    name: str
    prefix: str
    scopes: frozenset[str]
    rate_per_minute: int | None
    created_at: str = ""
    revoked_at: str | None = None

    @property
    def actor(self) -> str:
        """How this client appears in the audit log."""
        return f"client:{self.id}:{self.name}"

    @classmethod
    def of(cls, c: Client) -> "ClientInfo":
        return cls(c.id, c.name, c.prefix, frozenset(c.scopes.split()), c.rate_per_minute, c.created_at,
                   c.revoked_at)


def check_scopes(scopes: list[str] | tuple[str, ...]) -> list[str]:
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise ValueError(f"scopes must be among {', '.join(SCOPES)} (got {', '.join(scopes) or 'none'})")
    return sorted(set(scopes), key=SCOPES.index)


def create_key(db: Database, name: str, scopes: list[str], rate_per_minute: int | None = None,
               actor: str = "cli") -> tuple[ClientInfo, str]:
    """Create a client; returns it and the key (the only time the key exists in clear)."""
    scopes = check_scopes(scopes)
    if not name.strip() or len(name) > 128:
        raise ValueError("name must be 1-128 characters")
    if rate_per_minute is not None and rate_per_minute < 1:
        raise ValueError("rate must be at least 1 request per minute")
    prefix = secrets.token_hex(4)
    key = f"bcl_{prefix}_{secrets.token_urlsafe(32)}"
    with db.tx() as s:
        c = Client(name=name, prefix=prefix, key_hash=hash_key(key), scopes=" ".join(scopes),
                   rate_per_minute=rate_per_minute, created_at=audit.now())
        s.add(c)
        s.flush()
        audit.append(s, actor, "client.create", f"client:{c.id}",
                     {"name": name, "scopes": scopes, "prefix": prefix, "rate_per_minute": rate_per_minute})
        return ClientInfo.of(c), key


def list_keys(db: Database) -> list[ClientInfo]:
    with db.read() as s:
        return [ClientInfo.of(c) for c in s.execute(select(Client).order_by(Client.id)).scalars()]


def revoke_key(db: Database, ident: str, actor: str = "cli") -> ClientInfo | None:
    """Revoke by prefix or by numeric id (a prefix is hex and may be all digits, so it wins).
    Returns the client, or None when unknown."""
    with db.tx() as s:
        c = s.execute(select(Client).where(Client.prefix == ident)).scalars().first()
        if c is None and ident.isdigit() and len(ident) < 19:
            c = s.get(Client, int(ident))
        if c is None:
            return None
        if c.revoked_at is None:
            c.revoked_at = audit.now()
            audit.append(s, actor, "client.revoke", f"client:{c.id}", {"name": c.name, "prefix": c.prefix})
        return ClientInfo.of(c)


def authenticate(db: Database, key: str) -> ClientInfo | None:
    """The active client owning this key, or None. Constant work whatever the key."""
    if not key or len(key) > 200:
        return None
    with db.read() as s:
        c = s.execute(select(Client).where(Client.key_hash == hash_key(key))).scalars().first()
        if c is None or c.revoked_at is not None:
            return None
        return ClientInfo.of(c)
