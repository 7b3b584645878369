"""Tests for bouclier.report: the self-contained HTML evidence report (and PDF when WeasyPrint works).

Checked results come from the real engine: scikit-image's astronaut() and coffee() are protected, and a
benign derivative (a lower-central rectangle filled with a blur of itself, a crop, JPEG 60) is checked.
The report is rendered in a real headless Chromium.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage
from skimage import data

import bouclier
from bouclier import bundle as bundle_mod
from bouclier.check import Checked, check_one
from bouclier.fingerprint import compute
from bouclier.load import encode_jpeg, load, load_array
from bouclier.match import Matcher
from bouclier.decide import Thresholds
from bouclier.report import _parameters, blur_for_review, render_html, write_report

EVIL = "\"'><script>alert(1)</script><img src=x onerror=alert(2)>.jpg"


def derivative(img: np.ndarray) -> bytes:
    """Blur-fill a lower-central rectangle (30 % of the area), crop 5 % off each side, JPEG 60."""
    h, w = img.shape[:2]
    out = img.copy()
    y0, y1, x0, x1 = int(h * 0.45), int(h * 0.95), int(w * 0.2), int(w * 0.8)
    out[y0:y1, x0:x1] = cv2.GaussianBlur(img, (0, 0), 25)[y0:y1, x0:x1]
    dy, dx = int(h * 0.05), int(w * 0.05)
    return encode_jpeg(np.ascontiguousarray(out[dy:h - dy, dx:w - dx]), 60)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    matcher = Matcher()
    fps = []
    for name in ("astronaut", "coffee"):
        fp = compute(load_array(getattr(data, name)(), name), label=name)
        fps.append(fp)
        matcher.add(name, fp)
    bundle_path = root / "protected.bcl"
    bundle_mod.write(bundle_path, bundle_mod.Bundle(fps, bundle_mod.new_meta()))
    original_path = root / "astronaut.png"
    ok, png = cv2.imencode(".png", data.astronaut()[..., ::-1])
    assert ok
    original_path.write_bytes(png.tobytes())

    suspect = derivative(data.astronaut())
    plain = check_one(matcher, suspect, name="suspect_astronaut.jpg")
    with_original = check_one(matcher, suspect, name="suspect_astronaut.jpg",
                              original=load(original_path, max_side=512))
    evil = check_one(matcher, derivative(data.coffee()), name=EVIL)
    no_match = check_one(matcher, encode_jpeg(data.chelsea(), 85), name="cat.jpg")
    broken = check_one(matcher, b"this is not an image at all", name="broken.jpg")
    return {
        "root": root, "bundle": bundle_path, "original": original_path, "suspect_bytes": suspect,
        "plain": plain, "with_original": with_original, "evil": evil, "no_match": no_match, "broken": broken,
    }


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _images(html: str) -> list[tuple[str, np.ndarray]]:
    """(the <img> tag, decoded RGB) for every embedded data-URI image, in document order."""
    out = []
    for m in re.finditer(r"<img\b[^>]*>", html):
        tag = m.group(0)
        src = re.search(r'src="data:image/(?:jpeg|png);base64,([A-Za-z0-9+/=]+)"', tag)
        assert src, f"image without an embedded data URI: {tag[:120]}"
        im = PILImage.open(io.BytesIO(base64.b64decode(src.group(1)))).convert("RGB")
        out.append((tag, np.asarray(im)))
    return out


def _hf_energy(rgb: np.ndarray) -> float:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


# ---------------------------------------------------------------------------------------------------
# Content


def test_engine_outcomes_are_what_the_report_shows(case):
    assert case["plain"].result.verdict == "manipulated-derivative"
    assert case["plain"].result.protected == "astronaut"
    assert case["evil"].result.verdict == "manipulated-derivative"
    assert case["evil"].result.protected == "coffee"
    assert case["no_match"].result.verdict == "no-match"
    assert case["broken"].error


def test_header_verdict_hashes_version(case):
    when = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    html = render_html([case["plain"]], bundle_path=case["bundle"], generated=when)
    assert "bouclier evidence report" in html
    assert "2024-05-01 12:00:00 UTC" in html
    assert f"bouclier {bouclier.__version__}" in html
    assert "manipulated-derivative" in html
    # both SHA-256s: the suspect file's and the bundle's
    assert _sha(case["suspect_bytes"]) == case["plain"].sha256
    assert case["plain"].sha256 in html
    assert _sha(case["bundle"].read_bytes()) in html
    assert "protected.bcl" in html
    # the matched photo, the edited fraction, the scores, the parameters
    assert "astronaut" in html
    assert f"{case['plain'].result.edited_fraction:.1%}" in html
    for key in ("pdq_distance", "inliers", "score", "coverage", "min_score", "bouclier-orb-grid"):
        assert key in html
    assert "mirrored: no" in html
    # without --original: no protected-photo pixels, and the report says so
    assert "contains no pixels of any protected photo" in html
    assert "Aligned original" not in html
    assert "How to read this report" in html
    for v in ("identical", "near-duplicate", "manipulated-derivative", "no-match"):
        assert v in html


def test_with_original_shows_its_hash_difference_and_aligned_original(case):
    c = case["with_original"]
    assert c.original_rgb is not None and c.difference is not None
    html = render_html([c], bundle_path=case["bundle"], original_path=case["original"])
    assert _sha(case["original"].read_bytes()) in html
    assert "astronaut.png" in html
    assert "Pixel difference" in html and "Aligned original" in html
    # suspect and original each have a blurred default and a hidden unblurred twin; so has the diff map
    assert html.count('class="clear"') == 3
    assert html.count('type="checkbox"') == 3


def test_self_contained_no_fetch_no_script(case):
    html = render_html([case["with_original"], case["evil"], case["no_match"], case["broken"]],
                       bundle_path=case["bundle"], original_path=case["original"])
    lowered = html.lower()
    assert not re.search(r"""(src|href|action|poster|srcset)\s*=\s*["']?\s*(https?:|//|file:)""", lowered)
    assert "http://" not in lowered and "https://" not in lowered
    assert "<script" not in lowered  # no script at all (and the evil file name is escaped)
    assert "@import" not in lowered and "url(" not in lowered
    assert "<link" not in lowered and "<iframe" not in lowered
    for m in re.finditer(r"""\bsrc\s*=\s*"([^"]*)\"""", html):
        assert m.group(1).startswith("data:image/"), m.group(1)[:60]
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def test_default_image_is_blurred_greyscale(case):
    html = render_html([case["plain"]])
    imgs = _images(html)
    first_tag, first = imgs[0]
    assert 'class="blurred"' in first_tag
    clear_tag, clear = next((t, a) for t, a in imgs if 'class="clear"' in t)
    sharp = case["plain"].suspect_rgb
    assert clear.shape == sharp.shape == first.shape
    e_blur, e_clear, e_sharp = _hf_energy(first), _hf_energy(clear), _hf_energy(sharp)
    assert e_blur < 0.02 * e_clear, (e_blur, e_clear)
    assert e_blur < 0.02 * e_sharp, (e_blur, e_sharp)
    # greyscale: channels (nearly) equal after JPEG
    assert np.abs(first.astype(int) - first.mean(axis=2, keepdims=True)).max() <= 3
    # and the blurred picture is the one the hidden twin is blurred into
    assert np.abs(first.astype(int) - blur_for_review(sharp).astype(int)).mean() < 3
    # the unblurred twin is hidden by default and only shown by the checked toggle
    assert ".reveal .clear { display: none; }" in html
    assert ".reveal > input:checked ~ .frame .clear { display: block; }" in html
    print_css = html[html.index("@media print"):]
    assert ".reveal .clear" in print_css and "display: none !important" in print_css


