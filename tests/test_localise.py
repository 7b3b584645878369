"""Localisation: where a protected photo was edited, from fingerprints alone and from the original."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bouclier.check import check_one
from bouclier.fingerprint import compute
from bouclier.load import encode_jpeg, load
from bouclier.localise import localise, pixel_difference, robust_fit, seed_cells
from bouclier.match import Matcher
from bouclier.signals import View
from bouclier.signals.base import WORK_SIDE
from bouclier.signals.grid import CELLS, EditGrid
from bouclier.verify import Alignment

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def alignment(matrix: np.ndarray) -> Alignment:
    return Alignment(np.asarray(matrix, float), False, 100, 100, np.arange(10), np.zeros(10, np.float32))


@pytest.fixture(scope="module")
def astronaut_original(photos):
    return encode_jpeg(photos["astronaut"], 95)


@pytest.fixture(scope="module")
def matcher(photos, astronaut_original):
    m = Matcher()
    m.add("astronaut", compute(load(astronaut_original, max_side=WORK_SIDE), label="astronaut.jpg"))
    for n in ("coffee", "chelsea"):
        m.add(n, compute(load(encode_jpeg(photos[n], 95), max_side=WORK_SIDE), label=n))
    return m


@pytest.fixture(scope="module")
def checked(matcher, astronaut_derivative, astronaut_original):
    """The derivative checked with the original at hand (so both localisation paths run)."""
    orig = load(astronaut_original, name="astronaut.jpg", max_side=WORK_SIDE)
    return check_one(matcher, astronaut_derivative.jpeg, name="derivative.jpg", original=orig)


def true_mask_in_working_frame(derivative, shape) -> np.ndarray:
    h, w = shape
    return cv2.resize(derivative.mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0


# --------------------------------------------------------------------------------------------------
# From fingerprints alone


def test_suspect_mask_overlaps_the_true_edit(checked, astronaut_derivative):
    assert checked.result.verdict == "manipulated-derivative" and checked.result.key == "astronaut"
    mask = checked.edit_mask
    assert mask.shape == checked.suspect_rgb.shape[:2] == (512, 512)  # suspect working frame
    truth = true_mask_in_working_frame(astronaut_derivative, mask.shape)
    # The grid is 32 x 32 cells of the protected photo (16 x 16 px each here, x 1.18 in the suspect);
    # the 250 x 300 px edit is ~16 x 19 cells, so a cell-wide error all round its border still leaves
    # IoU ~0.7, and some border cells of a blur over smooth areas can look unedited. 0.5 leaves room
    # for that and is far above what a wrong place would give (the mask covers ~35 % of the frame).
    assert iou(mask, truth) > 0.5, iou(mask, truth)
    # and most of what is flagged is really edited
    assert (mask & truth).sum() / mask.sum() > 0.7


def test_edit_is_where_it_was_made(checked, astronaut_derivative):
    """The flagged region sits in the lower-central part of the suspect, not at the top."""
    ys, xs = np.nonzero(checked.edit_mask)
    h, w = checked.edit_mask.shape
    assert ys.mean() > 0.55 * h
    assert 0.35 * w < xs.mean() < 0.65 * w
    assert checked.edit_mask[: h // 3].mean() < 0.05


def test_edited_fraction_matches_the_truth(checked, astronaut_derivative):
    # see test_match.test_manipulated_derivative_is_found for the tolerance
    assert abs(checked.result.edited_fraction - astronaut_derivative.true_fraction) <= 0.15


def test_outline_and_inliers_in_suspect_frame(checked):
    """The protected photo's corners land outside the (cropped) suspect by about the crop."""
    o = checked.outline
    assert o.shape == (4, 2)
    # crop 7.5 % per side of 512 px, protected -> suspect scale 1/0.85: corners ~ -45 and ~ 556
    assert np.allclose(o[0], [-45, -45], atol=12) and np.allclose(o[2], [556, 556], atol=12)
    p = checked.inlier_points
    assert len(p) >= 10
    assert ((p >= -2) & (p <= 514)).all()


