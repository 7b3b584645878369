"""Benchmark protect phase: decode and fingerprint each protected photo, timing every stage."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from ..fingerprint import Fingerprint
from ..load import load
from ..signals import REGISTRY, View
from ..signals.base import WORK_SIDE
from .queries import PHOTO_MAX_SIDE, phash64


def protect_one(args: tuple[str, str]) -> dict:
    """(photo id, path) -> fingerprint bytes, baseline hashes and stage timings (ms)."""
    cv2.setNumThreads(1)
    pid, path = args
    data = Path(path).read_bytes()
    t0 = time.perf_counter()
    full = load(data, name=path)  # full-size decode: the baselines' input, and the reference time
    t1 = time.perf_counter()
    img = load(data, name=path, max_side=WORK_SIDE)  # the fast path bouclier uses
    t2 = time.perf_counter()
    view = View(img.pixels)
    _ = view.gray
    t3 = time.perf_counter()
    signals, stage = {}, {}
    for name, kind in REGISTRY.items():
        s = time.perf_counter()
        signals[name] = kind.compute(view)
        stage[name] = (time.perf_counter() - s) * 1000
    fp = Fingerprint(pid, img.sha256, img.width, img.height, signals)
    blob = fp.to_bytes()
    t4 = time.perf_counter()
    small = load(data, name=path, max_side=PHOTO_MAX_SIDE).pixels  # what derivatives are made from
    return {"id": pid, "fingerprint": blob, "pdq": fp.pdq.hash, "phash": phash64(small).tobytes(),
            "ms": {"decode_full": (t1 - t0) * 1000, "decode": (t2 - t1) * 1000, "prepare": (t3 - t2) * 1000,
                   **{f"signal_{k}": v for k, v in stage.items()}, "fingerprint": (t4 - t2) * 1000},
            "pixels": int(full.width * full.height)}


def stage_summary(rows: list[dict]) -> dict:
    keys = rows[0]["ms"].keys()
    med = {k: float(np.median([r["ms"][k] for r in rows])) for k in keys}
    med["fingerprint_over_decode"] = med["fingerprint"] / med["decode"]
    med["fingerprint_over_full_decode"] = med["fingerprint"] / med["decode_full"]
    return med


def large_photo_speed(repeat: int = 7) -> dict:
    """Decode vs fingerprint for a phone-sized photo (12 MP JPEG made from scikit-image's astronaut).

    Corpus photos are small; this shows the ratio where decode cost is realistic for uploads.
    """
    from skimage import data

    from ..fingerprint import compute
    from ..load import encode_jpeg

    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    big = cv2.resize(data.astronaut(), (4000, 3000), interpolation=cv2.INTER_CUBIC)
    big = np.clip(big + rng.normal(0, 4, big.shape), 0, 255).astype(np.uint8)  # sensor-like grain
    blob = encode_jpeg(big, 90)

    def med(f):
        ts = []
        for _ in range(repeat):
            t = time.perf_counter()
            r = f()
            ts.append((time.perf_counter() - t) * 1000)
        return float(np.median(ts)), r

    full, _ = med(lambda: load(blob))
    reduced, img = med(lambda: load(blob, max_side=WORK_SIDE))
    fp, _ = med(lambda: compute(img))
    return {"pixels": 12_000_000, "jpeg_bytes": len(blob), "decode_full_ms": full, "decode_ms": reduced,
            "fingerprint_ms": fp, "fingerprint_over_decode": fp / reduced, "fingerprint_over_full_decode": fp / full}
