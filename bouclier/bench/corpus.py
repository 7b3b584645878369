"""Benchmark corpora and their disjoint split.

Three layouts are understood:

* a folder with ``manifest.csv`` in the developer-corpus format (columns ``file``, ``has_person``,
  ``person_mask``, ``person_boxes``, ``coco_id``...): person masks and boxes are kept, and a COCO photo
  that appears in several source subsets is counted once (``coco_id`` is its group);
* any other folder of images, searched recursively (hidden folders skipped); when it has an ``images/``
  sub-folder (the `make bench-data` layout) only that is read;
* no folder: the default corpus that `make bench-data` fetches from Debian packages and scikit-image,
  in ``$BOUCLIER_CACHE/bench-data/images`` (``./.cache`` when the variable is unset).

Identical files (same SHA-256) are one photo as well: a photo's ``group`` is its COCO id when it has
one, else the hash of its bytes, and each group enters the corpus once.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import BouclierError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


@dataclass
class Photo:
    id: str  # stable id: the file stem (the relative path when two files share a stem)
    path: Path
    person_mask: Path | None = None  # 8-bit, 255 = person, same size as the image
    has_person: bool | None = None  # None: unknown
    group: str = ""  # dedupe key: photos with one group are the same photo ("coco:<id>" or "sha:<hex>")
    person_boxes: list[tuple[float, float, float, float]] | None = None  # [x, y, w, h] per person, image px


@dataclass
class Corpus:
    name: str
    source: str
    photos: list[Photo]
    notes: list[str] = field(default_factory=list)  # e.g. duplicates dropped while loading


@dataclass
class Split:
    """Disjoint parts of a corpus; no group appears in two of protected / distractors.

    ``protected`` are all indexed; ``calibration_protected`` is the subset whose derivatives set the
    thresholds, ``test_protected`` the rest. ``distractors`` are never protected; the first
    ``len(calibration_distractors)`` of them are the calibration distractors, the rest are for the test.
    """

    protected: list[Photo]
    calibration_protected: list[Photo]
    distractors: list[Photo]
    calibration_distractors: list[Photo]
    notes: list[str] = field(default_factory=list)
    seed: int = 0

    @property
    def test_protected(self) -> list[Photo]:
        cal = {p.id for p in self.calibration_protected}
        return [p for p in self.protected if p.id not in cal]

    @property
    def test_distractors(self) -> list[Photo]:
        cal = {p.id for p in self.calibration_distractors}
        return [p for p in self.distractors if p.id not in cal]

    def counts(self) -> dict[str, int]:
        return {"protected": len(self.protected), "calibration_protected": len(self.calibration_protected),
                "test_protected": len(self.test_protected), "distractors": len(self.distractors),
                "calibration_distractors": len(self.calibration_distractors),
                "test_distractors": len(self.test_distractors)}


def default_cache() -> Path:
    return Path(os.environ.get("BOUCLIER_CACHE") or ".cache")


def load_corpus(path: Path | None, cache: Path | None = None) -> Corpus:
    """The corpus in `path`, or the default corpus from the cache when `path` is None."""
    if path is None:
        root = Path(cache) if cache is not None else default_cache()
        images = root / "bench-data" / "images"
        if not images.is_dir() or not any(images.iterdir()):
            raise BouclierError(f"no --corpus given and no default corpus in {images}: run `make bench-data` "
                                f"(it fetches photos from Debian packages and scikit-image), or pass --corpus DIR")
        return _folder(images, "default", _default_source(images.parent))
    path = Path(path)
    if not path.is_dir():
        raise BouclierError(f"corpus {path}: not a folder")
    if _is_manifest(path / "manifest.csv"):
        return _manifest(path)
    if (path / "images").is_dir() and (path / "SOURCES.csv").is_file():
        return _folder(path / "images", path.name, _default_source(path))
    return _folder(path, path.name, f"folder {path}")


def _sha(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def _unique_ids(photos: list[Photo], root: Path) -> None:
    """File stems as ids; where two files share a stem, their relative paths instead."""
    stems = Counter(p.id for p in photos)
    for p in photos:
        if stems[p.id] > 1:
            p.id = p.path.relative_to(root).with_suffix("").as_posix().replace("/", "__")


def _folder(root: Path, name: str, source: str) -> Corpus:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    photos, seen, dupes = [], set(), 0
    for p in files:
        g = "sha:" + _sha(p)
        if g in seen:
            dupes += 1
            continue
        seen.add(g)
        photos.append(Photo(p.stem, p, None, None, g))
    if not photos:
        raise BouclierError(f"corpus {root}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    _unique_ids(photos, root)
    notes = [f"{dupes} byte-identical duplicate files counted once"] if dupes else []
    return Corpus(name, source, photos, notes)


def _default_source(root: Path) -> str:
    """'Debian packages (pkg n, ...) and scikit-image', from SOURCES.csv when present."""
    src = root / "SOURCES.csv"
    if not src.is_file():
        return f"images in {root}"
    with open(src, newline="") as f:
        counts = Counter(row.get("package", "?") for row in csv.DictReader(f))
    parts = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    return f"photos shipped by Debian packages and scikit-image (`make bench-data`): {parts}"


def _is_manifest(p: Path) -> bool:
    if not p.is_file():
        return False
    with open(p, newline="") as f:
        header = next(csv.reader(f), [])
    return "file" in header


def _manifest(root: Path) -> Corpus:
    rows = []
    with open(root / "manifest.csv", newline="") as f:
        for row in csv.DictReader(f):
            p = root / (row.get("file") or "")
            if row.get("file") and p.is_file():
                rows.append(row)
    # Within a group keep the row that has a person mask (then the first): masks are ground truth.
    photos: dict[str, Photo] = {}
    dupes = 0
    for row in rows:
        p = root / row["file"]
        coco = (row.get("coco_id") or "").strip()
        group = f"coco:{coco}" if coco else "sha:" + _sha(p)
        mask = root / row["person_mask"] if row.get("person_mask") else None
        mask = mask if mask is not None and mask.is_file() else None
        hp = (row.get("has_person") or "").strip()
        photo = Photo(p.stem, p, mask, None if hp == "" else hp in ("1", "true", "True", "yes"), group,
                      _boxes(row.get("person_boxes")))
        if group in photos:
            dupes += 1
            if photos[group].person_mask is None and mask is not None:
                photos[group] = photo
            continue
        photos[group] = photo
    if not photos:
        raise BouclierError(f"corpus {root}: manifest.csv lists no existing images")
    out = list(photos.values())
    _unique_ids(out, root)
    n_mask = sum(p.person_mask is not None for p in out)
    n_person = sum(p.has_person is True for p in out)
    notes = [f"{dupes} manifest rows were the same photo (same coco_id or identical bytes), counted once"] \
        if dupes else []
    return Corpus(root.name, f"{root.name} (manifest.csv: {len(out)} photos, {n_person} with people, "
                             f"{n_mask} person masks)", out, notes)


def _boxes(text: str | None) -> list[tuple[float, float, float, float]] | None:
    """The manifest's person_boxes: a JSON list of [x, y, w, h]; None when absent or unreadable."""
    if not text or not text.strip():
        return None
    try:
        boxes = [tuple(float(v) for v in b[:4]) for b in json.loads(text) if len(b) >= 4]
    except (ValueError, TypeError):
        return None
    return boxes or None


