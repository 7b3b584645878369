"""Benchmark ground truth: edited areas, masks and matrices under every transform, fills, corpus splits.

Everything here runs on synthetic images and scikit-image's bundled photos; nothing needs the developer
corpus or the network.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from bouclier.bench.corpus import Corpus, Photo, load_corpus, split
from bouclier.bench.edits import (AREAS, FILLS, GEOMETRIC, HEAD_FRACTION, SHAPES, TRANSFORM_NAMES, apply_transform,
                                  make_derivative, region_mask, replace_region)
from bouclier.errors import BouclierError

ROOT = Path(__file__).resolve().parents[1]
H, W = 480, 640


def _scene(h=H, w=W, seed=0) -> np.ndarray:
    """A colourful, textured synthetic photo (gradients, blobs, fine noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([xx / w * 200 + 30, yy / h * 180 + 40, (xx + yy) / (w + h) * 150 + 60], 2)
    for _ in range(25):
        c = tuple(int(v) for v in rng.integers(0, 256, 3))
        cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(5, 60)), c, -1)
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _person(h=H, w=W, x0=260, top=60, scale=1.0) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A standing person mask (255 = person): head disc, torso, legs; and its box [x, y, w, h]."""
    m = np.zeros((h, w), np.uint8)
    s = scale
    cx = int(x0 + 60 * s)
    cv2.circle(m, (cx, int(top + 30 * s)), int(30 * s), 255, -1)  # head
    cv2.rectangle(m, (int(x0), int(top + 60 * s)), (int(x0 + 120 * s), int(top + 220 * s)), 255, -1)  # torso
    cv2.rectangle(m, (int(x0 + 10 * s), int(top + 220 * s)), (int(x0 + 55 * s), int(top + 400 * s)), 255, -1)  # legs
    cv2.rectangle(m, (int(x0 + 65 * s), int(top + 220 * s)), (int(x0 + 110 * s), int(top + 400 * s)), 255, -1)
    ys, xs = np.nonzero(m)
    return m, (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))


def _head_zone(mask: np.ndarray, box) -> np.ndarray:
    x, y, bw, bh = box
    z = np.zeros(mask.shape, bool)
    z[y : y + int(np.ceil(HEAD_FRACTION * bh)), x : x + bw] = True
    return z & (mask > 127)


# ---------------------------------------------------------------- regions


@pytest.mark.parametrize("area", AREAS)
def test_shape_regions_meet_the_target_area(area):
    """Shapes are fitted by bisection on their scale and stop at the first scale whose clipped area
    reaches the target, so they never fall short; one more step of integer axes adds about one
    perimeter of pixels (under 0.3 % of a 640x480 frame), hence the 0.5-point upper tolerance."""
    rng = np.random.default_rng(7)
    seen = set()
    for _ in range(30):
        m, shape = region_mask((H, W), area, rng)
        seen.add(shape)
        assert m.dtype == bool and m.shape == (H, W)
        assert area - 1e-4 <= m.mean() <= area + 0.005, (shape, m.mean())
        ys, _ = np.nonzero(m)
        assert ys.mean() > 0.45 * H, "body-like regions sit low in the frame"
    assert seen == set(SHAPES)


@pytest.mark.parametrize("area", AREAS)
def test_person_regions_meet_the_target_and_keep_the_head(area):
    """Person regions are shrunk or grown by selecting exactly the missing/excess pixels by distance,
    so they hit the target to the pixel when there is room (here there always is)."""
    pm, box = _person()
    head = _head_zone(pm, box)
    for seed in range(8):  # both growth modes (distance and ellipse union) are drawn
        m, shape = region_mask((H, W), area, np.random.default_rng(seed), pm)
        assert shape == "person"
        assert abs(m.mean() - area) <= 0.002, m.mean()
        assert not (m & head).any(), "the head must be kept"
        # nothing above the head within the person's columns either
        assert not m[: box[1] + int(HEAD_FRACTION * box[3]), box[0] : box[0] + box[2]].any()
        if area <= (pm > 127).mean() * 0.8:
            assert (m & (pm > 127)).sum() == m.sum(), "shrinking stays inside the body"


def test_person_mask_of_another_size_and_too_small_person():
    pm, _ = _person()
    small = cv2.resize(pm, (W // 2, H // 2), interpolation=cv2.INTER_NEAREST)
    m, shape = region_mask((H, W), 0.25, np.random.default_rng(0), small)
    assert shape == "person" and abs(m.mean() - 0.25) < 0.003
    tiny = np.zeros((H, W), np.uint8)
    tiny[10:20, 10:16] = 255  # a distant figure: under 1 % of the frame -> a body-like shape instead
    m, shape = region_mask((H, W), 0.25, np.random.default_rng(0), tiny)
    assert shape in SHAPES


def test_person_boxes_keep_every_head_in_a_crowd():
    """Two people who touch are one blob; the front person's head lies below the top 20 % of the blob,
    so only the per-person boxes can keep it."""
    back, bbox = _person(x0=200, top=20, scale=0.8)
    front, fbox = _person(x0=250, top=150, scale=0.8)
    crowd = np.maximum(back, front)
    n, _ = cv2.connectedComponents((crowd > 0).astype(np.uint8))
    assert n == 2  # one blob (plus background)
    head = _head_zone(front, fbox)
    for seed in range(6):
        m, shape = region_mask((H, W), 0.4, np.random.default_rng(seed), crowd, [bbox, fbox])
        assert shape == "person" and not (m & head).any()
        assert not (m & _head_zone(back, bbox)).any()


# ---------------------------------------------------------------- fills


@pytest.fixture(scope="module")
def photos():
    from skimage import data

    return {"chelsea": np.ascontiguousarray(data.chelsea()), "coffee": np.ascontiguousarray(data.coffee())}


@pytest.mark.parametrize("fill", FILLS)
def test_fill_changes_the_region_and_nothing_else(fill, photos):
    img = cv2.resize(photos["chelsea"], (W, H), interpolation=cv2.INTER_AREA)
    for seed, donor in ((1, photos["coffee"]), (2, None)):  # without a donor, patch/texture clone the photo itself
        rng = np.random.default_rng(seed)
        m, _ = region_mask((H, W), 0.25, rng)
        out = replace_region(img, m, fill, rng, donor)
        assert out.shape == img.shape and out.dtype == np.uint8
        assert np.array_equal(out[~m], img[~m]), "pixels outside the region must be untouched"
        diff = np.abs(out.astype(int) - img.astype(int)).sum(axis=2)
        core = cv2.erode(m.astype(np.uint8), np.ones((13, 13), np.uint8)) > 0  # past the 2-5 px feather
        assert diff[core].mean() > 15, (fill, diff[core].mean())
        # the feather: edge pixels move less than the core on average
        edge = m & ~(cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
        assert diff[edge].mean() < diff[core].mean()


def test_colour_fill_changes_grey_regions_too():
    grey = np.full((H, W, 3), 120, np.uint8)
    m, _ = region_mask((H, W), 0.25, np.random.default_rng(0))
    out = replace_region(grey, m, "colour", np.random.default_rng(0), None)
    core = cv2.erode(m.astype(np.uint8), np.ones((13, 13), np.uint8)) > 0
    assert np.abs(out[core].astype(int) - 120).sum(axis=1).mean() > 15


def test_unknown_fill_and_transform_are_errors():
    img = _scene()
    m = np.zeros((H, W), bool)
    with pytest.raises(ValueError):
        replace_region(img, m, "diffusion", np.random.default_rng(0), None)
    with pytest.raises(ValueError):
        apply_transform(img, m, np.eye(3)[:2], "unknown", np.random.default_rng(0))


# ---------------------------------------------------------------- transforms

DOT = (255, 0, 255)  # magenta: absent from _scene after the clip below


def _dotted(x=410, y=170, r=7):
    img = _scene(seed=3)
    img[..., 1] = np.maximum(img[..., 1], 150)  # no magenta-like pixel anywhere else
    cv2.circle(img, (x, y), r, DOT, -1)
    mask = np.zeros((H, W), bool)
    mask[y - 40 : y + 41, x - 60 : x + 61] = True  # an edited region around the dot
    return img, mask, (x, y)


def _find_dot(px: np.ndarray):
    p = px.astype(int)
    hit = (p[..., 0] > 170) & (p[..., 2] > 170) & (p[..., 1] < 100)
    ys, xs = np.nonzero(hit)
    return (xs.mean(), ys.mean(), len(xs)) if len(xs) else None


def _inside(pt, shape):
    return 0 <= pt[0] <= shape[1] - 1 and 0 <= pt[1] <= shape[0] - 1


@pytest.mark.parametrize("name", sorted(GEOMETRIC))
def test_matrix_maps_the_dot_to_where_it_landed(name):
    img, mask, (x, y) = _dotted()
    for seed in range(12):  # several random parameters per transform (quarter turns, crops, pads...)
        out, m, mat, label = apply_transform(img, mask, np.eye(3)[:2], name, np.random.default_rng(seed))
        assert label.split(":")[0] == name
        assert m.shape == out.shape[:2] and mat.shape == (2, 3)
        px, py = mat @ [x, y, 1.0]
        found = _find_dot(out)
        if not _inside((px, py), out.shape):
            assert found is None or found[2] < 5, (label, found)  # cropped away
            continue
        assert found is not None, (label, "the dot vanished")
        assert abs(found[0] - px) < 1.5 and abs(found[1] - py) < 1.5, (label, found, (px, py))
        assert m[int(round(py)), int(round(px))], label
        # the mask moved with the same matrix: warp the original mask and compare
        warped = cv2.warpAffine(mask.astype(np.uint8), mat, (out.shape[1], out.shape[0]), flags=cv2.INTER_NEAREST) > 0
        inter, union = (warped & m).sum(), (warped | m).sum()
        assert union and inter / union > 0.85, (label, inter / union)


@pytest.mark.parametrize("name", sorted(set(TRANSFORM_NAMES) - GEOMETRIC))
def test_photometric_transforms_keep_geometry(name):
    img, mask, _ = _dotted()
    mat0 = np.array([[1.0, 0, 3], [0, 1.0, 4]])
    out, m, mat, label = apply_transform(img, mask, mat0, name, np.random.default_rng(4))
    assert label.split(":")[0] == name
    assert out.shape == img.shape and out.dtype == np.uint8
    assert m is mask or np.array_equal(m, mask)
    assert np.array_equal(mat, mat0)
    assert not np.array_equal(out, img)


def test_chained_transforms_compose_the_matrix():
    img, mask, (x, y) = _dotted()
    chains = [["rotate", "crop", "rot90"], ["screenshot", "hflip", "resize"], ["pad", "rot90", "rotate"],
              ["resize", "rotate", "pad"]]
    for i, chain in enumerate(chains):
        d = make_derivative(img, np.random.default_rng(i), area=0.0, n_transforms=0, transforms=chain)
        assert [t.split(":")[0] for t in d.transforms[:3]] == chain
        assert d.transforms[-1].startswith("upload-jpeg")
        px, py = d.matrix @ [x, y, 1.0]
        if not _inside((px, py), d.pixels.shape):
            continue
        found = _find_dot(d.pixels)
        assert found is not None and abs(found[0] - px) < 2 and abs(found[1] - py) < 2, (d.transforms, found, px, py)


def test_edited_mask_follows_the_suspect_frame():
    img = _scene(seed=5)
    pm, _ = _person()
    d = make_derivative(img, np.random.default_rng(9), area=0.25, n_transforms=0, person_mask=pm, fill="blur",
                        transforms=["crop", "hflip", "rotate"])
    m0, _ = region_mask((H, W), 0.25, np.random.default_rng(9), pm)  # the same draws come first
    warped = cv2.warpAffine(m0.astype(np.uint8), d.matrix, (d.pixels.shape[1], d.pixels.shape[0]),
                            flags=cv2.INTER_NEAREST) > 0
    assert d.edited_mask.shape == d.pixels.shape[:2]
    inter, union = (warped & d.edited_mask).sum(), (warped | d.edited_mask).sum()
    assert inter / union > 0.95


# ---------------------------------------------------------------- derivatives


def test_derivatives_are_deterministic_for_a_seed():
    img, pm = _scene(seed=6), _person()[0]
    donor = _scene(seed=7)
    a = make_derivative(img, np.random.default_rng(42), area=0.4, n_transforms=3, person_mask=pm, donor=donor)
    b = make_derivative(img, np.random.default_rng(42), area=0.4, n_transforms=3, person_mask=pm, donor=donor)
    assert a.transforms == b.transforms and a.fill == b.fill and a.shape == b.shape
    assert np.array_equal(a.pixels, b.pixels) and np.array_equal(a.edited_mask, b.edited_mask)
    assert np.array_equal(a.matrix, b.matrix)
    c = make_derivative(img, np.random.default_rng(43), area=0.4, n_transforms=3, person_mask=pm, donor=donor)
    assert c.transforms != a.transforms or not np.array_equal(c.pixels, a.pixels)


def test_random_chains_end_with_a_reencode_and_unedited_copies_have_no_region():
    img = _scene(seed=8)
    for seed in range(20):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(1, 4))
        d = make_derivative(img, rng, area=0.0, n_transforms=n)
        names = [t.split(":")[0] for t in d.transforms]
        assert d.fill is None and d.shape is None and d.area == 0 and not d.edited_mask.any()
        assert len(set(names) & set(TRANSFORM_NAMES)) == n
        enc = [i for i, t in enumerate(names) if t in ("jpeg", "webp", "upload-jpeg")]
        assert enc and enc[-1] == len(names) - 1, names  # re-encoding happens last, as on platforms
        assert d.pixels.dtype == np.uint8 and d.pixels.ndim == 3


def test_grey_and_rgba_inputs_are_accepted():
    g = cv2.cvtColor(_scene(), cv2.COLOR_RGB2GRAY)
    d = make_derivative(g, np.random.default_rng(0), area=0.1, n_transforms=1)
    assert d.pixels.ndim == 3 and d.pixels.shape[2] == 3
    rgba = np.dstack([_scene(), np.full((H, W), 255, np.uint8)])
    d = make_derivative(rgba, np.random.default_rng(0), area=0.1, n_transforms=1)
    assert d.pixels.shape[2] == 3


# ---------------------------------------------------------------- corpus


def _write_img(p: Path, seed: int, size=48):
    p.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(p), np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8))


def _manifest_corpus(root: Path, n=30) -> Path:
    rows = []
    for i in range(n):
        name = f"images/{i:03d}.jpg"
        _write_img(root / name, i)
        mask = ""
        if i in (5, 6):  # one COCO photo in two subsets; only the second copy has a mask
            coco = "77"
            if i == 6:
                mask = "masks/person/006.png"
                (root / "masks/person").mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / mask), np.zeros((48, 48), np.uint8))
        else:
            coco = str(1000 + i) if i < 20 else ""  # the rest: not COCO, grouped by file hash
        boxes = json.dumps([[1, 2, 10, 20]]) if i % 2 else ""
        rows.append({"file": name, "has_person": str(i % 2), "person_boxes": boxes, "person_mask": mask,
                     "coco_id": coco, "dataset": "synthetic"})
    with open(root / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return root


def test_manifest_corpus_dedupes_by_coco_id_and_keeps_masks(tmp_path):
    c = load_corpus(_manifest_corpus(tmp_path))
    assert len(c.photos) == 29 and c.notes
    dup = [p for p in c.photos if p.group == "coco:77"]
    assert len(dup) == 1 and dup[0].person_mask is not None and dup[0].id == "006"
    assert all(p.group.startswith(("coco:", "sha:")) for p in c.photos)
    assert len({p.group for p in c.photos}) == len(c.photos)
    by_id = {p.id: p for p in c.photos}
    assert by_id["001"].has_person is True and by_id["002"].has_person is False
    assert by_id["001"].person_boxes == [(1.0, 2.0, 10.0, 20.0)] and by_id["002"].person_boxes is None


def test_folder_corpus_recursive_dedupes_identical_files_and_unique_ids(tmp_path):
    _write_img(tmp_path / "a" / "x.png", 1)
    _write_img(tmp_path / "b" / "x.png", 2)  # same stem, other photo
    _write_img(tmp_path / "b" / "y.jpg", 3)
    (tmp_path / "b" / "copy.jpg").write_bytes((tmp_path / "b" / "y.jpg").read_bytes())  # identical bytes
    _write_img(tmp_path / ".hidden" / "z.png", 4)
    (tmp_path / "notes.txt").write_text("not an image")
    c = load_corpus(tmp_path)
    ids = sorted(p.id for p in c.photos)
    assert ids == ["a__x", "b__x", "copy"] or ids == ["a__x", "b__x", "y"]
    assert len({p.id for p in c.photos}) == len(c.photos)
    assert all(p.person_mask is None and p.has_person is None for p in c.photos)


def _parts(s):
    return {"cal_p": s.calibration_protected, "test_p": s.test_protected, "cal_d": s.calibration_distractors,
            "test_d": s.test_distractors}


def test_split_is_disjoint_complete_and_deterministic(tmp_path):
    c = load_corpus(_manifest_corpus(tmp_path))
    s1 = split(c, n_protected=12, n_calibration_protected=4, n_distractor_calibration=3, seed=5)
    s2 = split(c, n_protected=12, n_calibration_protected=4, n_distractor_calibration=3, seed=5)
    s3 = split(c, n_protected=12, n_calibration_protected=4, n_distractor_calibration=3, seed=6)
    assert [p.id for p in s1.protected + s1.distractors] == [p.id for p in s2.protected + s2.distractors]
    assert [p.id for p in s1.calibration_protected] == [p.id for p in s2.calibration_protected]
    assert [p.id for p in s1.protected] != [p.id for p in s3.protected]
    parts = _parts(s1)
    assert [len(v) for v in parts.values()] == [4, 8, 3, 14]
    groups = [{p.group for p in v} for v in parts.values()]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not groups[i] & groups[j]
    assert set().union(*groups) == {p.group for p in c.photos}  # every photo is used once
    assert {p.id for p in s1.calibration_protected} <= {p.id for p in s1.protected}
    assert s1.distractors[:3] == s1.calibration_distractors  # calibration distractors come first
    # photos with people are protected first
    assert all(p.has_person for p in s1.protected)
    assert s1.counts()["test_distractors"] == 14 and not s1.notes


def test_split_keeps_a_group_together_and_shrinks_for_small_corpora(tmp_path):
    photos = [Photo(f"p{i}", tmp_path / f"p{i}.jpg", None, None, f"g{i // 2}") for i in range(20)]  # pairs
    c = Corpus("pairs", "synthetic", photos)
    s = split(c, n_protected=9, n_calibration_protected=3, n_distractor_calibration=2, seed=1)
    prot, dis = {p.group for p in s.protected}, {p.group for p in s.distractors}
    assert not prot & dis and len(prot) == 8  # 10 groups: too few for 9 + distractors -> ~75 %
    assert len(s.protected) == 16 and s.notes and "75" in s.notes[0]
    for part in _parts(s).values():
        for p in part:  # both photos of a group land in the same part
            assert sum(q.group == p.group for q in part) == 2


def test_missing_default_corpus_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("BOUCLIER_CACHE", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BouclierError, match="make bench-data"):
        load_corpus(None)
    with pytest.raises(BouclierError, match="make bench-data"):
        load_corpus(None, cache=tmp_path / "elsewhere")
    with pytest.raises(BouclierError):
        load_corpus(tmp_path / "no-such-folder")


def test_default_corpus_comes_from_the_cache(tmp_path, monkeypatch):
    d = tmp_path / "cache" / "bench-data"
    for i in range(3):
        _write_img(d / "images" / f"pkg--{i}.jpg", i)
    (d / "SOURCES.csv").write_text("file,package\nimages/pkg--0.jpg,mate-backgrounds\nimages/pkg--1.jpg,skimage\n")
    monkeypatch.setenv("BOUCLIER_CACHE", str(tmp_path / "cache"))
    c = load_corpus(None)
    assert len(c.photos) == 3 and "mate-backgrounds" in c.source
    assert load_corpus(d).source == c.source  # the cache folder passed as --corpus reads the same


def test_bench_data_script_counts_and_fails_below_the_minimum(tmp_path):
    """scripts/bench-data.sh with no Debian packages: scikit-image photos only (no network needed)."""
    pytest.importorskip("skimage")
    env = {**os.environ, "BENCH_DATA_PACKAGES": "", "PY": sys.executable}
    ok = subprocess.run(["bash", str(ROOT / "scripts/bench-data.sh"), str(tmp_path / "ok")],
                        env={**env, "MIN_IMAGES": "5"}, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert "skimage" in ok.stdout and (tmp_path / "ok" / ".done").exists()
    with open(tmp_path / "ok" / "SOURCES.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    files = sorted(p.name for p in (tmp_path / "ok" / "images").iterdir())
    assert len(rows) == len(files) >= 5 and {r["package"] for r in rows} == {"skimage"}
    assert all(r["licence"] for r in rows)
    again = subprocess.run(["bash", str(ROOT / "scripts/bench-data.sh"), str(tmp_path / "ok")], env=env,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "complete" in again.stdout  # idempotent
    bad = subprocess.run(["bash", str(ROOT / "scripts/bench-data.sh"), str(tmp_path / "bad")],
                         env={**env, "MIN_IMAGES": "1000"}, capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and not (tmp_path / "bad" / ".done").exists()
