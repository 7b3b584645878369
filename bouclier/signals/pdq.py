"""PDQ: Meta's 256-bit perceptual hash, as used by StopNCII, HMA and ThreatExchange.

Hex form: the 256 bits MSB-first as 64 lowercase hex characters, the form python-threatexchange writes.

The hash is Meta's algorithm (luma, two passes of a clipped box filter, 64 x 64 decimation, 16 x 16 DCT,
bits above the median), computed here only at the 64 x 64 points the decimation keeps: the same bits
as the reference (pdqhash) in a quarter of its time, which filters every pixel column by column. The
quality can differ by 1 (float rounding in its gradient sum).
Images under 64 px on a side go to pdqhash (ties among repeated samples make bits rounding-sensitive);
tests compare both on random images and sizes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

import faiss
import numpy as np
import pdqhash

from ..errors import FormatError
from .base import Signal, SignalIndex, View, need, register

PDQ_MATCH_DISTANCE = 31  # HMA / StopNCII default
_SAMPLED_MIN_SIDE = 64  # below this, the reference implementation (see the module docstring)
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_DCT = (np.sqrt(2.0 / 64) * np.cos(np.pi / 128 * np.outer(np.arange(1, 17), 2 * np.arange(64) + 1))).astype(np.float32)


@lru_cache(maxsize=1024)
def _taps(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and weights (64 x K) of PDQ's filter along one axis of length n, at the 64 decimated points.

    One pass averages a window of w = ceil(n / 128) samples (offsets -(w - h) .. h - 1, h = (w + 2) // 2),
    clipped at the edges and divided by the samples inside; two passes compose two such windows.
    """
    w = (n + 127) // 128
    h = (w + 2) // 2

    def win(i: int) -> range:
        return range(max(0, i - (w - h)), min(n - 1, i + h - 1) + 1)

    taps = 2 * (w - 1) + 1
    idx, wt = np.zeros((64, taps), np.int64), np.zeros((64, taps), np.float64)
    for k in range(64):
        acc: dict[int, float] = {}
        first = win(int((k + 0.5) * n / 64))
        for i in first:
            second = win(i)
            for j in second:
                acc[j] = acc.get(j, 0.0) + 1.0 / (len(first) * len(second))
        js = sorted(acc)
        idx[k, :len(js)], wt[k, :len(js)] = js, [acc[j] for j in js]
    return idx, wt.astype(np.float32)


