"""Geometric verification: support (inliers weighted by how exactly they fit) and the match score."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bouclier.decide import match_score
from bouclier.fingerprint import Query, compute
from bouclier.load import encode_jpeg, load
from bouclier.signals.base import WORK_SIDE
from bouclier.verify import Alignment, upscale, verify


def _fp_and_query(original: np.ndarray, suspect: np.ndarray):
    fp = compute(load(encode_jpeg(original, 95), max_side=WORK_SIDE))
    q = Query.compute(load(encode_jpeg(suspect, 90), max_side=WORK_SIDE))
    return fp, q


def _verify(fp, q) -> Alignment:
    a = verify(fp.signals["orb"], q.keypoints, upscale(q.width, q.height), upscale(fp.width, fp.height))
    assert a is not None
    return a


def test_support_weights_each_inlier_by_its_residual():
    a = Alignment(np.eye(2, 3), False, 4, 10, np.arange(4), np.array([0.0, 1.0, 2.0, 10.0], np.float32))
    assert a.support == pytest.approx(1 + 0.5 + 0.2 + 1 / 101)
    a.noise_px = 2.0  # the same residuals are half as many noise units
    assert a.support == pytest.approx(1 + 0.8 + 0.5 + 1 / 26)


def test_support_weights_each_inlier_by_its_descriptor_distance():
    """1 for equal descriptors, falling linearly to 0 at the tentative-match limit (30 % of the bits)."""
    a = Alignment(np.eye(2, 3), False, 4, 10, np.arange(4), np.zeros(4, np.float32),
                  distances=np.array([0.0, 19.2, 38.4, 50.0], np.float32), descriptor_bits=128)
    assert a.support == pytest.approx(1 + 0.5 + 0 + 0)
    a.descriptor_bits = 256  # the same distances are half as far on longer descriptors
    assert a.support == pytest.approx(1 + 0.75 + 0.5 + 1 - 50 / 76.8)
    a.distances = None  # without distances only the fit counts
    assert a.support == pytest.approx(4)


def test_a_copy_fits_more_exactly_than_another_viewpoint(photos):
    """A copy moves every keypoint by one similarity transform; a second shot of the scene from a
    slightly moved camera (a perspective change) fits a similarity only roughly. Same inlier count or
    not, the copy's inliers sit closer to the model."""
    img = photos["astronaut"]
    h, w = img.shape[:2]
    copy = cv2.resize(img, (w * 9 // 10, h * 9 // 10), interpolation=cv2.INTER_AREA)
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[0, 0], [w, 0.06 * h], [w, 0.94 * h], [0, h]])  # camera turned ~ a few degrees
    moved = cv2.warpPerspective(img, cv2.getPerspectiveTransform(src, dst), (w, h), borderMode=cv2.BORDER_REFLECT)
    a_copy = _verify(*_fp_and_query(img, copy))
    a_moved = _verify(*_fp_and_query(img, moved))
    assert np.median(a_copy.residuals) < 0.6 * np.median(a_moved.residuals)
    assert a_copy.support / a_copy.inliers > a_moved.support / a_moved.inliers + 0.1


def test_a_small_copy_is_judged_in_its_own_pixels(photos):
    """A copy at a third of the size is enlarged to the working size for detection, which enlarges
    its keypoint noise: the noise unit follows, so its support per inlier stays close to a full copy's."""
    img = photos["astronaut"]
    small = cv2.resize(img, None, fx=1 / 3, fy=1 / 3, interpolation=cv2.INTER_AREA)
    fp, q = _fp_and_query(img, small)
    a = _verify(fp, q)
    assert a.noise_px == pytest.approx(WORK_SIDE / max(small.shape[:2]), rel=0.01)
    full = _verify(*_fp_and_query(img, img))
    assert a.support / a.inliers > 0.6 * full.support / full.inliers
    a.noise_px = 1.0  # judged in working pixels instead, the small copy would lose much of its support
    assert a.support / a.inliers < 0.8 * full.support / full.inliers


def test_match_score_discounts_the_edited_part():
    assert match_score(30.0, None) == 30.0
    assert match_score(30.0, 0.0) == pytest.approx(30.0)
    assert match_score(30.0, 1.0) == pytest.approx(10.0)
    scores = [match_score(30.0, f) for f in np.linspace(0, 1, 11)]
    assert all(a > b for a, b in zip(scores, scores[1:]))


def test_inliers_carry_their_descriptor_distances(photos):
    """Each inlier's Hamming distance to its suspect match: within the tentative-match bound, and small
    for a copy (the same pixels give nearly the same descriptor)."""
    img = photos["astronaut"]
    a = _verify(*_fp_and_query(img, img))
    assert a.distances is not None and len(a.distances) == a.inliers == len(a.residuals)
    assert a.distances.max() <= 0.30 * 128
    assert np.median(a.distances) <= 8
