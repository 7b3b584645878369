"""Match latency as the number of protected photos grows (synthetic fingerprints fill the index).

Synthetic fingerprints have random PDQ hashes and random keypoints/descriptors; they are labelled
as such in the results. Real protected fingerprints stay in the index, so real queries still find
their photo and pay for verification.
"""

from __future__ import annotations

import resource
import time

import numpy as np

from ..fingerprint import Fingerprint
from ..match import Matcher
from ..signals.grid import CELLS, EditGrid
from ..signals.keypoints import DESCRIPTOR_BITS, PROTECT_KEYPOINTS, Keypoints
from ..signals.pdq import PDQ


def synthetic(rng: np.random.Generator, n: int) -> list[Fingerprint]:
    out = []
    for i in range(n):
        kp = Keypoints(512, 384, (rng.random((PROTECT_KEYPOINTS, 2)) * [511, 383]).astype(np.float32),
                       (rng.random(PROTECT_KEYPOINTS) * 360).astype(np.float32),
                       rng.integers(0, 256, (PROTECT_KEYPOINTS, DESCRIPTOR_BITS // 8), dtype=np.uint8))
        g = EditGrid(rng.integers(0, 16, (CELLS, CELLS), dtype=np.uint8), rng.integers(0, 16, (CELLS, CELLS), dtype=np.uint8))
        out.append(Fingerprint(f"synthetic-{i}", rng.bytes(32).hex(), 4032, 3024,
                               {"pdq": PDQ(rng.bytes(32), 100), "orb": kp, "grid": g}))
    return out


def latency(matcher: Matcher, queries: list, repeat: int = 1) -> dict:
    ms = []
    for _ in range(repeat):
        for q in queries:
            t = time.perf_counter()
            matcher.match_query(q)
            ms.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "n": len(ms)}


def run_scale(real: list[Fingerprint], queries: list, sizes: list[int], progress=None, seed: int = 0) -> dict:
    """Latency per index size; one matcher grown step by step."""
    rng = np.random.default_rng(seed)
    m = Matcher()
    for fp in real:
        m.add(fp.label, fp)
    out = {}
    n = len(real)
    for size in sorted(sizes):
        t0 = time.perf_counter()
        while n < size:
            batch = synthetic(rng, min(5000, size - n))
            for fp in batch:
                m.add(fp.label, fp)
            n += len(batch)
            if progress:
                progress(n)
        m.candidates(queries[0])  # flush pending index work before timing
        build = time.perf_counter() - t0
        lat = latency(m, queries)
        out[str(size)] = {**lat, "protected": n, "synthetic": max(0, n - len(real)), "build_s": round(build, 1),
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    return out
