"""The matching engine end to end in code: protect a few scikit-image photos, then check copies,
benign manipulated derivatives and unrelated photos. Asserts the verdict and the matched photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bouclier.bench.edits import apply_transform
from bouclier.decide import (
    DERIVATIVE,
    IDENTICAL,
    NEAR_DUPLICATE,
    NO_MATCH,
    VERDICTS,
    Thresholds,
    decide,
)
from bouclier.fingerprint import Query, compute
from bouclier.load import encode_jpeg, load
from bouclier.match import Matcher, MatchResult, algorithm_info, frame_corners, rank_key
from bouclier.signals.base import WORK_SIDE

PROTECTED = ("astronaut", "coffee", "chelsea", "rocket", "camera")


def suspect(pixels: np.ndarray, quality: int = 85, name: str = "suspect.jpg"):
    """A suspect as a platform would receive it: a JPEG file, decoded like `bouclier check` does."""
    return load(encode_jpeg(np.ascontiguousarray(pixels), quality), name=name, max_side=WORK_SIDE)


def resized(a: np.ndarray, f: float) -> np.ndarray:
    return cv2.resize(a, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def originals(photos):
    """The protected photos as the files their owner has (JPEG 95)."""
    return {n: encode_jpeg(photos[n], 95) for n in PROTECTED}


@pytest.fixture(scope="module")
def fingerprints(originals):
    return {n: compute(load(data, name=n, max_side=WORK_SIDE), label=f"{n}.jpg") for n, data in originals.items()}


@pytest.fixture(scope="module")
def matcher(fingerprints):
    m = Matcher()
    for n, fp in fingerprints.items():
        m.add(n, fp)
    return m


@pytest.fixture(scope="module")
def derivative_result(matcher, astronaut_derivative):
    return matcher.match(load(astronaut_derivative.jpeg, name="derivative.jpg", max_side=WORK_SIDE))


# --------------------------------------------------------------------------------------------------
# Verdicts


def test_manipulated_derivative_is_found(derivative_result, astronaut_derivative):
    r = derivative_result
    assert r.verdict == DERIVATIVE
    assert r.key == "astronaut" and r.protected == "astronaut.jpg"
    # True edited fraction of the visible area: 39 %. The fingerprint path measures it on a 32 x 32
    # grid of the protected frame, counting only fully visible cells; the edit spans ~16 x 19 cells, so
    # one cell of error all round its border moves the fraction by ~0.1. Allow that plus 0.05.
    assert 0.3 < astronaut_derivative.true_fraction < 0.45
    assert abs(r.edited_fraction - astronaut_derivative.true_fraction) <= 0.15, r.edited_fraction
    s = r.scores
    assert s["score"] >= Thresholds.default().min_score
    assert s["score"] <= s["support"] <= s["inliers"]
    assert s["pdq_distance"] > 31  # PDQ alone misses it; local features find it
    assert 0.55 <= s["visible_fraction"] <= 0.8  # 85 % x 85 % of the photo kept
    assert s["coverage"] == pytest.approx(1 - r.edited_fraction, abs=1e-3)
    assert r.alignment is not None and not r.alignment.mirrored
    # the suspect is the photo cropped 7.5 % per side and halved, at working size long side 512:
    # protected -> suspect scale 1/0.85
    assert r.alignment.scale == pytest.approx(1 / 0.85, rel=0.05)
    assert abs(r.alignment.rotation) < 2


def test_result_dict_is_complete(derivative_result):
    d = derivative_result.to_dict()
    assert d["verdict"] == DERIVATIVE and d["protected"] == "astronaut.jpg" and d["key"] == "astronaut"
    assert d["protected_id"] == derivative_result.fingerprint.id
    assert 0 < d["edited_fraction"] < 1
    assert {"pdq_distance", "inliers", "support", "score", "coverage"} <= set(d["scores"])
    assert d["transform"]["mirrored"] is False and len(d["transform"]["matrix"]) == 2
    assert d["algorithm"] == algorithm_info() and d["algorithm"]["version"] >= 1
    assert d["thresholds"]["min_score"] == Thresholds.default().min_score


def test_reencoded_resized_copy(matcher, photos):
    r = matcher.match(suspect(resized(photos["astronaut"], 0.6), quality=70))
    assert r.verdict in (NEAR_DUPLICATE, IDENTICAL)
    assert r.key == "astronaut"
    assert r.scores["pdq_distance"] <= 31
    assert r.edited_fraction is not None and r.edited_fraction < 0.05


def test_exclude_leaves_one_protected_photo_out(matcher, photos):
    q = Query.compute(suspect(resized(photos["astronaut"], 0.6), quality=70))
    assert matcher.match_query(q).key == "astronaut"
    r = matcher.match_query(q, exclude="astronaut")
    assert r.key != "astronaut"
    assert "astronaut" not in [matcher._keys[s] for s in matcher.candidates(q, exclude="astronaut")]
    assert matcher.match_query(q, exclude="coffee").key == "astronaut"


def test_exact_bytes_are_identical(matcher, originals):
    for n in ("coffee", "camera"):
        r = matcher.match(load(originals[n], name="same.jpg", max_side=WORK_SIDE))
        assert r.verdict == IDENTICAL and r.key == n


def test_exact_bytes_identical_even_without_other_signals(originals, fingerprints):
    """Same file bytes decide `identical` through the SHA-256, whatever the pixels say."""
    m = Matcher()
    fp = fingerprints["rocket"]
    m.add("r", type(fp)(fp.label, fp.sha256, fp.width, fp.height, {}))
    r = m.match(load(originals["rocket"], max_side=WORK_SIDE))
    assert r.verdict == IDENTICAL and r.key == "r"


def test_horizontally_flipped_copy(matcher, photos):
    r = matcher.match(suspect(photos["chelsea"][:, ::-1]))
    assert r.verdict in (NEAR_DUPLICATE, IDENTICAL) and r.verdict != NO_MATCH
    assert r.key == "chelsea"
    assert r.alignment.mirrored is True
    assert r.scores["pdq_variant"] != 0
    assert r.to_dict()["transform"]["mirrored"] is True


@pytest.mark.parametrize("k", [1, 3])
def test_rotated_90_copy(matcher, photos, k):
    r = matcher.match(suspect(np.rot90(photos["coffee"], k)))
    assert r.verdict == NEAR_DUPLICATE
    assert r.key == "coffee"
    assert not r.alignment.mirrored
    assert abs(abs(r.alignment.rotation) - 90) < 3
    assert r.scores["pdq_variant"] != 0


def test_small_rotation_crop_and_stamp(matcher, photos):
    """Rotated 7 degrees, cropped, a white "FAKE" stamp: still this photo, and the stamp is small."""
    a = photos["rocket"].copy()
    h, w = a.shape[:2]
    a = cv2.warpAffine(a, cv2.getRotationMatrix2D((w / 2, h / 2), 7, 1.0), (w, h), borderMode=cv2.BORDER_REFLECT)
    a = np.ascontiguousarray(a[40 : h - 40, 50 : w - 50])
    cv2.putText(a, "FAKE", (30, 80), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (255, 255, 255), 5)
    r = matcher.match(suspect(a, quality=75))
    assert r.verdict in (NEAR_DUPLICATE, DERIVATIVE)
    assert r.key == "rocket"
    # OpenCV's +7 degrees turns the picture anticlockwise on screen: -7 in the y-down convention
    assert r.alignment.rotation == pytest.approx(-7, abs=2)
    assert r.edited_fraction < 0.2  # the stamp (and reflected corners) are a small part


@pytest.mark.parametrize("name,seed", [("astronaut", 0), ("chelsea", 1)])
def test_screenshot_is_found_and_aligned_onto_the_photo_in_it(matcher, photos, name, seed):
    """A phone screenshot (the benchmark's: bars with text, margins): the photo in it is found and the
    alignment puts the protected photo's corners where the screenshot's own matrix puts them."""
    px = photos[name]
    shot, _, mat, _ = apply_transform(px, np.zeros(px.shape[:2], bool), np.eye(3)[:2], "screenshot",
                                      np.random.default_rng(seed))
    image = suspect(shot)
    r = matcher.match(image)
    assert r.verdict == NEAR_DUPLICATE and r.key == name
    h, w = px.shape[:2]
    k = WORK_SIDE / max(h, w)  # original -> protected working pixels
    corners = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], float)
    work = np.c_[corners[:, :2] * k, np.ones(4)]
    placed = work @ r.alignment.matrix.T
    want = corners @ mat.T * (image.pixels.shape[1] / shot.shape[1])
    assert np.abs(placed - want).max() < 3


# --------------------------------------------------------------------------------------------------
# Several protected photos in one suspect (match_all)


def side_by_side(*pics: np.ndarray, height: int = 384) -> np.ndarray:
    """Photos scaled to one height and placed left to right with white gaps, as a collage post does."""
    parts = []
    for p in pics:
        parts += [cv2.resize(p, (round(p.shape[1] * height / p.shape[0]), height), interpolation=cv2.INTER_AREA),
                  np.full((height, 16, 3), 255, np.uint8)]
    return np.ascontiguousarray(np.concatenate(parts[:-1], axis=1))


def frame_centre_x(r: MatchResult, q: Query) -> float:
    """Where the matched photo's frame sits across the suspect, 0 (left) to 1 (right)."""
    return float(frame_corners(r)[:, 0].mean() / q.keypoints.width)


def test_collage_of_two_protected_photos_reports_both(matcher, photos):
    q = Query.compute(suspect(side_by_side(photos["astronaut"], photos["coffee"])))
    found = matcher.match_all(q)
    assert sorted(r.key for r in found) == ["astronaut", "coffee"]
    where = {r.key: frame_centre_x(r, q) for r in found}
    assert where["astronaut"] < 0.45 < 0.55 < where["coffee"]
    assert all(r.verdict == NEAR_DUPLICATE for r in found)
    assert matcher.match_query(q).key == found[0].key  # the best of them leads


def test_before_after_pair_reports_the_edited_half_first(matcher, photos, derive):
    """The photo and its edit side by side: one match alone would be the unedited half (a near-duplicate,
    nothing edited); both are found and the manipulated derivative, on the right, leads."""
    a = photos["astronaut"]
    edited = derive(a, crop=0.0, scale=1.0, quality=95).pixels
    q = Query.compute(suspect(side_by_side(a, edited)))
    assert matcher.match_query(q).verdict == NEAR_DUPLICATE
    found = matcher.match_all(q)
    assert [(r.key, r.verdict) for r in found] == [("astronaut", DERIVATIVE), ("astronaut", NEAR_DUPLICATE)]
    assert frame_centre_x(found[0], q) > 0.55 > 0.45 > frame_centre_x(found[1], q)
    assert 0.2 < found[0].edited_fraction < 0.5 and found[1].edited_fraction < 0.1
    assert "pdq_distance" not in found[0].scores  # a part of the suspect has no whole-image hash


def test_four_photos_in_a_grid_and_the_limit(matcher, photos):
    top = side_by_side(photos["astronaut"], photos["coffee"], height=300)
    bottom = side_by_side(photos["rocket"], photos["chelsea"], height=300)
    w = max(top.shape[1], bottom.shape[1])
    grid = np.full((616, w, 3), 255, np.uint8)
    grid[:300, :top.shape[1]], grid[316:, :bottom.shape[1]] = top, bottom
    q = Query.compute(suspect(grid))
    assert sorted(r.key for r in matcher.match_all(q)) == ["astronaut", "chelsea", "coffee", "rocket"]
    assert len(matcher.match_all(q, limit=2)) == 2
    assert [r.key for r in matcher.match_all(q, exclude="coffee")].count("coffee") == 0


def test_one_photo_gives_one_instance_equal_to_match_query(matcher, astronaut_derivative, photos):
    for image in (load(astronaut_derivative.jpeg, max_side=WORK_SIDE), suspect(photos["hubble_deep_field"])):
        q = Query.compute(image)
        (only,) = matcher.match_all(q)
        best = matcher.match_query(q)
        assert (only.verdict, only.key, only.scores, only.edited_fraction) == (
            best.verdict, best.key, best.scores, best.edited_fraction)


def test_unrelated_photo_is_no_match(matcher, photos):
    r = matcher.match(suspect(photos["hubble_deep_field"]))
    assert r.verdict == NO_MATCH
    assert r.key is None and r.protected is None and r.edited_fraction is None and r.alignment is None
    assert r.scores["best_score"] < Thresholds.default().min_score
    d = r.to_dict()
    assert d["verdict"] == NO_MATCH and d["protected"] is None and d["transform"] is None


@pytest.mark.parametrize("pattern", ["noise", "flat", "gradient"])
def test_synthetic_images_are_no_match(matcher, pattern):
    rng = np.random.default_rng(3)
    if pattern == "noise":
        a = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    elif pattern == "flat":
        a = np.full((300, 400, 3), 90, np.uint8)
    else:
        a = np.dstack([np.tile(np.linspace(0, 255, 400, dtype=np.uint8), (300, 1))] * 3)
    assert matcher.match(suspect(a)).verdict == NO_MATCH


def test_compare_against_wrong_photo_is_no_match(matcher, fingerprints, astronaut_derivative):
    q = Query.compute(load(astronaut_derivative.jpeg, max_side=WORK_SIDE))
    assert matcher.compare(q, fingerprints["coffee"]).verdict == NO_MATCH
    assert matcher.compare(q, fingerprints["astronaut"]).verdict == DERIVATIVE


def test_remove_then_no_match(fingerprints, astronaut_derivative, photos):
    m = Matcher()
    for n, fp in fingerprints.items():
        m.add(n, fp)
    q = Query.compute(load(astronaut_derivative.jpeg, max_side=WORK_SIDE))
    assert m.match_query(q).key == "astronaut"
    assert m.remove("astronaut") is True
    assert "astronaut" not in m and len(m) == len(PROTECTED) - 1
    r = m.match_query(q)
    assert r.verdict == NO_MATCH and r.key is None
    assert m.remove("astronaut") is False
    assert m.match(suspect(resized(photos["coffee"], 0.5))).key == "coffee"  # the others still match
    m.add("astronaut-again", fingerprints["astronaut"])
    assert m.match_query(q).key == "astronaut-again"


def test_query_travels_as_bytes(matcher, astronaut_derivative):
    """A query serialised (as a client sends it to the service) gives the same outcome."""
    q = Query.compute(load(astronaut_derivative.jpeg, max_side=WORK_SIDE))
    r1 = matcher.match_query(q)
    r2 = matcher.match_query(Query.from_bytes(q.to_bytes()))
    assert (r1.verdict, r1.key, r1.edited_fraction) == (r2.verdict, r2.key, r2.edited_fraction)
    assert r1.scores == r2.scores


def test_pdq_only_fingerprint_finds_resized_copy(originals, photos):
    m = Matcher()
    for n, data in originals.items():
        m.add(n, compute(load(data, max_side=WORK_SIDE), label=n, pdq_only=True))
    r = m.match(suspect(resized(photos["chelsea"], 0.5), quality=70))
    assert r.verdict == NEAR_DUPLICATE and r.key == "chelsea"
    assert r.scores["pdq_distance"] <= 31 and "inliers" not in r.scores
    assert m.match(suspect(photos["hubble_deep_field"])).verdict == NO_MATCH


def test_adding_a_key_twice_keeps_one_entry(fingerprints, originals, photos):
    m = Matcher()
    m.add("k", fingerprints["astronaut"])
    m.add("k", fingerprints["astronaut"])
    assert len(m) == 1 and m.keys() == ["k"]
    r = m.match(suspect(resized(photos["astronaut"], 0.7)))
    assert r.key == "k" and r.verdict != NO_MATCH
    m.add("k", fingerprints["coffee"])  # replaced: the key now names coffee only
    assert len(m) == 1
    assert m.match(suspect(resized(photos["astronaut"], 0.7))).verdict == NO_MATCH
    r = m.match(load(originals["coffee"], max_side=WORK_SIDE))
    assert r.verdict == IDENTICAL and r.key == "k"


def test_empty_matcher_is_no_match(photos):
    r = Matcher().match(suspect(photos["coffee"]))
    assert r.verdict == NO_MATCH and r.scores["candidates"] == 0


def test_candidates_limited_by_thresholds(fingerprints, photos):
    m = Matcher(Thresholds(candidates=1))
    for n, fp in fingerprints.items():
        m.add(n, fp)
    r = m.match(suspect(resized(photos["coffee"], 0.8)))
    assert r.key == "coffee" and r.scores["candidates"] == 1


def test_match_query_equals_best_compare_and_skips_hopeless_localisation(fingerprints, originals, photos,
                                                                         astronaut_derivative, monkeypatch):
    """Localising only the candidates that can still win gives what comparing every candidate gives."""
    import bouclier.match as match_mod

    th = Thresholds(min_score=1.0, min_edited_fraction=0.0)  # permissive: many chance alignments count
    m = Matcher(th)
    for n, fp in fingerprints.items():
        m.add(n, fp)
    m.add("coffee-pdq", compute(load(originals["coffee"], max_side=WORK_SIDE), label="c", pdq_only=True))
    calls = []
    real = match_mod.localise
    monkeypatch.setattr(match_mod, "localise", lambda *a, **k: calls.append(1) or real(*a, **k))
    suspects = [load(astronaut_derivative.jpeg, max_side=WORK_SIDE), suspect(resized(photos["coffee"], 0.8)),
                suspect(photos["hubble_deep_field"]), suspect(photos["chelsea"][:, ::-1])]
    seen = set()
    for img in suspects:
        q = Query.compute(img)
        slots = m.candidates(q)
        every = []
        for s in slots:
            r = m.compare(q, m._fps[s])
            r.key = m._keys[s]
            every.append(r)
        best = max(every, key=rank_key)  # max keeps the first of equals, as match_query does
        calls.clear()
        got = m.match_query(q)
        assert got.verdict == best.verdict
        if best.verdict != NO_MATCH:
            assert rank_key(got) == rank_key(best) and got.key == best.key and got.edited_fraction == best.edited_fraction
            assert {k: v for k, v in got.scores.items() if k != "candidates"} == best.scores
            assert len(calls) < len(slots)  # the chance alignments were not localised
        else:
            assert got.scores["best_score"] == best.scores.get("score", 0)
        seen.add(got.verdict == NO_MATCH)
    assert seen == {True, False}  # both kinds of outcome were compared


# --------------------------------------------------------------------------------------------------
# Decision rule


TH = Thresholds(min_score=8.0)


@pytest.mark.parametrize(
    "kw,expected",
    [
        (dict(same_bytes=True, pdq_distance=None, pdq_variant=None, score=0, edited_fraction=None), IDENTICAL),
        (dict(same_bytes=False, pdq_distance=0, pdq_variant=0, score=0, edited_fraction=None), IDENTICAL),
        (dict(same_bytes=False, pdq_distance=0, pdq_variant=3, score=50, edited_fraction=0.0), NEAR_DUPLICATE),
        (dict(same_bytes=False, pdq_distance=120, pdq_variant=0, score=30, edited_fraction=0.4), DERIVATIVE),
        (dict(same_bytes=False, pdq_distance=120, pdq_variant=0, score=30, edited_fraction=0.01), NEAR_DUPLICATE),
        (dict(same_bytes=False, pdq_distance=120, pdq_variant=0, score=30, edited_fraction=None), NEAR_DUPLICATE),
        (dict(same_bytes=False, pdq_distance=31, pdq_variant=0, score=0, edited_fraction=None), NEAR_DUPLICATE),
        (dict(same_bytes=False, pdq_distance=32, pdq_variant=0, score=7.9, edited_fraction=0.5), NO_MATCH),
        (dict(same_bytes=False, pdq_distance=None, pdq_variant=None, score=0, edited_fraction=None), NO_MATCH),
        # PDQ decides nothing when either hash is of quality <= 49; same bytes and keypoints still do
        (dict(same_bytes=False, pdq_distance=0, pdq_variant=0, score=0, edited_fraction=None, pdq_quality=49), NO_MATCH),
        (dict(same_bytes=False, pdq_distance=20, pdq_variant=0, score=0, edited_fraction=None, pdq_quality=0), NO_MATCH),
        (dict(same_bytes=False, pdq_distance=20, pdq_variant=0, score=0, edited_fraction=None, pdq_quality=50),
         NEAR_DUPLICATE),
        (dict(same_bytes=True, pdq_distance=0, pdq_variant=0, score=0, edited_fraction=None, pdq_quality=0), IDENTICAL),
        (dict(same_bytes=False, pdq_distance=0, pdq_variant=0, score=30, edited_fraction=0.3, pdq_quality=10),
         DERIVATIVE),
    ],
)
def test_decide(kw, expected):
    assert decide(th=TH, **kw) == expected


def test_featureless_images_are_not_matched_by_pdq_alone():
    """A black photo and a white one are 21 PDQ bits apart (both of quality 0): that once gave
    `near-duplicate`. Re-encoded, the black one has distance 0 and no keypoints: not `identical` either.
    A real photo re-encoded still is a near-duplicate."""
    from skimage import data

    black, white = np.zeros((600, 800, 3), np.uint8), np.full((600, 800, 3), 255, np.uint8)
    m = Matcher()
    m.add("black", compute(load(encode_jpeg(black, 95))))
    m.add("coffee", compute(load(encode_jpeg(data.coffee(), 95))))
    for img in (white, black):
        r = m.match(load(encode_jpeg(img, 60)))
        assert r.verdict == NO_MATCH, (r.verdict, r.scores)
    r = m.match(load(encode_jpeg(data.coffee(), 60)))
    assert (r.verdict, r.key) == (NEAR_DUPLICATE, "coffee") and r.scores["suspect_pdq_quality"] >= 50


def test_verdicts_and_thresholds():
    assert set(VERDICTS) == {"identical", "near-duplicate", "manipulated-derivative", "no-match"}
    th = Thresholds.default()
    assert th.pdq_distance == 31 and th.pdq_min_quality == 50 and th.min_score >= 1 and 0 < th.min_edited_fraction < 0.5
    assert Thresholds.from_dict({**th.to_dict(), "unknown_future_key": 1}) == th


def test_rank_key_orders_verdict_then_score_then_pdq_closeness():
    r = lambda v, **s: MatchResult(v, scores=s)  # noqa: E731
    assert rank_key(r(IDENTICAL, score=0)) > rank_key(r(DERIVATIVE, score=90, pdq_distance=0))
    assert rank_key(r(DERIVATIVE, score=9)) > rank_key(r(NEAR_DUPLICATE, score=8, pdq_distance=0))
    # among equal scores the closer PDQ wins, distance 0 included (it is not "no distance")
    assert rank_key(r(NEAR_DUPLICATE, score=5, pdq_distance=0)) > rank_key(r(NEAR_DUPLICATE, score=5, pdq_distance=4))
    assert rank_key(r(NEAR_DUPLICATE, score=5, pdq_distance=4)) > rank_key(r(NEAR_DUPLICATE, score=5))
    assert rank_key(r(NO_MATCH)) < rank_key(r(DERIVATIVE, score=3))
