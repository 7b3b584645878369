"""The matching engine: protected fingerprints in, verdicts out. Used by the CLI and the service.

index (PDQ + local descriptors) -> candidates -> verify (geometry) -> localise (edit grid) -> decide.
Not thread-safe: callers serialise access (the service holds a lock).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import faiss
import numpy as np

from . import __version__
from .decide import DERIVATIVE, NO_MATCH, RANK, Thresholds, decide, match_score
from .fingerprint import Fingerprint, Query
from .localise import EditMap, localise
from .signals import REGISTRY
from .signals.base import work_size
from .signals.keypoints import KeypointQuery
from .verify import Alignment, upscale, verify

# One match is small work: faiss's thread pool only adds contention (1.7 s vs 9 ms seen under load).
faiss.omp_set_num_threads(1)

MAX_INSTANCES = 4  # protected photos (or copies of one) reported in one suspect by `match_all`
MIN_PART_KEYPOINTS = 30  # suspect keypoints a part must keep to be searched for another instance
INSTANCE_OVERLAP = 0.5  # an instance whose frame lies more than this inside earlier ones is dropped

ALGORITHM = "bouclier-orb-grid"
ALGORITHM_VERSION = 5  # 5: PDQ decides only at quality >= 50 (fingerprints as in 4)


def algorithm_info() -> dict:
    return {"name": ALGORITHM, "version": ALGORITHM_VERSION, "tool_version": __version__,
            "signals": {n: k.version for n, k in REGISTRY.items()}}


@dataclass
class MatchResult:
    verdict: str
    key: str | None = None
    fingerprint: Fingerprint | None = None
    edited_fraction: float | None = None
    scores: dict = field(default_factory=dict)
    alignment: Alignment | None = None
    edit_map: EditMap | None = None
    thresholds: Thresholds | None = None

    @property
    def protected(self) -> str | None:
        if self.fingerprint is None:
            return None
        return self.fingerprint.label or self.fingerprint.id

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "protected": self.protected,
            "protected_id": self.fingerprint.id if self.fingerprint else None,
            "key": self.key,
            "edited_fraction": None if self.edited_fraction is None else round(self.edited_fraction, 4),
            "scores": self.scores,
            "transform": self.alignment.describe() if self.alignment else None,
            "algorithm": algorithm_info(),
            "thresholds": (self.thresholds or Thresholds.default()).to_dict(),
        }


class Matcher:
    def __init__(self, thresholds: Thresholds | None = None):
        self.thresholds = thresholds or Thresholds.default()
        self._reset()

    def _reset(self) -> None:
        self._fps: list[Fingerprint | None] = []
        self._keys: list[str | None] = []
        self._slot: dict[str, int] = {}
        self._by_sha: dict[str, set[int]] = {}
        self._indexes = {n: k.make_index() for n, k in REGISTRY.items() if k.make_index() is not None}

    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, key: str) -> bool:
        return key in self._slot

    def keys(self) -> list[str]:
        return list(self._slot)

    def index(self, signal: str):
        """The index of one fingerprint kind (e.g. "orb"), for size and memory reports."""
        return self._indexes[signal]

    def add(self, key: str, fp: Fingerprint) -> None:
        """Index a protected fingerprint under a unique key (an existing key is replaced)."""
        if key in self._slot:
            self.remove(key)
        slot = len(self._fps)
        self._fps.append(fp)
        self._keys.append(key)
        self._slot[key] = slot
        self._by_sha.setdefault(fp.sha256, set()).add(slot)
        for name, index in self._indexes.items():
            if name in fp.signals:
                index.add(slot, fp.signals[name])

    def remove(self, key: str) -> bool:
        """Withdraw a fingerprint: from this call on, it can never be matched."""
        slot = self._slot.pop(key, None)
        if slot is None:
            return False
        fp = self._fps[slot]
        self._fps[slot] = None
        self._keys[slot] = None
        self._by_sha.get(fp.sha256, set()).discard(slot)
        for name, index in self._indexes.items():
            if name in fp.signals and hasattr(index, "remove"):  # else `candidates` drops its hits
                index.remove(slot)
        return True

    def flush(self) -> None:
        """Index pending adds now (matching does it lazily)."""
        for index in self._indexes.values():
            if hasattr(index, "flush"):
                index.flush()

    def settle(self) -> None:
        """Finish pending index work now (benchmarks and tests; matching does it lazily)."""
        for index in self._indexes.values():
            if hasattr(index, "settle"):
                index.settle()

    def match(self, image) -> MatchResult:
        return self.match_query(Query.compute(image))

    def candidates(self, q: Query, exclude: str | None = None) -> list[int]:
        found: dict[int, tuple[float, float]] = {}  # slot -> (pdq score, votes)
        if "pdq" in self._indexes and q.pdq is not None:
            for s, v in self._indexes["pdq"].search(q.pdq).items():
                found[s] = (v, found.get(s, (0, 0))[1])
        if "orb" in self._indexes:
            for s, v in self._indexes["orb"].search(q.keypoints).items():
                found[s] = (found.get(s, (0, 0))[0], v)
        for s in self._by_sha.get(q.sha256, ()):
            found[s] = (1e9, 0)
        live = [(s, sc) for s, sc in found.items() if self._fps[s] is not None and self._keys[s] != exclude]
        live.sort(key=lambda x: (-x[1][0], -x[1][1]))
        return [s for s, _ in live[: self.thresholds.candidates]]

    def compare(self, q: Query, fp: Fingerprint) -> MatchResult:
        """Verdict of one suspect against one protected fingerprint."""
        return self._conclude(q, fp, self._align(q, fp))

    def _align(self, q: Query, fp: Fingerprint) -> _Aligned:
        """The cheap half of `compare`: PDQ distance and geometric verification."""
        a = _Aligned()
        if fp.pdq is not None and q.pdq is not None:
            a.pdq_distance, a.pdq_variant = q.pdq.best(fp.pdq.hash)
            a.pdq_quality = min(q.pdq.quality, fp.pdq.quality)
        kp = fp.signals.get("orb")
        if kp is not None:
            a.alignment = verify(kp, q.keypoints, upscale(q.width, q.height), upscale(fp.width, fp.height))
        a.same_bytes = q.sha256 == fp.sha256
        return a

    def _best_possible(self, a: _Aligned) -> tuple:
        """An upper bound of `rank_key` of the result `_conclude` would make: the score is at most the
        support, rounded as the score is."""
        top = round(a.support, 2)
        verdict = decide(same_bytes=a.same_bytes, pdq_distance=a.pdq_distance, pdq_variant=a.pdq_variant,
                         score=top, edited_fraction=None, th=self.thresholds,
                         pdq_quality=a.pdq_quality)  # ranks as a derivative would
        return _order(verdict, top, a.pdq_distance)

    def _conclude(self, q: Query, fp: Fingerprint, a: _Aligned) -> MatchResult:
        """The costly half of `compare`: localise the edit (when the alignment is strong enough) and decide."""
        th = self.thresholds
        scores: dict = {}
        pdq_d, variant, alignment = a.pdq_distance, a.pdq_variant, a.alignment
        if pdq_d is not None:
            scores.update(pdq_distance=pdq_d, pdq_variant=variant, pdq_quality=fp.pdq.quality,
                          suspect_pdq_quality=q.pdq.quality)
        edit_map = edited = None
        kp = fp.signals.get("orb")
        support = a.support
        if kp is not None:
            scores["inliers"] = alignment.inliers if alignment else 0
            scores["support"] = round(support, 2)
            scores["tentative_matches"] = alignment.tentative if alignment else 0
            scores["protected_keypoints"] = len(kp.xy)
        grid = fp.signals.get("grid")
        if alignment is not None and grid is not None and support >= th.min_score:  # the score is <= support
            pw, ph = work_size(fp.width, fp.height)
            xy = kp.xy[alignment.protected_inliers] if kp is not None else None
            edit_map = localise(grid, q.grid, alignment, pw, ph, xy)
            edited = edit_map.edited_fraction
            scores["visible_fraction"] = round(edit_map.visible_fraction, 4)
            scores["coverage"] = round(1 - edited, 4)
        score = round(match_score(support, edited), 2)  # 0 without an alignment (support 0)
        if kp is not None:
            scores["score"] = score
        verdict = decide(same_bytes=a.same_bytes, pdq_distance=pdq_d, pdq_variant=variant,
                         score=score, edited_fraction=edited, th=th, pdq_quality=a.pdq_quality)
        return MatchResult(verdict, None, fp, edited if verdict != NO_MATCH else None, scores,
                           alignment if verdict != NO_MATCH else None, edit_map, th)

    def match_query(self, q: Query, exclude: str | None = None) -> MatchResult:
        """Best result over the candidates: all are verified, then the edit is localised (the costly
        step) only for those that can still beat the best so far, strongest first. The result is
        the one `compare` on every candidate would give (ties go to the earlier candidate).
        `exclude` leaves one protected key out, as if it were not protected (calibration)."""
        slots, aligned = self._verified(q, exclude)
        return self._final(self._pick(q, slots, aligned), len(slots))

    def match_all(self, q: Query, exclude: str | None = None, limit: int = MAX_INSTANCES) -> list[MatchResult]:
        """Every protected photo the suspect shows, up to `limit`: a collage of several, or a
        before/after pair (the photo and its edit side by side). The first instance is `match_query`'s
        result; each next one is the best match of the suspect's keypoints outside the frames found so
        far, among the candidates that verified at `min_score` against the whole suspect (a part
        cannot align better than the whole), and must lie mostly outside them. Ordered for reporting:
        a manipulated derivative before a near-duplicate, then by score. No match: one no-match result."""
        slots, aligned = self._verified(q, exclude)
        found = [self._final(self._pick(q, slots, aligned), len(slots))]
        if found[0].verdict == NO_MATCH:
            return found
        pool = [s for s, a in zip(slots, aligned) if a.support >= self.thresholds.min_score]
        kq = q.keypoints
        taken = np.zeros((kq.height, kq.width), np.uint8)
        _cover(taken, found[0])
        if found[0].alignment is None:  # same bytes or PDQ without keypoints: the whole suspect is that photo
            taken[:] = 1
        while len(found) < limit:
            part = _outside(q, taken)
            if part is None:
                break
            r = self._pick(part, pool, [self._align(part, self._fps[s]) for s in pool])
            if r is None or r.verdict == NO_MATCH:
                break
            frame = _cover(np.zeros_like(taken), r)
            if (frame & taken).sum() > INSTANCE_OVERLAP * max(int(frame.sum()), 1):
                break  # the same place again, not another instance
            r.scores["candidates"] = len(slots)  # photos examined for this suspect (the part re-verified fewer)
            found.append(r)
            taken |= frame
        return sorted(found, key=report_order, reverse=True)

    def _verified(self, q: Query, exclude: str | None) -> tuple[list[int], list[_Aligned]]:
        slots = self.candidates(q, exclude)
        return slots, [self._align(q, self._fps[s]) for s in slots]

    def _pick(self, q: Query, slots: list[int], aligned: list[_Aligned]) -> MatchResult | None:
        bound = [self._best_possible(a) for a in aligned]
        best: MatchResult | None = None
        best_key, best_at = None, -1
        for i in sorted(range(len(slots)), key=lambda i: bound[i], reverse=True):
            if best is not None and bound[i] < best_key:
                break  # sorted: no later candidate can win either
            r = self._conclude(q, self._fps[slots[i]], aligned[i])
            r.key = self._keys[slots[i]]
            k = rank_key(r)
            if best is None or k > best_key or (k == best_key and i < best_at):
                best, best_key, best_at = r, k, i
        return best

    def _final(self, best: MatchResult | None, considered: int) -> MatchResult:
        if best is None or best.verdict == NO_MATCH:
            scores = {"candidates": considered}
            if best is not None:
                scores["best_inliers"] = best.scores.get("inliers", 0)
                scores["best_score"] = best.scores.get("score", 0)
                scores["best_pdq_distance"] = best.scores.get("pdq_distance")
            return MatchResult(NO_MATCH, scores=scores, thresholds=self.thresholds)
        best.scores["candidates"] = considered
        return best


def frame_corners(r: MatchResult) -> np.ndarray:
    """4x2 corners of the matched protected photo in the suspect's working frame."""
    kp = r.fingerprint.signals["orb"]
    m = r.alignment.matrix
    c = np.array([[0, 0], [kp.width - 1, 0], [kp.width - 1, kp.height - 1], [0, kp.height - 1]], float)
    return c @ m[:, :2].T + m[:, 2]