def split(corpus: Corpus, *, n_protected: int, n_calibration_protected: int, n_distractor_calibration: int,
          seed: int) -> Split:
    """Disjoint, seeded parts: protected (calibration + test) and distractors (calibration + test).

    Photos are split by group, so one photo never lands in two parts. Photos that show people are
    preferred for protection (that is who protects photos), in random order otherwise. At least
    max(2 x n_distractor_calibration, 20 % of the corpus) stays for distractors; when the corpus is too
    small for `n_protected`, about 75 % is protected instead and `notes` says so.
    """
    rng = np.random.default_rng(seed)
    groups: dict[str, list[Photo]] = {}
    for p in sorted(corpus.photos, key=lambda p: (p.group or p.id, p.id)):
        groups.setdefault(p.group or p.id, []).append(p)
    keys = sorted(groups)
    keys = [keys[i] for i in rng.permutation(len(keys))]
    person = {k: any(p.has_person is True for p in groups[k]) for k in keys}
    keys.sort(key=lambda k: not person[k])  # stable: people first, random order within
    n = len(keys)
    notes: list[str] = []
    need_distractors = max(2 * n_distractor_calibration, math.ceil(0.2 * n))
    n_prot = n_protected
    if n - n_protected < need_distractors:
        n_prot = max(1, min(n - 1, int(round(0.75 * n)))) if n > 1 else 0
        notes.append(f"corpus has {n} photos, too few for {n_protected} protected plus distractors: "
                     f"protected {n_prot} (~75 %), distractors {n - n_prot}")
    prot_keys, rest_keys = keys[:n_prot], keys[n_prot:]
    rest_keys = [rest_keys[i] for i in rng.permutation(len(rest_keys))]  # distractors: people or not
    n_cal_p = min(n_calibration_protected, len(prot_keys) // 2)
    if n_cal_p < n_calibration_protected:
        notes.append(f"calibration protected photos reduced to {n_cal_p} (half of the protected)")
    n_cal_d = min(n_distractor_calibration, len(rest_keys) // 2)
    if n_cal_d < n_distractor_calibration:
        notes.append(f"calibration distractors reduced to {n_cal_d} (half of the distractors)")

    def flat(ks):
        return [p for k in ks for p in groups[k]]

    cal_prot_keys = [prot_keys[i] for i in sorted(rng.permutation(len(prot_keys))[:n_cal_p])]
    return Split(protected=flat(prot_keys), calibration_protected=flat(cal_prot_keys),
                 distractors=flat(rest_keys), calibration_distractors=flat(rest_keys[:n_cal_d]),
                 notes=notes, seed=seed)