@pytest.mark.parametrize("how", ["crop-resize-jpeg", "brightness-contrast", "blur-jpeg30"])
def test_unedited_copy_has_small_edited_fraction(matcher, photos, how):
    a = photos["astronaut"]
    if how == "crop-resize-jpeg":
        a, q = cv2.resize(a[40:-40, 30:-50], None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA), 70
    elif how == "brightness-contrast":
        a, q = np.clip(a.astype(np.float32) * 0.8 + 30, 0, 255).astype(np.uint8), 85
    else:
        a, q = cv2.GaussianBlur(a, (0, 0), 1.2), 30
    r = matcher.match(load(encode_jpeg(np.ascontiguousarray(a), q), max_side=WORK_SIDE))
    assert r.key == "astronaut" and r.verdict in ("near-duplicate", "identical")
    assert r.edited_fraction is not None and r.edited_fraction < 0.05


def test_localise_synthetic_edit_with_known_alignment(photos):
    """Coffee with a 200 x 150 px block painted grey; the suspect is the same frame (identity)."""
    c = photos["coffee"]  # 600 x 400
    grid = EditGrid.compute(View(c))
    s = c.copy()
    s[100:250, 300:500] = 128
    v = View(s)
    ww, wh = v.gray.shape[1], v.gray.shape[0]
    em = localise(grid, EditGrid.query(v), alignment(IDENTITY), ww, wh)
    assert em.edited.shape == em.visible.shape == (CELLS, CELLS)
    assert em.visible_fraction == 1.0
    truth = np.zeros((400, 600), bool)
    truth[100:250, 300:500] = True
    assert em.edited_fraction == pytest.approx(truth.mean(), abs=0.04)  # 0.125 of the area
    assert iou(em.suspect_mask(ww, wh, 600, 400), truth) > 0.6
    same = localise(grid, EditGrid.query(View(c)), alignment(IDENTITY), ww, wh)
    assert same.edited_fraction == 0.0 and not same.edited.any()