def report_order(r: MatchResult) -> tuple:
    """Order of the instances in one suspect, first highest: a manipulated derivative, then `rank_key`."""
    return r.verdict == DERIVATIVE, rank_key(r)


def distinct(results: list[MatchResult], q: Query) -> list[MatchResult]:
    """Positive results from several matchers (banks) for one suspect, in `report_order`, without those
    whose frame lies mostly inside a frame kept before them (the same photo protected twice)."""
    kept: list[MatchResult] = []
    taken = np.zeros((q.keypoints.height, q.keypoints.width), np.uint8)
    for r in sorted(results, key=report_order, reverse=True):
        frame = _cover(np.zeros_like(taken), r) if r.alignment is not None else np.ones_like(taken)
        if kept and (frame & taken).sum() > INSTANCE_OVERLAP * max(int(frame.sum()), 1):
            continue
        kept.append(r)
        taken |= frame
    return kept


def region(r: MatchResult, q: Query) -> list[int]:
    """Box x0 y0 x1 y1 of the matched photo's frame in the suspect's pixels (the whole suspect when it
    matched without an alignment: same bytes or PDQ)."""
    if r.alignment is None:
        return [0, 0, q.width, q.height]
    xy = frame_corners(r) * [q.width / q.keypoints.width, q.height / q.keypoints.height]
    lo, hi = np.maximum(xy.min(axis=0), 0), np.minimum(xy.max(axis=0), [q.width, q.height])
    return [int(lo[0]), int(lo[1]), int(np.ceil(hi[0])), int(np.ceil(hi[1]))]


