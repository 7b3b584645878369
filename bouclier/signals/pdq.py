"""PDQ: Meta's 256-bit perceptual hash, as used by StopNCII, HMA and ThreatExchange.

Hex form: the 256 bits MSB-first as 64 lowercase hex characters, the form python-threatexchange writes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import faiss
import numpy as np
import pdqhash

from ..errors import FormatError
from .base import Signal, SignalIndex, View, need, register

PDQ_MATCH_DISTANCE = 31  # HMA / StopNCII default


def hex_to_bytes(hex_str: str) -> bytes:
    h = hex_str.strip().lower()
    if len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
        raise FormatError(f"not a PDQ hash (need 64 hex characters): {hex_str[:80]!r}")
    return bytes.fromhex(h)


def distance(a: bytes, b: bytes) -> int:
    return int.from_bytes(bytes(x ^ y for x, y in zip(a, b)), "big").bit_count()


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
        bits, quality = pdqhash.compute(view.rgb)
        return cls(np.packbits(bits.astype(np.uint8)).tobytes(), int(quality))

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
        variants, quality = pdqhash.compute_dihedral(view.rgb)
        return PDQQuery([np.packbits(v.astype(np.uint8)).tobytes() for v in variants], int(quality))

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
        i = int(np.argmin(d))
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