def _dct16(rgb: np.ndarray) -> tuple[np.ndarray, int]:
    """PDQ's 16 x 16 DCT block and quality of an RGB image (>= 64 px on each side)."""
    luma = rgb.astype(np.float32) @ _LUMA
    ri, rw = _taps(luma.shape[0])
    ci, cw = _taps(luma.shape[1])
    rows = np.einsum("kjx,kj->kx", luma[ri], rw)  # 64 x width
    a = np.einsum("rkj,kj->rk", rows[:, ci], cw)  # 64 x 64
    grad = np.abs(np.trunc((a[:-1] - a[1:]) * 100 / 255)).sum() + np.abs(np.trunc((a[:, :-1] - a[:, 1:]) * 100 / 255)).sum()
    return _DCT @ a @ _DCT.T, min(100, int(grad) // 90)


def _bits(block: np.ndarray) -> bytes:
    """Bits above the median (the 128th smallest), in the reference's order, packed MSB-first."""
    v = block.ravel()
    return np.packbits((v > np.partition(v, 127)[127])[::-1]).tobytes()


def _dihedral(b: np.ndarray) -> list[np.ndarray]:
    """The DCT block of each of the 8 dihedral variants, in pdqhash.compute_dihedral's order: original,
    rotations by 90, 180, 270 degrees, flips about x, y, the main and the anti-diagonal."""
    odd = np.arange(16) % 2 == 1
    sign_i = np.where(odd, 1, -1)[:, None]
    sign_j = sign_i.T
    chk = sign_i * sign_j
    return [b, (b * sign_j).T, b * chk, (b * sign_i).T, b * sign_i, b * sign_j, b.T, (b * chk).T]


def reference_hashes(rgb: np.ndarray, dihedral: bool = False) -> tuple[list[bytes], int]:
    """`pdq_hashes` by Meta's C++ implementation (pdqhash), filtering every pixel."""
    if dihedral:
        variants, quality = pdqhash.compute_dihedral(rgb)
    else:
        bits, quality = pdqhash.compute(rgb)
        variants = [bits]
    return [np.packbits(v.astype(np.uint8)).tobytes() for v in variants], int(quality)


def pdq_hashes(rgb: np.ndarray, dihedral: bool = False) -> tuple[list[bytes], int]:
    """PDQ hash (32 bytes) of an RGB image, or its 8 dihedral variants, and its quality (0-100)."""
    if min(rgb.shape[:2]) < _SAMPLED_MIN_SIDE:
        return reference_hashes(rgb, dihedral)
    block, quality = _dct16(rgb)
    return [_bits(x) for x in (_dihedral(block) if dihedral else [block])], quality


def hex_to_bytes(hex_str: str) -> bytes:
    h = hex_str.strip().lower()
    if len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
        raise FormatError(f"not a PDQ hash (need 64 hex characters): {hex_str[:80]!r}")
    return bytes.fromhex(h)


def distance(a: bytes, b: bytes) -> int:
    """Hamming distance of two hashes of the same length."""
    if len(a) != len(b):
        raise ValueError(f"PDQ hashes of different lengths ({len(a)} and {len(b)} bytes)")
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


@register
@dataclass(frozen=True)
class PDQ(Signal):
    name = "pdq"
    tag = 1
    version = 1

    hash: bytes  # 32 bytes
    quality: int  # 0-100

    @property
    def hex(self) -> str:
        return self.hash.hex()

    @classmethod
    def compute(cls, view: View) -> "PDQ":
        (h,), quality = pdq_hashes(view.rgb)
        return cls(h, quality)

    @classmethod
    def from_hex(cls, hex_str: str, quality: int = 100) -> "PDQ":
        return cls(hex_to_bytes(hex_str), int(quality))

    def to_bytes(self) -> bytes:
        return self.hash + bytes([max(0, min(100, self.quality))])

    @classmethod
    def from_bytes(cls, data: bytes, version: int) -> "PDQ":
        need(data, 33, "pdq signal")
        return cls(bytes(data[:32]), data[32])

    @classmethod
    def query(cls, view: View) -> "PDQQuery":
        return PDQQuery(*pdq_hashes(view.rgb, dihedral=True))

    @classmethod
    def make_index(cls) -> "PDQIndex":
        return PDQIndex()


@dataclass(frozen=True)
class PDQQuery:
    """The suspect's PDQ in its 8 dihedral orientations; hashes[0] is the image as it is."""

    hashes: list[bytes]
    quality: int

    def to_bytes(self) -> bytes:
        return bytes([len(self.hashes), self.quality]) + b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> "PDQQuery":
        need(data, 2, "pdq query")
        n = data[0]
        if not 1 <= n <= 8:
            raise FormatError("pdq query: bad variant count")
        need(data, 2 + 32 * n, "pdq query")
        return cls([bytes(data[2 + 32 * i : 34 + 32 * i]) for i in range(n)], data[1])

    def best(self, protected: bytes, dihedral: bool = True) -> tuple[int, int]:
        """(distance, variant index) of the closest variant."""
        hs = self.hashes if dihedral else self.hashes[:1]
        d = [distance(h, protected) for h in hs]
        i = min(range(len(d)), key=d.__getitem__)  # the first closest
        return d[i], i


class PDQIndex(SignalIndex):
    """faiss IndexBinaryMultiHash: 16 substrings of 16 bits with one flip, exact up to distance 31."""

    def __init__(self, radius: int = PDQ_MATCH_DISTANCE):
        self.radius = radius
        self.index = faiss.IndexBinaryMultiHash(256, 16, 16)
        self.index.nflip = 1
        self.slots: list[int] = []

    def add(self, slot: int, signal: PDQ) -> None:
        self.index.add(np.frombuffer(signal.hash, dtype=np.uint8).reshape(1, 32))
        self.slots.append(slot)

    def __len__(self) -> int:
        return len(self.slots)

    def search(self, query: PDQQuery) -> dict[int, float]:
        if not self.slots:
            return {}
        q = np.frombuffer(b"".join(query.hashes), dtype=np.uint8).reshape(-1, 32)
        lims, dist, ids = self.index.range_search(q, self.radius + 1)
        out: dict[int, float] = {}
        for d, i in zip(dist, ids):
            if d <= self.radius:
                slot = self.slots[int(i)]
                out[slot] = max(out.get(slot, 0.0), float(256 - d))
        return out
