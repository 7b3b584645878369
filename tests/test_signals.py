"""Unit tests for the fingerprint kinds (bouclier.signals): PDQ, ORB keypoints, edit grid.

Photos: scikit-image's bundled ones; everything else is synthetic.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bouclier.errors import FormatError
from bouclier.load import encode_jpeg, load
from bouclier.signals import REGISTRY, View
from bouclier.signals.base import BY_TAG, WORK_SIDE, work_size
from bouclier.signals.grid import CELLS, QUERY_SIDE, EditGrid, GridQuery
from bouclier.signals.keypoints import (
    DESCRIPTOR_BITS,
    PROTECT_KEYPOINTS,
    SPREAD_GRID,
    KeypointQuery,
    Keypoints,
)
from bouclier.signals.pdq import (
    _SAMPLED_MIN_SIDE,
    PDQ,
    PDQQuery,
    _dct16,
    _dihedral,
    distance,
    hex_to_bytes,
    pdq_hashes,
    reference_hashes,
)

PDQ_MATCH = 31  # HMA / StopNCII match distance


@pytest.fixture(scope="module")
def views(photos):
    return {n: View(a) for n, a in photos.items()}


@pytest.fixture(scope="module")
def astro_kp(views):
    return Keypoints.compute(views["astronaut"])


# --------------------------------------------------------------------------------------------------
# Registry and working copy


def test_registry_has_the_three_kinds_with_unique_tags():
    assert set(REGISTRY) >= {"pdq", "orb", "grid"}
    assert REGISTRY["pdq"] is PDQ and REGISTRY["orb"] is Keypoints and REGISTRY["grid"] is EditGrid
    assert len(BY_TAG) == len(REGISTRY)
    assert all(BY_TAG[k.tag] is k for k in REGISTRY.values())


@pytest.mark.parametrize("w,h", [(512, 512), (600, 400), (400, 600), (4000, 30), (100, 80), (1, 1)])
def test_work_size_long_side_is_work_side(w, h):
    ww, wh = work_size(w, h)
    assert max(ww, wh) == WORK_SIDE
    assert ww >= 1 and wh >= 1
    assert abs(ww / wh - w / h) / (w / h) < 0.05 or min(ww, wh) <= 20  # aspect kept (rounding on thin images)


def test_view_working_copy(photos):
    v = View(photos["coffee"])  # 600 x 400
    assert v.rgb.shape == (341, 512, 3)
    assert v.gray.shape == (341, 512)
    small = View(np.zeros((100, 50, 3), np.uint8))
    assert small.rgb.shape == (512, 256, 3)  # upscaled too, so every kind sees the same size


# --------------------------------------------------------------------------------------------------
# PDQ


def test_pdq_hex_is_64_lowercase_hex(views):
    p = PDQ.compute(views["astronaut"])
    assert len(p.hash) == 32
    assert len(p.hex) == 64 and p.hex == p.hex.lower()
    assert all(c in "0123456789abcdef" for c in p.hex)
    assert 0 <= p.quality <= 100 and p.quality >= 50  # a textured photo has a high-quality hash


def test_pdq_identical_image_distance_zero(photos, views):
    a = PDQ.compute(views["astronaut"])
    b = PDQ.compute(View(photos["astronaut"].copy()))
    assert distance(a.hash, b.hash) == 0
    assert PDQ.query(View(photos["astronaut"].copy())).best(a.hash) == (0, 0)


def test_pdq_distinguishes_different_photos(views):
    hashes = {n: PDQ.compute(v).hash for n, v in views.items()}
    names = sorted(hashes)
    for i, x in enumerate(names):
        for y in names[i + 1 :]:
            assert distance(hashes[x], hashes[y]) > PDQ_MATCH, (x, y)


def test_pdq_survives_jpeg_and_resize(photos, views):
    p = PDQ.compute(views["coffee"])
    small = photos["coffee"][::2, ::2]
    im = load(encode_jpeg(np.ascontiguousarray(small), 60))
    d, variant = PDQ.query(View(im.pixels)).best(p.hash)
    assert variant == 0 and d <= PDQ_MATCH


@pytest.mark.parametrize("name", ["astronaut", "coffee", "rocket"])
@pytest.mark.parametrize("k,expected_variant", [(1, 3), (2, 2), (3, 1)])
def test_pdq_rotated_image_matches_through_dihedral_query(photos, views, name, k, expected_variant):
    p = PDQ.compute(views[name])
    q = PDQ.query(View(np.ascontiguousarray(np.rot90(photos[name], k))))
    assert len(q.hashes) == 8
    d, variant = q.best(p.hash)
    assert variant != 0 and variant == expected_variant
    assert d <= PDQ_MATCH
    d0, v0 = q.best(p.hash, dihedral=False)  # without the dihedral variants the copy is missed
    assert v0 == 0 and d0 > PDQ_MATCH


def test_pdq_mirrored_image_matches_through_dihedral_query(photos, views):
    p = PDQ.compute(views["chelsea"])
    q = PDQ.query(View(np.ascontiguousarray(photos["chelsea"][:, ::-1])))
    d, variant = q.best(p.hash)
    assert variant != 0 and d <= PDQ_MATCH


@pytest.mark.parametrize("name", ["astronaut", "coffee", "rocket", "chelsea"])
def test_pdq_equals_the_reference_implementation(photos, views, name):
    """Same bits and quality as Meta's C++ (pdqhash), on the working copy and on the full photo."""
    for rgb in (views[name].rgb, photos[name]):
        assert pdq_hashes(rgb) == reference_hashes(rgb)
        assert pdq_hashes(rgb, dihedral=True) == reference_hashes(rgb, dihedral=True)


