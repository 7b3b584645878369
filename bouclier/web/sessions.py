"""Server-side sessions: a random id in a signed, HttpOnly, SameSite=Strict cookie; the database keeps
only the id's SHA-256, the user and the session's CSRF token. Sessions end on logout, after
SESSION_HOURS, or after IDLE_MINUTES without a request."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, select

from ..service import audit
from ..service.db import Database
from .accounts import Account
from .models import User, WebSession

COOKIE = "bouclier_ui"
PRE_COOKIE = "bouclier_ui_login"  # CSRF of the login form (before any session exists)
SESSION_HOURS = 8
IDLE_MINUTES = 30


def _sha(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


@dataclass
class Sess:
    id_hash: str
    csrf: str
    user: Account


class SessionStore:
    def __init__(self, db: Database, server_key: bytes, secure: bool = False):
        key = hmac.new(server_key, b"bouclier-ui-cookie", hashlib.sha256).hexdigest()
        self.db, self.secure = db, secure
        self.signer = URLSafeTimedSerializer(key, salt="bouclier-ui-session")
        self.pre_signer = URLSafeTimedSerializer(key, salt="bouclier-ui-login-csrf")
        self._seen: dict[str, float] = {}  # idle tracking (in memory; one server process)
        self._lock = threading.Lock()

    # -- cookies --

    def cookie_kwargs(self, max_age: int | None) -> dict:
        return {"httponly": True, "samesite": "strict", "secure": self.secure, "path": "/ui", "max_age": max_age}

    def login_token(self) -> tuple[str, str]:
        """(cookie value, form value) for the login form's CSRF check (double submit, signed)."""
        raw = secrets.token_urlsafe(24)
        return self.pre_signer.dumps(raw), raw

    def check_login_token(self, cookie: str | None, form_value: str) -> bool:
        try:
            raw = self.pre_signer.loads(cookie or "", max_age=3600)
        except BadSignature:
            return False
        return bool(form_value) and hmac.compare_digest(str(raw), form_value)

    # -- sessions --

    def create(self, account: Account) -> tuple[str, Sess]:
        raw, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = datetime.now(timezone.utc)
        with self.db.tx() as s:
            s.execute(delete(WebSession).where(WebSession.expires_at < now.isoformat()))
            s.add(WebSession(id_hash=_sha(raw), user_id=account.id, csrf=csrf, created_at=audit.now(),
                             expires_at=(now + timedelta(hours=SESSION_HOURS)).isoformat()))
        with self._lock:
            self._seen[_sha(raw)] = time.monotonic()
        return self.signer.dumps(raw), Sess(_sha(raw), csrf, account)

    def load(self, cookie: str | None) -> Sess | None:
        if not cookie:
            return None
        try:
            raw = self.signer.loads(cookie, max_age=SESSION_HOURS * 3600)
        except BadSignature:
            return None
        h = _sha(str(raw))
        with self._lock:
            seen = self._seen.get(h)
            if seen is None or time.monotonic() - seen > IDLE_MINUTES * 60:
                self._seen.pop(h, None)
                return None  # idle too long, or the server restarted: log in again
            self._seen[h] = time.monotonic()
        with self.db.read() as s:
            row = s.execute(select(WebSession, User).join(User, User.id == WebSession.user_id)
                            .where(WebSession.id_hash == h)).first()
        if row is None:
            return None
        ws, u = row
        if u.disabled or ws.expires_at < datetime.now(timezone.utc).isoformat():
            return None
        return Sess(h, ws.csrf, Account.of(u))

    def end(self, sess: Sess) -> None:
        with self._lock:
            self._seen.pop(sess.id_hash, None)
        with self.db.tx() as s:
            s.execute(delete(WebSession).where(WebSession.id_hash == sess.id_hash))
            audit.append(s, sess.user.actor, "ui.logout", sess.user.actor, {})

    @staticmethod
    def csrf_ok(sess: Sess, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(sess.csrf, token)
