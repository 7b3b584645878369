"""The service commands: keys, db upgrade, audit verify (honouring --data-dir and BOUCLIER_DATA_DIR)."""

from __future__ import annotations

from service_helpers import REPO, service_cli


def test_keys_db_and_audit_commands(tmp_path):
    env = {"BOUCLIER_DATA_DIR": str(tmp_path / "d")}
    r = service_cli("keys", "create", "--name", "Helpline FR", "--scope", "submit,match", "--rate", "120", env=env)
    key = r.stdout.strip().splitlines()[-1]
    assert key.startswith("bcl_") and len(key) > 40 and " " not in key
    assert (tmp_path / "d" / "bouclier.db").exists()
    listed = service_cli("keys", "list", env=env).stdout
    assert "Helpline FR" in listed and "match,submit" in listed and "120/min" in listed and key not in listed

    bad = service_cli("keys", "create", "--name", "x", "--scope", "root", env=env, check=False)
    assert bad.returncode == 2 and "scopes must be among" in bad.stderr and "Traceback" not in bad.stderr
    bad = service_cli("keys", "revoke", "nope", env=env, check=False)
    assert bad.returncode == 2 and "no key" in bad.stderr

    # --data-dir wins over the environment.
    other = tmp_path / "other"
    head = max(f.name[:4] for f in (REPO / "bouclier" / "service" / "migrations" / "versions").glob("0*.py"))
    assert f"revision {head}" in service_cli("db", "upgrade", "--data-dir", str(other), env=env).stdout
    assert "0 entries" in service_cli("audit", "verify", "--data-dir", str(other), env=env).stdout
    assert "1 entries" in service_cli("audit", "verify", env=env).stdout  # the key creation

    bad = service_cli("db", "upgrade", env={"BOUCLIER_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/x"},
                      check=False)
    assert bad.returncode == 2 and "migration failed" in bad.stderr and "Traceback" not in bad.stderr
