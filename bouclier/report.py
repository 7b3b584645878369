"""Evidence report: one self-contained HTML file (and a PDF when WeasyPrint works) for `check --report`.

The report is meant to be handed to a caseworker, a platform's trust-and-safety team or an investigator,
so it is built to be trusted and to be handled safely:

* Self-contained: every picture is embedded as a `data:` URI (JPEG), the CSS is inline, there is no
  JavaScript at all, and a Content-Security-Policy forbids any fetch, so opening the file contacts nobody.
* No needless exposure: every suspect picture (and the aligned original, if one was given) is shown
  greyscale and strongly blurred by default (the blur is applied here, in Python, before embedding). The
  unblurred picture is embedded too, hidden; a "Reveal" control (a CSS-only checkbox, so it works with
  scripts disabled) shows it. Printing (and the PDF) only ever shows the blurred versions. The HTML file
  still *contains* the unblurred pictures: handle and store it as sensitive evidence.
* Everything identifying is stated: generation time (UTC), tool version, the bundle's name and SHA-256,
  the original's name and SHA-256 (if `--original` was given), the algorithm and thresholds, and for each
  suspect its SHA-256, verdict, matched protected photo, all scores and the transform.
* All text is escaped (file names are user input); Jinja2 autoescaping renders `templates/report.html.j2`.
* No protected-photo pixels appear unless `--original` was given: the alignment overlay and the edit map
  are drawn on the suspect, from fingerprints.

PDF is optional: if `weasyprint` cannot be imported, or fails to render (for example when the Pango
libraries it needs are missing: Debian `libpango-1.0-0 libpangoft2-1.0-0`), only the HTML is written and
the reason is logged at INFO level on the `bouclier.report` logger. Set BOUCLIER_REPORT_PDF=0 to skip it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import platform
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from . import __version__
from .check import Checked
from .decide import DERIVATIVE, IDENTICAL, NEAR_DUPLICATE, NO_MATCH, Thresholds

__all__ = ["write_report", "render_html", "blur_for_review"]

log = logging.getLogger(__name__)

BLUR_SIGMA_AT_512 = 12.0  # Gaussian sigma in pixels for an image whose long side is 512
UNREADABLE = "unreadable"

VERDICT_TEXT = {
    IDENTICAL: "The suspect is the very same file as a protected photo (same SHA-256), or perceptually the "
               "same picture (PDQ distance 0, both hashes of quality at least 50).",
    NEAR_DUPLICATE: "The whole protected photo is present without a substantial localised edit: a re-encoded, "
                    "resized, cropped, framed, rotated, mirrored or colour-shifted copy.",
    DERIVATIVE: "The suspect is geometrically verified to be derived from a protected photo, and a region of "
                "it differs from that photo: part of the picture was replaced or altered.",
    NO_MATCH: "No protected photo in the bundle could be verified against the suspect. This says nothing "
              "about photos that are not in the bundle.",
}

SCORE_TEXT = {
    "pdq_distance": "PDQ perceptual-hash distance to the matched photo (0 to 256 bits; lower is closer)",
    "pdq_variant": "PDQ orientation variant that matched (0: as is; 1 to 7: a rotated or mirrored variant)",
    "pdq_quality": "PDQ quality of the protected photo's hash (0 to 100)",
    "suspect_pdq_quality": "PDQ quality of the suspect's hash (below 50, PDQ alone cannot decide a match)",
    "inliers": "Keypoint matches confirmed by the geometric transform",
    "support": "Confirmed matches weighted by how exactly they fit the transform",
    "score": "Match score: the support, discounted as more of the photo is found edited",
    "tentative_matches": "Keypoint descriptor matches before geometric verification",
    "protected_keypoints": "Keypoints stored in the protected photo's fingerprint",
    "visible_fraction": "Share of the protected photo's area visible in the suspect",
    "coverage": "Share of the visible protected area found unchanged",
    "candidates": "Protected photos examined for this suspect",
    "best_inliers": "Confirmed keypoint matches of the closest protected photo",
    "best_score": "Match score of the closest protected photo",
    "best_pdq_distance": "PDQ distance of the closest protected photo",
    "pixel_edited_fraction": "Edited share of the covered area, from the pixel difference with the original",
    "original_inliers": "Keypoint matches aligning the supplied original onto the suspect",
    "original_alignment": "Alignment of the supplied original",
    "original_is_matched_photo": "Whether the supplied original is the protected photo matched (fingerprints compared)",
    "original_note": "About the supplied original",
}
FRACTION_KEYS = {"visible_fraction", "coverage", "pixel_edited_fraction"}

THRESHOLD_TEXT = {
    "pdq_distance": "PDQ distance at or below which a copy counts as a near-duplicate",
    "pdq_min_quality": "PDQ quality both hashes need for PDQ alone to decide a match",
    "min_score": "match score needed for a verified match",
    "min_edited_fraction": "edited share from which a verified match is a manipulated derivative",
    "candidates": "protected photos verified per suspect",
    "calibrated_by": "calibration",
}

# Drawing colours (RGB)
OUTLINE_RGB = (21, 94, 239)
INLIER_RGB = (250, 204, 21)
OTHER_RGB = (249, 115, 22)
EDIT_RGB = (217, 45, 32)
FRAME_RGB = (52, 64, 84)


# ---------------------------------------------------------------------------------------------------
# Pictures


def blur_for_review(rgb: np.ndarray) -> np.ndarray:
    """Greyscale, strongly blurred copy (sigma 12 px at a long side of 512, scaled with the size)."""
    grey = cv2.cvtColor(np.ascontiguousarray(rgb, np.uint8), cv2.COLOR_RGB2GRAY)
    sigma = BLUR_SIGMA_AT_512 * max(grey.shape) / 512.0
    grey = cv2.GaussianBlur(grey, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)


def _data_uri(rgb: np.ndarray, quality: int = 86, subsampling: str = "444") -> str:
    from .load import encode_jpeg

    data = encode_jpeg(np.ascontiguousarray(rgb, np.uint8), quality, subsampling)
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def _wash(rgb: np.ndarray, amount: float = 0.25) -> np.ndarray:
    """Lighten towards white so that drawn marks stand out."""
    return (rgb.astype(np.float32) * (1 - amount) + 255 * amount).astype(np.uint8)


def _checker(h: int, w: int, cell: int = 8) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    tone = np.where(((y // cell) + (x // cell)) % 2 == 0, 236, 246).astype(np.uint8)
    return np.repeat(tone[..., None], 3, axis=2)


SHIFT = 4  # sub-pixel drawing precision (cv2 fixed-point bits)


def _pts(xy: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(xy, np.float64) * (1 << SHIFT)).astype(np.int32)


def _alignment_overlay(c: Checked, base: np.ndarray) -> np.ndarray:
    """Blurred suspect with the protected photo's outline and the confirmed keypoints drawn on it.

    When the outline leaves the suspect's frame (a crop), the canvas is padded (checkerboard) so that
    the whole outline can be seen, up to 35 % of the frame on each side.
    """
    h, w = base.shape[:2]
    outline = np.asarray(c.outline, np.float64)
    lim = 0.35 * max(h, w)
    left = int(np.ceil(min(max(0.0, -outline[:, 0].min()), lim))) + 6
    top = int(np.ceil(min(max(0.0, -outline[:, 1].min()), lim))) + 6
    right = int(np.ceil(min(max(0.0, outline[:, 0].max() - (w - 1)), lim))) + 6
    bottom = int(np.ceil(min(max(0.0, outline[:, 1].max() - (h - 1)), lim))) + 6
    canvas = _checker(h + top + bottom, w + left + right)
    canvas[top:top + h, left:left + w] = _wash(base, 0.2)
    off = np.array([left, top], np.float64)
    cv2.rectangle(canvas, (left - 1, top - 1), (left + w, top + h), FRAME_RGB, 1, cv2.LINE_AA)
    poly = _pts(outline + off)
    cv2.polylines(canvas, [poly.reshape(-1, 1, 2)], True, OUTLINE_RGB, 3, cv2.LINE_AA, SHIFT)
    # the protected photo's top-left corner, to show rotation and mirroring
    cv2.circle(canvas, tuple(int(v) for v in poly[0]), 7 << SHIFT, OUTLINE_RGB, -1, cv2.LINE_AA, SHIFT)
    for other in c.other_outlines:  # further protected photos found in the same suspect
        cv2.polylines(canvas, [_pts(np.asarray(other, np.float64) + off).reshape(-1, 1, 2)], True, OTHER_RGB, 2,
                      cv2.LINE_AA, SHIFT)
    if c.inlier_points is not None:
        for p in _pts(np.asarray(c.inlier_points, np.float64).reshape(-1, 2) + off):
            cv2.circle(canvas, (int(p[0]), int(p[1])), 5 << SHIFT, (30, 30, 30), -1, cv2.LINE_AA, SHIFT)
            cv2.circle(canvas, (int(p[0]), int(p[1])), 4 << SHIFT, INLIER_RGB, -1, cv2.LINE_AA, SHIFT)
    return canvas


def _edit_overlay(base: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Edited region as a translucent red fill with a solid red border."""
    out = _wash(base, 0.15).astype(np.float32)
    m = np.asarray(mask, bool)
    if m.shape != out.shape[:2]:
        m = cv2.resize(m.astype(np.uint8), (out.shape[1], out.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
    red = np.array(EDIT_RGB, np.float32)
    out[m] = out[m] * 0.45 + red * 0.55
    out = out.astype(np.uint8)
    contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, contours, -1, EDIT_RGB, 2, cv2.LINE_AA)
    return out


def _heat(difference: np.ndarray, smooth: bool = False) -> np.ndarray:
    """Colour-mapped difference (inferno); `smooth` blurs it first so shapes inside the edit are not traced."""
    d = np.clip(np.nan_to_num(np.asarray(difference, np.float32)), 0, 1)
    if smooth:
        d = cv2.GaussianBlur(d, (0, 0), BLUR_SIGMA_AT_512 * max(d.shape) / 512.0)
    bgr = cv2.applyColorMap((d * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _inferno_gradient(stops: int = 9) -> str:
    ramp = cv2.applyColorMap(np.linspace(0, 255, stops).astype(np.uint8).reshape(-1, 1), cv2.COLORMAP_INFERNO)
    return ", ".join("#%02x%02x%02x" % (int(b[0][2]), int(b[0][1]), int(b[0][0])) for b in ramp)


# ---------------------------------------------------------------------------------------------------
# Text


def _sha256_file(path: Path) -> tuple[str | None, str | None]:
    """(hex digest, None) or (None, reason)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError as e:
        return None, f"cannot read: {e.strerror or e}"
    return h.hexdigest(), None


def _fmt_value(key: str, v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if key in FRACTION_KEYS and 0 <= v <= 1:
            return f"{v:.4f} ({v:.1%})"
        return f"{v:.4g}"
    if v is None:
        return "n/a"
    return str(v)


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1%}"


def _utc(ts: datetime | None) -> datetime:
    ts = ts or datetime.now(timezone.utc)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc).replace(microsecond=0)


def _bundle_info(path: Path | None) -> dict | None:
    if path is None:
        return None
    path = Path(path)
    sha, why = _sha256_file(path)
    info = {"name": path.name, "path": str(path), "sha256": sha, "problem": why, "count": None, "created": None}
    if sha is not None:
        try:
            from . import bundle as bundle_mod

            b = bundle_mod.read(path)
            info["count"] = len(b.fingerprints)
            info["created"] = b.meta.get("created") if isinstance(b.meta.get("created"), str) else None
        except Exception as e:  # the report must not fail on a bundle that `check` already read
            log.info("report: bundle %s not readable for its metadata: %s", path, e)
    return info


def _original_info(path: Path | None, results: list[Checked]) -> dict | None:
    known = next((c.original_sha256 for c in results if c.original_sha256), None)
    if path is None:
        if known is None:
            return None
        return {"name": "(supplied in memory)", "path": "", "sha256": known, "problem": None}
    path = Path(path)
    sha, why = _sha256_file(path)
    if sha is None and known is not None:
        sha, why = known, None
    return {"name": path.name, "path": str(path), "sha256": sha, "problem": why}


def _parameters(results: list[Checked]) -> tuple[dict, list[dict], str]:
    from .match import algorithm_info

    first = next((c.result for c in results if c.error is None and c.result is not None), None)
    if first is not None:
        d = first.to_dict()
        algo, th = d["algorithm"], d["thresholds"]
    else:
        algo, th = algorithm_info(), Thresholds.default().to_dict()
    rows = []
    for k, v in th.items():
        if k == "calibrated_by":
            continue
        shown = _fmt_value(k, v)
        if k == "min_edited_fraction" and isinstance(v, (int, float)):
            shown = f"{round(v * 100, 2):g}%"  # 0.075 -> 7.5%, not a rounded 8%
        rows.append({"key": k, "value": shown, "text": THRESHOLD_TEXT.get(k, "")})
    return algo, rows, str(th.get("calibrated_by", "unknown"))


def _environment() -> str:
    parts = [f"Python {platform.python_version()}", f"OpenCV {cv2.__version__}", f"NumPy {np.__version__}"]
    return " · ".join(parts)


# ---------------------------------------------------------------------------------------------------
# One suspect


def _figure(title: str, caption: str, img: str | None = None, unblurred: str | None = None, *,
            note: str | None = None, legend: bool = False) -> dict:
    # keys must not shadow dict methods (Jinja looks attributes up first: `f.clear` would be dict.clear)
    return {"title": title, "caption": caption, "img": img, "unblurred": unblurred, "note": note,
            "legend": legend}


def _suspect(i: int, c: Checked) -> dict:
    name = Path(c.file).name or c.file
    s = {"n": i, "anchor": f"s{i}", "file": c.file, "name": name, "show_path": name != c.file,
         "sha256": c.sha256, "error": c.error, "figures": [], "scores": [], "facts": [], "raw": "",
         "verdict": UNREADABLE, "verdict_text": "", "edited": "n/a", "protected": None}
    try:
        s["raw"] = json.dumps(c.to_json(), indent=2, sort_keys=True, default=str)
    except Exception as e:  # never let the raw dump stop a report
        s["raw"] = f"(not available: {type(e).__name__})"
    if c.error is not None or c.result is None:
        s["error"] = c.error or "no result"
        return s

    r = c.result
    d = r.to_dict()
    s["verdict"] = r.verdict
    s["verdict_text"] = VERDICT_TEXT.get(r.verdict, "")
    s["edited"] = _pct(r.edited_fraction)
    s["protected"] = d.get("protected")
    facts = s["facts"]
    if r.verdict != NO_MATCH:
        pid = d.get("protected_id")
        label = d.get("protected") or pid or "n/a"
        facts.append(("Matched protected photo", label + (f"  (id {pid})" if pid and pid != label else ""), False))
        facts.append(("Edited fraction", f"{_pct(r.edited_fraction)} of the protected photo's visible area"
                      if r.edited_fraction is not None else "n/a (no localised edit measured)", False))
        if "pixel_edited_fraction" in c.extra:
            facts.append(("Edited fraction (pixels)", f"{_pct(c.extra['pixel_edited_fraction'])} of the area "
                          "covered by the original (pixel difference)", False))
        t = d.get("transform")
        if t:
            rot = t.get("rotation_deg")
            facts.append(("Transform", f"scale ×{t.get('scale', 0):.3f}, rotation "
                          f"{rot:+.2f}°, mirrored: {'yes' if t.get('mirrored') else 'no'}", False))
            facts.append(("Transform matrix", "[" + "; ".join(" ".join(f"{v:.4g}" for v in row)
                                                          for row in t.get("matrix", [])) + "]", True))
        for o in c.matches[1:]:
            edited = f", {_pct(o['edited_fraction'])} edited" if o["edited_fraction"] is not None else ""
            x0, y0, x1, y1 = o["region"]
            facts.append(("Also in this image", f"{o['protected'] or o['protected_id']}: {o['verdict']}{edited}, "
                          f"score {o['score']}, at x {x0}–{x1}, y {y0}–{y1} px", False))
    else:
        facts.append(("Matched protected photo", "none", False))

    for k, v in r.scores.items():
        s["scores"].append({"key": k, "value": _fmt_value(k, v), "text": SCORE_TEXT.get(k, "")})
    for k, v in c.extra.items():
        if k == "pixel_edited_fraction" or isinstance(v, (dict, list)):
            continue
        s["scores"].append({"key": k, "value": _fmt_value(k, v), "text": SCORE_TEXT.get(k, "")})

    figs = s["figures"]
    if c.suspect_rgb is None:
        figs.append(_figure("Suspect", "", note="No picture of the suspect is available."))
        return s
    rgb = np.ascontiguousarray(c.suspect_rgb, np.uint8)
    blurred = blur_for_review(rgb)
    figs.append(_figure("Suspect", "Greyscale and blurred for review. “Reveal” shows it as received "
                        "(working copy, long side 512 px).", _data_uri(blurred, 80, "420"), _data_uri(rgb, 88, "420")))
    if c.outline is not None:
        figs.append(_figure("Alignment", "Blue: outline of the matched protected photo placed on the suspect "
                            "(the dot marks its top-left corner). Yellow: confirmed keypoint matches. "
                            + ("Orange: the other protected photos found in it. " if c.other_outlines else "")
                            + "Checkered: outside the suspect's frame.", _data_uri(_alignment_overlay(c, blurred))))
    else:
        figs.append(_figure("Alignment", "", note="No protected photo was aligned with this suspect."))
    if c.edit_mask is not None:
        area = float(np.asarray(c.edit_mask, bool).mean())
        if area > 0:
            text = (f"Red: region that differs from the protected photo, located from fingerprints (a coarse "
                    f"grid, so the outline is approximate). It covers {area:.1%} of the suspect's frame.")
        else:
            text = "No region differing from the protected photo was found from the fingerprints."
        figs.append(_figure("Edited region", text, _data_uri(_edit_overlay(blurred, c.edit_mask))))
    elif r.verdict != NO_MATCH:
        figs.append(_figure("Edited region", "", note="No edit map: the match is too weak to localise an edit."))
    else:
        figs.append(_figure("Edited region", "", note="No edit map: nothing was matched."))
    if c.difference is not None:
        figs.append(_figure("Pixel difference", "Difference between the suspect and the supplied original "
                            "after alignment (colour and contrast changes compensated). Dark: unchanged. "
                            "Smoothed by default: the sharp map can trace the content of the edit.",
                            _data_uri(_heat(c.difference, smooth=True)), _data_uri(_heat(c.difference)),
                            legend=True))
    if c.original_rgb is not None:
        o = np.ascontiguousarray(c.original_rgb, np.uint8)
        figs.append(_figure("Aligned original", "The supplied original, aligned onto the suspect's frame; "
                            "greyscale and blurred for review.", _data_uri(blur_for_review(o), 80, "420"),
                            _data_uri(o, 88, "420")))
    elif c.extra.get("original_alignment"):
        figs.append(_figure("Aligned original", "", note=str(c.extra["original_alignment"])))
    return s


# ---------------------------------------------------------------------------------------------------
# Public API


def _template():
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    text = resources.files("bouclier").joinpath("templates/report.html.j2").read_text(encoding="utf-8")
    return env.from_string(text)


def render_html(results: list[Checked], *, bundle_path: Path | None = None, original_path: Path | None = None,
                generated: datetime | None = None) -> str:
    """The report as one HTML string (no external resources, no script)."""
    results = list(results)
    ts = _utc(generated)
    algo, thresholds, calibration = _parameters(results)
    suspects = [_suspect(i, c) for i, c in enumerate(results, 1)]
    counts: dict[str, int] = {}
    for s in suspects:
        counts[s["verdict"]] = counts.get(s["verdict"], 0) + 1
    order = [DERIVATIVE, IDENTICAL, NEAR_DUPLICATE, NO_MATCH, UNREADABLE]
    summary = [{"verdict": v, "count": counts[v]} for v in order if counts.get(v)]
    signals = ", ".join(f"{k} v{v}" for k, v in (algo.get("signals") or {}).items())
    return _template().render(
        version=__version__,
        generated=ts.strftime("%Y-%m-%d %H:%M:%S UTC"),
        generated_iso=ts.isoformat().replace("+00:00", "Z"),
        bundle=_bundle_info(bundle_path),
        original=_original_info(original_path, results),
        algorithm=f"{algo.get('name', '?')} v{algo.get('version', '?')}",
        signals=signals,
        thresholds=thresholds,
        calibration=calibration,
        environment=_environment(),
        suspects=suspects,
        summary=summary,
        verdict_text=VERDICT_TEXT,
        gradient=_inferno_gradient(),
    )


def _write_pdf(html: str, pdf_path: Path) -> bool:
    try:
        import weasyprint
    except Exception as e:  # ImportError, or OSError when the Pango libraries are missing
        log.info("report: PDF skipped, WeasyPrint is not available (%s)", e)
        return False
    wp_log = logging.getLogger("weasyprint")
    level = wp_log.level
    wp_log.setLevel(logging.ERROR)
    tmp = pdf_path.with_name(pdf_path.name + ".tmp")
    try:
        weasyprint.HTML(string=html, base_url=None).write_pdf(tmp)
        os.replace(tmp, pdf_path)
        return True
    except Exception as e:
        log.info("report: PDF skipped, WeasyPrint failed (%s: %s)", type(e).__name__, e)
        return False
    finally:
        wp_log.setLevel(level)
        tmp.unlink(missing_ok=True)


def write_report(path: Path, results: list[Checked], *, bundle_path: Path | None = None,
                 original_path: Path | None = None, pdf: bool | None = None) -> list[Path]:
    """Write the HTML report at `path`, and `path.with_suffix('.pdf')` when WeasyPrint works.

    Returns the paths written (the HTML first). `pdf=False` (or BOUCLIER_REPORT_PDF=0) skips the PDF.
    Raises OSError when the HTML cannot be written.
    """
    path = Path(path)
    html = render_html(results, bundle_path=bundle_path, original_path=original_path)
    if path.parent != Path(""):
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    written = [path]
    if pdf is None:
        pdf = os.environ.get("BOUCLIER_REPORT_PDF", "1").strip().lower() not in ("0", "no", "false", "off")
    pdf_path = path.with_suffix(".pdf")
    if pdf and pdf_path != path and _write_pdf(html, pdf_path):
        written.append(pdf_path)
    return written
