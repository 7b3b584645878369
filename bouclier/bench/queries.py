"""Benchmark queries: make a benign derivative, ask every method, keep the outcome (worker side).

Runs in worker processes: each worker builds its own matcher from the bundle bytes once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import imagehash
import numpy as np
from PIL import Image as PILImage

from .. import bundle as bundle_mod
from ..decide import Thresholds, pdq_counts
from ..errors import ImageError
from ..fingerprint import Query
from ..load import load, load_array
from ..match import Matcher
from ..signals import View
from ..signals.base import WORK_SIDE
from .edits import make_derivative
from .metrics import iou

# Photos enter the benchmark at most this size (the shared corpus was prepared the same way).
PHOTO_MAX_SIDE = 1024

# Permissive matcher: the benchmark sweeps the inlier threshold itself.
PERMISSIVE = Thresholds(min_score=1.0, min_edited_fraction=0.0, calibrated_by="benchmark sweep")

# Sweep score of a match made by policy (same bytes, PDQ <= 31): above any score threshold.
POLICY_SCORE = 1e6


@dataclass
class Task:
    photo: str  # photo id (the protected key for protected photos)
    path: str
    mask: str | None
    kind: str  # "protected" | "distractor"
    split: str  # "calibration" | "test"
    donor: str | None
    seed: int
    specs: list[tuple[float, int]]  # (area, n_transforms) per variant
    boxes: list | None = None  # person boxes [x, y, w, h] in the corpus image's pixels


_W: dict = {}


def init_worker(bundle_bytes: bytes, pdq: np.ndarray, phash: np.ndarray, ids: list[str]) -> None:
    cv2.setNumThreads(1)
    m = Matcher(PERMISSIVE)
    for fp in bundle_mod.loads(bundle_bytes).fingerprints:
        m.add(fp.label, fp)
    _W.update(matcher=m, pdq=pdq, phash=phash, ids=ids)


def phash64(rgb: np.ndarray) -> np.ndarray:
    """pHash (imagehash) as 8 packed bytes."""
    h = imagehash.phash(PILImage.fromarray(rgb))
    return np.packbits(h.hash.astype(np.uint8).ravel())


def _nearest(codes: np.ndarray, q: np.ndarray) -> tuple[int, int]:
    d = np.bitwise_count(codes ^ q[None, :]).sum(axis=1)
    i = int(np.argmin(d))
    return i, int(d[i])


def run_task(t: Task) -> list[dict]:
    m: Matcher = _W["matcher"]
    ids = _W["ids"]
    rng = np.random.default_rng(t.seed)
    base = load(t.path, max_side=PHOTO_MAX_SIDE).pixels
    person = cv2.imread(t.mask, cv2.IMREAD_GRAYSCALE) if t.mask else None
    boxes = t.boxes
    if person is not None and person.shape != base.shape[:2]:
        f = base.shape[1] / person.shape[1]
        boxes = [[v * f for v in b] for b in boxes] if boxes else boxes
        person = cv2.resize(person, (base.shape[1], base.shape[0]), interpolation=cv2.INTER_NEAREST)
    donor = load(t.donor, max_side=PHOTO_MAX_SIDE).pixels if t.donor else None
    out = []
    for area, n_tr in t.specs:
        d = make_derivative(base, rng, area=area, n_transforms=n_tr, person_mask=person, donor=donor,
                            person_boxes=boxes)
        rec = {"photo": t.photo, "kind": t.kind, "split": t.split, "area": area, "fill": d.fill,
               "shape": d.shape, "transforms": d.transforms, "methods": {}}
        t0 = time.perf_counter()
        img = load_array(d.pixels)
        view = View(img.pixels)
        q = Query.compute(img, view)
        t1 = time.perf_counter()
        r = m.match_query(q)
        t2 = time.perf_counter()
        rec["ms"] = {"query": (t1 - t0) * 1000, "match": (t2 - t1) * 1000}
        found = r.key if r.verdict != "no-match" else None
        rec["methods"]["bouclier"] = {"photo": found, "score": _score(r),
                                      "verdict": r.verdict, "edited_fraction": r.edited_fraction}
        if t.kind == "protected" and t.split == "calibration":
            rec["methods"]["bouclier"]["other"] = _left_out(m, q, t.photo)
        if found == t.photo and r.edit_map is not None and area > 0:
            h, w = d.pixels.shape[:2]
            pred = r.edit_map.suspect_mask(q.grid.work_width, q.grid.work_height, w, h)
            rec["iou"] = iou(pred, d.edited_mask)
        pdq = _W["pdq"]
        i, dist = _nearest(pdq, np.frombuffer(q.pdq.hashes[0], np.uint8))
        rec["methods"]["pdq"] = {"photo": ids[i], "score": -dist, "distance": dist}
        best = min((_nearest(pdq, np.frombuffer(h_, np.uint8)) for h_ in q.pdq.hashes), key=lambda x: x[1])
        rec["methods"]["pdq-dihedral"] = {"photo": ids[best[0]], "score": -best[1], "distance": best[1]}
        i, dist = _nearest(_W["phash"], phash64(d.pixels))
        rec["methods"]["phash"] = {"photo": ids[i], "score": -dist, "distance": dist}
        out.append(rec)
    return out


def _left_out(m: Matcher, q: Query, photo: str) -> float | None:
    """Score of the best match once the query's own photo is left out: a negative for calibration
    (this derivative's source is then unprotected, and anything it matches is a false alarm)."""
    r = m.match_query(q, exclude=photo)
    return None if r.verdict == "no-match" else _score(r)


def _score(r) -> float:
    """bouclier's score for the sweep: matches by policy (same bytes, PDQ <= 31 at usable quality) above
    any threshold."""
    s = r.scores
    quality = min(s.get("pdq_quality", 100), s.get("suspect_pdq_quality", 100))
    policy = r.verdict == "identical" or pdq_counts(s.get("pdq_distance"), quality, PERMISSIVE)
    return POLICY_SCORE if policy else float(r.scores.get("score", 0))


def _dedupe_fingerprint(path: str) -> bytes | str:
    """The photo's fingerprint, or why it cannot be read (the benchmark leaves it out)."""
    from ..fingerprint import compute

    cv2.setNumThreads(1)
    try:
        return compute(load(path, max_side=WORK_SIDE), label=path).to_bytes()
    except ImageError as e:
        return e.reason


def init_dedupe(fps: list[bytes]) -> None:
    from ..fingerprint import Fingerprint

    cv2.setNumThreads(1)
    m = Matcher(PERMISSIVE)
    for b in fps:
        fp = Fingerprint.from_bytes(b)
        m.add(fp.label, fp)
    _W["dedupe"] = m


NEAR_DUPLICATE_INLIERS = 25  # chance alignments stay far below (see BENCHMARKS.md)


def near_duplicates_of(path: str) -> list[str]:
    """Other corpus photos that are the same picture as this one (strict: many inliers or PDQ <= 31)."""
    m: Matcher = _W["dedupe"]
    q = Query.compute(load(path, max_side=WORK_SIDE))
    out = []
    for slot in m.candidates(q):
        r = m.compare(q, m._fps[slot])
        key = m._keys[slot]
        if key != path and (r.scores.get("inliers", 0) >= NEAR_DUPLICATE_INLIERS or (r.scores.get("pdq_distance") or 999) <= 31):
            out.append(key)
    return out
