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


SIZES_MP = (0.3, 1.0, 3.0, 12.0)


def large_photo_speed(repeat: int = 7, sizes_mp: tuple[float, ...] = SIZES_MP) -> dict:
    """Decode vs fingerprint for JPEGs of several sizes made from scikit-image's astronaut (4:3, q90).

    Decode grows with the pixel count, fingerprinting does not (it works on a 512 px copy), so the
    ratio depends on the size: small web images are where fingerprinting costs more than decoding.
    The 12 MP row (a phone photo) is kept under the top-level keys.
    """
    from skimage import data

    from ..fingerprint import compute
    from ..load import encode_jpeg

    cv2.setNumThreads(1)

    def med(f):
        ts = []
        for _ in range(repeat):
            t = time.perf_counter()
            r = f()
            ts.append((time.perf_counter() - t) * 1000)
        return float(np.median(ts)), r

    rows = []
    for mp in sizes_mp:
        w = int(round(np.sqrt(mp * 1e6 * 4 / 3)))
        h = int(round(w * 3 / 4))
        rng = np.random.default_rng(0)
        big = cv2.resize(data.astronaut(), (w, h), interpolation=cv2.INTER_CUBIC if w > 512 else cv2.INTER_AREA)
        big = np.clip(big + rng.normal(0, 4, big.shape), 0, 255).astype(np.uint8)  # sensor-like grain
        blob = encode_jpeg(big, 90)
        full, _ = med(lambda: load(blob))
        reduced, img = med(lambda: load(blob, max_side=WORK_SIDE))
        fp, _ = med(lambda: compute(img))
        rows.append({"megapixels": mp, "pixels": w * h, "jpeg_bytes": len(blob), "decode_full_ms": full,
                     "decode_ms": reduced, "fingerprint_ms": fp, "fingerprint_over_decode": fp / reduced,
                     "fingerprint_over_full_decode": fp / full})
    out = dict(rows[-1])
    out["by_size"] = rows
    return out
