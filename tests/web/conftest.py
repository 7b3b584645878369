"""Fixtures of the web UI tests: real `bouclier serve` subprocesses on loopback with UI accounts,
and httpx clients that log in through the forms (see web_helpers.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from service_helpers import REPO  # noqa: E402
from web_helpers import start_ui_server  # noqa: E402


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory):
    """One SQLite-backed server per module, with a caseworker, a reviewer and an admin."""
    s = start_ui_server(tmp_path_factory.mktemp("ui"))
    yield s
    s.stop()


@pytest.fixture(scope="session")
def pg_url():
    """A fresh database on a PostgreSQL cluster (BOUCLIER_TEST_PG_URL, or one started here). Never skips."""
    import sqlalchemy as sa

    base, d = os.environ.get("BOUCLIER_TEST_PG_URL"), None
    if not base:
        d = tempfile.mkdtemp(prefix="bouclier-pg-", dir="/tmp")
        r = subprocess.run(["bash", str(REPO / "scripts" / "pg.sh"), "start", d], capture_output=True, text=True,
                           timeout=180)
        if r.returncode != 0:
            pytest.fail(f"PostgreSQL could not be started (bash scripts/system-deps.sh):\n{r.stderr}", pytrace=False)
        base = r.stdout.strip()
    name = "t_" + uuid.uuid4().hex[:16]
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.engine.make_url(base).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    if d:
        subprocess.run(["bash", str(REPO / "scripts" / "pg.sh"), "stop", d], capture_output=True, timeout=120)
        shutil.rmtree(d, ignore_errors=True)
