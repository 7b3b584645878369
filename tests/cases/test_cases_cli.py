"""`bouclier case ...` in subprocesses (SQLite and PostgreSQL): one-line errors, exit codes, a small flow."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import DATABASES, bundle_of, fresh_pg
from service_helpers import PY, REPO, child_env


def bouclier(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-c", "from bouclier.cli import run; run()", *args], cwd=REPO, env=child_env(env),
                          capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("kind", DATABASES)
def test_case_cli_flow_and_errors(kind, request, tmp_path, photos, astronaut_derivative):
    url = drop = None
    if kind == "postgresql":
        url, drop = fresh_pg(request.getfixturevalue("pg_base_url"))
    try:
        env = {"BOUCLIER_DATA_DIR": str(tmp_path / "data"), "BOUCLIER_DATABASE_URL": url}
        # a protection, through the registry as `bouclier serve` would store it
        from bouclier.service.auth import create_key
        from bouclier.service.settings import load_settings
        from bouclier.service.store import Registry

        reg = Registry(load_settings(data_dir=tmp_path / "data", env={}, database_url=url))
        reg.start()
        client, _ = create_key(reg.db, "app", ["submit"])
        prot = reg.submit(client, "default", bundle_of({"astronaut": photos["astronaut"]}), None).case_id
        reg.db.dispose()

        r = bouclier(env, "case", "create", "--pseudonym", "Heron", "--kind", "manipulated-synthetic",
                     "-j", "FR", "-j", "US", "--actor", "cw:zoe", "--json")
        assert r.returncode == 0, r.stderr
        cid = json.loads(r.stdout)["id"]
        assert bouclier(env, "case", "link", cid, prot).returncode == 0
        sus = tmp_path / "suspect.jpg"
        sus.write_bytes(astronaut_derivative.jpeg)
        r = bouclier(env, "case", "add-item", cid, "--url", "https://h.example/1", "--image", str(sus))
        assert r.returncode == 0 and f"manipulated-derivative of {prot} photo 0" in r.stdout, r.stderr
        item = r.stdout.split()[1].rstrip(":")
        assert bouclier(env, "case", "decide", item, "--decision", "confirmed", "--reason", "ok").returncode == 0
        out = tmp_path / "tid.txt"
        r = bouclier(env, "case", "notice", cid, "--kind", "take-it-down", "--platform", "HostCo", "--signer", "H. N.",
                     "--contact", "h@mail.example", "-o", str(out))
        assert r.returncode == 0 and "https://h.example/1" in out.read_text()
        r = bouclier(env, "case", "due", "--now", "2099-01-01T00:00:00Z")
        assert r.returncode == 0 and r.stdout.startswith("OVERDUE") and "take-it-down" in r.stdout
        r = bouclier(env, "case", "sor", cid)
        assert r.returncode == 0 and "Heron" not in r.stdout and json.loads(r.stdout)["statements"][0]["puid"]
        r = bouclier(env, "case", "show", cid)
        assert r.returncode == 0 and "decision: confirmed" in r.stdout and "cw:zoe" in r.stdout
        assert cid in bouclier(env, "case", "list").stdout
        if kind != "sqlite":
            return
        # errors: one line on stderr, non-zero exit, no traceback (the database kind does not matter)
        for args, words in [(("case", "show", "C-00000000"), "no case"),
                            (("case", "create", "--pseudonym", "X", "--kind", "bad", "-j", "FR"), "kind must be"),
                            (("case", "notice", cid, "--kind", "take-it-down", "--platform", "P"), "signature"),
                            (("case", "add-item", cid, "--image", str(tmp_path / "missing.jpg")), "cannot read"),
                            (("case", "due", "--now", "yesterday"), "ISO 8601")]:
            r = bouclier(env, *args)
            assert r.returncode != 0 and words in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
            assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    finally:
        if drop:
            drop()