def test_overlays_draw_on_the_blurred_suspect(case):
    c = case["plain"]
    imgs = _images(render_html([c]))
    assert len(imgs) == 4  # suspect (blurred + unblurred), alignment overlay, edit map
    _, overlay = imgs[2]
    _, edit = imgs[3]
    # alignment overlay: padded canvas (the crop puts the outline outside the frame) with blue outline
    assert overlay.shape[0] > c.suspect_rgb.shape[0] and overlay.shape[1] > c.suspect_rgb.shape[1]
    blue = (overlay[..., 2] > 180) & (overlay[..., 0] < 80)
    assert blue.sum() > 500
    # edit map: red where the mask is, grey elsewhere
    mask = c.edit_mask
    assert mask is not None and 0.1 < mask.mean() < 0.6
    redness = edit[..., 0].astype(int) - edit[..., 1].astype(int)
    assert redness[mask].mean() > 60
    assert redness[~mask].mean() < 15


def test_file_names_are_escaped(case):
    html = render_html([case["evil"]])
    assert "<script>alert(1)" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "&#34;&#39;&gt;" in html  # the quotes cannot close an attribute
    assert len(_images(html)) == 4


def test_error_and_no_match_entries_render(case):
    html = render_html([case["broken"], case["no_match"]])
    assert "broken.jpg" in html and "unreadable" in html
    assert case["broken"].error in html
    assert "Could not be examined" in html
    assert "no-match" in html and "cat.jpg" in html
    assert "No protected photo was aligned with this suspect." in html
    assert case["no_match"].sha256 in html
    # a bare Checked with an error and nothing else also renders
    html = render_html([Checked("gone.png", error="file not found")])
    assert "gone.png" in html and "file not found" in html