def instance(r: MatchResult, q: Query) -> dict:
    """One protected photo found in a suspect, as `check --json` and the service list them."""
    return {"verdict": r.verdict, "protected": r.protected, "protected_id": r.fingerprint.id, "key": r.key,
            "edited_fraction": None if r.edited_fraction is None else round(r.edited_fraction, 4),
            "score": r.scores.get("score"), "region": region(r, q)}


def _cover(mask: np.ndarray, r: MatchResult) -> np.ndarray:
    """Mark the matched photo's frame (a result with an alignment) in a suspect working-frame mask."""
    if r.alignment is not None:
        cv2.fillConvexPoly(mask, np.round(frame_corners(r)).astype(np.int32), 1)
    return mask


def _outside(q: Query, taken: np.ndarray) -> Query | None:
    """The suspect's keypoints outside `taken` (both orientations), as a query without the whole-image
    signals (PDQ, bytes) that no part of it shares; None when too few are left to verify."""
    kq = q.keypoints
    ors = []
    for o, (xy, ang, desc) in enumerate(kq.orientations):
        x = np.clip(np.round(xy[:, 0]).astype(int), 0, kq.width - 1)
        y = np.clip(np.round(xy[:, 1]).astype(int), 0, kq.height - 1)
        keep = taken[y, kq.width - 1 - x if o == 1 else x] == 0
        ors.append((xy[keep], ang[keep], desc[keep]))
    if max(len(o[0]) for o in ors) < MIN_PART_KEYPOINTS:
        return None
    return Query("", q.width, q.height, None, KeypointQuery(kq.width, kq.height, ors), q.grid)


@dataclass
class _Aligned:
    """What `Matcher._align` found for one candidate."""
    pdq_distance: int | None = None
    pdq_variant: int | None = None
    pdq_quality: int | None = None  # the lower of the two hashes' qualities
    alignment: Alignment | None = None
    same_bytes: bool = False

    @property
    def support(self) -> float:
        return self.alignment.support if self.alignment else 0.0


def rank_key(r: MatchResult) -> tuple:
    """Order of results, best highest: verdict, then match score, then PDQ closeness."""
    return _order(r.verdict, r.scores.get("score", 0), r.scores.get("pdq_distance"))


def _order(verdict: str, score: float, pdq_distance: int | None) -> tuple:
    return RANK.get(verdict, 0), score, -(pdq_distance if pdq_distance is not None else 256)
