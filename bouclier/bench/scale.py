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


def synthetic(rng: np.random.Generator, n: int, start: int = 0) -> list[Fingerprint]:
    """n random fingerprints labelled synthetic-{start}, ... Positions, angles and grid are drawn once
    per call and shared (memory at 1M photos); descriptors, PDQ and file hash are each photo's own."""
    xy = (rng.random((PROTECT_KEYPOINTS, 2)) * [511, 383]).astype(np.float32)
    angle = (rng.random(PROTECT_KEYPOINTS) * 360).astype(np.float32)
    g = EditGrid(rng.integers(0, 16, (CELLS, CELLS), dtype=np.uint8), rng.integers(0, 16, (CELLS, CELLS), dtype=np.uint8))
    desc = rng.integers(0, 256, (n, PROTECT_KEYPOINTS, DESCRIPTOR_BITS // 8), dtype=np.uint8)
    pdq, sha = rng.bytes(32 * n), rng.bytes(32 * n)
    return [Fingerprint(f"synthetic-{start + i}", sha[32 * i:32 * i + 32].hex(), 4032, 3024,
                        {"pdq": PDQ(pdq[32 * i:32 * i + 32], 100), "orb": Keypoints(512, 384, xy, angle, desc[i]),
                         "grid": g})
            for i in range(n)]


def latency(matcher: Matcher, queries: list, repeat: int = 1) -> dict:
    ms = []
    for _ in range(repeat):
        for q in queries:
            t = time.perf_counter()
            matcher.match_query(q)
            ms.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "n": len(ms)}


def rss_mb() -> float:
    """Resident memory now (MB)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return float("nan")


def run_scale(real: list[Fingerprint], queries: list, sizes: list[int], progress=None, seed: int = 0) -> dict:
    """Latency per index size; one matcher grown step by step (each step a bulk load, as at start)."""
    rng = np.random.default_rng(seed)
    m = Matcher()
    for fp in real:
        m.add(fp.label, fp)
    out = {}
    n = len(real)
    for size in sorted(sizes):
        t0 = time.perf_counter()
        while n < size:
            batch = synthetic(rng, min(5000, size - n), start=n)  # unique labels: a label is a key
            for fp in batch:
                m.add(fp.label, fp)
            n += len(batch)
            if progress:
                progress(n)
        fill = time.perf_counter() - t0
        m.settle()  # index build (not timed as matching)
        build = time.perf_counter() - t0 - fill
        lat = latency(m, queries)
        index = m.index("orb")
        assert len(m) == len(index) == n, "every added photo must stay indexed"
        per_photo = index.rows.n * (index.bits // 8 + 8 + 4 + 1) / max(len(index), 1)  # code, id, owner, bin
        out[str(size)] = {**lat, "protected": n, "synthetic": max(0, n - len(real)), "fill_s": round(fill, 1),
                          "build_s": round(build, 1), "index": index.kind, "index_bytes_per_photo": round(per_photo),
                          "rss_mb": round(rss_mb()),
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    return out
