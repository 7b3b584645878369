"""Local accounts of the web UI: argon2 password hashes, roles, lockout after repeated failures."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select

from ..service import audit
from ..service.db import Database
from .models import LANGS, ROLES, User

MAX_FAILURES = 5  # consecutive failed logins before the account is locked
LOCK_MINUTES = 15
IP_FAILURES = 30  # failed logins from one address per window, then 429
IP_WINDOW_S = 15 * 60
MIN_PASSWORD = 10
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-.@")

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not a real password, only spends the same time")


class AccountError(ValueError):
    """A bad username, role, password or unknown user: the message is shown as is."""


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    role: str
    lang: str
    disabled: bool
    created_at: str
    last_login_at: str | None

    @property
    def actor(self) -> str:
        """How this person appears in the audit log and the case timelines."""
        return f"user:{self.username}"

    @staticmethod
    def of(u: User) -> "Account":
        return Account(u.id, u.username, u.role, u.lang, u.disabled, u.created_at, u.last_login_at)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def check_username(username: str) -> str:
    u = (username or "").strip().lower()
    if not (2 <= len(u) <= 64) or not set(u) <= USERNAME_CHARS:
        raise AccountError("usernames are 2-64 characters among a-z, 0-9, '_', '-', '.', '@'")
    return u


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"role must be one of: {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"passwords need at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise AccountError("passwords are at most 1024 characters")
    return password


def create_user(db: Database, username: str, role: str, password: str, lang: str = "en",
                actor: str = "cli") -> Account:
    username, role, password = check_username(username), check_role(role), check_password(password)
    if lang not in LANGS:
        raise AccountError(f"lang must be one of: {', '.join(LANGS)}")
    digest = _hasher.hash(password)
    with db.tx() as s:
        if s.execute(select(User.id).where(User.username == username)).first():
            raise AccountError(f"a user named {username!r} already exists")
        u = User(username=username, password_hash=digest, role=role, lang=lang, disabled=False, failed_logins=0,
                 created_at=audit.now())
        s.add(u)
        s.flush()
        audit.append(s, actor, "user.create", f"user:{username}", {"role": role})
        return Account.of(u)


def list_users(db: Database) -> list[Account]:
    with db.read() as s:
        return [Account.of(u) for u in s.execute(select(User).order_by(User.username)).scalars()]


def set_disabled(db: Database, username: str, disabled: bool = True, actor: str = "cli") -> Account:
    """Disable (or re-enable) an account; disabling also ends its sessions."""
    from .models import WebSession

    with db.tx() as s:
        u = s.execute(select(User).where(User.username == check_username(username))).scalar_one_or_none()
        if u is None:
            raise AccountError(f"no user named {username!r}")
        u.disabled = disabled
        if disabled:
            for ws in s.execute(select(WebSession).where(WebSession.user_id == u.id)).scalars():
                s.delete(ws)
        else:
            u.failed_logins, u.locked_until = 0, None
        audit.append(s, actor, "user.disable" if disabled else "user.enable", f"user:{u.username}", {})
        return Account.of(u)


def set_lang(db: Database, user_id: int, lang: str) -> None:
    if lang not in LANGS:
        raise AccountError("unknown language")
    with db.tx() as s:
        u = s.get(User, user_id)
        if u is not None:
            u.lang = lang


class IpLimiter:
    """Failed logins per client address in a sliding window (in memory: one server process)."""

    def __init__(self, limit: int = IP_FAILURES, window_s: float = IP_WINDOW_S):
        self.limit, self.window_s = limit, window_s
        self._fails: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, ip: str) -> list[float]:
        cut = time.monotonic() - self.window_s
        lst = [t for t in self._fails.get(ip, []) if t > cut]
        self._fails[ip] = lst
        return lst

    def blocked(self, ip: str) -> bool:
        with self._lock:
            return len(self._recent(ip)) >= self.limit

    def fail(self, ip: str) -> None:
        with self._lock:
            self._recent(ip).append(time.monotonic())


@dataclass
class LoginResult:
    account: Account | None
    error: str | None = None  # "bad" | "locked" | "rate"


class Authenticator:
    """Checks a username and password, counts failures, locks accounts, writes the audit log."""

    def __init__(self, db: Database, ip_failures: int = IP_FAILURES):
        self.db = db
        self.ips = IpLimiter(ip_failures)
        self._unknown: dict[str, list] = {}  # unknown usernames lock the same way (no enumeration)
        self._lock = threading.Lock()

    def login(self, username: str, password: str, ip: str) -> LoginResult:
        if self.ips.blocked(ip):
            return LoginResult(None, "rate")
        name = (username or "").strip().lower()[:64]
        with self.db.read() as s:
            u = s.execute(select(User).where(User.username == name)).scalar_one_or_none()
        now = _now()
        if u is None:
            _verify(_DUMMY, password)
            return self._unknown_fail(name, ip, now)
        if u.locked_until and datetime.fromisoformat(u.locked_until) > now:
            self.ips.fail(ip)
            self._failed(u.id, name, ip, "locked", count=False)
            return LoginResult(None, "locked")
        if _verify(u.password_hash, password) and not u.disabled:
            return LoginResult(self._succeeded(u.id, name, ip))
        self.ips.fail(ip)
        locked = self._failed(u.id, name, ip, "disabled" if u.disabled else "password")
        return LoginResult(None, "locked" if locked else "bad")

    def _unknown_fail(self, name: str, ip: str, now: datetime) -> LoginResult:
        self.ips.fail(ip)
        with self._lock:
            n, until = self._unknown.get(name, [0, None])
            if until and until > now:
                res = "locked"
            else:
                n += 1
                until = now + timedelta(minutes=LOCK_MINUTES) if n >= MAX_FAILURES else None
                res = "locked" if until else "bad"
                n = 0 if until else n
            if len(self._unknown) > 10000:
                self._unknown.clear()
            self._unknown[name] = [n, until]
        with self.db.tx() as s:
            audit.append(s, "ui:anonymous", "ui.login_failed", f"user:{name}", {"ip": ip, "reason": "unknown"})
        return LoginResult(None, res)

    def _succeeded(self, user_id: int, name: str, ip: str) -> Account:
        with self.db.tx() as s:
            u = s.get(User, user_id)
            u.failed_logins, u.locked_until, u.last_login_at = 0, None, audit.now()
            audit.append(s, f"user:{name}", "ui.login", f"user:{name}", {"ip": ip})
            return Account.of(u)

    def _failed(self, user_id: int, name: str, ip: str, reason: str, count: bool = True) -> bool:
        """Log a failure and count it; returns True when this failure locked the account."""
        with self.db.tx() as s:
            audit.append(s, "ui:anonymous", "ui.login_failed", f"user:{name}", {"ip": ip, "reason": reason})
            if not count:
                return False
            u = s.get(User, user_id)
            u.failed_logins += 1
            if u.failed_logins < MAX_FAILURES:
                return False
            u.failed_logins = 0
            u.locked_until = (_now() + timedelta(minutes=LOCK_MINUTES)).isoformat(timespec="seconds")
            audit.append(s, "system", "ui.locked", f"user:{name}", {"minutes": LOCK_MINUTES})
            return True


def _verify(digest: str, password: str) -> bool:
    try:
        return _hasher.verify(digest, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
