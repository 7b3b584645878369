"""kill -9 during a bulk submit: no acknowledged protection lost, no duplicate after resubmission."""

from __future__ import annotations

import threading

import httpx
import pytest
import sqlalchemy as sa

from service_helpers import encode, make_bundle, parse_metrics, texture

N = 120


@pytest.fixture(scope="module")
def bulk():
    imgs = [encode(texture(2000 + i, (96, 112))) for i in range(N)]
    return imgs, [make_bundle([im], pdq_only=True) for im in imgs]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_kill9_during_bulk_submit(server_factory, kind, bulk):
    imgs, bundles = bulk
    srv = server_factory(kind)
    key = srv.key("bulk", "submit", "match", "admin", rate=1_000_000)
    acked: dict[int, dict] = {}
    lock = threading.Lock()
    killed = threading.Event()

    def submitter(part: range):
        with srv.client(key, timeout=30) as c:
            for i in part:
                if killed.is_set():
                    return
                try:
                    r = c.post("/v1/protections", files={"bundle": ("b", bundles[i])},
                               headers={"Idempotency-Key": f"bulk-{i}"})
                except httpx.TransportError:
                    return  # the server died under us: this one was never acknowledged
                assert r.status_code == 201, r.text
                with lock:
                    acked[i] = r.json()

    threads = [threading.Thread(target=submitter, args=(range(k, N, 4),)) for k in range(4)]
    for t in threads:
        t.start()
    while len(acked) < 40 and any(t.is_alive() for t in threads):
        threading.Event().wait(0.005)
    srv.kill9()
    killed.set()
    for t in threads:
        t.join()
    assert 40 <= len(acked) < N, "the kill must land in the middle of the bulk submit"

    srv.start()  # same data folder and database
    cases = {}
    with srv.client(key) as c:
        for i in range(N):
            r = c.post("/v1/protections", files={"bundle": ("b", bundles[i])}, headers={"Idempotency-Key": f"bulk-{i}"})
            assert r.status_code in (200, 201), r.text
            if i in acked:  # acknowledged before the crash: kept, same case and secret
                assert r.status_code == 200 and r.json()["replayed"] is True
                assert (r.json()["case_id"], r.json()["secret"]) == (acked[i]["case_id"], acked[i]["secret"])
            cases[i] = r.json()["case_id"]
        assert len(set(cases.values())) == N
        m = parse_metrics(c.get("/metrics").text)
        assert m["bouclier_protections_active"] == N and m["bouclier_fingerprints_stored"] == N
        assert m['bouclier_index_fingerprints{bank="default"}'] == N
        assert c.get("/v1/audit/verify").json()["ok"] is True
        first = min(acked)
        r = c.post("/v1/match", files={"file": ("x.png", imgs[first])}).json()
        assert r["verdict"] == "identical" and r["protected"]["case_id"] == cases[first]
    eng = sa.create_engine(srv.database_url or f"sqlite:///{srv.data_dir / 'bouclier.db'}")
    with eng.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM protections")).scalar() == N
        assert conn.execute(sa.text("SELECT count(*) FROM audit_log WHERE action = 'protection.submit'")).scalar() == N
    eng.dispose()
