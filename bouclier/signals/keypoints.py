"""Local features: ORB keypoints with normalised positions, orientation and binary descriptors.

Protected side: K keypoints spread over the photo, so that the face and background keep some after a
large region is replaced. Suspect side: many more keypoints, on the image and on its mirror image
(ORB is not mirror-invariant), so flipped copies match too.

Record of one protected keypoint: x, y as 12-bit fractions of the working size (3 bytes), the ORB
angle in 256 steps (1 byte), then the first `bits` bits of the ORB descriptor (OpenCV's learned
test order puts the most informative bits first).
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
from dataclasses import dataclass

import cv2
import faiss
import numpy as np
from scipy.spatial import cKDTree

from ..errors import FormatError
from .base import Signal, SignalIndex, View, need, register

log = logging.getLogger(__name__)

PROTECT_KEYPOINTS = 128
DESCRIPTOR_BITS = 128
QUERY_KEYPOINTS = 2500
QUERY_OVERDETECT = 3  # detect 3x as many, then spread
QUERY_SPREAD_GRID = 16
PROTECT_CANDIDATES = 2000  # ORB keypoints detected before the spread selection
SPREAD_GRID = 6  # keypoints are chosen per cell of a 6x6 grid, most stable then strongest first
STABILITY_SCALES = (0.6, 0.4)  # downscaled copies a protected keypoint should survive (see _stability)
STABILITY_HAMMING = 38  # of 128 descriptor bits (30 %, as in verification)


def _orb(n: int) -> cv2.ORB:
    return cv2.ORB_create(nfeatures=n, scaleFactor=1.2, nlevels=8, edgeThreshold=15, patchSize=31, fastThreshold=10)


def _too_thin(gray: np.ndarray) -> bool:
    """ORB's pyramid fails on a 1-pixel side (a 512 x 1 working copy of a 6000 x 10 strip); such
    images have no keypoints anyway (none lie within edgeThreshold of a border)."""
    return min(gray.shape[:2]) < 2


def _keypoints(gray: np.ndarray, n: int):
    """ORB's (keypoints, descriptors) of up to n features; ((), None) on too thin an image."""
    return ((), None) if _too_thin(gray) else _orb(n).detectAndCompute(gray, None)


