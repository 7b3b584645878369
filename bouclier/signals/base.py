"""The plug-in contract every fingerprint kind follows (compute, serialise, compare, index).

A kind is a small class registered by name with a one-byte tag used in the binary format.
New kinds join by subclassing `Signal` and decorating with `@register`; callers never change.
"""

from __future__ import annotations

from functools import cached_property
from typing import ClassVar

import cv2
import numpy as np

from ..errors import FormatError

WORK_SIDE = 512  # long side of the working copy every kind is computed from


def work_size(width: int, height: int, side: int = WORK_SIDE) -> tuple[int, int]:
    """Deterministic working size (w, h) for an image of the given size: long side == `side`."""
    s = side / max(width, height)
    return max(1, round(width * s)), max(1, round(height * s))


class View:
    """Shared, lazily computed representations of one image (computed once, used by all kinds)."""

    def __init__(self, rgb: np.ndarray):
        self.rgb_full = rgb
        self.height, self.width = rgb.shape[:2]

    @cached_property
    def rgb(self) -> np.ndarray:
        """RGB working copy, long side WORK_SIDE (down with INTER_AREA, up with INTER_LINEAR)."""
        w, h = work_size(self.width, self.height)
        if (w, h) == (self.width, self.height):
            return self.rgb_full
        interp = cv2.INTER_AREA if w < self.width else cv2.INTER_LINEAR
        return cv2.resize(self.rgb_full, (w, h), interpolation=interp)

    @cached_property
    def gray(self) -> np.ndarray:
        return cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY)


class Signal:
    """One fingerprint kind. Subclasses set `name`, `tag`, `version` and implement the methods."""

    name: ClassVar[str]
    tag: ClassVar[int]
    version: ClassVar[int]

    @classmethod
    def compute(cls, view: View) -> "Signal":
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        raise NotImplementedError

    @classmethod
    def from_bytes(cls, data: bytes, version: int) -> "Signal":
        raise NotImplementedError

    @classmethod
    def make_index(cls):
        """An index over many signals of this kind for candidate retrieval, or None."""
        return None


REGISTRY: dict[str, type[Signal]] = {}
BY_TAG: dict[int, type[Signal]] = {}


def register(cls: type[Signal]) -> type[Signal]:
    if cls.name in REGISTRY or cls.tag in BY_TAG:
        raise ValueError(f"signal kind {cls.name!r} / tag {cls.tag} registered twice")
    REGISTRY[cls.name] = cls
    BY_TAG[cls.tag] = cls
    return cls


def need(data: bytes, n: int, what: str) -> None:
    if len(data) < n:
        raise FormatError(f"{what}: truncated ({len(data)} bytes, need {n})")


class SignalIndex:
    """Candidate retrieval over many signals of one kind. Slots are the matcher's integer ids."""

    def add(self, slot: int, signal: Signal) -> None:
        raise NotImplementedError

    def search(self, query) -> dict[int, float]:
        """Candidate slots with a kind-specific score (higher is more promising)."""
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError
