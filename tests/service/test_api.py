"""The HTTP API against a real server (SQLite and PostgreSQL): auth, submit, match, withdraw, limits."""

from __future__ import annotations

import struct
import zlib

import httpx
import pytest

from service_helpers import encode, make_bundle, parse_metrics, query_bytes, texture

SERVER_ENV = {"BOUCLIER_MAX_REQUEST_BYTES": 3_000_000, "BOUCLIER_MAX_IMAGE_PIXELS": 20_000_000,
              "BOUCLIER_MAX_BATCH": 4}


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares a huge size (a decompression bomb's calling card)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def pics():
    return [encode(texture(100 + i)) for i in range(4)]


@pytest.fixture(scope="module")
def protected(api, pics):
    """Photos 0-2 protected in one case; photo 3 never protected."""
    with api.client(api.keys["submit"]) as c:
        r = c.post("/v1/protections", files={"bundle": ("b.bcl", make_bundle(pics[:3]))})
    assert r.status_code == 201, r.text
    return r.json()


def err(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["status"] == status and body["code"] and body["message"]
    return body


def test_healthz_needs_no_key_and_reveals_nothing(api):
    r = httpx.get(api.url + "/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert set(r.json()) == {"status", "version"}


@pytest.mark.parametrize("method,path,scope", [
    ("POST", "/v1/protections", "submit"),
    ("DELETE", "/v1/protections/case_x", "submit"),
    ("POST", "/v1/match", "match"),
    ("POST", "/v1/match/batch", "match"),
    ("GET", "/v1/exchange/banks", "export"),
    ("GET", "/v1/exchange/banks/default/pdq", "export"),
    ("POST", "/v1/exchange/banks/default/import?format=hma", "admin"),
    ("GET", "/v1/banks", "admin"),
    ("GET", "/metrics", "admin"),
    ("GET", "/v1/audit/verify", "admin"),
])
def test_every_route_needs_a_key_with_the_right_scope(api, method, path, scope):
    r = httpx.request(method, api.url + path)
    assert err(r, 401)["code"] == "unauthorized" and r.headers["www-authenticate"] == "Bearer"
    r = httpx.request(method, api.url + path, headers={"Authorization": "Bearer bcl_nope_nope"})
    err(r, 401)
    for other in ("submit", "match", "export", "admin"):
        if other != scope:
            r = httpx.request(method, api.url + path, headers={"Authorization": f"Bearer {api.keys[other]}"})
            assert err(r, 403)["code"] == "forbidden", (other, path)


def test_match_only_client_cannot_list_or_download_fingerprints(api, protected):
    with api.client(api.keys["match"]) as c:
        for path in ("/v1/exchange/banks/default/pdq", "/v1/exchange/banks", "/v1/banks", "/metrics"):
            err(c.get(path), 403)


def test_submit_is_idempotent_with_idempotency_key(api, pics):
    b = make_bundle([pics[3]])
    with api.client(api.keys["submit"]) as c:
        r1 = c.post("/v1/protections", files={"bundle": ("b", b)}, headers={"Idempotency-Key": "idem-1"})
        r2 = c.post("/v1/protections", files={"bundle": ("b", b)}, headers={"Idempotency-Key": "idem-1"})
        assert (r1.status_code, r2.status_code) == (201, 200)
        assert r1.json()["case_id"] == r2.json()["case_id"] and r1.json()["secret"] == r2.json()["secret"]
        assert r2.json()["replayed"] is True and r2.headers["idempotent-replayed"] == "true"
        # The same key for another bundle is a client bug: refused, nothing stored.
        other = make_bundle([pics[0]])
        assert err(c.post("/v1/protections", files={"bundle": ("b", other)}, headers={"Idempotency-Key": "idem-1"}),
                   409)["code"] == "idempotency_conflict"
        w = c.delete(f"/v1/protections/{r1.json()['case_id']}", headers={"X-Case-Secret": r1.json()["secret"]})
        assert w.status_code == 200 and w.json()["removed"] == 1


def test_submit_names_photos_too_plain_to_match(api, pics):
    """A flat dark frame (PDQ quality 0, no keypoints) is stored but named: only its bytes can match.
    A photo whose PDQ is usable stays unnamed; so does a PDQ-only bundle's (its quality decides)."""
    import numpy as np

    flat = encode(np.full((200, 300, 3), 12, np.uint8))
    with api.client(api.keys["submit"]) as c:
        r = c.post("/v1/protections", files={"bundle": ("b", make_bundle([pics[0], flat]))},
                   headers={"Idempotency-Key": "plain-1"})
        assert r.status_code == 201 and r.json()["too_plain"] == [1] and r.json()["fingerprints"] == 2, r.text
        again = c.post("/v1/protections", files={"bundle": ("b", make_bundle([pics[0], flat]))},
                       headers={"Idempotency-Key": "plain-1"})
        assert again.status_code == 200 and again.json()["too_plain"] == [1]
        pdq_only = c.post("/v1/protections", files={"bundle": ("b", make_bundle([pics[1], flat], pdq_only=True))})
        assert pdq_only.status_code == 201 and pdq_only.json()["too_plain"] == [1]
        for case in (r.json(), pdq_only.json()):
            w = c.delete(f"/v1/protections/{case['case_id']}", headers={"X-Case-Secret": case["secret"]})
            assert w.status_code == 200 and w.json()["removed"] == 2


def test_match_by_file_by_query_and_batch(api, pics, protected):
    with api.client(api.keys["match"]) as c:
        r = c.post("/v1/match", files={"file": ("p1.png", pics[1])})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["verdict"] == "identical"
        assert body["protected"]["case_id"] == protected["case_id"] and body["protected"]["bank"] == "default"
        assert body["protected"]["photo"] == 1
        assert {"edited_fraction", "scores", "algorithm", "thresholds", "transform"} <= set(body)
        assert "photo1.png" not in r.text  # the submitter's file names never reach platforms

        # A cropped, re-encoded copy is matched from a query fingerprint computed client-side.
        jpeg = encode(texture(102)[20:-20, 30:-10], "JPEG", quality=70)
        r = c.post("/v1/match", files={"query": ("q.bin", query_bytes(jpeg))})
        assert r.json()["verdict"] in ("near-duplicate", "manipulated-derivative", "identical"), r.text
        assert r.json()["protected"]["photo"] == 2

        r = c.post("/v1/match", files={"file": ("x.png", pics[3])})
        assert r.json()["verdict"] == "no-match" and r.json()["protected"] is None

        r = c.post("/v1/match/batch", files=[("files", ("a.png", pics[0])), ("files", ("b.png", pics[3])),
                                             ("files", ("bad.png", b"not an image")),
                                             ("queries", ("q", query_bytes(pics[2])))])
        assert r.status_code == 200, r.text
        res = r.json()["results"]
        assert [x.get("verdict") for x in res] == ["identical", "no-match", None, "identical"]
        assert res[2]["error"]["code"] == "invalid_image" and "bad.png" in res[2]["error"]["message"]
        assert [x["file"] for x in res] == ["a.png", "b.png", "bad.png", "q"]


def test_withdraw_needs_the_secret_and_makes_matches_impossible(api, pics):
    b = make_bundle([encode(texture(555))])
    with api.client(api.keys["submit"]) as s, api.client(api.keys["match"]) as m:
        case = s.post("/v1/protections", files={"bundle": ("b", b)}).json()
        assert m.post("/v1/match", files={"file": ("x.png", encode(texture(555)))}).json()["verdict"] == "identical"
        # Wrong secret and unknown case answer alike: nothing reveals that a case exists.
        e1 = err(s.delete(f"/v1/protections/{case['case_id']}", headers={"X-Case-Secret": "wrong"}), 404)
        e2 = err(s.delete("/v1/protections/case_00000000000000000000000000000000", headers={"X-Case-Secret": "x"}), 404)
        assert e1 == e2
        err(s.delete(f"/v1/protections/{case['case_id']}"), 422)  # secret header missing
        assert m.post("/v1/match", files={"file": ("x.png", encode(texture(555)))}).json()["verdict"] == "identical"
        r = s.delete(f"/v1/protections/{case['case_id']}", headers={"X-Case-Secret": case["secret"]})
        assert r.status_code == 200 and r.json() == {"case_id": case["case_id"], "status": "withdrawn", "removed": 1}
        assert m.post("/v1/match", files={"file": ("x.png", encode(texture(555)))}).json()["verdict"] == "no-match"
        # Withdrawing again is harmless.
        r = s.delete(f"/v1/protections/{case['case_id']}", headers={"X-Case-Secret": case["secret"]})
        assert r.status_code == 200 and r.json()["removed"] == 0


def test_bad_payloads_get_clear_4xx_json(api, pics):
    with api.client(api.keys["all"]) as c:
        assert err(c.post("/v1/protections", files={"bundle": ("b", b"garbage")}), 400)["code"] == "invalid_bundle"
        assert err(c.post("/v1/protections", files={"bundle": ("b", b"")}), 400)["code"] == "invalid_bundle"
        err(c.post("/v1/protections"), 422)
        assert err(c.post("/v1/protections", params={"bank": "nope"},
                          files={"bundle": ("b", make_bundle([pics[0]]))}), 404)["code"] == "no_such_bank"
        e = err(c.post("/v1/match", files={"file": ("evil.jpg", b"hello, I am text")}), 422)
        assert e["code"] == "invalid_image" and "evil.jpg" in e["message"]
        e = err(c.post("/v1/match", files={"file": ("bomb.png", png_declaring(100_000, 100_000))}), 422)
        assert "bomb.png" in e["message"]
        assert err(c.post("/v1/match", files={"query": ("q", b"\x00" * 100)}), 400)["code"] == "invalid_query"
        assert err(c.post("/v1/match"), 400)["code"] == "need_one_input"
        err(c.post("/v1/match", files={"file": ("a.png", pics[0]), "query": ("q", query_bytes(pics[0]))}), 400)
        err(c.post("/v1/match", params={"bank": "nope"}, files={"file": ("a.png", pics[0])}), 404)
        # Request size: refused before parsing, with JSON.
        e = err(c.post("/v1/match", files={"file": ("big.png", b"\x89PNG" + b"\0" * 3_500_000)}), 413)
        assert e["code"] == "request_too_large"
        e = err(c.post("/v1/match/batch", files=[("files", ("a.png", pics[0]))] * 5), 413)
        assert e["code"] == "batch_too_large"
        assert err(c.post("/v1/match/batch"), 400)["code"] == "empty_batch"
        err(c.get("/v1/nowhere"), 404)


def test_rate_limit_per_key(api):
    key = api.key("slow", "match", rate=3)
    with api.client(key) as c, api.client(api.keys["match"]) as other:
        codes = [c.post("/v1/match").status_code for _ in range(3)]
        assert codes == [400, 400, 400]  # allowed (and rejected for being empty)
        r = c.post("/v1/match")
        e = err(r, 429)
        assert e["code"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
        assert other.post("/v1/match").status_code == 400  # other keys are not affected


def test_revoked_key_is_refused(api):
    key = api.key("temp", "match")
    with api.client(key) as c:
        assert c.post("/v1/match").status_code == 400
        prefix = key.split("_")[1]
        api.cli("keys", "revoke", prefix)
        err(c.post("/v1/match"), 401)
    assert "revoked" in api.cli("keys", "list").stdout


def test_banks_thresholds_and_enabled_flag(api):
    img = encode(texture(777))
    with api.client(api.keys["admin"]) as a, api.client(api.keys["submit"]) as s, api.client(api.keys["match"]) as m:
        err(a.post("/v1/banks", json={"name": "bad name!"}), 400)
        err(a.post("/v1/banks", json={"name": "x", "thresholds": {"nonsense": 1}}), 400)
        r = a.post("/v1/banks", json={"name": "helpline-fr", "thresholds": {"pdq_distance": 20}})
        assert r.status_code == 201 and r.json()["thresholds"] == {"pdq_distance": 20}
        err(a.post("/v1/banks", json={"name": "helpline-fr"}), 409)
        assert s.post("/v1/protections", params={"bank": "helpline-fr"},
                      files={"bundle": ("b", make_bundle([img]))}).status_code == 201
        r = m.post("/v1/match", files={"file": ("x.png", img)}).json()
        assert r["verdict"] == "identical" and r["protected"]["bank"] == "helpline-fr"
        assert r["thresholds"]["pdq_distance"] == 20
        assert m.post("/v1/match", params={"bank": "default"}, files={"file": ("x.png", img)}).json()["verdict"] == "no-match"
        assert a.patch("/v1/banks/helpline-fr", json={"enabled": False}).json()["enabled"] is False
        assert m.post("/v1/match", files={"file": ("x.png", img)}).json()["verdict"] == "no-match"
        a.patch("/v1/banks/helpline-fr", json={"enabled": True})
        assert m.post("/v1/match", files={"file": ("x.png", img)}).json()["verdict"] == "identical"
        banks = {b["name"]: b for b in a.get("/v1/banks").json()}
        assert banks["helpline-fr"]["fingerprints"] == 1
        err(a.patch("/v1/banks/nope", json={"enabled": False}), 404)


def test_metrics_and_openapi(api, protected):
    with api.client(api.keys["admin"]) as c:
        r = c.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        m = parse_metrics(r.text)
        assert m['bouclier_index_fingerprints{bank="default"}'] >= 3
        assert m["bouclier_protections_active"] >= 1
        assert any(k.startswith("bouclier_http_requests_total") for k in m)
        assert "bouclier_match_seconds_bucket" in r.text
    spec = httpx.get(api.url + "/openapi.json").json()
    for path in ("/v1/protections", "/v1/protections/{case_id}", "/v1/match", "/v1/match/batch",
                 "/v1/exchange/banks/{bank}/pdq", "/v1/exchange/banks/{bank}/import", "/healthz", "/metrics"):
        assert path in spec["paths"], path
