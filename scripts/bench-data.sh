#!/usr/bin/env bash
# Default benchmark corpus: photos and wallpapers that Debian packages ship, plus scikit-image's bundled
# sample photos, collected into DEST/images/ with DEST/SOURCES.csv. No root needed: `apt-get download` +
# `dpkg -x` into a scratch folder (deleted afterwards). Idempotent: does nothing when DEST/.done exists.
#
#   bash scripts/bench-data.sh DEST
#
# Environment: PY (or PYTHON) the Python with Pillow, numpy and scikit-image (default .venv/bin/python);
# BENCH_DATA_PACKAGES overrides the Debian package list (space separated; empty: scikit-image only);
# MIN_IMAGES (default 20).
#
# A missing package is a warning, not an error; the script fails only if fewer than MIN_IMAGES images
# were collected in the end. Every image is decoded, converted to RGB, shrunk so that its long side is at
# most 1024 px (like the developer corpus) and written as JPEG quality 92 under a stable name
# `<source>--<stem>.jpg`. Near-duplicates (same wallpaper at several resolutions), near-uniform images,
# mostly transparent images, small icons and files whose names suggest people are skipped.
set -euo pipefail

DEST=${1:?usage: bench-data.sh DEST}
MIN_IMAGES=${MIN_IMAGES:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-${PYTHON:-$ROOT/.venv/bin/python}}
[ -x "$PY" ] || PY=$(command -v python3)

if [ -f "$DEST/.done" ]; then
  echo "bench-data: $DEST is complete ($(ls "$DEST/images" | wc -l) images); delete $DEST/.done to rebuild"
  exit 0
fi

# Packages tried, in order. Missing ones are skipped with a warning.
PKGS=(
  lomiri-wallpapers-16.04
  lomiri-wallpapers-20.04
  lomiri-wallpapers
  mate-backgrounds
  plasma-workspace-wallpapers
  gnome-backgrounds
  ukui-wallpapers
  propaganda-debian
  sway-backgrounds
  xfdesktop4-data
  opencv-doc
)
if [ -n "${BENCH_DATA_PACKAGES+set}" ]; then
  read -r -a PKGS <<<"$BENCH_DATA_PACKAGES" || true
fi

mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
WORK=$(mktemp -d "$DEST/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/debs" "$WORK/unpacked"

have_candidate() {
  local cand
  cand=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  [ -n "$cand" ] && [ "$cand" != "(none)" ]
}

APT_OPTS=()
if [ "$(id -u)" -eq 0 ]; then
  # As root, apt drops privileges to _apt, which cannot write into our scratch folder.
  APT_OPTS+=(-o APT::Sandbox::User=root)
fi

if [ ${#PKGS[@]} -eq 0 ]; then
  echo "bench-data: no Debian packages asked for; scikit-image photos only"
elif command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; then
  if ! have_candidate "${PKGS[0]}" && ! have_candidate mate-backgrounds; then
    if [ "$(id -u)" -eq 0 ]; then
      echo "bench-data: apt lists look empty, running apt-get update"
      apt-get update -qq || echo "bench-data: WARNING: apt-get update failed" >&2
    else
      echo "bench-data: WARNING: apt lists look empty and we are not root; run 'sudo apt-get update' for the" \
           "Debian part of the corpus. Going on with what is available." >&2
    fi
  fi
  for pkg in "${PKGS[@]}"; do
    if ! have_candidate "$pkg"; then
      echo "bench-data: WARNING: package $pkg is not available here; skipped" >&2
      continue
    fi
    if ! (cd "$WORK/debs" && apt-get "${APT_OPTS[@]}" download -qq "$pkg" >/dev/null 2>"$WORK/apt.err"); then
      echo "bench-data: WARNING: apt-get download $pkg failed; skipped: $(tail -1 "$WORK/apt.err")" >&2
      continue
    fi
    deb=$(ls "$WORK/debs/${pkg}"_*.deb 2>/dev/null | head -1)
    [ -n "$deb" ] || { echo "bench-data: WARNING: no .deb for $pkg; skipped" >&2; continue; }
    mkdir -p "$WORK/unpacked/$pkg"
    if ! dpkg -x "$deb" "$WORK/unpacked/$pkg"; then
      echo "bench-data: WARNING: dpkg -x $deb failed; skipped" >&2
      rm -rf "$WORK/unpacked/$pkg"; rm -f "$deb"; continue
    fi
    dpkg-deb -f "$deb" Version >"$WORK/unpacked/$pkg/.version"
    rm -f "$deb"   # keep the scratch folder small
  done
else
  echo "bench-data: WARNING: apt-get/dpkg not found; only scikit-image photos will be collected" >&2
fi

"$PY" - "$WORK/unpacked" "$DEST" "$MIN_IMAGES" <<'PYEOF'
"""Collect photo-like images from the extracted packages and from skimage.data."""
import csv
import fnmatch
import hashlib
import inspect
import re
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

Image.MAX_IMAGE_PIXELS = 60_000_000
ROOT, DEST, MIN_IMAGES = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
MAX_SIDE = 1024
MIN_SIDE = 256
EXTS = {".jpg", ".jpeg", ".png", ".webp"}
# File names that suggest people, portraits or non-photo art (conservative).
PEOPLE = re.compile(r"(?<![a-z])(person|persons|people|portrait|faces?|girls?|boys?|wom[ae]n|m[ae]n|child|children|"
                    r"kids?|lena|messi|selfie|family|couple)(?![a-z])", re.I)
ORIENTATION = re.compile(r"[-_ ]?(portrait|landscape)$", re.I)   # "..._Portrait" means the screen orientation

# Per package: which paths are worth looking at (glob on the path inside the package) and which are not.
RULES = {
    "plasma-workspace-wallpapers": {"include": ["usr/share/wallpapers/*/contents/images/*"]},
    "gnome-backgrounds": {"include": ["usr/share/backgrounds/*-l.*"]},   # -d is the dark twin
    "xfdesktop4-data": {"include": ["usr/share/backgrounds/*"]},
    "sway-backgrounds": {"include": ["usr/share/backgrounds/sway/*_1920x1080.*"]},   # one design, many sizes
    "opencv-doc": {
        # Colour photos from the sample data; calibration boards, stereo twins, figures and people left out.
        "only": [
            "examples/data/aero1.jpg", "examples/data/aloeL.jpg", "examples/data/apple.jpg",
            "examples/data/baboon.jpg", "examples/data/board.jpg", "examples/data/building.jpg",
            "examples/data/butterfly.jpg", "examples/data/fruits.jpg", "examples/data/graf1.png",
            "examples/data/home.jpg", "examples/data/left.jpg", "examples/data/leuvenA.jpg",
            "examples/data/licenseplate_motion.jpg", "examples/data/orange.jpg",
            "examples/data/rubberwhale1.png", "examples/data/smarties.png", "examples/data/squirrel_cls.jpg",
            "examples/data/starry_night.jpg", "examples/data/stuff.jpg", "examples/data/ela_original.jpg",
            "examples/data/chicky_512.png", "examples/text/scenetext02.jpg", "examples/text/scenetext03.jpg",
            "examples/text/scenetext04.jpg", "examples/text/scenetext05.jpg", "examples/text/scenetext06.jpg",
            "examples/alphamat/input_images/plant.jpg", "examples/dnn_superres/butterfly.png",
        ],
    },
}
DEFAULT_INCLUDE = ["usr/share/backgrounds/*", "usr/share/wallpapers/*"]
EXCLUDE = ["*/screenshot.*", "*/images_dark/*", "*/icons/*", "*/pixmaps/*"]


def dep5_licences(text):
    """(globs, licence) stanzas of a machine-readable debian/copyright, in file order; header licence."""
    stanzas, header = [], ""
    for block in re.split(r"\n\s*\n", text):
        fields, key = {}, None
        for line in block.splitlines():
            m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if m:
                key = m.group(1).lower()
                fields[key] = m.group(2).strip()
            elif key and line.startswith((" ", "\t")):
                fields[key] += " " + line.strip()
        lic = fields.get("license", "").split(" ")[0] if fields.get("license") else ""
        if "files" in fields and lic:
            stanzas.append((fields["files"].split(), lic))
        elif "license" in fields and not header and "files" not in fields:
            header = lic
    return stanzas, header


def licence_for(copyright_text, path_in_pkg):
    stanzas, header = dep5_licences(copyright_text)
    found = ""
    for globs, lic in stanzas:       # DEP-5: the last matching stanza wins
        for g in globs:
            if fnmatch.fnmatch(path_in_pkg, g) or fnmatch.fnmatch(path_in_pkg, "*/" + g) or g == "*":
                found = lic
    if found:
        return found
    if header:
        return header
    m = re.search(r"(GPL[-\w.+]*|LGPL[-\w.+]*|CC[- ]BY[-\w. ]*|CC0[-\w.]*|Apache[-\w.]*|BSD[-\w.]*|public domain)",
                  copyright_text, re.I)
    return m.group(1) if m else "see copyright file"


def to_rgb(im):
    if im.mode in ("RGBA", "LA", "P"):
        im = im.convert("RGBA")
        alpha = np.asarray(im)[:, :, 3]
        if (alpha < 250).mean() > 0.05:
            return None, "transparent"
    return im.convert("RGB"), ""


def shrink(im):
    w, h = im.size
    s = MAX_SIDE / max(w, h)
    if s < 1:
        im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
    return im


def signature(rgb):
    """32x32 grey thumbnail: mean and the zero-mean, unit-norm pattern (for near-duplicate checks)."""
    g = np.asarray(rgb.convert("L").resize((32, 32), Image.BILINEAR), dtype=np.float32).ravel()
    z = g - g.mean()
    return g.mean(), z / (np.linalg.norm(z) + 1e-6)


class Collector:
    def __init__(self, out):
        self.out = out
        self.rows = []
        self.sigs = []
        self.counts = {}
        self.skipped = {}

    def skip(self, source, why):
        self.skipped.setdefault(source, {}).setdefault(why, 0)
        self.skipped[source][why] += 1

    def add(self, source, stem, im, meta):
        rgb, why = to_rgb(im)
        if rgb is None:
            return self.skip(source, why)
        if min(rgb.size) < MIN_SIDE:
            return self.skip(source, "small")
        rgb = shrink(rgb)
        small = np.asarray(rgb.convert("L").resize((256, 256), Image.BILINEAR), dtype=np.float32)
        if small.std() < 10:
            return self.skip(source, "near-uniform")
        sig = signature(rgb)
        for mean, pattern in self.sigs:
            # same picture at another size, or a copy: same layout and about the same brightness
            if float(pattern @ sig[1]) > 0.97 and abs(mean - sig[0]) < 12:
                return self.skip(source, "near-duplicate")
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{source}--{stem}").strip("_") + ".jpg"
        if (self.out / name).exists():
            name = name[:-4] + "-" + hashlib.sha256(meta["original_path"].encode()).hexdigest()[:6] + ".jpg"
        rgb.save(self.out / name, "JPEG", quality=92, optimize=True)
        self.sigs.append(sig)
        self.counts[source] = self.counts.get(source, 0) + 1
        self.rows.append({"file": f"images/{name}", "package": source, **meta,
                          "width": im.size[0], "height": im.size[1]})


def debian(col):
    licdir = DEST / "licences"
    licdir.mkdir(exist_ok=True)
    for pkgdir in sorted(p for p in ROOT.iterdir() if p.is_dir()):
        pkg = pkgdir.name
        version = (pkgdir / ".version").read_text().strip() if (pkgdir / ".version").exists() else ""
        cfile = pkgdir / "usr/share/doc" / pkg / "copyright"
        ctext = cfile.read_text(errors="replace") if cfile.exists() else ""
        if ctext:
            shutil.copyfile(cfile, licdir / f"{pkg}.copyright")
        rules = RULES.get(pkg, {})
        files = sorted(p for p in pkgdir.rglob("*") if p.is_file() and p.suffix.lower() in EXTS)
        chosen = []
        for p in files:
            rel = p.relative_to(pkgdir).as_posix()
            if "only" in rules:
                if not any(rel.endswith(o) for o in rules["only"]):
                    continue
            elif not any(fnmatch.fnmatch(rel, g + "*") or fnmatch.fnmatch(rel, g)
                         for g in rules.get("include", DEFAULT_INCLUDE)):
                continue
            if any(fnmatch.fnmatch(rel, g) for g in EXCLUDE):
                continue
            if PEOPLE.search(ORIENTATION.sub("", p.stem)):
                col.skip(pkg, "people in name")
                continue
            chosen.append((rel, p))
        if pkg == "plasma-workspace-wallpapers":
            chosen = plasma_pick(chosen)
        for rel, p in chosen:
            try:
                with Image.open(p) as im:
                    im.load()
                    stem = plasma_theme(rel) or p.stem
                    col.add(pkg, stem, im, {"version": version, "original_path": "/" + rel,
                                            "licence": licence_for(ctext, rel) if ctext else "unknown",
                                            "copyright": f"/usr/share/doc/{pkg}/copyright" if ctext else ""})
            except Exception as e:  # unreadable or odd file: skip, never fail the build
                col.skip(pkg, f"unreadable ({type(e).__name__})")
        if pkg not in col.counts:
            col.counts[pkg] = 0


def plasma_theme(rel):
    m = re.match(r"usr/share/wallpapers/([^/]+)/contents/images/", rel)
    return m.group(1) if m else None


def plasma_pick(chosen):
    """One image per Plasma wallpaper: the smallest landscape one at least 1024 px wide (else the largest)."""
    by_theme = {}
    for rel, p in chosen:
        m = re.search(r"(\d+)x(\d+)\.\w+$", rel)
        w, h = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
        by_theme.setdefault(plasma_theme(rel), []).append((w, h, rel, p))
    out = []
    for theme, items in sorted(by_theme.items()):
        land = sorted(i for i in items if i[0] >= i[1] and i[0] >= 1024)
        pick = land[0] if land else max(items)
        out.append((pick[2], pick[3]))
    return out


# skimage.data photos bundled in the wheel (no download), with the licence their docstrings state.
SKIMAGE = {
    "astronaut": "public domain (NASA)",
    "camera": "CC0 (photographer Lav Varshney)",
    "chelsea": "CC0 (photographer Stefan van der Walt)",
    "coffee": "CC0 (photographer Rachel Michetti)",
    "rocket": "public domain (SpaceX)",
    "stereo_motorcycle": "Middlebury 2014 stereo benchmark (Scharstein et al.), left view",
    "hubble_deep_field": "public domain (NASA)",
    "immunohistochemistry": "no known copyright restrictions (CMMI)",
    "retina": "CC0 1.0 (Wikimedia Commons)",
    "coins": "no known copyright restrictions (Brooklyn Museum)",
    "brick": "CC0 (CC0Textures)",
    "grass": "CC0 (DeviantArt linolafett)",
    "gravel": "CC0 (CC0Textures)",
    "clock": "public domain (photographer Stefan van der Walt)",
}


def skimage_photos(col):
    try:
        import skimage
        import skimage.data as data
    except Exception as e:
        print(f"bench-data: WARNING: scikit-image is not importable ({e}); skipped", file=sys.stderr)
        col.counts["skimage"] = 0
        return
    col.counts.setdefault("skimage", 0)
    for name, lic in SKIMAGE.items():
        fn = getattr(data, name, None)
        if fn is None:
            col.skip("skimage", "missing")
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = fn()
        except Exception as e:  # not bundled (would need a download): skip
            col.skip("skimage", f"unavailable ({type(e).__name__})")
            continue
        arr = np.asarray(out[0] if isinstance(out, tuple) else out)
        if arr.dtype != np.uint8:
            arr = np.clip(arr * (255 if arr.max() <= 1 else 1), 0, 255).astype(np.uint8)
        if arr.ndim == 3 and arr.shape[2] == 4:
            arr = arr[:, :, :3]
        stem = "motorcycle_left" if name == "stereo_motorcycle" else name
        col.add("skimage", stem, Image.fromarray(arr), {
            "version": skimage.__version__, "original_path": f"skimage.data.{name}()",
            "licence": lic, "copyright": f"docstring of skimage.data.{name}"})


def main():
    tmp = DEST / ".images.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    col = Collector(tmp)
    if ROOT.exists():
        debian(col)
    skimage_photos(col)
    total = len(col.rows)
    print("bench-data: images per source:")
    for src, n in col.counts.items():
        sk = ", ".join(f"{k} {v}" for k, v in sorted(col.skipped.get(src, {}).items()))
        print(f"  {src:30s} {n:4d}" + (f"   (skipped: {sk})" if sk else ""))
    print(f"  {'total':30s} {total:4d}")
    if total < MIN_IMAGES:
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"bench-data: ERROR: only {total} images collected, need at least {MIN_IMAGES}", file=sys.stderr)
        sys.exit(1)
    final = DEST / "images"
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    fields = ["file", "package", "version", "original_path", "licence", "copyright", "width", "height"]
    with open(DEST / "SOURCES.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in sorted(col.rows, key=lambda r: r["file"]):
            w.writerow(r)


main()
PYEOF

date -u +%Y-%m-%dT%H:%M:%SZ >"$DEST/.done"
echo "bench-data: done: $DEST/images ($(ls "$DEST/images" | wc -l) images), sources in $DEST/SOURCES.csv"