@settings(max_examples=60, deadline=None)
@given(w=st.integers(5, 700), h=st.integers(5, 700), seed=st.integers(0, 2**16), smooth=st.booleans())
def test_pdq_equals_the_reference_on_random_images(w, h, seed, smooth):
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    if smooth:  # photo-like low frequencies as well as noise
        rgb = cv2.GaussianBlur(rgb, (0, 0), 1 + seed % 7)
    (ours, q), (ref, q_ref) = pdq_hashes(rgb, dihedral=True), reference_hashes(rgb, dihedral=True)
    ties = [False] * 8
    if min(w, h) >= _SAMPLED_MIN_SIDE:
        # a heavy blur leaves DCT values equal to float32 precision: the two around the median may then
        # be ordered either way (one bit in, one out); anywhere else the bits are the reference's
        for i, v in enumerate(_dihedral(_dct16(rgb)[0])):
            srt = np.sort(v.ravel())
            ties[i] = srt[128] - srt[127] < 1e-5 * np.abs(srt).max()
    for a, b, tie in zip(ours, ref, ties):
        assert distance(a, b) <= (2 if tie else 0)
    assert abs(q - q_ref) <= 1  # float rounding can move the gradient sum across a step of 90


def test_pdq_hex_round_trip(views):
    p = PDQ.compute(views["rocket"])
    assert PDQ.from_hex(p.hex, p.quality) == p
    assert PDQ.from_hex(p.hex.upper(), p.quality).hash == p.hash  # case-insensitive on input
    assert PDQ.from_hex("  " + p.hex + "\n").hash == p.hash
    assert hex_to_bytes(p.hex) == p.hash


@pytest.mark.parametrize("bad", ["", "0" * 63, "0" * 65, "g" * 64, "0x" + "0" * 62, "z" + "f" * 63, "ff " * 21 + "f"])
def test_pdq_bad_hex_is_format_error(bad):
    with pytest.raises(FormatError):
        PDQ.from_hex(bad)


def test_pdq_distance_counts_bits():
    a = bytes(32)
    assert distance(a, a) == 0
    assert distance(a, b"\xff" * 32) == 256
    assert distance(a, b"\x01" + bytes(31)) == 1
    assert distance(a, bytes(31) + b"\x81") == 2


def test_pdq_bytes_round_trip_and_quality_clamped(views):
    p = PDQ.compute(views["camera"])
    assert PDQ.from_bytes(p.to_bytes(), PDQ.version) == p
    assert len(p.to_bytes()) == 33
    assert PDQ.from_bytes(PDQ(p.hash, 250).to_bytes(), 1).quality == 100
    assert PDQ.from_bytes(PDQ(p.hash, -5).to_bytes(), 1).quality == 0
    with pytest.raises(FormatError):
        PDQ.from_bytes(p.to_bytes()[:32], 1)


def test_pdq_query_round_trip(views):
    q = PDQ.query(views["chelsea"])
    q2 = PDQQuery.from_bytes(q.to_bytes())
    assert q2 == q
    for bad in (b"", b"\x08", q.to_bytes()[:-1], b"\x00\x10" + bytes(32), b"\x09\x10" + bytes(9 * 32)):
        with pytest.raises(FormatError):
            PDQQuery.from_bytes(bad)


