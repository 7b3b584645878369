"""Hash exchange: PDQ export with delta sync and tombstones; imports in threatexchange, HMA and
StopNCII shapes (a withdrawn StopNCII record must end deleted)."""

from __future__ import annotations

import json

import pytest

from service_helpers import encode, fingerprint, make_bundle, texture


def pdq_of(seed: int) -> str:
    return fingerprint(encode(texture(seed)), pdq_only=True).pdq_hex


def sync(c, bank: str, since: int, limit: int = 1000) -> tuple[list[dict], int]:
    """Pull every page after `since`; returns the signals and the new cursor."""
    out = []
    while True:
        r = c.get(f"/v1/exchange/banks/{bank}/pdq", params={"since": since, "limit": limit})
        assert r.status_code == 200, r.text
        page = r.json()
        out += page["signals"]
        since = page["cursor"]
        if not page["has_more"]:
            return out, since


@pytest.fixture(scope="module")
def bank(api):
    """A bank of its own, so these tests see only their own hashes."""
    with api.client(api.keys["admin"]) as a:
        assert a.post("/v1/banks", json={"name": "exch"}).status_code == 201
    return "exch"


def test_export_delta_sync_and_tombstones(api, bank):
    imgs = [encode(texture(300 + i)) for i in range(5)]
    with api.client(api.keys["submit"]) as s, api.client(api.keys["export"]) as e:
        c1 = s.post("/v1/protections", params={"bank": bank}, files={"bundle": ("b", make_bundle(imgs[:3]))}).json()
        c2 = s.post("/v1/protections", params={"bank": bank}, files={"bundle": ("b", make_bundle(imgs[3:]))}).json()
        # A platform copies the list, page by page.
        copy = {}
        signals, cursor = sync(e, bank, 0, limit=2)
        for sig in signals:
            assert sig["op"] == "add" and len(sig["pdq"]) == 64 and sig["quality"] is not None
            copy[sig["id"]] = sig["pdq"]
        assert sorted(copy.values()) == sorted(pdq_of(300 + i) for i in range(5))
        # Nothing new: an empty delta, same cursor.
        assert sync(e, bank, cursor) == ([], cursor)
        # The victim withdraws case 1: the delta carries tombstones for exactly its 3 ids.
        s.delete(f"/v1/protections/{c1['case_id']}", headers={"X-Case-Secret": c1["secret"]})
        delta, cursor2 = sync(e, bank, cursor)
        assert cursor2 > cursor and {d["op"] for d in delta} == {"delete"}
        for d in delta:
            copy.pop(d["id"])
        assert sorted(copy.values()) == sorted(pdq_of(303 + i) for i in range(2))
        # A fresh snapshot no longer holds the withdrawn hashes at all.
        snap, _ = sync(e, bank, 0)
        assert {x["id"] for x in snap} == set(copy)
        # Other shapes of the same list.
        r = e.get(f"/v1/exchange/banks/{bank}/pdq", params={"format": "threatexchange"})
        assert sorted(r.text.split("\n")[:-1]) == sorted(f"pdq {h}" for h in copy.values())
        assert r.headers["x-bouclier-has-more"] == "false"
        r = e.get(f"/v1/exchange/banks/{bank}/pdq", params={"format": "stopncii", "since": cursor}).json()
        assert {x["hashStatus"] for x in r["hashRecords"]} == {"Withdrawn"} and r["count"] == 3
        assert all(x["signalType"] == "ImagePDQ" for x in r["hashRecords"])
        assert e.get("/v1/exchange/banks").json().count(bank) == 1
        assert e.get("/v1/exchange/banks/nope/pdq").status_code == 404
        assert e.get(f"/v1/exchange/banks/{bank}/pdq", params={"format": "xml"}).status_code == 422
        s.delete(f"/v1/protections/{c2['case_id']}", headers={"X-Case-Secret": c2["secret"]})


