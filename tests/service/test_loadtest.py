"""The load-test helper works end to end on a tiny, bounded run (numbers are the benchmark's job)."""

from __future__ import annotations

import pytest

from bouclier.service import loadtest
from service_helpers import child_env, encode, fingerprint, texture


def test_loadtest_small_run(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", child_env()["PYTHONPATH"])  # the server subprocess imports bouclier
    imgs = [encode(texture(7000 + i)) for i in range(3)]
    base = [fingerprint(d) for d in imgs]
    out = loadtest.measure(base, imgs, protected=60, requests=12, seconds=60, concurrency=2)
    assert out["requests"] == 12 and out["errors"] == 0
    assert out["verdicts"] == {"identical": 12}
    assert out["matches_per_s"] > 0 and out["p99_ms"] >= out["p50_ms"] > 0


def test_loadtest_refuses_non_loopback():
    with pytest.raises(ValueError, match="loopback"):
        loadtest.run("http://example.org:8737", "k", [b"x"])
