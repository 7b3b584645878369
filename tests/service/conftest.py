"""Fixtures: a PostgreSQL cluster (BOUCLIER_TEST_PG_URL, or one started here via scripts/pg.sh),
a fresh database per server, and real `bouclier serve` subprocesses on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid

import pytest

from service_helpers import REPO, Server

DATABASES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_base_url():
    """A PostgreSQL server URL. Fails (never skips) when PostgreSQL is not installed."""
    url = os.environ.get("BOUCLIER_TEST_PG_URL")
    if url:
        yield url
        return
    d = tempfile.mkdtemp(prefix="bouclier-pg-", dir="/tmp")
    r = subprocess.run(["bash", str(REPO / "scripts" / "pg.sh"), "start", d], capture_output=True, text=True,
                       timeout=180)
    if r.returncode != 0:
        shutil.rmtree(d, ignore_errors=True)
        pytest.fail("PostgreSQL is needed for the service tests and could not be started "
                    f"(install it with `bash scripts/system-deps.sh`):\n{r.stderr}", pytrace=False)
    try:
        yield r.stdout.strip()
    finally:
        subprocess.run(["bash", str(REPO / "scripts" / "pg.sh"), "stop", d], capture_output=True, timeout=120)
        shutil.rmtree(d, ignore_errors=True)


def _fresh_pg(base_url: str) -> tuple[str, callable]:
    """Create an empty database on the cluster; returns its URL and a dropper."""
    import sqlalchemy as sa

    name = "t_" + uuid.uuid4().hex[:16]
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(base_url).set(database=name).render_as_string(hide_password=False)

    def drop():
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture
def database_url(request):
    """Factory: a fresh database of the given kind (None = the embedded SQLite default)."""
    drops = []

    def make(kind: str) -> str | None:
        if kind == "sqlite":
            return None
        url, drop = _fresh_pg(request.getfixturevalue("pg_base_url"))
        drops.append(drop)
        return url

    yield make
    for d in drops:
        d()


@pytest.fixture
def server_factory(tmp_path, database_url):
    """Start servers of a given database kind; all are stopped at the end of the test."""
    servers = []

    def make(kind: str, env: dict | None = None, name: str = "srv") -> Server:
        s = Server(tmp_path / f"{name}-{kind}", database_url(kind), env)
        servers.append(s)
        return s.start()

    yield make
    for s in servers:
        s.stop()


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    """One server per module and database kind, with keys of every scope (see `Keys`)."""
    kind = request.param
    drop = None
    url = None
    if kind == "postgresql":
        url, drop = _fresh_pg(request.getfixturevalue("pg_base_url"))
    env = getattr(request.module, "SERVER_ENV", {})
    s = Server(tmp_path_factory.mktemp(f"api-{kind}"), url, env).start()
    s.kind = kind
    s.keys = {
        "submit": s.key("helpline", "submit"),
        "match": s.key("platform", "match"),
        "export": s.key("exchange", "export"),
        "admin": s.key("ops", "admin"),
        "all": s.key("everything", "submit", "match", "export", "admin"),
    }
    yield s
    s.stop()
    if drop:
        drop()
