"""The registry and its audit log used directly (no HTTP), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from bouclier.fingerprint import Query
from bouclier.service import audit
from bouclier.service.auth import authenticate, create_key, list_keys, revoke_key
from bouclier.service.errors import ApiError
from bouclier.service.settings import Settings
from bouclier.service.store import Registry
from service_helpers import encode, make_bundle, query_bytes, texture


@pytest.fixture(params=["sqlite", "postgresql"])
def reg(request, tmp_path, database_url):
    r = Registry(Settings(data_dir=tmp_path, database_url=database_url(request.param)))
    r.start()
    yield r
    r.db.dispose()


def test_keys_are_stored_hashed_and_revocable(reg):
    client, key = create_key(reg.db, "platform", ["match", "export"])
    assert authenticate(reg.db, key) == client and client.scopes == {"match", "export"}
    with reg.db.read() as s:
        stored = s.execute(sa.text("SELECT key_hash, prefix FROM clients")).all()
    assert all(key not in (h, p) for h, p in stored) and len(stored[0][0]) == 64
    with pytest.raises(ValueError):
        create_key(reg.db, "x", ["root"])
    assert revoke_key(reg.db, client.prefix).revoked_at
    assert authenticate(reg.db, key) is None and list_keys(reg.db)[0].revoked_at


def test_revoke_finds_an_all_digit_prefix_before_an_id(reg, monkeypatch):
    # Hex prefixes are all digits about 2 % of the time; such a prefix must not be read as an id.
    first, _ = create_key(reg.db, "first", ["match"])
    monkeypatch.setattr("bouclier.service.auth.secrets.token_hex", lambda n: "00000042")
    digits, key = create_key(reg.db, "digits", ["match"])
    assert revoke_key(reg.db, "00000042").name == "digits" and authenticate(reg.db, key) is None
    assert revoke_key(reg.db, str(first.id)).name == "first"
    assert revoke_key(reg.db, "9" * 30) is None


def test_index_is_rebuilt_from_the_store(reg, tmp_path):
    client, _ = create_key(reg.db, "helpline", ["submit"])
    img = encode(texture(9))
    sub = reg.submit(client, "default", make_bundle([img, encode(texture(10))]), None)
    gone = reg.submit(client, "default", make_bundle([encode(texture(11))]), None)
    reg.withdraw(client, gone.case_id, gone.secret)
    again = Registry(reg.settings)
    again.start()
    assert again.index.sizes() == {"default": 2}
    out = again.match(client, Query.from_bytes(query_bytes(img)), None)
    assert out["verdict"] == "identical" and out["protected"]["case_id"] == sub.case_id
    assert again.match(client, Query.from_bytes(query_bytes(encode(texture(11)))), None)["verdict"] == "no-match"
    again.db.dispose()


def test_withdrawn_fingerprints_leave_the_store(reg):
    client, _ = create_key(reg.db, "helpline", ["submit"])
    sub = reg.submit(client, "default", make_bundle([encode(texture(12))]), "k")
    reg.withdraw(client, sub.case_id, sub.secret)
    with reg.db.read() as s:
        assert s.execute(sa.text("SELECT count(*) FROM fingerprints")).scalar() == 0
        assert s.execute(sa.text("SELECT count(*) FROM changes WHERE op = 'add'")).scalar() == 0
        assert s.execute(sa.text("SELECT status FROM protections")).scalar() == "withdrawn"
    # The idempotent replay of a withdrawn submission does not bring it back.
    again = reg.submit(client, "default", make_bundle([encode(texture(12))]), "k")
    assert again.replayed and again.status == "withdrawn" and reg.index.sizes()["default"] == 0


def test_tombstones_are_purged_and_old_cursors_expire(reg):
    client, _ = create_key(reg.db, "helpline", ["submit"])
    sub = reg.submit(client, "default", make_bundle([encode(texture(13))]), None)
    cursor = reg.export("default", 0, 100)["cursor"]
    reg.withdraw(client, sub.case_id, sub.secret)
    assert [x["op"] for x in reg.export("default", cursor, 100)["signals"]] == ["delete"]
    assert reg.purge_tombstones() == 0  # too recent
    with reg.db.engine.begin() as c:
        c.execute(sa.text("UPDATE changes SET ts = '2000-01-01T00:00:00.000000+00:00' WHERE op = 'delete'"))
    assert reg.purge_tombstones() == 1
    with pytest.raises(ApiError) as e:
        reg.export("default", cursor, 100)
    assert e.value.status == 410
    assert reg.export("default", 0, 100)["signals"] == []


def test_audit_chain_is_sequential_under_concurrent_writers(reg):
    client, _ = create_key(reg.db, "helpline", ["submit"])
    errors = []

    def work(i):
        try:
            for j in range(5):
                sub = reg.submit(client, "default", make_bundle([encode(texture(1000 + i * 10 + j))], pdq_only=True), None)
                if j % 2:
                    reg.withdraw(client, sub.case_id, sub.secret)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with reg.db.read() as s:
        r = audit.verify(s)
        actions = [a for (a,) in s.execute(sa.text("SELECT action FROM audit_log ORDER BY seq"))]
    assert r.ok, r.error
    assert actions.count("protection.submit") == 30 and actions.count("protection.withdraw") == 12
    # Exchange sequence numbers follow commit order: a full sync sees exactly the live hashes.
    assert len(reg.export("default", 0, 1000)["signals"]) == 18 == reg.index.sizes()["default"]


def test_migrations_match_the_models(reg):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bouclier.service.models import Base

    with reg.db.engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata)
    assert diff == [], "models.py and the Alembic migrations disagree: add a migration"
