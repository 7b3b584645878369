"""Check suspects against protected fingerprints: the `bouclier check` job, reusable from code."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .decide import IDENTICAL, NEAR_DUPLICATE, NO_MATCH
from .errors import ImageError
from .fingerprint import Query
from .load import Image, load
from .localise import pixel_difference
from .match import Matcher, MatchResult
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
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        if self.error is not None:
            return {"file": self.file, "verdict": None, "protected": None, "edited_fraction": None,
                    "scores": {}, "error": self.error}
        d = {"file": self.file, "sha256": self.sha256, **self.result.to_dict()}
        if self.original_sha256 is not None:  # --original: did it align, and what the pixels say
            x = self.extra
            d["original"] = {"sha256": self.original_sha256, "aligned": self.difference is not None,
                             "inliers": x.get("original_inliers"), "is_matched_photo": x.get("original_is_matched_photo")}
            note = x.get("original_alignment") or x.get("original_note")
            if note:
                d["original"]["note"] = note
        if self.difference is not None:
            d["pixel_edited_fraction"] = self.extra.get("pixel_edited_fraction")
        return d


def check_one(matcher: Matcher, source: str | Path | bytes, *, name: str | None = None,
              original: Image | None = None) -> Checked:
    label = name or str(source)
    try:
        image = load(source, name=name, max_side=WORK_SIDE)
    except ImageError as e:
        return Checked(label, error=e.reason)
    view = View(image.pixels)
    result = matcher.match_query(Query.compute(image, view))
    c = Checked(label, image.sha256, result, suspect_rgb=view.rgb)
    if result.alignment is not None:
        fp = result.fingerprint
        kp = fp.signals["orb"]
        m = result.alignment.matrix
        corners = np.array([[0, 0], [kp.width - 1, 0], [kp.width - 1, kp.height - 1], [0, kp.height - 1]], float)
        c.outline = corners @ m[:, :2].T + m[:, 2]
        c.inlier_points = kp.xy[result.alignment.protected_inliers] @ m[:, :2].T + m[:, 2]
        if result.edit_map is not None:
            h, w = view.rgb.shape[:2]
            c.edit_mask = result.edit_map.suspect_mask(w, h, w, h)
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
    ov = View(original.pixels)
    matched = c.result.fingerprint if c.result.verdict != NO_MATCH else None
    same = None
    if matched is not None:
        same = matcher.compare(Query.compute(original, ov), matched).verdict in (IDENTICAL, NEAR_DUPLICATE)
        c.extra["original_is_matched_photo"] = same
    kp = Keypoints.compute(ov, k=ORIGINAL_KEYPOINTS, bits=256)
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


def _agree(a: np.ndarray, b: np.ndarray, w: int, h: int) -> bool:
    """Two transforms of a w x h working frame move its corners to within AGREE_PX of each other."""
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], float)
    pa, pb = corners @ a[:, :2].T + a[:, 2], corners @ b[:, :2].T + b[:, 2]
    return float(np.linalg.norm(pa - pb, axis=1).max()) <= AGREE_PX