def test_import_threatexchange_and_hma(api, bank):
    h1, h2, h3 = pdq_of(401), pdq_of(402), pdq_of(403)
    te = f"# a python-threatexchange signal file\npdq {h1}\n{h2.upper()}\nvideo_md5 d41d8cd98f00b204e9800998ecf8427e\n\n"
    with api.client(api.keys["admin"]) as a, api.client(api.keys["match"]) as m:
        r = a.post(f"/v1/exchange/banks/{bank}/import", params={"format": "threatexchange"}, content=te.encode())
        assert r.status_code == 200, r.text
        assert (r.json()["added"], r.json()["skipped"]) == (2, 1)
        # Importing again creates no duplicate.
        r = a.post(f"/v1/exchange/banks/{bank}/import", params={"format": "threatexchange"}, content=te.encode())
        assert (r.json()["added"], r.json()["unchanged"]) == (0, 2)
        r = a.post(f"/v1/exchange/banks/{bank}/import", params={"format": "hma"},
                   content=json.dumps([{"pdq": h3}, {"signals": {"pdq": h1}}, {"video_md5": "x"}]).encode())
        assert r.status_code == 200 and (r.json()["added"], r.json()["skipped"]) == (2, 1)  # h1 is new for source hma
        # An imported hash matches the photo it came from.
        r = m.post("/v1/match", files={"file": ("x.png", encode(texture(402)))}).json()
        assert r["verdict"] == "identical" and r["protected"]["case_id"] is None
        assert r["protected"]["source"] == "threatexchange" and r["protected"]["bank"] == bank
        # Malformed lists are refused whole, clearly.
        for fmt, body in (("threatexchange", b"pdq 1234"), ("hma", b"{not json"), ("hma", b'[{"pdq": 5}]'),
                          ("stopncii", b'{"hashRecords": 3}'), ("threatexchange", b"\xff\xfe")):
            r = a.post(f"/v1/exchange/banks/{bank}/import", params={"format": fmt}, content=body)
            assert r.status_code == 400 and r.json()["error"]["message"], (fmt, body, r.text)
        assert a.post(f"/v1/exchange/banks/{bank}/import", params={"format": "csv"}, content=b"").status_code == 422
    with api.client(api.keys["export"]) as e:
        r = e.post(f"/v1/exchange/banks/{bank}/import", params={"format": "hma"}, content=b"[]")
        assert r.status_code == 403


def test_import_stopncii_withdrawn_ends_deleted(api, bank):
    h_keep, h_gone, h_del = pdq_of(501), pdq_of(502), pdq_of(503)

    def rec(h, status, ts):
        return {"lastModtimestamp": ts, "signalType": "ImagePDQ", "hashValue": h, "hashStatus": status,
                "caseNumbers": {"c1": status}, "CSPFeedbacks": []}

    first = {"count": 3, "nextPageToken": "", "nextSetTimestamp": 10, "hasMoreRecords": False,
             "hashRecords": [rec(h_keep, "Active", 10), rec(h_gone, "Active", 10), rec(h_del, "Received", 10),
                             rec("ab" * 16, "Active", 10) | {"signalType": "VideoMD5"}]}
    with api.client(api.keys["admin"]) as a, api.client(api.keys["match"]) as m, api.client(api.keys["export"]) as e:
        _, cursor = sync(e, bank, 0)
        r = a.post(f"/v1/exchange/banks/{bank}/import", params={"format": "stopncii"}, json=first)
        assert r.status_code == 200 and (r.json()["added"], r.json()["skipped"]) == (3, 1), r.text
        assert m.post("/v1/match", files={"file": ("x.png", encode(texture(502)))}).json()["verdict"] == "identical"
        # Later records: one Withdrawn, one Deleted; records of one hash apply oldest first (newest wins).
        later = [rec(h_gone, "Active", 15), rec(h_gone, "Withdrawn", 20), rec(h_del, "Deleted", 20),
                 rec(pdq_of(504), "Withdrawn", 20)]
        r = a.post(f"/v1/exchange/banks/{bank}/import", params={"format": "stopncii"}, json=later[::-1])
        assert r.status_code == 200 and (r.json()["deleted"], r.json()["absent"]) == (2, 1), r.text
        for seed in (502, 503):
            assert m.post("/v1/match", files={"file": ("x.png", encode(texture(seed)))}).json()["verdict"] == "no-match"
        assert m.post("/v1/match", files={"file": ("x.png", encode(texture(501)))}).json()["verdict"] == "identical"
        # Copiers of our list learn of the deletions too.
        delta, _ = sync(e, bank, cursor)
        final = {}
        for d in delta:
            final[d["pdq"]] = d["op"]
        assert final[h_keep] == "add" and final.get(h_gone) == "delete" and final.get(h_del) == "delete"