@pytest.mark.parametrize("edit", ["blur", "contrast"])
def test_fit_is_seeded_where_the_inliers_are_when_most_of_the_photo_was_replaced(photos, edit):
    """The lower 65 % changed consistently (a strong blur, or a contrast change): a fit over all cells
    would lock onto that majority and flag the unchanged top instead. The verified inliers sit in the
    top, so the fit is made there and the lower part is the edit."""
    c = photos["astronaut"]  # 512 x 512: working frame = pixels
    grid = EditGrid.compute(View(c))
    s = c.copy()
    low = s[180:]
    s[180:] = cv2.GaussianBlur(low, (0, 0), 12) if edit == "blur" else (low * 0.5 + 100).astype(np.uint8)
    xy = np.array([[x, y] for x in range(40, 480, 40) for y in range(20, 160, 40)], float)
    em = localise(grid, EditGrid.query(View(s)), alignment(IDENTITY), 512, 512, inlier_xy=xy)
    truth = np.zeros((CELLS, CELLS), bool)
    truth[180 // 16:] = True
    assert iou(em.edited, truth) > 0.85, iou(em.edited, truth)
    assert em.edited[: 160 // 16].mean() < 0.05  # where the inliers are: unedited
    assert em.edited_fraction == pytest.approx(truth.mean(), abs=0.08)


def test_seed_cells_grow_around_the_inliers():
    seed = seed_cells(np.array([[8.0, 8.0], [500.0, 300.0]]), 512, 512)  # cells (0, 0) and (18, 31)
    assert seed.sum() == 4 + 6 and seed[0, 0] and seed[1, 1] and seed[18, 31] and seed[19, 30]
    assert not seed_cells(None, 512, 512).any()


def test_localise_counts_only_the_visible_part(photos):
    """Suspect = the right half of the photo: half the cells visible, nothing edited."""
    c = photos["astronaut"]  # 512 x 512: working frame = pixels
    grid = EditGrid.compute(View(c))
    right = np.ascontiguousarray(c[:, 256:])
    v = View(right)  # 256 x 512 -> working 256 x 512 (long side already 512)
    assert v.gray.shape == (512, 256)
    em = localise(grid, EditGrid.query(v), alignment([[1.0, 0, -256], [0, 1.0, 0]]), 512, 512)
    assert em.visible_fraction == pytest.approx(0.5, abs=0.04)
    assert not em.visible[:, : CELLS // 2 - 1].any()
    assert em.edited_fraction < 0.05


def test_robust_fit_ignores_outliers():
    rng = np.random.default_rng(0)
    x = rng.random(200) * 16
    y = 0.8 * x + 2
    y[:40] += rng.random(40) * 8 + 3  # 20 % edited cells
    a, b = robust_fit(x, y)
    assert a == pytest.approx(0.8, abs=0.02) and b == pytest.approx(2, abs=0.1)


# --------------------------------------------------------------------------------------------------
# With the original at hand


def test_pixel_difference_with_original(checked, astronaut_derivative):
    d = checked.difference
    assert d.shape == (512, 512) and d.dtype == np.float32
    assert 0 <= d.min() and d.max() <= 1
    truth = true_mask_in_working_frame(astronaut_derivative, d.shape)
    assert iou(d > 0.35, truth) > 0.5
    assert d[truth].mean() > 4 * d[~truth].mean()
    frac = checked.to_json()["pixel_edited_fraction"]
    assert abs(frac - astronaut_derivative.true_fraction) <= 0.15
    assert checked.original_rgb.shape == (512, 512, 3)
    assert checked.extra["original_inliers"] >= 50


def test_pixel_difference_synthetic(photos):
    c = photos["chelsea"]
    s = c.copy()
    s[50:150, 100:250] = (255, 0, 0)
    v, o = View(s), View(c)
    d = pixel_difference(o.rgb, v.rgb, IDENTITY)
    sy, sx = v.rgb.shape[0] / c.shape[0], v.rgb.shape[1] / c.shape[1]
    inner = d[int(60 * sy) : int(140 * sy), int(110 * sx) : int(240 * sx)]
    assert inner.min() > 0.9
    outside = np.ones(d.shape, bool)
    outside[int(40 * sy) : int(160 * sy), int(90 * sx) : int(260 * sx)] = False
    assert np.percentile(d[outside], 99) < 0.2


def test_original_that_does_not_align(matcher, photos, astronaut_derivative):
    other = load(encode_jpeg(photos["hubble_deep_field"], 90), max_side=WORK_SIDE)
    c = check_one(matcher, astronaut_derivative.jpeg, name="d.jpg", original=other)
    assert c.result.key == "astronaut"  # the fingerprint verdict does not depend on --original
    assert c.difference is None
    assert "failed" in c.extra["original_alignment"]


def test_padded_unedited_copy_has_no_edit_along_the_photo_border(photos):
    """A letterboxed copy: the pad's step into the photo must not read as texture in the border cells."""
    from bouclier.fingerprint import Query
    from bouclier.load import load_array
    from bouclier.signals.base import work_size
    from bouclier.verify import verify

    for name in ("astronaut", "coffee", "chelsea"):
        px = photos[name]
        fp = compute(load(encode_jpeg(px, 95), max_side=WORK_SIDE))
        h, w = px.shape[:2]
        for value in (0, 255):
            padded = cv2.copyMakeBorder(px, h // 8, h // 8, w // 20, w // 20, cv2.BORDER_CONSTANT, value=(value,) * 3)
            q = Query.compute(load(encode_jpeg(padded, 80)))
            al = verify(fp.signals["orb"], q.keypoints)
            xy = fp.signals["orb"].xy[al.protected_inliers]
            em = localise(fp.signals["grid"], q.grid, al, *work_size(fp.width, fp.height), inlier_xy=xy)
            assert em.edited_fraction < 0.02, (name, value, em.edited_fraction)


def test_a_step_in_the_outermost_analysis_pixels_is_not_texture(photos):
    """What the suspect has beyond the photo (a pad) bleeds into the outermost analysis pixels."""
    from bouclier.localise import _inner_edge
    from bouclier.signals.grid import ANALYSIS, texture_cells

    g = cv2.resize(cv2.cvtColor(photos["coffee"], cv2.COLOR_RGB2GRAY), (ANALYSIS, ANALYSIS), interpolation=cv2.INTER_AREA)
    bled = g.copy()
    bled[0], bled[:, -1] = 0, 255  # a dark pad above, a white one on the right
    clean, raw, fixed = texture_cells(g), texture_cells(bled), texture_cells(_inner_edge(bled))
    assert np.abs(raw - clean)[0].max() > 1.6  # without the fix: a false texture edit along the top
    assert np.abs(fixed - clean).max() < 1.0
