"""What a case keeps from a suspect upload: hashes, the query fingerprint, the match against the registry's
index, an edit map (a mask, from fingerprints) and a `check`-style HTML report with the suspect blurred only.

The pixels live in memory here and are dropped; only `MediaStore` (opt-in) keeps the uploaded bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime

import cv2
import numpy as np

from .. import report as report_mod
from ..check import Checked
from ..match import frame_corners
from ..service import engine
from ..signals import View
from ..signals.base import WORK_SIDE


def _named(result, entry):
    """The result with a readable name for its protected photo instead of the stored position."""
    if entry is None or result.fingerprint is None:
        return result
    return dataclasses.replace(result, fingerprint=dataclasses.replace(
        result.fingerprint, label=f"{entry.case_id or 'imported hash'} photo {entry.position}"))


def _checked(name: str, sha: str, found: list, q, rgb: np.ndarray | None) -> Checked:
    """A `check` outcome from an index match (the same geometry `bouclier.check.check_one` draws)."""
    result, entry, _ = found[0]
    result = _named(result, entry)
    c = Checked(name, sha, result, suspect_rgb=rgb)
    if result.alignment is not None and "orb" in result.fingerprint.signals:
        kp = result.fingerprint.signals["orb"]
        m = result.alignment.matrix
        c.outline = frame_corners(result)
        c.inlier_points = kp.xy[result.alignment.protected_inliers] @ m[:, :2].T + m[:, 2]
    if entry is not None and result.verdict != "no-match":
        c.matches = [engine.instance(_named(r, e), q) for r, e, _ in found]
        c.other_outlines = [frame_corners(r) for r, _, _ in found[1:] if r.alignment is not None]
    return c


def render_report(c: Checked, generated: datetime | None = None) -> str:
    """The `check` report of one suspect, with the blurred picture only (no "Reveal" copy embedded)."""
    s = report_mod._suspect(1, c)
    for f in s["figures"]:
        f["unblurred"] = None
    if s["figures"] and s["figures"][0]["title"] == "Suspect" and s["figures"][0]["img"]:
        s["figures"][0]["caption"] = "Greyscale and blurred. This case report holds no unblurred copy."
    ts = report_mod._utc(generated)
    algo, thresholds, calibration = report_mod._parameters([c])
    html = report_mod._template().render(
        version=report_mod.__version__, generated=ts.strftime("%Y-%m-%d %H:%M:%S UTC"),
        generated_iso=ts.isoformat().replace("+00:00", "Z"), bundle=None, original=None,
        algorithm=f"{algo.get('name', '?')} v{algo.get('version', '?')}",
        signals=", ".join(f"{k} v{v}" for k, v in (algo.get("signals") or {}).items()),
        thresholds=thresholds, calibration=calibration, environment=report_mod._environment(), suspects=[s],
        summary=[{"verdict": s["verdict"], "count": 1}], verdict_text=report_mod.VERDICT_TEXT,
        gradient=report_mod._inferno_gradient())
    return html.replace("Use <b>Reveal</b> only when you need to see a picture as received. The unblurred pictures are "
                        "inside this file: store and share it as sensitive material.",
                        "This case report holds blurred pictures only; still handle it as sensitive material.")


def analyse(index, data: bytes, name: str, limits: engine.Limits, *, with_picture: bool = True) -> dict:
    """Fingerprint and match one upload. engine.ImageError on undecodable or oversized input."""
    image = engine.load(data, name=name, limits=limits, max_side=WORK_SIDE)
    view = View(image.pixels)
    q = engine.Query.compute(image, view)
    found = index.match_all(q)
    result, entry, bank = found[0]
    d = result.to_dict()
    positive = entry is not None and result.verdict != "no-match"
    edit_png = None
    if positive and result.edit_map is not None:
        h, w = view.rgb.shape[:2]
        mask = result.edit_map.suspect_mask(w, h, w, h)
        ok, buf = cv2.imencode(".png", mask.astype(np.uint8) * 255)
        edit_png = buf.tobytes() if ok else None
    c = _checked(name, image.sha256, found if positive else [(result, None, None)], q,
                 view.rgb if with_picture else None)
    if positive and result.edit_map is not None:
        h, w = view.rgb.shape[:2]
        c.edit_mask = result.edit_map.suspect_mask(w, h, w, h)
    algo = d.get("algorithm") or {}
    return {
        "sha256": hashlib.sha256(data).hexdigest(),  # of the file as received
        "size": len(data),
        "query": q.to_bytes(),
        "verdict": result.verdict,
        "protected_case_id": entry.case_id if positive else None,
        "bank": bank if positive else None,
        "fingerprint_uid": entry.uid if positive else None,
        "photo": entry.position if positive else None,
        "edited_fraction": d.get("edited_fraction") if positive else None,
        "scores": d.get("scores") or {},
        "thresholds": d.get("thresholds") or {},
        "algorithm": {"name": algo.get("name"), "version": algo.get("version"), "tool_version": algo.get("tool_version"),
                      "signals": algo.get("signals")},
        "edit_map_png": edit_png,
        "report_html": render_report(c),
    }
