"""Database engine and transactions, for SQLite (embedded default, WAL) and PostgreSQL.

Every state-changing transaction goes through `Database.tx()`, which takes the audit-head lock first:
SQLite transactions start with BEGIN IMMEDIATE, PostgreSQL ones lock the head row. State changes are
therefore serialised in commit order, which keeps the audit chain and the exchange sequence gap-free.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .audit import lock_head

MIGRATIONS = Path(__file__).parent / "migrations"
_READ = "bouclier_read"


class Database:
    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[1] if "///" in url else ""
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False},
                                        pool_size=20, max_overflow=20)
            _sqlite_setup(self.engine)
        else:
            self.engine = create_engine(url, pool_size=10, max_overflow=30, pool_pre_ping=True)
        # Read-only work (exports, verify, rebuild) uses a deferred transaction on SQLite.
        self.read_engine: Engine = self.engine.execution_options(**{_READ: True})

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """A serialised write transaction; commits on success, rolls back on error."""
        with Session(self.engine, expire_on_commit=False) as s:
            with s.begin():
                lock_head(s)
                yield s

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.read_engine, expire_on_commit=False) as s:
            with s.begin():
                yield s

    def upgrade(self) -> str:
        """Apply the Alembic migrations shipped in the package; returns the head revision."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as conn:
            if not self.is_sqlite:  # two processes starting at once must not race
                conn.execute(text("SELECT pg_advisory_xact_lock(7342101)"))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")  # an acknowledged protection survives a crash
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ) else "BEGIN IMMEDIATE")
