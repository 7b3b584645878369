"""Local features: ORB keypoints with normalised positions, orientation and binary descriptors.

Protected side: K keypoints spread over the photo, so that the face and background keep some after a
large region is replaced. Suspect side: many more keypoints, on the image and on its mirror image
(ORB is not mirror-invariant), so flipped copies match too.

Record of one protected keypoint: x, y as 12-bit fractions of the working size (3 bytes), the ORB
angle in 256 steps (1 byte), then the first `bits` bits of the ORB descriptor (OpenCV's learned
test order puts the most informative bits first).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import faiss
import numpy as np

from ..errors import FormatError
from .base import Signal, SignalIndex, View, need, register

PROTECT_KEYPOINTS = 128
DESCRIPTOR_BITS = 128
QUERY_KEYPOINTS = 2500
QUERY_OVERDETECT = 3  # detect 3x as many, then spread
QUERY_SPREAD_GRID = 16
PROTECT_CANDIDATES = 2000  # ORB keypoints detected before the spread selection
SPREAD_GRID = 6  # keypoints are chosen per cell of a 6x6 grid, strongest first


def _orb(n: int) -> cv2.ORB:
    return cv2.ORB_create(nfeatures=n, scaleFactor=1.2, nlevels=8, edgeThreshold=15, patchSize=31, fastThreshold=10)


def _detect(gray: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(xy float32 Nx2, angle float32 N, response float32 N, descriptors uint8 Nx32)."""
    kps, desc = _orb(n).detectAndCompute(gray, None)
    if not kps or desc is None:
        return np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros((0, 32), np.uint8)
    xy = np.array([k.pt for k in kps], np.float32)
    ang = np.array([k.angle for k in kps], np.float32)
    resp = np.array([k.response for k in kps], np.float32)
    return xy, ang, resp, desc


def _detect_spread(gray: np.ndarray, n: int):
    """Suspect keypoints: detect many, keep n spread over a 16x16 grid, then describe.

    Without the spread a high-contrast region (a textured fill, a logo) takes most of the budget
    and leaves the face and background, the parts that survive an edit, with few keypoints.
    """
    orb = _orb(n * QUERY_OVERDETECT)
    kps = orb.detect(gray, None)
    if not kps:
        return np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros((0, 32), np.uint8)
    xy = np.array([k.pt for k in kps], np.float32)
    resp = np.array([k.response for k in kps], np.float32)
    keep = _spread(xy, resp, gray.shape, n, QUERY_SPREAD_GRID)
    kps, desc = orb.compute(gray, [kps[i] for i in keep])
    if desc is None or not kps:
        return np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros((0, 32), np.uint8)
    return (np.array([k.pt for k in kps], np.float32), np.array([k.angle for k in kps], np.float32), desc)


def _spread(xy: np.ndarray, resp: np.ndarray, shape: tuple[int, int], k: int, g: int = 0) -> np.ndarray:
    """Indices of up to k keypoints, strongest first within each grid cell, spread over the image."""
    h, w = shape
    g = g or SPREAD_GRID
    cell = np.minimum((xy[:, 1] * g / h).astype(int), g - 1) * g + np.minimum((xy[:, 0] * g / w).astype(int), g - 1)
    order = np.argsort(-resp, kind="stable")
    rank = np.zeros(len(xy), int)
    seen: dict[int, int] = {}
    for i in order:  # rank of each keypoint within its cell
        rank[i] = seen.get(cell[i], 0)
        seen[cell[i]] = rank[i] + 1
    chosen = sorted(order, key=lambda i: (rank[i], -resp[i]))[:k]
    return np.array(chosen, int)


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


RETRIEVAL_PER_ORIENTATION = 1000  # strongest suspect descriptors used for candidate retrieval
RETRIEVAL_NEIGHBOURS = 3
FLAT_LIMIT = 50_000  # descriptors (~400 photos); above this an IVF index is used
IVF_REGROW = 8  # retrain the IVF when it has grown this many times since training


