"""Shared fixtures for the engine tests: scikit-image's bundled photos and one benign derivative.

Only synthetic images and the photos scikit-image ships are used (no other data is needed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from hypothesis import settings

# CI runs the property tests on a fixed example sequence (a red run is reproducible); locally they explore.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

PROTECTED = ("astronaut", "coffee", "chelsea", "rocket", "camera")  # protected in match / CLI tests
UNRELATED = "hubble_deep_field"  # never protected


def skimage_rgb(name: str) -> np.ndarray:
    """A photo bundled with scikit-image as H x W x 3 uint8 RGB (grey photos are repeated)."""
    from skimage import data

    a = np.asarray(getattr(data, name)())
    if a.ndim == 2:
        a = np.dstack([a] * 3)
    return np.ascontiguousarray(a[:, :, :3]).astype(np.uint8)


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """PROTECTED photos and the UNRELATED one, by scikit-image name, as RGB arrays."""
    return {n: skimage_rgb(n) for n in PROTECTED + (UNRELATED,)}


@dataclass(frozen=True)
class Derivative:
    """A benign manipulated derivative of a protected photo, with the ground truth of the edit."""

    jpeg: bytes  # the suspect file
    pixels: np.ndarray  # its pixels before JPEG (suspect frame)
    mask: np.ndarray  # bool, suspect frame: pixels whose content was replaced
    true_fraction: float  # edited share of the protected photo's visible area
    rect: tuple[int, int, int, int]  # y0, y1, x0, x1 of the edit in the original's frame
    crop: tuple[int, int]  # rows, columns cut from each side


def make_derivative(rgb: np.ndarray, *, area=(0.45, 0.95, 0.2, 0.8), sigma: float = 25, crop: float = 0.15,
                    scale: float = 0.5, quality: int = 50) -> Derivative:
    """Blur-fill a lower-central rectangle (default 50 % x 60 % = 30 % of the area), crop `crop` of each
    side's length (half from each side), resize by `scale`, encode as JPEG `quality`."""
    from bouclier.load import encode_jpeg

    h, w = rgb.shape[:2]
    y0, y1, x0, x1 = int(area[0] * h), int(area[1] * h), int(area[2] * w), int(area[3] * w)
    a = rgb.copy()
    a[y0:y1, x0:x1] = cv2.GaussianBlur(a[y0:y1, x0:x1], (0, 0), sigma)
    mask = np.zeros((h, w), bool)
    mask[y0:y1, x0:x1] = True
    cy, cx = int(crop / 2 * h), int(crop / 2 * w)
    a, mask = a[cy : h - cy, cx : w - cx], mask[cy : h - cy, cx : w - cx]
    true_fraction = float(mask.mean())
    size = (round(a.shape[1] * scale), round(a.shape[0] * scale))
    a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
    mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return Derivative(encode_jpeg(a, quality), a, mask, true_fraction, (y0, y1, x0, x1), (cy, cx))


@pytest.fixture(scope="session")
def astronaut_derivative(photos) -> Derivative:
    """Astronaut with ~30 % of its area (the lower-central body region) blur-filled, cropped 15 %,
    halved, JPEG 50. Of the visible (cropped) area, ~39 % is edited."""
    return make_derivative(photos["astronaut"])


@pytest.fixture(scope="session")
def derive():
    """The `make_derivative` function, for tests that need other edits of the same kind."""
    return make_derivative