def test_empty_and_in_memory(case):
    html = render_html([])
    assert "bouclier evidence report" in html and "0 suspects" in html


# ---------------------------------------------------------------------------------------------------
# Files


def test_write_report_html_only(case, tmp_path):
    out = tmp_path / "sub" / "report.html"
    paths = write_report(out, [case["plain"], case["broken"]], bundle_path=case["bundle"], pdf=False)
    assert paths == [out]
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert case["plain"].sha256 in html
    assert not list(out.parent.glob("*.tmp"))


def _weasyprint_works() -> bool:
    try:
        import weasyprint  # noqa: F401
    except Exception:  # ImportError, or OSError when Pango is missing
        return False
    return True


def test_write_report_pdf_when_weasyprint_works(case, tmp_path):
    out = tmp_path / "report.html"
    paths = write_report(out, [case["with_original"], case["no_match"], case["broken"]],
                         bundle_path=case["bundle"], original_path=case["original"])
    assert paths[0] == out and out.exists()
    if not _weasyprint_works():
        assert paths == [out]
        pytest.skip("WeasyPrint not installed (optional): only the HTML is written")
    assert paths == [out, out.with_suffix(".pdf")]
    pdf = out.with_suffix(".pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000


# ---------------------------------------------------------------------------------------------------
# Real browser


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def test_renders_in_chromium(case, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("Chromium missing: run `make system-deps` (bash scripts/system-deps.sh)")
    out = tmp_path / "report.html"
    write_report(out, [case["with_original"], case["evil"], case["no_match"], case["broken"]],
                 bundle_path=case["bundle"], original_path=case["original"], pdf=False)
    shot = tmp_path / "shot.png"
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,2400",
           out.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, timeout=60)
    assert shot.exists(), proc.stderr.decode(errors="replace")[-2000:]
    img = np.asarray(PILImage.open(shot).convert("RGB"))
    assert img.shape[:2] == (2400, 1280)
    assert img.std() > 20  # not blank
    # the page drew its pictures: the inferno heat map or the red edit overlay are not in a blank page
    colours = len(np.unique(img.reshape(-1, 3)[::7], axis=0))
    assert colours > 500, colours


def test_edited_fraction_threshold_is_shown_as_calibrated():
    """The report states the cut the verdict used (0.075 -> 7.5 %), not a rounded one."""
    _, rows, _ = _parameters([])
    shown = {r["key"]: r["value"] for r in rows}["min_edited_fraction"]
    cut = Thresholds.default().min_edited_fraction
    assert shown.endswith("%") and float(shown[:-1]) == pytest.approx(cut * 100)


def test_every_threshold_and_verdict_is_explained_in_words():
    """A reader of the report gets a sentence for each threshold the engine uses, not its bare key."""
    from dataclasses import fields

    from bouclier.decide import VERDICTS, Thresholds
    from bouclier.report import THRESHOLD_TEXT, VERDICT_TEXT

    assert {f.name for f in fields(Thresholds)} <= set(THRESHOLD_TEXT)
    assert set(VERDICTS) <= set(VERDICT_TEXT)
