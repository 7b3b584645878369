"""Check suspects against protected fingerprints: the `bouclier check` job, reusable from code."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from .decide import IDENTICAL, NEAR_DUPLICATE, NO_MATCH
from .errors import ImageError, unexpected
from .fingerprint import Query
from .load import Image, load
from .localise import pixel_difference
from .match import Matcher, MatchResult, frame_corners, instance
from .signals import View
from .signals.base import WORK_SIDE
from .signals.keypoints import Keypoints
from .verify import upscale, verify

ORIGINAL_KEYPOINTS = 1500  # when the original is at hand, align with many full-width keypoints
ORIGINAL_MIN_SUPPORT = 25.0  # an alignment of those this strong is no chance (see _compare_original)
AGREE_PX = 8.0  # suspect working pixels


@dataclass
class Checked:
    """One suspect's outcome, with the pictures an evidence report shows."""

    file: str
    sha256: str | None = None
    result: MatchResult | None = None
    error: str | None = None
    suspect_rgb: np.ndarray | None = None  # working copy (long side 512)
    edit_mask: np.ndarray | None = None  # bool, suspect working frame, from fingerprints
    outline: np.ndarray | None = None  # 4x2 corners of the protected photo in the suspect working frame
    inlier_points: np.ndarray | None = None  # Nx2, suspect working frame
    original_rgb: np.ndarray | None = None  # the original aligned onto the suspect (if given)
    difference: np.ndarray | None = None  # float 0-1 pixel difference map (if original given)
    original_sha256: str | None = None
    matches: list[dict] = field(default_factory=list)  # every protected photo found in it, `result` first
    other_outlines: list[np.ndarray] = field(default_factory=list)  # 4x2 corners of the others' frames
    extra: dict = field(default_factory=dict)

    def without_pictures(self) -> "Checked":
        """The same outcome without the images an evidence report draws (what a batch keeps)."""
        return replace(self, suspect_rgb=None, edit_mask=None, original_rgb=None, difference=None)

    def to_json(self) -> dict:
        if self.error is not None:
            return {"file": self.file, "verdict": None, "protected": None, "edited_fraction": None,
                    "scores": {}, "error": self.error}
        d = {"file": self.file, "sha256": self.sha256, **self.result.to_dict(), "matches": self.matches}
        if self.original_sha256 is not None:  # --original: did it align, and what the pixels say
            x = self.extra
            d["original"] = {"sha256": self.original_sha256, "aligned": "pixel_edited_fraction" in x,
                             "inliers": x.get("original_inliers"), "is_matched_photo": x.get("original_is_matched_photo")}
            note = x.get("original_alignment") or x.get("original_note")
            if note:
                d["original"]["note"] = note
        if "pixel_edited_fraction" in self.extra:  # kept when the pictures are dropped
            d["pixel_edited_fraction"] = self.extra["pixel_edited_fraction"]
        return d


def check_one(matcher: Matcher, source: str | Path | bytes, *, name: str | None = None,
              original: Image | None = None) -> Checked:
    label = name or str(source)
    try:
        image = load(source, name=name, max_side=WORK_SIDE)
    except ImageError as e:
        return Checked(label, error=e.reason)
    view = View(image.pixels)
    q = Query.compute(image, view)
    found = matcher.match_all(q)
    result = found[0]
    c = Checked(label, image.sha256, result, suspect_rgb=view.rgb)
    if result.alignment is not None:
        kp = result.fingerprint.signals["orb"]
        m = result.alignment.matrix
        c.outline = frame_corners(result)
        c.inlier_points = kp.xy[result.alignment.protected_inliers] @ m[:, :2].T + m[:, 2]
        if result.edit_map is not None:
            h, w = view.rgb.shape[:2]
            c.edit_mask = result.edit_map.suspect_mask(w, h, w, h)
    if result.verdict != NO_MATCH:
        c.matches = [instance(r, q) for r in found]
        c.other_outlines = [frame_corners(r) for r in found[1:] if r.alignment is not None]
    if original is not None:
        _compare_original(c, image, view, original, matcher)
    return c


