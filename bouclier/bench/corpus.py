"""Benchmark corpora: any folder of photos, the shared-corpus layout (manifest + person masks), or the
default corpus of photos that Debian packages and scikit-image ship (`make bench-data`)."""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import BouclierError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


@dataclass
class Photo:
    id: str
    path: Path
    person_mask: Path | None = None
    has_person: bool | None = None
    group: str = ""  # photos of one group are the same photo (e.g. one COCO id in several subsets)


@dataclass
class Corpus:
    name: str
    source: str
    photos: list[Photo]


@dataclass
class Split:
    protected: list[Photo]
    calibration_protected: list[Photo]
    distractors: list[Photo]
    calibration_distractors: list[Photo]
    notes: list[str] = field(default_factory=list)


def default_cache() -> Path:
    return Path(os.environ.get("BOUCLIER_CACHE", ".cache"))


def load_corpus(path: Path | None, cache: Path | None = None) -> Corpus:
    if path is None:
        images = (cache or default_cache()) / "bench-data" / "images"
        if not images.is_dir() or not any(images.iterdir()):
            raise BouclierError(f"no --corpus given and no default corpus in {images}: run `make bench-data`")
        return _folder(images, "default (Debian packages + scikit-image)",
                       "photos shipped by Debian packages and scikit-image, fetched by `make bench-data`")
    path = Path(path)
    if not path.is_dir():
        raise BouclierError(f"--corpus {path}: not a folder")
    if (path / "manifest.csv").is_file():
        return _manifest(path)
    return _folder(path, path.name, str(path))


def _file_group(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()[:16]


def _folder(root: Path, name: str, source: str) -> Corpus:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    photos, seen = [], set()
    for p in files:
        g = _file_group(p)
        if g in seen:
            continue
        seen.add(g)
        photos.append(Photo(p.stem, p, group=g))
    if not photos:
        raise BouclierError(f"corpus {root}: no images found")
    return Corpus(name, source, photos)


def _manifest(root: Path) -> Corpus:
    photos, seen = [], set()
    with open(root / "manifest.csv", newline="") as f:
        for row in csv.DictReader(f):
            p = root / row["file"]
            if not p.is_file():
                continue
            group = f"coco:{row['coco_id']}" if row.get("coco_id") else _file_group(p)
            if group in seen:  # the same COCO photo in several source subsets
                continue
            seen.add(group)
            mask = root / row["person_mask"] if row.get("person_mask") else None
            hp = row.get("has_person")
            photos.append(Photo(p.stem, p, mask if mask and mask.is_file() else None,
                                None if hp in (None, "") else hp == "1", group))
    if not photos:
        raise BouclierError(f"corpus {root}: manifest lists no existing images")
    return Corpus(root.name, str(root.name) + " (manifest.csv)", photos)


def split(corpus: Corpus, *, n_protected: int, n_calibration_protected: int, n_distractor_calibration: int,
          seed: int) -> Split:
    """Disjoint parts. Photos with people are preferred for protection (they are what gets protected)."""
    rng = np.random.default_rng(seed)
    photos = list(corpus.photos)
    order = rng.permutation(len(photos))
    photos = [photos[i] for i in order]
    photos.sort(key=lambda p: p.has_person is not True)  # stable: people first, random within
    notes = []
    n = len(photos)
    if n_protected > 0.8 * n:
        n_protected = max(2, int(0.75 * n))
        n_calibration_protected = max(1, min(n_calibration_protected, n_protected // 5))
        notes.append(f"corpus has {n} photos: protected {n_protected} (75 %), the rest are distractors")
    prot = photos[:n_protected]
    rest = photos[n_protected:]
    rest = [rest[i] for i in rng.permutation(len(rest))]
    n_cd = min(n_distractor_calibration, max(1, len(rest) // 3))
    prot_idx = rng.permutation(len(prot))
    cal_prot = [prot[i] for i in prot_idx[:n_calibration_protected]]
    return Split(prot, cal_prot, rest, rest[:n_cd], notes)