def test_pdq_index_finds_close_hash_only():
    idx = PDQ.make_index()
    rng = np.random.default_rng(1)
    hashes = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes() for _ in range(50)]
    for i, h in enumerate(hashes):
        idx.add(i * 10, PDQ(h, 100))
    assert len(idx) == 50
    target = bytearray(hashes[7])
    for bit in range(0, 200, 8):  # 25 flipped bits: within 31
        target[bit // 8] ^= 1 << (bit % 8)
    found = idx.search(PDQQuery([bytes(target)], 100))
    assert 70 in found and found[70] == 256 - 25
    assert all(distance(hashes[s // 10], bytes(target)) <= PDQ_MATCH for s in found)
    far = bytearray(hashes[7])
    for bit in range(0, 256, 6):  # 43 flipped bits: beyond 31
        far[bit // 8] ^= 1 << (bit % 8)
    assert 70 not in idx.search(PDQQuery([bytes(far)], 100))


# --------------------------------------------------------------------------------------------------
# Keypoints


def _cells(kp: Keypoints) -> set[int]:
    g = SPREAD_GRID
    gy = np.minimum((kp.xy[:, 1] * g / kp.height).astype(int), g - 1)
    gx = np.minimum((kp.xy[:, 0] * g / kp.width).astype(int), g - 1)
    return set((gy * g + gx).tolist())


def test_keypoints_count_and_size(astro_kp):
    assert 64 <= len(astro_kp.xy) <= PROTECT_KEYPOINTS == 128
    assert (astro_kp.width, astro_kp.height) == (512, 512)
    assert astro_kp.desc.shape == (len(astro_kp.xy), DESCRIPTOR_BITS // 8)
    assert astro_kp.desc.dtype == np.uint8
    assert astro_kp.angle.shape == (len(astro_kp.xy),)
    assert ((astro_kp.angle >= 0) & (astro_kp.angle < 360)).all()


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
def test_keypoints_within_bounds_and_spread(views, name):
    kp = Keypoints.compute(views[name])
    assert len(kp.xy) <= PROTECT_KEYPOINTS
    assert (kp.xy >= 0).all()
    assert (kp.xy[:, 0] <= kp.width - 1).all() and (kp.xy[:, 1] <= kp.height - 1).all()
    assert (kp.width, kp.height) == work_size(views[name].width, views[name].height)
    # spread: keypoints in most cells of the 6 x 6 grid, not piled on the most textured area
    assert len(_cells(kp)) >= 20, len(_cells(kp))


def test_keypoints_spread_beats_plain_strongest(views, astro_kp):
    """The plain ORB top-128 concentrates on texture; the spread selection covers more cells."""
    from bouclier.signals.keypoints import _detect

    xy, _, resp, _ = _detect(views["astronaut"].gray, 2000)
    top = np.argsort(-resp)[:PROTECT_KEYPOINTS]
    plain = Keypoints(512, 512, xy[top], np.zeros(len(top), np.float32), np.zeros((len(top), 16), np.uint8))
    assert len(_cells(astro_kp)) > len(_cells(plain))


def test_keypoints_compute_is_already_quantised(astro_kp):
    k2 = Keypoints.from_bytes(astro_kp.to_bytes(), Keypoints.version)
    assert (k2.width, k2.height) == (astro_kp.width, astro_kp.height)
    np.testing.assert_array_equal(k2.xy, astro_kp.xy)
    np.testing.assert_array_equal(k2.angle, astro_kp.angle)
    np.testing.assert_array_equal(k2.desc, astro_kp.desc)
    assert k2.to_bytes() == astro_kp.to_bytes()
    assert len(astro_kp.to_bytes()) == 7 + len(astro_kp.xy) * (4 + DESCRIPTOR_BITS // 8)


def test_keypoints_compute_is_deterministic(photos, astro_kp):
    again = Keypoints.compute(View(photos["astronaut"].copy()))
    assert again.to_bytes() == astro_kp.to_bytes()


def test_keypoints_flat_image_has_none_and_round_trips():
    kp = Keypoints.compute(View(np.full((300, 400, 3), 128, np.uint8)))
    assert len(kp.xy) == 0
    k2 = Keypoints.from_bytes(kp.to_bytes(), 1)
    assert len(k2.xy) == 0 and k2.desc.shape[0] == 0


def test_keypoints_bad_bytes(astro_kp):
    data = astro_kp.to_bytes()
    for bad in (b"", data[:6], data[:-1], b"\x00\x00" + data[2:], data[:6] + b"\x00" + data[7:],
                data[:6] + b"\x21" + data[7:]):
        with pytest.raises(FormatError):
            Keypoints.from_bytes(bad, 1)


def test_keypoint_query_round_trip(views):
    q = Keypoints.query(views["coffee"])
    assert len(q.orientations) == 2  # as is, and mirrored
    assert len(q.orientations[0][0]) > PROTECT_KEYPOINTS  # the suspect side keeps many more
    assert q.orientations[0][2].shape[1] == 32  # full 256-bit descriptors
    q2 = KeypointQuery.from_bytes(q.to_bytes())
    assert (q2.width, q2.height) == (q.width, q.height)
    for (xy, ang, desc), (xy2, ang2, desc2) in zip(q.orientations, q2.orientations, strict=True):
        np.testing.assert_array_equal(xy, xy2)
        np.testing.assert_array_equal(ang, ang2)
        np.testing.assert_array_equal(desc, desc2)
    data = q.to_bytes()
    for bad in (b"", data[:4], data[:-1], data[:4] + b"\x03" + data[5:], data[:4] + b"\x00" + data[5:]):
        with pytest.raises(FormatError):
            KeypointQuery.from_bytes(bad)


def test_keypoint_query_mirror_is_in_mirror_coordinates(photos, views):
    """The mirrored orientation of a flipped image holds the original's keypoints at the same places."""
    q = Keypoints.query(View(np.ascontiguousarray(photos["astronaut"][:, ::-1])))
    direct = Keypoints.query(views["astronaut"])
    xy_m = q.orientations[1][0]
    xy_d = direct.orientations[0][0]
    # most of the strongest keypoints coincide (within a pixel) with the unflipped detection
    from scipy.spatial import cKDTree

    d, _ = cKDTree(xy_d).query(xy_m[:200])
    assert (d < 1.5).mean() > 0.8


def test_descriptor_index_votes_for_the_right_photo(views):
    idx = Keypoints.make_index()
    names = ["astronaut", "coffee", "chelsea", "rocket", "camera"]
    for i, n in enumerate(names):
        idx.add(i, Keypoints.compute(views[n]))
    assert len(idx) == 5
    for i, n in enumerate(names):
        votes = idx.search(Keypoints.query(views[n]))
        assert max(votes, key=votes.get) == i, (n, votes)


# --------------------------------------------------------------------------------------------------
# Edit grid


@pytest.mark.parametrize("name", ["astronaut", "coffee", "camera"])
def test_edit_grid_values_are_nibbles(views, name):
    g = EditGrid.compute(views[name])
    for a in (g.luma, g.texture):
        assert a.shape == (CELLS, CELLS) and a.dtype == np.uint8
        assert a.max() <= 15
    assert len(np.unique(g.luma)) >= 6  # a photo spans many brightness levels
    g2 = EditGrid.from_bytes(g.to_bytes(), EditGrid.version)
    np.testing.assert_array_equal(g2.luma, g.luma)
    np.testing.assert_array_equal(g2.texture, g.texture)
    assert len(g.to_bytes()) == 1 + CELLS * CELLS


def test_edit_grid_measures_brightness_and_texture():
    """Left half black and flat, right half bright and textured: the grid says so, cell by cell."""
    a = np.zeros((256, 256), np.uint8)
    noise = np.random.default_rng(0).integers(120, 256, (64, 32)).astype(np.uint8)
    a[:, 128:] = np.kron(noise, np.ones((4, 4), np.uint8))  # 4-pixel blocks of random brightness
    g = EditGrid.compute(View(np.dstack([a] * 3)))
    left, right = slice(0, CELLS // 2 - 1), slice(CELLS // 2 + 1, CELLS)
    assert g.luma[:, left].max() == 0
    assert g.luma[:, right].min() >= 8
    assert g.texture[:, left].max() == 0
    assert g.texture[:, right].min() >= 8


def test_edit_grid_bad_bytes():
    g = EditGrid(np.zeros((CELLS, CELLS), np.uint8), np.ones((CELLS, CELLS), np.uint8))
    data = g.to_bytes()
    for bad in (b"", data[:-1], bytes([16]) + data[1:257]):
        with pytest.raises(FormatError):
            EditGrid.from_bytes(bad, 1)


def test_grid_query_round_trip(views, photos):
    q = EditGrid.query(views["rocket"])
    assert max(q.gray.shape) <= QUERY_SIDE
    assert (q.work_width, q.work_height) == views["rocket"].gray.shape[::-1]
    q2 = GridQuery.from_bytes(q.to_bytes())
    assert (q2.work_width, q2.work_height) == (q.work_width, q.work_height)
    np.testing.assert_array_equal(q2.gray, q.gray)
    data = q.to_bytes()
    for bad in (b"", data[:7], data[:-1], data[:4] + b"\x00\x00" + data[6:], data[:4] + b"\x00\x02" + data[6:]):
        with pytest.raises(FormatError):
            GridQuery.from_bytes(bad)