class DescriptorIndex(SignalIndex):
    """All protected descriptors in one faiss binary index; votes of suspect descriptors per photo."""

    def __init__(self, bits: int | None = None, max_distance: int | None = None, nprobe: int = 48):
        self.bits = bits = bits or DESCRIPTOR_BITS
        self.max_distance = max_distance if max_distance is not None else bits // 4
        self.nprobe = nprobe
        self.index = faiss.IndexBinaryFlat(bits)
        self.owner = np.zeros(0, np.int32)  # row -> slot
        self.angle_bin = np.zeros(0, np.uint8)  # row -> ORB angle in ANGLE_BINS steps
        self._pending: list[tuple[int, np.ndarray]] = []
        self.photos = 0
        self._trained_on = 0

    def __len__(self) -> int:
        return self.photos

    def add(self, slot: int, signal: Keypoints) -> None:
        d = signal.desc
        if d.shape[1] * 8 != self.bits:
            raise FormatError(f"orb signal has {d.shape[1] * 8}-bit descriptors, index expects {self.bits}")
        self.photos += 1
        if len(d):
            self._pending.append((slot, d, signal.angle))

    def _flush(self) -> None:
        if not self._pending:
            return
        descs = np.concatenate([d for _, d, _ in self._pending])
        owners = np.concatenate([np.full(len(d), s, np.int32) for s, d, _ in self._pending])
        bins = np.concatenate([_angle_bins(a) for _, _, a in self._pending])
        self._pending = []
        total = self.index.ntotal + len(descs)
        flat = isinstance(self.index, faiss.IndexBinaryFlat)
        if (flat and total > FLAT_LIMIT) or (not flat and total > IVF_REGROW * self._trained_on):
            self._rebuild(np.concatenate([self._codes(), descs]))
        else:
            self.index.add(descs)
        self.owner = np.concatenate([self.owner, owners])
        self.angle_bin = np.concatenate([self.angle_bin, bins])

    def _codes(self) -> np.ndarray:
        """Every stored descriptor, in row order."""
        nb = self.bits // 8
        if isinstance(self.index, faiss.IndexBinaryFlat):
            return faiss.vector_to_array(self.index.xb).reshape(-1, nb)
        out = np.zeros((self.index.ntotal, nb), np.uint8)
        invlists = self.index.invlists
        for lst in range(self.index.nlist):
            n = invlists.list_size(lst)
            if n:
                ids = faiss.rev_swig_ptr(invlists.get_ids(lst), n).copy()
                codes = faiss.rev_swig_ptr(invlists.get_codes(lst), n * nb).copy().reshape(n, nb)
                out[ids] = codes
        return out

    def _rebuild(self, codes: np.ndarray) -> None:
        """IVF with about 4 sqrt(n) lists, trained on a sample; redone when the index grows 8-fold."""
        nlist = int(4 * np.sqrt(len(codes)))
        ivf = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(self.bits), self.bits, nlist)
        rng = np.random.default_rng(0)
        ivf.train(codes[rng.choice(len(codes), min(len(codes), nlist * 40), replace=False)])
        ivf.add(codes)
        ivf.nprobe = self.nprobe
        self.index = ivf
        self._trained_on = len(codes)

    def search(self, query: KeypointQuery) -> dict[int, float]:
        """Votes per photo, counting only suspect descriptors whose orientation change agrees.

        A copy rotates all its keypoints by the same angle, so for the right photo the votes pile up
        in one orientation-difference bin; chance matches spread over all bins.
        """
        self._flush()
        if self.index.ntotal == 0:
            return {}
        nb = self.bits // 8
        votes: dict[int, float] = {}
        for xy, ang, desc in query.orientations:
            if not len(desc):
                continue
            q = np.ascontiguousarray(desc[:RETRIEVAL_PER_ORIENTATION, :nb])
            dist, ids = self.index.search(q, RETRIEVAL_NEIGHBOURS)
            rows, cols = np.nonzero((ids >= 0) & (dist <= self.max_distance))
            if not len(rows):
                continue
            hit = ids[rows, cols]
            slots = self.owner[hit].astype(np.int64)
            dbin = (_angle_bins(ang[:RETRIEVAL_PER_ORIENTATION])[rows].astype(np.int64) - self.angle_bin[hit]) % ANGLE_BINS
            # unique (slot, bin, suspect keypoint), then count per (slot, bin) with both neighbour bins
            key = np.unique((slots * ANGLE_BINS + dbin) * len(q) + rows)
            sb = key // len(q)
            uniq, counts = np.unique(sb, return_counts=True)
            s_of, b_of = uniq // ANGLE_BINS, uniq % ANGLE_BINS
            grid = {}
            for s_, b_, c in zip(s_of.tolist(), b_of.tolist(), counts.tolist()):
                grid[(s_, b_)] = c
            for (s_, b_), c in grid.items():
                v = c + grid.get((s_, (b_ + 1) % ANGLE_BINS), 0) + grid.get((s_, (b_ - 1) % ANGLE_BINS), 0)
                if v > votes.get(s_, 0):
                    votes[s_] = float(v)
        return votes


ANGLE_BINS = 16


def _angle_bins(angle: np.ndarray) -> np.ndarray:
    return ((np.asarray(angle) * ANGLE_BINS / 360).astype(np.int64) % ANGLE_BINS).astype(np.uint8)
