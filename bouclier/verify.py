"""Geometric verification: is the suspect a geometric copy of a protected photo, and by which transform?

Tentative one-to-one descriptor matches are filtered by a vote on the ORB orientation difference,
and a similarity transform (rotation, scale, translation) is fitted with RANSAC. (Guided matching,
looking again for every protected keypoint near its projection and refitting, was tried and removed:
it inflated chance matches, docs/matching.md.)
Mirrored copies are matched on the suspect's mirror image and the mirror is composed in.

The alignment's `support` counts inliers weighted by how exactly they fit: a copy moves every kept
keypoint by the same transform (residuals are keypoint-detection noise), while a second shot of the
same scene fits only roughly (parallax, a moved camera), so its inliers sit further from the model.
Each inlier is also weighted by how alike its two descriptors are: a copy's keypoints keep their
patch, while chance alignments are made of loosely similar patches.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import faiss
import numpy as np

from .signals.base import WORK_SIDE
from .signals.keypoints import KeypointQuery, Keypoints

MATCH_FRACTION = 0.30  # tentative match: Hamming distance <= 30 % of the descriptor bits
RANSAC_PX = 5.0  # reprojection threshold, working pixels (long side 512)
MIN_SCALE, MAX_SCALE = 0.3, 3.5  # suspect vs protected, both at working size
ANGLE_BIN = 15
RESIDUAL_PX = 1.0  # support weight of an inlier: 1 / (1 + (residual / RESIDUAL_PX)^2)


@dataclass
class Alignment:
    matrix: np.ndarray  # 2x3: protected working pixels -> suspect working pixels (mirror included)
    mirrored: bool
    inliers: int
    tentative: int
    protected_inliers: np.ndarray  # indices of protected keypoints that are inliers
    residuals: np.ndarray  # per inlier: distance from the model, suspect working pixels
    noise_px: float = 1.0  # expected keypoint position noise, suspect working pixels (see `verify`)
    distances: np.ndarray | None = None  # per inlier: descriptor Hamming distance to its suspect match, bits
    descriptor_bits: int = 128  # of the protected descriptors (what `distances` counts)

    @property
    def support(self) -> float:
        """Inliers weighted by fit (1 for an exact fit, 0.5 at RESIDUAL_PX noise units, 0.2 at twice
        that) and by descriptor likeness (1 for equal descriptors, falling to 0 at the tentative-match
        limit, MATCH_FRACTION of the bits)."""
        w = 1.0 / (1.0 + (self.residuals / (RESIDUAL_PX * self.noise_px)) ** 2)
        if self.distances is not None:
            w = w * np.clip(1.0 - self.distances / (MATCH_FRACTION * self.descriptor_bits), 0.0, 1.0)
        return float(w.sum())

    @property
    def scale(self) -> float:
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))

    @property
    def rotation(self) -> float:
        """Rotation in degrees (of the unmirrored part)."""
        a, b = self.matrix[0, 0], self.matrix[1, 0]
        if self.mirrored:
            a = -a
        return float(np.degrees(np.arctan2(b, a)))

    def describe(self) -> dict:
        return {"matrix": [[round(float(v), 5) for v in row] for row in self.matrix], "mirrored": self.mirrored,
                "scale": round(self.scale, 4), "rotation_deg": round(self.rotation, 2)}


def _one_to_one(rows: np.ndarray, cols: np.ndarray, d: np.ndarray, max_d: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy one-to-one pairs (protected i, suspect j) by increasing distance."""
    keep = (d <= max_d) & (cols >= 0)
    rows, cols, d = rows[keep], cols[keep], d[keep]
    order = np.argsort(d, kind="stable")
    used_r, used_c, pi, qi = set(), set(), [], []
    for r, c in zip(rows[order].tolist(), cols[order].tolist()):
        if r in used_r or c in used_c:
            continue
        used_r.add(r)
        used_c.add(c)
        pi.append(r)
        qi.append(c)
    return np.array(pi, int), np.array(qi, int)


