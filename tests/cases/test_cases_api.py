"""/v1/cases on a real `bouclier serve` (SQLite and PostgreSQL): a whole case over HTTP, scope checks,
JSON errors, custody of reveals, notices, deadlines and statements of reasons."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from conftest import DATABASES, bundle_of, fresh_pg
from service_helpers import Server

URL = "https://host.example/post/123"


@pytest.fixture(scope="module", params=DATABASES)
def srv(request, tmp_path_factory):
    url = drop = None
    if request.param == "postgresql":
        url, drop = fresh_pg(request.getfixturevalue("pg_base_url"))
    s = Server(tmp_path_factory.mktemp(f"cases-api-{request.param}"), url).start()
    s.keys = {"cases": s.key("helpline", "cases"), "submit": s.key("app", "submit"), "match": s.key("platform", "match")}
    yield s
    s.stop()
    if drop:
        drop()


def test_a_whole_case_over_http(srv, photos, astronaut_derivative):
    sub = srv.client(srv.keys["submit"]).post("/v1/protections",
                                              files={"bundle": ("b.bcl", bundle_of({"astronaut": photos["astronaut"]}))})
    assert sub.status_code == 201, sub.text
    prot = sub.json()["case_id"]
    c = srv.client(srv.keys["cases"])
    r = c.post("/v1/cases", json={"pseudonym": "Lark", "kind": "manipulated-synthetic", "jurisdictions": ["FR", "EU"]})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert cid.startswith("C-") and len(cid) == 10 and r.json()["route"] == "standard"
    assert c.post(f"/v1/cases/{cid}/protections", json={"protection_case_id": prot}).status_code == 201
    r = c.post(f"/v1/cases/{cid}/items", data={"url": URL, "keep_media": "true",
                                               "captured_at": "2026-03-01T10:00:00Z"},
               files={"file": ("suspect.jpg", astronaut_derivative.jpeg, "image/jpeg")})
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["verdict"] == "manipulated-derivative" and item["protected"]["case_id"] == prot and item["has_media"]
    iid = item["id"]
    assert iid in [q["id"] for q in c.get("/v1/cases/review-queue").json()]
    rep = c.get(f"/v1/cases/{cid}/items/{iid}/report")
    assert rep.status_code == 200 and rep.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in rep.headers["content-security-policy"]
    assert c.get(f"/v1/cases/{cid}/items/{iid}/edit-map").content[:4] == b"\x89PNG"
    m = c.get(f"/v1/cases/{cid}/items/{iid}/media", params={"purpose": "review"})
    assert m.status_code == 200 and m.content == astronaut_derivative.jpeg and m.headers["cache-control"] == "no-store"
    d = c.post(f"/v1/cases/{cid}/items/{iid}/decision", json={"decision": "confirmed", "reason": "edited copy"})
    assert d.status_code == 200 and d.json()["decided_by"].endswith(":helpline")
    custody = c.get(f"/v1/cases/{cid}/custody").json()
    assert [x["action"] for x in custody] == ["viewed", "revealed"]
    assert custody[1]["artefact"] == f"item:{iid}:media" and custody[1]["actor"].endswith(":helpline")
    n = c.post(f"/v1/cases/{cid}/notices", json={"kind": "dsa-art16", "lang": "fr", "platform": "HostCo",
                                                "signer": "Ana Lima", "contact": "ana@mail.example"})
    assert n.status_code == 201 and URL in n.json()["text"] and "226-8-1" in n.json()["text"]
    later = (datetime.now(timezone.utc) + timedelta(hours=20)).isoformat()
    due = c.get("/v1/cases/due", params={"now": later}).json()
    mine = {x["kind"]: x for x in due if x["case_id"] == cid}
    assert mine["dsa-ack"]["status"] == "warning" and mine["dsa-decision"]["status"] == "pending"
    assert c.post(f"/v1/cases/deadlines/{mine['dsa-ack']['id']}/close", json={"note": "ack received"}).json()["status"] == "done"
    sor = c.get(f"/v1/cases/{cid}/statements-of-reasons").json()
    assert len(sor["statements"]) == 1 and "Lark" not in str(sor) and "Ana" not in str(sor) and "Transparency" in sor["schema"]
    full = c.get(f"/v1/cases/{cid}").json()
    assert [x["id"] for x in full["items"]] == [iid] and full["items"][0]["decision"] == "confirmed"
    assert c.get("/v1/cases", params={"status": "open"}).json()[0]["id"] == cid
    assert c.patch(f"/v1/cases/{cid}", json={"status": "closed"}).json()["status"] == "closed"
    assert c.delete(f"/v1/cases/{cid}/items/{iid}", params={"reason": "erasure asked"}).status_code == 204
    assert c.get(f"/v1/cases/{cid}/items/{iid}").status_code == 404


def test_scope_and_json_errors(srv):
    anon = srv.client()
    assert anon.get("/v1/cases").status_code == 401
    r = srv.client(srv.keys["match"]).get("/v1/cases")
    assert r.status_code == 403 and "cases" in r.json()["error"]["message"]
    c = srv.client(srv.keys["cases"])
    r = c.get("/v1/cases/C-ZZZZZZZZ")
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_such_case"
    r = c.post("/v1/cases", json={"pseudonym": "x", "kind": "other", "jurisdictions": ["FR"]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_kind"
    r = c.post("/v1/cases", json={"pseudonym": "x"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    cid = c.post("/v1/cases", json={"pseudonym": "Wren", "kind": "non-consensual-authentic", "jurisdictions": ["US"],
                                    "under_18": True}).json()["id"]
    r = c.post(f"/v1/cases/{cid}/items", files={"file": ("x.jpg", b"\xff\xd8 not really a jpeg", "image/jpeg")})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_image"
    assert c.post(f"/v1/cases/{cid}/items", data={"url": URL}).status_code == 201
    r = c.post(f"/v1/cases/{cid}/notices", json={"kind": "take-it-down", "lang": "en", "platform": "P",
                                                "signer": "W", "contact": "w@x.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "child_protection_route"
    assert "NCMEC" in r.json()["error"]["message"]
    assert c.get(f"/v1/cases/{cid}").json()["child_protection"].startswith("US: NCMEC")
    adult = c.post("/v1/cases", json={"pseudonym": "Fern", "kind": "non-consensual-authentic",
                                      "jurisdictions": ["US"]}).json()["id"]
    c.post(f"/v1/cases/{adult}/items", data={"url": URL})
    r = c.post(f"/v1/cases/{adult}/notices", json={"kind": "take-it-down", "lang": "en", "platform": "P",
                                                  "contact": "f@x.example"})
    assert r.status_code == 400 and "signature" in r.json()["error"]["message"]
    r = c.get(f"/v1/cases/{adult}/items/1/media", params={"purpose": "review"})
    assert r.status_code == 404
