"""Helpers of the evidence tests: a case snapshot of the documented shape, and rewriting a package's
entries as a forger would (zip CRCs stay valid, so only the manifest can catch the change)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


def png(seed: int, size=(48, 64)) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


SUSPECT = png(7, (64, 80))  # stands in for a kept suspect file (random noise, no person)


def make_snapshot() -> dict:
    custody = [
        {"ts": "2026-11-20T10:00:00.000001+00:00", "actor": "caseworker:ana", "action": "viewed",
         "artefact": "item:3:report", "details": {}},
        {"ts": "2026-11-20T10:05:00.000001+00:00", "actor": "reviewer:bo", "action": "revealed",
         "artefact": "item:3:media", "details": {"purpose": "review"}},
    ]
    return {
        "case": {"id": "C-7Q2K9M4X", "kind": "manipulated-synthetic", "jurisdictions": ["FR", "EU"],
                 "status": "open", "route": "standard", "under_18": False, "pseudonym": "Rose-Cedar-41",
                 "contact": "rose.cedar@example.org", "note": "prefers contact by e-mail",
                 "created_at": "2026-11-20T09:00:00+00:00"},
        "items": [
            {"id": 3, "url": "https://img.example.net/p/abc.jpg", "captured_at": "2026-11-20T09:30:00+00:00",
             "sha256": hashlib.sha256(SUSPECT).hexdigest(), "filename": "abc.jpg", "verdict": "manipulated-derivative",
             "protected": {"case_id": "case_0123", "bank": "default", "photo": 0, "id": "fp1"}, "bank": "default",
             "edited_fraction": 0.31, "scores": {"inliers": 40, "pdq_distance": 96},
             "thresholds": {"min_score": 12.0}, "algorithm": "bouclier-orb-grid", "version": 1,
             "report_html": "<html><body><h1>Report item 3</h1><p>manipulated-derivative</p></body></html>",
             "edit_map_png": png(1), "has_media": True},
            {"id": 4, "url": "https://other.example.com/x", "captured_at": None, "sha256": None, "filename": None,
             "verdict": None, "protected": None, "bank": None, "edited_fraction": None, "scores": {},
             "thresholds": {}, "algorithm": None, "version": None, "report_html": "", "edit_map_png": None,
             "has_media": False},
        ],
        "notices": [
            {"id": 1, "kind": "dsa-art16", "lang": "en", "platform": "ExampleSocial",
             "text": "Notice under Article 16 DSA\nURL: https://img.example.net/p/abc.jpg\n",
             "sha256": "0" * 64, "created_at": "2026-11-20T11:00:00+00:00"},
            {"id": 2, "kind": "take-it-down", "lang": "fr", "platform": "ExampleSocial",
             "text": "Demande de retrait\n", "sha256": "1" * 64, "created_at": "2026-11-20T11:01:00+00:00"},
        ],
        "timeline": [],
        "custody": custody,
        "tool": {"name": "bouclier", "version": "0.1.0"},
    }


def rewrite(src: Path, dst: Path, *, change: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None,
            drop: tuple[str, ...] = ()) -> Path:
    """Copy a package, replacing, adding or dropping entries (a forger's edit: CRCs stay valid)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in drop:
                continue
            zout.writestr(info.filename, (change or {}).get(info.filename, zin.read(info)))
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dst


def flip(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at] ^= 0x01
    return bytes(b)
