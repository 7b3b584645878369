"""The audit log: every state change and every match, hash-chained; `bouclier audit verify` finds tampering."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from service_helpers import encode, fingerprint, make_bundle, texture


def _engine(server):
    return sa.create_engine(server.database_url or f"sqlite:///{server.data_dir / 'bouclier.db'}")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_audit_records_changes_and_matches_and_detects_tampering(server_factory, kind):
    srv = server_factory(kind)
    sub, adm, mat = srv.key("h", "submit"), srv.key("a", "admin"), srv.key("p", "match")
    img = encode(texture(42))
    with srv.client(sub) as s, srv.client(mat) as m, srv.client(adm) as a:
        case = s.post("/v1/protections", files={"bundle": ("b", make_bundle([img]))}).json()
        assert m.post("/v1/match", files={"file": ("x.png", img)}).json()["verdict"] == "identical"
        assert m.post("/v1/match", files={"file": ("y.png", encode(texture(43)))}).json()["verdict"] == "no-match"
        s.delete(f"/v1/protections/{case['case_id']}", headers={"X-Case-Secret": case["secret"]})
        v = a.get("/v1/audit/verify").json()
        assert v["ok"] is True

    eng = _engine(srv)
    with eng.connect() as c:
        rows = c.execute(sa.text("SELECT seq, actor, action, subject, details FROM audit_log ORDER BY seq")).all()
        match_rows = c.execute(sa.text("SELECT verdict, algorithm, scores, thresholds, bank, client_id FROM matches")).all()
    actions = [r.action for r in rows]
    assert actions == ["bank.create", "client.create", "client.create", "client.create", "protection.submit",
                       "match", "protection.withdraw"]
    assert v["entries"] == len(rows)
    match = rows[actions.index("match")]
    assert match.subject == case["case_id"] and match.actor.endswith(":p")
    # The match record: time, algorithm, scores, thresholds, bank, client; nothing of the upload.
    assert len(match_rows) == 1 and match_rows[0].verdict == "identical" and match_rows[0].bank == "default"
    assert json.loads(match_rows[0].scores)["pdq_distance"] == 0 and json.loads(match_rows[0].thresholds)
    # No fingerprint in the audit log (it outlives withdrawals).
    text = " ".join(r.details for r in rows)
    assert fingerprint(img).pdq_hex not in text and "photo0" not in text

    ok = srv.cli("audit", "verify")
    assert "intact" in ok.stdout and f"{len(rows)} entries" in ok.stdout

    # Rewrite history: verify fails and names the entry.
    with eng.begin() as c:
        original = c.execute(sa.text("SELECT * FROM audit_log WHERE seq = 5")).one()
        c.execute(sa.text("UPDATE audit_log SET details = :d WHERE seq = 5"), {"d": json.dumps({"bank": "x"})})
    bad = srv.cli("audit", "verify", check=False)
    assert bad.returncode == 1 and "entry 5" in bad.stderr and "altered" in bad.stderr
    with srv.client(adm) as a:
        v = a.get("/v1/audit/verify").json()
        assert v["ok"] is False and v["bad_seq"] == 5

    # Recomputing that entry's hash does not help: the next one no longer links to it.
    from bouclier.service.audit import entry_hash
    with eng.begin() as c:
        e = c.execute(sa.text("SELECT * FROM audit_log WHERE seq = 5")).one()
        h = entry_hash(e.seq, e.ts, e.actor, e.action, e.subject, e.details, e.prev_hash)
        c.execute(sa.text("UPDATE audit_log SET hash = :h WHERE seq = 5"), {"h": h})
    bad = srv.cli("audit", "verify", check=False)
    assert bad.returncode == 1 and "entry 6 does not link" in bad.stderr

    # Dropping the newest entry is detected too (the head no longer matches).
    with eng.begin() as c:
        c.execute(sa.text("UPDATE audit_log SET hash = :h, details = :d WHERE seq = 5"),
                  {"h": original.hash, "d": original.details})
    assert srv.cli("audit", "verify", check=False).returncode == 0
    with eng.begin() as c:
        c.execute(sa.text("DELETE FROM audit_log WHERE seq = :s"), {"s": len(rows)})
    bad = srv.cli("audit", "verify", check=False)
    assert bad.returncode == 1 and "head" in bad.stderr
    eng.dispose()