def _detect(gray: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(xy float32 Nx2, angle float32 N, response float32 N, descriptors uint8 Nx32)."""
    kps, desc = _keypoints(gray, n)
    if not kps or desc is None:
        return np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros((0, 32), np.uint8)
    ar = np.array([(k.angle, k.response) for k in kps], np.float32)
    return cv2.KeyPoint_convert(kps).astype(np.float32), ar[:, 0], ar[:, 1], desc


def _detect_spread(gray: np.ndarray, n: int):
    """Suspect keypoints: detect many, keep n spread over a 16x16 grid, then describe.

    Without the spread a high-contrast region (a textured fill, a logo) takes most of the budget
    and leaves the face and background, the parts that survive an edit, with few keypoints.
    """
    orb = _orb(n * QUERY_OVERDETECT)
    kps = () if _too_thin(gray) else orb.detect(gray, None)
    if not kps:
        return np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros((0, 32), np.uint8)
    xy = cv2.KeyPoint_convert(kps).astype(np.float32)
    resp = np.array([k.response for k in kps], np.float32)
    keep = _spread(xy, resp, gray.shape, n, QUERY_SPREAD_GRID)
    kps, desc = orb.compute(gray, [kps[i] for i in keep])
    if desc is None or not kps:
        return np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros((0, 32), np.uint8)
    return cv2.KeyPoint_convert(kps).astype(np.float32), np.array([k.angle for k in kps], np.float32), desc


def _stability(gray: np.ndarray, xy: np.ndarray, desc: np.ndarray) -> np.ndarray:
    """Per candidate keypoint: in how many downscaled copies (STABILITY_SCALES) it is found again.

    Found again: a keypoint of the copy lies within a few pixels of it (in full-size coordinates) with a
    descriptor within STABILITY_HAMMING bits of it. Uploads are often smaller than the protected photo; fine
    details vanish there, so keypoints that survive downscaling are the ones worth keeping.
    """
    score = np.zeros(len(xy), np.float32)
    h, w = gray.shape
    words = np.ascontiguousarray(desc[:, : DESCRIPTOR_BITS // 8]).view(np.uint64)  # Hamming on 64-bit words
    for sc in STABILITY_SCALES:
        small = cv2.resize(gray, (max(1, round(w * sc)), max(1, round(h * sc))), interpolation=cv2.INTER_AREA)
        kps, sdesc = _keypoints(small, int(PROTECT_CANDIDATES * sc))  # fewer features fit a smaller copy
        if not kps or sdesc is None:
            continue
        sxy = cv2.KeyPoint_convert(kps).astype(np.float32)
        dist, j = cKDTree(sxy / sc).query(xy, k=3, distance_upper_bound=3.0 * max(1.0, 0.7 / sc))
        ok = np.isfinite(dist)
        swords = np.ascontiguousarray(sdesc[:, : DESCRIPTOR_BITS // 8]).view(np.uint64)
        ham = np.bitwise_count(swords[np.where(ok, j, 0)] ^ words[:, None, :]).sum(axis=2)
        score += ((ham <= STABILITY_HAMMING) & ok).any(axis=1)
    return score


def _spread(xy: np.ndarray, resp: np.ndarray, shape: tuple[int, int], k: int, g: int = 0) -> np.ndarray:
    """Indices of up to k keypoints, strongest first within each grid cell, spread over the image:
    every cell's strongest, then every cell's second, ..., each round strongest first."""
    h, w = shape
    g = g or SPREAD_GRID
    cell = np.minimum((xy[:, 1] * g / h).astype(int), g - 1) * g + np.minimum((xy[:, 0] * g / w).astype(int), g - 1)
    order = np.argsort(-resp, kind="stable")
    by_cell = np.argsort(cell[order], kind="stable")  # positions in `order`, grouped by cell, strongest first
    cells = cell[order][by_cell]
    start = np.r_[0, np.flatnonzero(cells[1:] != cells[:-1]) + 1]
    rank = np.empty(len(order), int)
    rank[by_cell] = np.arange(len(order)) - np.repeat(start, np.diff(np.r_[start, len(order)]))
    chosen = order[np.lexsort((-resp[order], rank))]  # stable: ties keep the strongest-first order
    return chosen[:k].astype(int)


@register
@dataclass(frozen=True)
class Keypoints(Signal):
    name = "orb"
    tag = 2
    version = 1

    width: int  # working size the positions refer to
    height: int
    xy: np.ndarray  # float32 Kx2, working-size pixels
    angle: np.ndarray  # float32 K, degrees
    desc: np.ndarray  # uint8 K x (bits/8)

    @classmethod
    def compute(cls, view: View, k: int | None = None, bits: int | None = None) -> "Keypoints":
        k, bits = k or PROTECT_KEYPOINTS, bits or DESCRIPTOR_BITS
        gray = view.gray
        xy, ang, resp, desc = _detect(gray, PROTECT_CANDIDATES)
        if len(xy):  # stable keypoints first within each cell, then the strongest
            resp = _stability(gray, xy, desc) + 0.5 * resp / max(float(resp.max()), 1e-12)
        idx = _spread(xy, resp, gray.shape, k) if len(xy) else np.zeros(0, int)
        kp = cls(gray.shape[1], gray.shape[0], xy[idx], ang[idx], np.ascontiguousarray(desc[idx, : bits // 8]))
        return kp.quantised()

    def quantised(self) -> "Keypoints":
        """The same keypoints after a serialisation round trip (so compute == from_bytes(to_bytes))."""
        return Keypoints.from_bytes(self.to_bytes(), self.version)

    def to_bytes(self) -> bytes:
        n, nb = self.desc.shape if self.desc.size else (0, DESCRIPTOR_BITS // 8)
        qx = np.clip(np.round(self.xy[:, 0] / max(self.width - 1, 1) * 4095), 0, 4095).astype(np.uint32)
        qy = np.clip(np.round(self.xy[:, 1] / max(self.height - 1, 1) * 4095), 0, 4095).astype(np.uint32)
        packed = (qx << 12) | qy
        pos = np.stack([(packed >> 16) & 255, (packed >> 8) & 255, packed & 255], axis=1).astype(np.uint8)
        ang = (np.round(self.angle / 360 * 256).astype(np.int64) % 256).astype(np.uint8)[:, None]
        recs = np.concatenate([pos, ang, self.desc.reshape(n, nb)], axis=1) if n else np.zeros((0, 4 + nb), np.uint8)
        return struct.pack("<HHHB", self.width, self.height, n, nb) + recs.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, version: int) -> "Keypoints":
        need(data, 7, "orb signal")
        w, h, n, nb = struct.unpack_from("<HHHB", data)
        if w == 0 or h == 0 or nb == 0 or nb > 32:
            raise FormatError("orb signal: bad header")
        need(data, 7 + n * (4 + nb), "orb signal")
        recs = np.frombuffer(data, np.uint8, n * (4 + nb), 7).reshape(n, 4 + nb)
        packed = (recs[:, 0].astype(np.uint32) << 16) | (recs[:, 1].astype(np.uint32) << 8) | recs[:, 2]
        xy = np.stack([(packed >> 12) / 4095 * (w - 1), (packed & 4095) / 4095 * (h - 1)], axis=1).astype(np.float32)
        ang = (recs[:, 3].astype(np.float32) * 360 / 256).astype(np.float32)
        return cls(w, h, xy, ang, np.ascontiguousarray(recs[:, 4:]))

    @classmethod
    def query(cls, view: View, n: int | None = None) -> "KeypointQuery":
        n = n or QUERY_KEYPOINTS
        gray = view.gray
        return KeypointQuery(gray.shape[1], gray.shape[0],
                             [_detect_spread(gray, n), _detect_spread(np.ascontiguousarray(gray[:, ::-1]), n)])

    @classmethod
    def make_index(cls) -> "DescriptorIndex":
        return DescriptorIndex()


@dataclass
class KeypointQuery:
    """Suspect keypoints: orientations[0] as is, orientations[1] on the mirror image (mirror coordinates)."""

    width: int
    height: int
    orientations: list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # (xy, angle, full 256-bit desc)

    def to_bytes(self) -> bytes:
        out = [struct.pack("<HHB", self.width, self.height, len(self.orientations))]
        for xy, ang, desc in self.orientations:
            out.append(struct.pack("<I", len(xy)))
            out += [xy.astype("<f4").tobytes(), ang.astype("<f4").tobytes(), desc.astype(np.uint8).tobytes()]
        return b"".join(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> "KeypointQuery":
        need(data, 5, "orb query")
        w, h, m = struct.unpack_from("<HHB", data)
        if m not in (1, 2):
            raise FormatError("orb query: bad orientation count")
        off, ors = 5, []
        for _ in range(m):
            need(data, off + 4, "orb query")
            (n,) = struct.unpack_from("<I", data, off)
            off += 4
            need(data, off + n * 44, "orb query")
            xy = np.frombuffer(data, "<f4", 2 * n, off).reshape(n, 2).astype(np.float32)
            ang = np.frombuffer(data, "<f4", n, off + 8 * n).astype(np.float32)
            desc = np.frombuffer(data, np.uint8, 32 * n, off + 12 * n).reshape(n, 32).copy()
            off += 44 * n
            if not (np.isfinite(xy).all() and np.isfinite(ang).all()):
                raise FormatError("orb query: positions and angles must be finite numbers")
            ors.append((xy, ang, desc))
        return cls(w, h, ors)


RETRIEVAL_PER_ORIENTATION = 2000  # first (best-spread) suspect descriptors used for candidate retrieval
RETRIEVAL_NEIGHBOURS = 3
FLAT_LIMIT = 50_000  # descriptors (~400 photos); above this an IVF index is used
IVF_REGROW = 8  # rebuild the IVF (in the background) when it has grown this many times since its build
IVF_DEAD_SHARE = 0.25  # ... or when this share of its photos has been withdrawn
IVF_LISTS = 8  # lists per sqrt(descriptors)
QUANTIZER_PROBE = 2  # centroid groups searched to assign a descriptor to its list
QUERY_GROUPS = 16  # centroid groups searched for a query descriptor's nprobe nearest lists
REBUILD_RETRY_S = 60  # wait after a failed background build


class _Rows:
    """Growable per-row arrays of the index (owner slot, angle bin); a photo's rows are contiguous."""

    def __init__(self, owner=None, abin=None):
        self.owner = np.zeros(0, np.int32) if owner is None else owner
        self.abin = np.zeros(0, np.uint8) if abin is None else abin
        self.n = len(self.owner)

    def append(self, owner: np.ndarray, abin: np.ndarray) -> None:
        end = self.n + len(owner)
        if end > len(self.owner):
            cap = max(end, 2 * len(self.owner), 1024)
            self.owner, self.abin = _grown(self.owner, cap, self.n), _grown(self.abin, cap, self.n)
        self.owner[self.n:end], self.abin[self.n:end] = owner, abin
        self.n = end

    def subset(self, keep: np.ndarray, start: int = 0, end: int | None = None) -> "_Rows":
        """Rows [start, end) where `keep` (a mask over that range) is true."""
        end = self.n if end is None else end
        return _Rows(self.owner[start:end][keep], self.abin[start:end][keep])

    def slots(self, start: int = 0, end: int | None = None) -> list[int]:
        """The photos of rows [start, end), in row order."""
        o = self.owner[start:self.n if end is None else end]
        return o[np.flatnonzero(np.r_[True, o[1:] != o[:-1]])].tolist() if len(o) else []


def _grown(a: np.ndarray, cap: int, n: int) -> np.ndarray:
    out = np.zeros((cap, *a.shape[1:]), a.dtype)
    out[:n] = a[:n]
    return out


def _build_ivf(codes: np.ndarray, bits: int, nprobe: int, threads: int = 1):
    """A binary IVF over `codes`: IVF_LISTS sqrt(n) lists whose centroids are a random sample of the
    descriptors (no k-means), found by a small two-level quantizer (sqrt(lists) groups, QUANTIZER_PROBE
    of them searched), so a row costs a few hundred distances instead of a scan of every centroid."""
    nlist = int(np.clip(IVF_LISTS * np.sqrt(len(codes)), 64, min(len(codes), 1 << 18)))
    rng = np.random.default_rng(len(codes))
    centroids = np.ascontiguousarray(codes[np.sort(rng.choice(len(codes), nlist, replace=False))])
    groups = max(1, int(np.sqrt(nlist)))
    top = faiss.IndexBinaryFlat(bits)
    top.add(np.ascontiguousarray(centroids[rng.choice(nlist, groups, replace=False)]))
    quantizer = faiss.IndexBinaryIVF(top, bits, groups)
    quantizer.nprobe = QUANTIZER_PROBE
    quantizer.add(centroids)
    ivf = faiss.IndexBinaryIVF(quantizer, bits, nlist)
    ivf.nprobe = nprobe
    ivf.bouclier_quantizer = quantizer
    _add(ivf, quantizer, codes, threads)
    return ivf


def _add(ivf, quantizer, codes: np.ndarray, threads: int = 1) -> None:
    """ivf.add, with the list assignment split over `threads` Python threads (faiss drops the GIL)."""
    step = 1 << 20
    for a in range(0, len(codes), step * threads):
        chunk = np.ascontiguousarray(codes[a:a + step * threads])
        lists = np.empty(len(chunk), np.int64)
        bounds = np.linspace(0, len(chunk), threads + 1).astype(int)

        def assign(lo: int, hi: int) -> None:
            faiss.omp_set_num_threads(1)  # per thread
            if hi > lo:
                lists[lo:hi] = quantizer.search(chunk[lo:hi], 1)[1][:, 0]

        workers = [threading.Thread(target=assign, args=(lo, hi)) for lo, hi in zip(bounds[:-1], bounds[1:])]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        if (lists < 0).any():
            raise RuntimeError("descriptor index: a row got no list")
        ivf.add_core(len(chunk), faiss.swig_ptr(chunk), None, faiss.swig_ptr(lists))


class DescriptorIndex(SignalIndex):
    """All protected descriptors in one faiss binary index; votes of suspect descriptors per photo.

    Flat up to FLAT_LIMIT descriptors, then an IVF. Adds go straight into the live index; a bulk
    load (at least doubling it) builds the IVF at once; otherwise a bigger IVF, without withdrawn
    photos, is built in a background thread and swapped in by a later call, never on the request
    path. Withdrawn photos are masked at once.
    """

    def __init__(self, bits: int | None = None, max_distance: int | None = None, nprobe: int = 48):
        self.bits = bits = bits or DESCRIPTOR_BITS
        self.max_distance = max_distance if max_distance is not None else bits // 4
        self.nprobe = nprobe
        self.index = faiss.IndexBinaryFlat(bits)
        self.rows = _Rows()
        self._desc: dict[int, np.ndarray] = {}  # live slot -> its descriptors (shared with the fingerprint)
        self._pending: list[tuple[int, np.ndarray, np.ndarray]] = []
        self._dead = np.zeros(0, bool)  # slot -> withdrawn
        self._dead_photos = 0  # withdrawn photos whose rows are still in the index
        self.photos = 0
        self._built_on = 0  # rows when the IVF was built
        self._job: threading.Thread | None = None
        self._job_out: tuple | None = None
        self._retry_at = 0.0

    def __len__(self) -> int:
        return self.photos

    @property
    def kind(self) -> str:
        return "flat" if isinstance(self.index, faiss.IndexBinaryFlat) else f"ivf{self.index.nlist}"

    def add(self, slot: int, signal: Keypoints) -> None:
        d = signal.desc
        if d.shape[1] * 8 != self.bits:
            raise FormatError(f"orb signal has {d.shape[1] * 8}-bit descriptors, index expects {self.bits}")
        self.photos += 1
        if len(d):
            self._pending.append((slot, d, signal.angle))
            self._desc[slot] = d

    def remove(self, slot: int) -> None:
        """Withdraw a photo: its descriptors stop voting now and leave the index at the next rebuild."""
        if slot >= len(self._dead):
            self._dead = _grown(self._dead, max(slot + 1, 2 * len(self._dead)), len(self._dead))
        if not self._dead[slot]:
            self._dead[slot] = True
            self._desc.pop(slot, None)
            self.photos -= 1
            self._dead_photos += 1

    def _flush(self) -> None:
        self._swap_if_done()
        if self._pending:
            pending, self._pending = self._pending, []
            owners = np.concatenate([np.full(len(d), s, np.int32) for s, d, _ in pending])
            bins = np.concatenate([_angle_bins(a) for _, _, a in pending])
            bulk = len(owners) >= self.rows.n and len(owners) + self.rows.n > FLAT_LIMIT and self._job is None
            self.rows.append(owners, bins)
            if bulk:  # first load (service start, benchmark): build now, on every core
                self._compact_rows(self.rows.n)
                codes = np.concatenate([self._desc[s] for s in self.rows.slots()])
                self.index = _build_ivf(codes, self.bits, self.nprobe, os.cpu_count() or 1)
                self._built_on = self.rows.n
            else:
                self._probe(QUANTIZER_PROBE)
                self.index.add(np.concatenate([d for _, d, _ in pending]))
        if self._job is None and time.monotonic() >= self._retry_at and self._needs_rebuild():
            self._start_rebuild()

    def _needs_rebuild(self) -> bool:
        n = self.rows.n
        if isinstance(self.index, faiss.IndexBinaryFlat):
            return n > FLAT_LIMIT
        return n > IVF_REGROW * self._built_on or self._dead_photos > IVF_DEAD_SHARE * max(self.photos, 1)

    def _compact_rows(self, n: int) -> None:
        """Drop the rows of withdrawn photos (only before a full build)."""
        live = ~self._dead_of(self.rows.owner[:n])
        if not live.all():
            self.rows = self.rows.subset(live, 0, n)
            self._dead_photos = 0

    def _dead_of(self, owner: np.ndarray) -> np.ndarray:
        out = np.zeros(len(owner), bool)
        inside = owner < len(self._dead)
        out[inside] = self._dead[owner[inside]]
        return out

    def _start_rebuild(self) -> None:
        r, n = self.rows, self.rows.n
        live = ~self._dead_of(r.owner[:n])
        parts = [self._desc[s] for s in r.subset(live, 0, n).slots()]
        dead_photos = self._dead_photos

        def work():
            try:
                self._job_out = (_build_ivf(np.concatenate(parts), self.bits, self.nprobe), n, live, dead_photos)
            except Exception as e:  # e.g. MemoryError: keep serving from the live index
                log.warning("descriptor index build failed, retrying in %d s: %r", REBUILD_RETRY_S, e)

        self._job_out = None
        self._job = threading.Thread(target=work, name="bouclier-ivf-build", daemon=True)
        self._job.start()

    def _swap_if_done(self, wait: bool = False) -> None:
        if self._job is None or (self._job.is_alive() and not wait):
            return
        self._job.join()
        self._job = None
        out, self._job_out = self._job_out, None
        if out is None:  # the build failed: keep the live index, try again later
            self._retry_at = time.monotonic() + REBUILD_RETRY_S
            return
        ivf, n, live, dead_photos = out
        r = self.rows
        rows = r.subset(live, 0, n)
        built = rows.n
        if r.n > n:  # rows added while it was built (those withdrawn since are left out)
            owner = r.owner[n:r.n]
            gone = self._dead_of(owner)
            dead_photos += len(np.unique(owner[gone]))
            tail = r.subset(~gone, n)
            if tail.n:
                rows.append(tail.owner, tail.abin)
                ivf.add(np.concatenate([self._desc[s] for s in tail.slots()]))
        self.rows, self.index, self._built_on = rows, ivf, built
        self._dead_photos -= dead_photos

    def _probe(self, groups: int) -> None:
        q = getattr(self.index, "bouclier_quantizer", None)
        if q is not None:
            q.nprobe = groups

    def flush(self) -> None:
        """Index pending adds now (a submit pays for its own photos, not the next match)."""
        self._flush()

    def settle(self) -> None:
        """Apply pending adds and finish any background build (benchmarks, tests)."""
        self._flush()
        self._swap_if_done(wait=True)

    def search(self, query: KeypointQuery) -> dict[int, float]:
        """Votes per photo, counting only suspect descriptors whose orientation change agrees.

        A copy rotates all its keypoints by the same angle, so for the right photo the votes pile up
        in one orientation-difference bin; chance matches spread over all bins. Each protected
        keypoint votes once per bin (a textured photo's keypoints would otherwise collect votes from
        many suspect keypoints), weighted by how close its best descriptor match is.
        """
        self._flush()
        if self.index.ntotal == 0:
            return {}
        nb = self.bits // 8
        votes: dict[int, float] = {}
        self._probe(QUERY_GROUPS)
        for xy, ang, desc in query.orientations:
            if not len(desc):
                continue
            q = np.ascontiguousarray(desc[:RETRIEVAL_PER_ORIENTATION, :nb])
            dist, ids = self.index.search(q, RETRIEVAL_NEIGHBOURS)
            rows, cols = np.nonzero((ids >= 0) & (dist <= self.max_distance))
            hit, d = ids[rows, cols], dist[rows, cols]
            slots = self.rows.owner[hit].astype(np.int64)
            alive = ~self._dead_of(slots)
            rows, hit, d, slots = rows[alive], hit[alive], d[alive], slots[alive]
            if not len(rows):
                continue
            dbin = (_angle_bins(ang[:RETRIEVAL_PER_ORIENTATION])[rows].astype(np.int64) - self.rows.abin[hit]) % ANGLE_BINS
            # best (closest) match per (slot, bin, protected keypoint), then weights summed per (slot, bin)
            order = np.argsort(d, kind="stable")
            span = int(hit.max()) + 1
            key, first = np.unique(((slots * ANGLE_BINS + dbin) * span + hit)[order], return_index=True)
            weight = 1.0 - d[order[first]] / (self.max_distance + 1)
            sb, inv = np.unique(key // span, return_inverse=True)
            photo, b = np.divmod(sb, ANGLE_BINS)
            photos, at = np.unique(photo, return_inverse=True)
            grid = np.zeros((len(photos), ANGLE_BINS))  # summed weights per (photo, bin)
            grid[at, b] = np.bincount(inv, weights=weight)
            seen = np.zeros(grid.shape, bool)
            seen[at, b] = True
            # a bin's votes with its two neighbours' (circular), best bin per photo
            v = np.where(seen, grid + grid[:, _NEXT_BIN] + grid[:, _PREV_BIN], -np.inf).max(axis=1)
            for s_, best in zip(photos.tolist(), v.tolist()):
                if best > votes.get(s_, 0):
                    votes[s_] = best
        return votes


ANGLE_BINS = 16
_NEXT_BIN = np.roll(np.arange(ANGLE_BINS), -1)
_PREV_BIN = np.roll(np.arange(ANGLE_BINS), 1)


def _angle_bins(angle: np.ndarray) -> np.ndarray:
    return ((np.asarray(angle) * ANGLE_BINS / 360).astype(np.int64) % ANGLE_BINS).astype(np.uint8)
