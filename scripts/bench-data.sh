#!/usr/bin/env bash
# Default benchmark corpus: photos that Debian packages and scikit-image ship, no root needed.
# Usage: scripts/bench-data.sh DEST   (idempotent: skips when DEST/.done exists)
set -uo pipefail
DEST=${1:?usage: bench-data.sh DEST}
[ -f "$DEST/.done" ] && { echo "bench data already in $DEST ($(ls "$DEST/images" | wc -l) images)"; exit 0; }
PY=${PY:-.venv/bin/python}
mkdir -p "$DEST/images" "$DEST/debs" "$DEST/unpacked"
PKGS="lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 mate-backgrounds plasma-workspace-wallpapers gnome-backgrounds ukui-wallpapers opencv-doc"
if [ "$(id -u)" -eq 0 ] && ! apt-cache policy mate-backgrounds 2>/dev/null | grep -q "Candidate: [0-9]"; then
  apt-get update -qq || true
fi
echo "file,package,version,original_path,copyright" > "$DEST/SOURCES.csv"
for pkg in $PKGS; do
  ( cd "$DEST/debs" && apt-get download -qq "$pkg" >/dev/null 2>&1 ) || { echo "warning: could not download $pkg; going on"; continue; }
  deb=$(ls "$DEST/debs/${pkg}"_*.deb 2>/dev/null | head -1)
  [ -n "$deb" ] || continue
  ver=$(dpkg-deb -f "$deb" Version)
  dpkg -x "$deb" "$DEST/unpacked/$pkg"
  n=0
  while IFS= read -r f; do
    # photo-like files only: skip tiny thumbnails and icons
    size=$(stat -c %s "$f")
    [ "$size" -gt 60000 ] || continue
    case "$f" in *thumb*|*Thumb*|*screenshot*|*/icons/*|*images_dark/*) continue;; esac
    # opencv-doc: only its example photos, not documentation figures
    if [ "$pkg" = opencv-doc ]; then case "$f" in */examples/data/*) ;; *) continue;; esac; fi
    # ...and neither the second view of a pair of one scene (a false "distractor") nor charts
    case "$(basename "$f")" in aloeR*|aloeGT*|basketball2*|rubberwhale2*|leuvenB*|ela_modified*|graf3*|box_in_scene*|\
      chessboard*|digits*|ml.png|pic[0-9]*|ellipses*|imageText*|sudoku*|cards*|left[0-9]*|right[0-9]*) continue;; esac
    # one file per wallpaper: several resolutions of one picture are duplicates
    dir=$(dirname "$f")
    if [ "$(basename "$dir")" = images ]; then
      [ "$f" = "$(ls -S "$dir"/* | head -1)" ] || continue
    fi
    name="${pkg}-$(echo "${f#$DEST/unpacked/$pkg/}" | tr '/ ' '__')"
    cp "$f" "$DEST/images/$name"
    echo "$name,$pkg,$ver,${f#$DEST/unpacked/$pkg},/usr/share/doc/$pkg/copyright" >> "$DEST/SOURCES.csv"
    n=$((n+1))
  done < <(find "$DEST/unpacked/$pkg" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' -o -iname '*.webp' \) | sort)
  echo "$pkg $ver: $n images"
done
"$PY" - "$DEST" <<'PYEOF'
import sys, pathlib
import numpy as np
from PIL import Image
from skimage import data
dest = pathlib.Path(sys.argv[1]) / "images"
n = 0
for name in ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "camera"):
    try:
        img = getattr(data, name)()
    except Exception as e:  # some need a download this machine cannot do
        print(f"warning: skimage {name}: {e}")
        continue
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=2)
    Image.fromarray(img).save(dest / f"skimage-{name}.png")
    n += 1
with open(dest.parent / "SOURCES.csv", "a") as f:
    for p in sorted(dest.glob("skimage-*.png")):
        f.write(f"{p.name},scikit-image,,skimage.data,BSD-3-Clause (scikit-image data)\n")
print(f"scikit-image: {n} images")
PYEOF
rm -rf "$DEST/debs" "$DEST/unpacked"
count=$(ls "$DEST/images" | wc -l)
if [ "$count" -lt 20 ]; then echo "error: only $count images collected (need 20)"; exit 1; fi
touch "$DEST/.done"
echo "bench data: $count images in $DEST/images"
