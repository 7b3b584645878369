"""`make demo`: the main job end to end on photos that packages ship (scikit-image's data).

Protect four photos, make a benign manipulated derivative of one (blur-inpainted body region, crop,
"FAKE" stamp, JPEG), a near-duplicate of another, take an unprotected photo, then check all three
and write the evidence report.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rich.console import Console

from . import bundle as bundle_mod
from .check import check_one
from .fingerprint import compute
from .load import encode_jpeg, load, load_array
from .match import Matcher

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
EXPECTED = {"astronaut-derivative.jpg": ("manipulated-derivative", "astronaut"),
            "coffee-copy.jpg": ("near-duplicate", "coffee"),
            "unprotected.jpg": ("no-match", None)}


def _write_png(path: Path, rgb: np.ndarray) -> None:
    import cv2

    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def make_suspects(photos: dict[str, np.ndarray], out: Path) -> dict[str, Path]:
    """Benign derivatives only: blur-inpainting, crop, stamp, recompression. No generative model."""
    from .bench.edits import apply_transform, region_mask, replace_region
    from skimage import data

    rng = np.random.default_rng(7)
    a = photos["astronaut"]
    mask, _ = region_mask(a.shape[:2], 0.35, rng)
    edited = replace_region(a, mask, "telea", rng, None)
    m = np.eye(3)[:2]
    for name in ("crop", "overlay_text"):
        edited, mask, m, _ = apply_transform(edited, mask, m, name, rng)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"astronaut-derivative.jpg": out / "astronaut-derivative.jpg",
             "coffee-copy.jpg": out / "coffee-copy.jpg", "unprotected.jpg": out / "unprotected.jpg"}
    paths["astronaut-derivative.jpg"].write_bytes(encode_jpeg(edited, 55))
    import cv2

    c = photos["coffee"]
    small = cv2.resize(c, (c.shape[1] * 2 // 3, c.shape[0] * 2 // 3), interpolation=cv2.INTER_AREA)
    paths["coffee-copy.jpg"].write_bytes(encode_jpeg(small, 70))
    paths["unprotected.jpg"].write_bytes(encode_jpeg(np.ascontiguousarray(data.hubble_deep_field()[:400, :600]), 85))
    return paths


def run_demo(out: Path, console: Console | None = None) -> int:
    from skimage import data

    con = console or Console()
    out = Path(out)
    photos_dir = out / "photos"
    photos_dir.mkdir(parents=True, exist_ok=True)
    photos = {}
    for name in PHOTOS:
        rgb = getattr(data, name)()
        photos[name] = rgb
        _write_png(photos_dir / f"{name}.png", rgb)
    con.rule("1. protect (on the person's device: fingerprints only)")
    fps = [compute(load(photos_dir / f"{n}.png"), label=n) for n in PHOTOS]
    bundle_path = out / "protected.bcl"
    bundle_mod.write(bundle_path, bundle_mod.Bundle(fps, bundle_mod.new_meta(label="demo")))
    con.print(f"{len(fps)} photos -> {bundle_path} ({bundle_path.stat().st_size} bytes, no pixels)")

    con.rule("2. suspects (benign edits: blur-inpainted body region, crop, FAKE stamp, JPEG)")
    suspects = make_suspects(photos, out / "suspects")
    for p in suspects.values():
        con.print(f"  {p}")

    con.rule("3. check (on the platform: fingerprints against uploads)")
    matcher = Matcher()
    for fp in bundle_mod.read(bundle_path).fingerprints:
        matcher.add(fp.label, fp)
    original = load(photos_dir / "astronaut.png", max_side=512)
    results, ok = [], True
    for name, path in suspects.items():
        c = check_one(matcher, path, original=original if name.startswith("astronaut") else None)
        results.append(c)
        j = c.to_json()
        print(json.dumps({k: j.get(k) for k in ("file", "verdict", "protected", "edited_fraction")}))
        want = EXPECTED[name]
        if (j["verdict"], j["protected"]) != want:
            ok = False
            con.print(f"[red]unexpected[/] {name}: {j['verdict']} / {j['protected']}, expected {want}")
    from .report import write_report

    written = write_report(out / "report.html", results, bundle_path=bundle_path,
                           original_path=photos_dir / "astronaut.png")
    con.rule("4. evidence")
    con.print("report: " + ", ".join(str(p) for p in written))
    con.print("[green]demo finished: every verdict as expected[/]" if ok else "[red]demo: some verdicts were wrong[/]")
    return 0 if ok else 1
