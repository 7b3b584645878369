"""Concurrent submits, withdrawals and matches stay consistent (store, index, exchange, audit)."""

from __future__ import annotations

import queue
import random
import threading

import pytest

from service_helpers import encode, make_bundle, parse_metrics, texture

SUBMITTERS, PER_SUBMITTER = 4, 12


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_concurrent_submit_withdraw_match(server_factory, kind):
    srv = server_factory(kind)
    key = srv.key("busy", "submit", "match", "export", "admin", rate=1_000_000)
    n = SUBMITTERS * PER_SUBMITTER
    imgs = [encode(texture(3000 + i, (96, 112))) for i in range(n)]
    bundles = [make_bundle([im], pdq_only=True) for im in imgs]
    submitted: dict[int, dict] = {}
    withdrawn: set[int] = set()
    to_withdraw: queue.Queue = queue.Queue()
    lock = threading.Lock()
    done = threading.Event()
    errors: list[str] = []

    def submitter(k: int):
        with srv.client(key) as c:
            for i in range(k, n, SUBMITTERS):
                r = c.post("/v1/protections", files={"bundle": ("b", bundles[i])}, headers={"Idempotency-Key": f"c{i}"})
                if r.status_code != 201:
                    errors.append(f"submit {i}: {r.status_code} {r.text}")
                    continue
                with lock:
                    submitted[i] = r.json()
                if i % 3 == 0:
                    to_withdraw.put(i)

    def withdrawer():
        with srv.client(key) as c:
            while not (done.is_set() and to_withdraw.empty()):
                try:
                    i = to_withdraw.get(timeout=0.1)
                except queue.Empty:
                    continue
                case = submitted[i]
                r = c.delete(f"/v1/protections/{case['case_id']}", headers={"X-Case-Secret": case["secret"]})
                if r.status_code != 200 or r.json()["removed"] != 1:
                    errors.append(f"withdraw {i}: {r.status_code} {r.text}")
                    continue
                # From the moment the withdrawal is answered, the photo can never match again.
                r = c.post("/v1/match", files={"file": ("x.png", imgs[i])})
                if r.json()["verdict"] != "no-match":
                    errors.append(f"withdrawn {i} still matched: {r.text}")
                with lock:
                    withdrawn.add(i)

    def matcher(seed: int):
        rng = random.Random(seed)
        with srv.client(key) as c:
            while not done.is_set():
                i = rng.randrange(n)
                with lock:
                    state = "withdrawn" if i in withdrawn else "active" if i in submitted else "unknown"
                r = c.post("/v1/match", files={"file": ("x.png", imgs[i])})
                if r.status_code != 200:
                    errors.append(f"match {i}: {r.status_code} {r.text}")
                    continue
                body = r.json()
                if state == "withdrawn" and body["verdict"] != "no-match":
                    errors.append(f"withdrawn {i} matched: {r.text}")
                with lock:  # (a submit may match just before its answer is recorded here)
                    expected = submitted.get(i, {}).get("case_id")
                if body["verdict"] != "no-match" and expected and body["protected"]["case_id"] != expected:
                    errors.append(f"{i} matched the wrong case: {r.text}")

    subs = [threading.Thread(target=submitter, args=(k,)) for k in range(SUBMITTERS)]
    others = [threading.Thread(target=withdrawer) for _ in range(2)] + \
             [threading.Thread(target=matcher, args=(s,)) for s in range(3)]
    for t in subs + others:
        t.start()
    for t in subs:
        t.join()
    done.set()
    for t in others:
        t.join()
    assert not errors, "\n".join(errors[:10])
    assert len(submitted) == n and len(withdrawn) == len(range(0, n, 3))

    live = set(submitted) - withdrawn
    with srv.client(key) as c:
        for i in range(n):  # the final state, photo by photo
            r = c.post("/v1/match", files={"file": ("x.png", imgs[i])}).json()
            if i in live:
                assert r["verdict"] == "identical" and r["protected"]["case_id"] == submitted[i]["case_id"]
            else:
                assert r["verdict"] == "no-match"
        m = parse_metrics(c.get("/metrics").text)
        assert m["bouclier_protections_active"] == len(live) == m['bouclier_index_fingerprints{bank="default"}']
        assert m["bouclier_fingerprints_stored"] == len(live)
        page = c.get("/v1/exchange/banks/default/pdq", params={"limit": 10000}).json()
        assert len(page["signals"]) == len(live)
        assert c.get("/v1/audit/verify").json()["ok"] is True