def _compare_original(c: Checked, image: Image, suspect: View, original: Image, matcher: Matcher) -> None:
    """Pixel-level difference after aligning the original onto the suspect.

    The original's 1,500 keypoints align by chance far more strongly than a fingerprint's 128 (a support
    of 3.3 was seen between unrelated photos, above the matcher's threshold), so the difference is only
    computed when the alignment is strong (ORIGINAL_MIN_SUPPORT), or when the original is the matched
    protected photo and its alignment agrees with the fingerprints' one."""
    c.original_sha256 = original.sha256
    ov, oq, kp = _prepared(original)
    matched = c.result.fingerprint if c.result.verdict != NO_MATCH else None
    same = None
    if matched is not None:
        same = matcher.compare(oq, matched).verdict in (IDENTICAL, NEAR_DUPLICATE)
        c.extra["original_is_matched_photo"] = same
    al = verify(kp, Keypoints.query(suspect), upscale(image.width, image.height),
                upscale(original.width, original.height))
    strong = al is not None and al.support >= ORIGINAL_MIN_SUPPORT
    agrees = (al is not None and same and c.result.alignment is not None
              and al.support >= matcher.thresholds.min_score
              and _agree(al.matrix, c.result.alignment.matrix, ov.rgb.shape[1], ov.rgb.shape[0]))
    if not (strong or agrees):
        c.extra["original_alignment"] = ("failed: the original does not align with this suspect"
                                         + (" (and it is not the protected photo matched)" if same is False else ""))
        return
    if same is False:
        c.extra["original_note"] = "the original aligns with the suspect but is not the protected photo matched"
    h, w = suspect.rgb.shape[:2]
    c.original_rgb = cv2.warpAffine(ov.rgb, al.matrix, (w, h), flags=cv2.INTER_LINEAR)
    c.difference = pixel_difference(ov.rgb, suspect.rgb, al.matrix)
    cover = cv2.warpAffine(np.ones(ov.rgb.shape[:2], np.uint8), al.matrix, (w, h), flags=cv2.INTER_NEAREST) > 0
    edited = cv2.morphologyEx((c.difference > 0.35).astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8)) > 0
    c.extra["pixel_edited_fraction"] = round(float(edited[cover].mean()) if cover.any() else 0.0, 4)
    c.extra["original_inliers"] = al.inliers


_PREPARED: list = []  # [(original, (view, query, keypoints))]: one original serves a whole batch


def _prepared(original: Image) -> tuple[View, Query, Keypoints]:
    if not _PREPARED or _PREPARED[0][0] is not original:
        ov = View(original.pixels)
        _PREPARED[:] = [(original, (ov, Query.compute(original, ov),
                                    Keypoints.compute(ov, k=ORIGINAL_KEYPOINTS, bits=256)))]
    return _PREPARED[0][1]


def _agree(a: np.ndarray, b: np.ndarray, w: int, h: int) -> bool:
    """Two transforms of a w x h working frame move its corners to within AGREE_PX of each other."""
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], float)
    pa, pb = corners @ a[:, :2].T + a[:, 2], corners @ b[:, :2].T + b[:, 2]
    return float(np.linalg.norm(pa - pb, axis=1).max()) <= AGREE_PX


# ---------------------------------------------------------------------------------------------------
# Batches


def bundle_matcher(fingerprints) -> Matcher:
    """A matcher over a bundle's fingerprints, keyed by their position ("0", "1", ...)."""
    m = Matcher()
    for i, fp in enumerate(fingerprints):
        m.add(f"{i}", fp)
    return m


def _safe_check(matcher: Matcher, path, original: Image | None, pictures: bool) -> Checked:
    try:
        c = check_one(matcher, path, original=original)
    except Exception as e:  # a bug must not stop the batch
        c = Checked(str(path), error=unexpected(e))
    return c if pictures else c.without_pictures()


def check_many(matcher: Matcher, files, *, original: Image | None = None, pictures: bool = True):
    """Check files one after the other; yields (position, Checked) in order. Without `pictures` only
    what a table or JSON line needs is kept (a batch of 10,000 suspects would otherwise hold ~6 GB)."""
    for i, f in enumerate(files):
        yield i, _safe_check(matcher, f, original, pictures)


_W: dict = {}


def _worker_init(bundle_path: str, original_path: str | None) -> None:
    from . import bundle as bundle_mod

    cv2.setNumThreads(1)
    _W["matcher"] = bundle_matcher(bundle_mod.read(bundle_path).fingerprints)
    _W["original"] = load(original_path, max_side=WORK_SIDE) if original_path else None


def _worker_check(path: str, pictures: bool) -> Checked:
    return _safe_check(_W["matcher"], path, _W["original"], pictures)


WORKER_DIED = "a worker process died on this file (out of memory, or a crash inside a decoder)"


def check_parallel(bundle_path, files, *, workers: int, original_path=None, pictures: bool = True):
    """`check_many` on `workers` processes, each with its own matcher; yields (position, Checked) as
    they finish. If a process dies, the files it may have held are checked again one by one, each in
    a process of its own, so that only the file that kills a process is reported."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    files = list(files)
    args = (str(bundle_path), str(original_path) if original_path else None)
    ctx = mp.get_context("spawn")  # faiss and OpenCV threads do not survive a fork

    def pool(n: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(n, mp_context=ctx, initializer=_worker_init, initargs=args)

    todo, suspects = list(enumerate(files))[::-1], []
    while todo:
        ex, running = pool(workers), {}
        try:
            while todo or running:
                while todo and len(running) < 4 * workers:
                    i, f = todo[-1]
                    running[ex.submit(_worker_check, str(f), pictures)] = i
                    todo.pop()
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = running.pop(fut)
                    try:
                        yield i, fut.result()
                    except BrokenProcessPool:
                        suspects.append(i)
        except BrokenProcessPool:  # raised by submit once the pool is broken
            pass
        finally:
            suspects += running.values()
            ex.shutdown(wait=True, cancel_futures=True)
        for i in sorted(set(suspects)):  # alone, so that only the culprit fails
            with pool(1) as solo:
                try:
                    yield i, solo.submit(_worker_check, str(files[i]), pictures).result()
                except BrokenProcessPool:
                    yield i, Checked(str(files[i]), error=WORKER_DIED)
        suspects = []
