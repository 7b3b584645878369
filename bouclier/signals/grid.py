"""Edit grid: coarse per-cell statistics of the protected photo, to localise an edit without its pixels.

The photo (whatever its aspect) is divided into 32 x 32 cells. Each cell keeps one byte: its mean
brightness in 16 levels and its texture (log gradient energy) in 16 levels. After a suspect has been
aligned, the same statistics are measured on it; cells that disagree beyond a photometric fit are
the edited region. This is about as revealing as a 32 x 32 grey thumbnail in 16 levels (docs/privacy.md).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np

from .base import Signal, View, need, register

CELLS = 32
ANALYSIS = 4 * CELLS  # analysis image side: 4 x 4 pixels per cell
QUERY_SIDE = 384  # long side of the suspect's grey copy kept for localisation


def luma_cells(analysis: np.ndarray) -> np.ndarray:
    """Mean brightness per cell in level units (0-16, float)."""
    return cv2.resize(analysis.astype(np.float32), (CELLS, CELLS), interpolation=cv2.INTER_AREA) / 16.0


def texture_cells(analysis: np.ndarray) -> np.ndarray:
    """Log gradient energy per cell in level units (0-16, float)."""
    a = cv2.GaussianBlur(analysis.astype(np.float32), (0, 0), 0.8)
    gx = cv2.Sobel(a, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(a, cv2.CV_32F, 0, 1, ksize=3)
    mag = cv2.resize(np.sqrt(gx * gx + gy * gy), (CELLS, CELLS), interpolation=cv2.INTER_AREA)
    return np.log2(1.0 + mag) * 1.6


@register
@dataclass(frozen=True)
class EditGrid(Signal):
    name = "grid"
    tag = 3
    version = 1

    luma: np.ndarray  # uint8 CELLS x CELLS, 0-15
    texture: np.ndarray  # uint8 CELLS x CELLS, 0-15

    @classmethod
    def compute(cls, view: View) -> "EditGrid":
        analysis = cv2.resize(view.gray, (ANALYSIS, ANALYSIS), interpolation=cv2.INTER_AREA)
        q = lambda v: np.clip(np.floor(v), 0, 15).astype(np.uint8)  # noqa: E731
        return cls(q(luma_cells(analysis)), q(texture_cells(analysis)))

    def to_bytes(self) -> bytes:
        return struct.pack("<B", CELLS) + ((self.luma << 4) | self.texture).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, version: int) -> "EditGrid":
        need(data, 1, "grid signal")
        n = data[0]
        need(data, 1 + n * n, "grid signal")
        if n != CELLS:
            from ..errors import FormatError

            raise FormatError(f"grid signal: {n} cells per side, this version reads {CELLS}")
        b = np.frombuffer(data, np.uint8, n * n, 1).reshape(n, n)
        return cls(b >> 4, b & 15)

    @classmethod
    def query(cls, view: View) -> "GridQuery":
        g = view.gray
        s = QUERY_SIDE / max(g.shape)
        if s < 1:
            g = cv2.resize(g, (max(1, round(g.shape[1] * s)), max(1, round(g.shape[0] * s))), interpolation=cv2.INTER_AREA)
        return GridQuery(view.gray.shape[1], view.gray.shape[0], g)


@dataclass
class GridQuery:
    """The suspect's grey copy (long side <= 384) and the working size its coordinates scale from."""

    work_width: int
    work_height: int
    gray: np.ndarray

    def to_bytes(self) -> bytes:
        h, w = self.gray.shape
        return struct.pack("<HHHH", self.work_width, self.work_height, w, h) + self.gray.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> "GridQuery":
        from ..errors import FormatError

        need(data, 8, "grid query")
        ww, wh, w, h = struct.unpack_from("<HHHH", data)
        if not (w and h and ww and wh) or max(w, h) > QUERY_SIDE:
            raise FormatError("grid query: bad size")
        need(data, 8 + w * h, "grid query")
        return cls(ww, wh, np.frombuffer(data, np.uint8, w * h, 8).reshape(h, w).copy())