_PREV = np.roll(np.arange(360 // ANGLE_BIN), 1)
_NEXT = np.roll(np.arange(360 // ANGLE_BIN), -1)


def _angle_filter(pang: np.ndarray, qang: np.ndarray) -> np.ndarray:
    """Keep matches whose orientation difference agrees with the dominant one (±2 bins)."""
    da = (qang - pang) % 360
    nb = 360 // ANGLE_BIN
    hist = np.bincount((da // ANGLE_BIN).astype(int) % nb, minlength=nb)
    smooth = hist + hist[_PREV] + hist[_NEXT]  # circular neighbours
    centre = (np.argmax(smooth) + 0.5) * ANGLE_BIN
    return np.abs((da - centre + 180) % 360 - 180) <= 2 * ANGLE_BIN


def _fit(src: np.ndarray, dst: np.ndarray, px: float) -> tuple[np.ndarray | None, np.ndarray]:
    if len(src) < 3:
        return None, np.zeros(0, bool)
    m, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=px,
                                         maxIters=2000, confidence=0.995, refineIters=10)
    if m is None:
        return None, np.zeros(len(src), bool)
    s = np.sqrt(abs(np.linalg.det(m[:, :2])))
    if not MIN_SCALE <= s <= MAX_SCALE:
        return None, np.zeros(len(src), bool)
    return m, inl.ravel().astype(bool)


class _Side:
    """One orientation of the suspect, with search structures built once and reused per candidate."""

    def __init__(self, xy: np.ndarray, ang: np.ndarray, desc: np.ndarray):
        self.xy, self.ang, self.desc = xy, ang, desc
        self._index: dict[int, faiss.IndexBinaryFlat] = {}

    def index(self, nb: int) -> faiss.IndexBinaryFlat:
        if nb not in self._index:
            ix = faiss.IndexBinaryFlat(nb * 8)
            ix.add(np.ascontiguousarray(self.desc[:, :nb]))
            self._index[nb] = ix
        return self._index[nb]


def _sides(query: KeypointQuery) -> list[_Side]:
    if getattr(query, "_sides", None) is None:
        query._sides = [_Side(*o) for o in query.orientations]
    return query._sides


def _residuals(m: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    return np.linalg.norm(src @ m[:, :2].T + m[:, 2] - dst, axis=1).astype(np.float32)


def _verify_one(prot: Keypoints, side: _Side):
    nb = prot.desc.shape[1]
    bits = nb * 8
    if len(prot.xy) < 3 or len(side.xy) < 3:
        return None
    d, j = side.index(nb).search(prot.desc, 2)
    rows = np.repeat(np.arange(len(prot.xy)), 2)
    pi, qi = _one_to_one(rows, j.ravel(), d.ravel().astype(np.float32), MATCH_FRACTION * bits)
    tentative = len(pi)
    if tentative < 3:
        return None
    keep = _angle_filter(prot.angle[pi], side.ang[qi])
    pi, qi = pi[keep], qi[keep]
    m, inl = _fit(prot.xy[pi], side.xy[qi], RANSAC_PX)
    if m is None or inl.sum() < 3:
        return None
    pi, qi = pi[inl], qi[inl]
    ham = np.bitwise_count(prot.desc[pi] ^ side.desc[qi, :nb]).sum(axis=1).astype(np.float32)
    return m, len(pi), tentative, pi, _residuals(m, prot.xy[pi], side.xy[qi]), ham, bits


def upscale(width: int, height: int) -> float:
    """How much a photo of this size was enlarged to its working copy (1 when it was not)."""
    return max(1.0, WORK_SIDE / max(width, height, 1))


def verify(prot: Keypoints, query: KeypointQuery, suspect_upscale: float = 1.0,
           protected_upscale: float = 1.0) -> Alignment | None:
    """Best alignment of a protected photo's keypoints into the suspect, or None.

    A photo smaller than the working size is enlarged for detection, which enlarges its keypoints'
    position noise too: the upscales (`upscale(w, h)` of each original) set the alignment's noise_px.
    """
    best: Alignment | None = None
    for o, side in enumerate(_sides(query)):
        r = _verify_one(prot, side)
        if r is None:
            continue
        m, n, tentative, pin, res, ham, bits = r
        mirrored = o == 1
        if mirrored:  # fitted into the mirror image: compose x -> (W - 1) - x
            flip = np.array([[-1.0, 0, query.width - 1], [0, 1, 0], [0, 0, 1]])
            m = (flip @ np.vstack([m, [0, 0, 1]]))[:2]
        a = Alignment(m, mirrored, n, tentative, pin, res, distances=ham, descriptor_bits=bits)
        a.noise_px = max(suspect_upscale, protected_upscale * a.scale)
        if best is None or a.support > best.support:
            best = a
    return best
