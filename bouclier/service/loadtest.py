"""A bounded load test of a registry on loopback: matches per second and latency percentiles with
many protected fingerprints. Called by the benchmark (`measure`), never by a timed test.

Protected "photos" beyond the few real ones are distractors: real fingerprints whose PDQ hash,
keypoint descriptors and file hash are replaced by random values, so the indexes hold realistic
volumes without fingerprinting 100k images.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

MAX_PROTECTED = 250_000
MAX_REQUESTS = 100_000
MAX_SECONDS = 600.0
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _check_loopback(url: str) -> None:
    if urlparse(url).hostname not in LOOPBACK:
        raise ValueError(f"the load test only targets loopback servers, not {url}")


def distractors(base: list, n: int, seed: int = 0) -> list:
    """n fingerprints shaped like `base` ones, with random PDQ, descriptors and file hash."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        fp = base[i % len(base)]
        signals = {}
        for name, sig in fp.signals.items():
            changes = {}
            if isinstance(getattr(sig, "hash", None), bytes):
                changes["hash"] = rng.bytes(len(sig.hash))
            desc = getattr(sig, "desc", None)
            if isinstance(desc, np.ndarray) and desc.dtype == np.uint8:
                changes["desc"] = rng.integers(0, 256, desc.shape, dtype=np.uint8)
            signals[name] = dataclasses.replace(sig, **changes) if changes else sig
        out.append(dataclasses.replace(fp, label=f"d{i}", sha256=rng.bytes(32).hex(), signals=signals))
    return out


def populate(url: str, key: str, base: list, n: int, *, bank: str = "default", per_bundle: int = 1000,
             seed: int = 0, timeout: float = 300) -> float:
    """Submit n distractor fingerprints in bundles; returns the seconds it took."""
    import httpx

    from ..bundle import Bundle, dumps

    _check_loopback(url)
    if not 0 <= n <= MAX_PROTECTED:
        raise ValueError(f"n must be within 0..{MAX_PROTECTED}")
    t0 = time.perf_counter()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout) as c:
        for start in range(0, n, per_bundle):
            fps = distractors(base, min(per_bundle, n - start), seed + start)
            r = c.post("/v1/protections", params={"bank": bank}, files={"bundle": ("d.bcl", dumps(Bundle(fps, {})))},
                       headers={"Idempotency-Key": f"loadtest-{seed}-{start}"})
            r.raise_for_status()
    return time.perf_counter() - t0


def run(url: str, key: str, uploads: list[bytes], *, requests: int = 500, seconds: float = 60.0,
        concurrency: int = 4, as_query: bool = False) -> dict:
    """Send up to `requests` matches (or for `seconds`) from `concurrency` threads, cycling `uploads`
    (images, or query fingerprints when `as_query`). Returns throughput and latency percentiles."""
    import httpx

    _check_loopback(url)
    requests, seconds = min(requests, MAX_REQUESTS), min(seconds, MAX_SECONDS)
    field = "query" if as_query else "file"
    lat: list[float] = []
    verdicts: dict[str, int] = {}
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(requests))
    deadline = time.monotonic() + seconds

    def worker():
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
            while time.monotonic() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t = time.perf_counter()
                try:
                    r = c.post("/v1/match", files={field: ("u", uploads[i % len(uploads)])})
                    ok = r.status_code == 200
                    v = r.json()["verdict"] if ok else None
                except httpx.HTTPError:
                    ok, v = False, None
                dt = time.perf_counter() - t
                with lock:
                    if ok:
                        lat.append(dt)
                        verdicts[v] = verdicts.get(v, 0) + 1
                    else:
                        errors[0] += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(max(1, concurrency))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ms = np.array(lat) * 1000 if lat else np.array([np.nan])
    return {"requests": len(lat), "errors": errors[0], "seconds": round(wall, 3),
            "matches_per_s": round(len(lat) / wall, 2) if wall else 0.0, "concurrency": concurrency,
            "p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2), "verdicts": verdicts}


def _wait_up(proc: subprocess.Popen, url: str, timeout: float = MAX_SECONDS) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the load-test server exited with status {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise TimeoutError("the load-test server did not start in time")


def measure(base: list, uploads: list[bytes], *, protected: int = 100_000, requests: int = 500,
            seconds: float = 120.0, concurrency: int = 4, as_query: bool = False, data_dir: Path | None = None,
            database_url: str | None = None) -> dict:
    """Start a throwaway server on loopback, protect `base` plus distractors up to `protected`
    fingerprints, restart it (index rebuilt from the store), then `run`.
    `base`: real fingerprints (the uploads' originals go first)."""
    import socket

    import httpx

    from ..bundle import Bundle, dumps

    tmp = tempfile.TemporaryDirectory(prefix="bouclier-load-") if data_dir is None else None
    data_dir = Path(tmp.name if tmp else data_dir)
    env = dict(os.environ, BOUCLIER_DATA_DIR=str(data_dir), BOUCLIER_LOG_LEVEL="warning",
               BOUCLIER_MAX_REQUEST_BYTES=str(64 << 20))
    if database_url:
        env["BOUCLIER_DATABASE_URL"] = database_url
    cmd = [sys.executable, "-m", "bouclier.service"]
    key = subprocess.run(cmd + ["keys", "create", "--name", "loadtest", "--scope", "submit", "--scope", "match",
                                "--rate", "100000000"], env=env, capture_output=True, text=True, check=True
                         ).stdout.strip().splitlines()[-1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"

    def start() -> subprocess.Popen:
        return subprocess.Popen(cmd + ["serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    proc = start()
    try:
        _wait_up(proc, url)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=300) as c:
            c.post("/v1/protections", files={"bundle": ("b", dumps(Bundle(list(base), {})))}).raise_for_status()
        fill = populate(url, key, base, max(0, protected - len(base)), seed=secrets.randbelow(1 << 30))
        proc.terminate()
        proc.wait(60)
        t0 = time.perf_counter()
        proc = start()  # the index is rebuilt from the store: timed too
        _wait_up(proc, url)
        rebuild = time.perf_counter() - t0
        out = run(url, key, uploads, requests=requests, seconds=seconds, concurrency=concurrency, as_query=as_query)
        out.update(protected=protected, populate_s=round(fill, 2), restart_with_rebuild_s=round(rebuild, 2))
        return out
    finally:
        proc.terminate()
        proc.wait(60)
        if tmp:
            tmp.cleanup()
