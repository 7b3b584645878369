"""Write an evidence package (a zip) from a case snapshot; see docs/evidence.md for the layout.

The manifest lists the SHA-256 and size of every other file in the zip; an optional RFC 3161 token
(manifest.tsr) covers the SHA-256 of manifest.json. The person's pseudonym, contact and the case note
are left out: the package goes to platforms, police and courts, which need the content, not the person.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import BouclierError
from . import media as media_mod
from . import tsa

FORMAT = "bouclier-evidence-package"
FORMAT_VERSION = 1
CASE_FIELDS = ("id", "kind", "jurisdictions", "legal_bases", "status", "route", "under_18", "child_protection",
               "created_at")
ITEM_FIELDS = ("id", "url", "captured_at", "sha256", "size", "verdict", "protected", "bank", "edited_fraction",
               "scores", "thresholds", "algorithm", "version", "decision", "decision_reason", "decided_at")
MEDIA_FORMAT = "age-encryption.org/v1 (X25519 recipient)"
README = """bouclier evidence package

manifest.json  what the package holds: case, items (URLs, capture times, SHA-256 of each suspect file,
               verdicts, scores, thresholds), notices, and the SHA-256 and size of every other file here
manifest.tsr   (optional) RFC 3161 timestamp token over the SHA-256 of manifest.json
custody.json   chain of custody: who viewed, revealed or exported what, and when
reports/       check reports (suspect blurred); edit-maps/: where the photo was edited
notices/       takedown notices and reports as generated; media/: suspect files encrypted (age format)

Verify: `bouclier evidence verify package.zip [--tsa-ca tsa-ca.pem]`, or by hand:
  unzip package.zip -d pkg && cd pkg && sha256sum <each file>   (compare with manifest.json "artefacts")
  openssl ts -verify -in manifest.tsr -data manifest.json -CAfile tsa-ca.pem
"""


class ExportError(BouclierError):
    """The package could not be made (bad options, TSA failure, unwritable output)."""


@dataclass
class ExportResult:
    path: Path
    package_id: str
    manifest_sha256: str
    artefacts: int
    timestamp: dict | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"path": str(self.path), "package_id": self.package_id, "manifest_sha256": self.manifest_sha256,
                "artefacts": self.artefacts, "timestamp": self.timestamp, "warnings": self.warnings}


def _safe(s: Any) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(s))[:80] or "_"


def _bytes(v: Any) -> bytes | None:
    if v is None or v == b"" or v == "":
        return None
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    return base64.b64decode(v)  # a snapshot sent as JSON carries the PNG as base64


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def check_options(*, tsa_url: str | None, tsa_ca, include_media: bool, recipient) -> tuple[list | None, Any]:
    """Validate options before anything is recorded; returns (CA certificates, age recipient)."""
    if include_media and recipient is None:
        raise ExportError("--include-media needs --recipient (an age1... public key or a file with one)")
    if recipient is not None and not include_media:
        raise ExportError("--recipient is only used with --include-media")
    if tsa_ca is not None and not tsa_url:
        raise ExportError("--tsa-ca needs --tsa URL")
    if tsa_url and not tsa_url.startswith(("http://", "https://")):
        raise ExportError(f"time-stamping authority URL must be http:// or https://, not {tsa_url!r}")
    ca = tsa.load_ca(tsa_ca) if isinstance(tsa_ca, (str, Path)) else tsa_ca
    rcpt = media_mod.recipient(recipient) if isinstance(recipient, str) else recipient
    return ca, rcpt


def export(snapshot: dict, out_zip: str | Path, *, tsa_url: str | None = None, tsa_ca=None,
           include_media: bool = False, recipient=None, media: dict[int, bytes] | None = None,
           package_id: str | None = None) -> ExportResult:
    """Write the package for `snapshot` (Cases.snapshot()) to `out_zip`, atomically.

    `media` maps item ids to suspect bytes (only read with include_media); `tsa_ca` is a PEM path or a
    list of certificates; `recipient` an age1... key, a file holding one, or a pyrage Recipient.
    """
    ca, rcpt = check_options(tsa_url=tsa_url, tsa_ca=tsa_ca, include_media=include_media, recipient=recipient)
    out = Path(out_zip)
    package_id = package_id or uuid.uuid4().hex
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    case = snapshot.get("case") or {}
    files: dict[str, bytes] = {"README.txt": README.encode()}
    warnings: list[str] = []

    items = []
    for it in snapshot.get("items") or []:
        iid = it.get("id")
        rec = {k: it.get(k) for k in ITEM_FIELDS if k in it}
        rec["report"] = rec["edit_map"] = rec["media"] = None
        if it.get("report_html"):
            rec["report"] = f"reports/item-{_safe(iid)}.html"
            files[rec["report"]] = it["report_html"].encode("utf-8")
        try:
            png = _bytes(it.get("edit_map_png"))
        except ValueError:
            png = None
            warnings.append(f"item {iid}: unreadable edit map, not included")
        if png:
            rec["edit_map"] = f"edit-maps/item-{_safe(iid)}.png"
            files[rec["edit_map"]] = png
        if include_media and it.get("has_media"):
            data = (media or {}).get(iid)
            if data is None:
                warnings.append(f"item {iid}: media not available, not included")
                rec["media_error"] = "not available"
            else:
                if it.get("sha256") and _sha(data) != it["sha256"]:
                    warnings.append(f"item {iid}: stored media does not match the item's SHA-256")
                    rec["media_error"] = "stored media does not match the item's SHA-256"
                rec["media"] = f"media/item-{_safe(iid)}.age"
                files[rec["media"]] = media_mod.encrypt(data, rcpt)
        items.append(rec)

    notices = []
    for n in snapshot.get("notices") or []:
        path = f"notices/{_safe(n.get('id'))}-{_safe(n.get('kind'))}.{_safe(n.get('lang'))}.txt"
        files[path] = (n.get("text") or "").encode("utf-8")
        notices.append({"id": n.get("id"), "kind": n.get("kind"), "lang": n.get("lang"), "platform": n.get("platform"),
                        "created_at": n.get("created_at"), "sha256": n.get("sha256"), "file": path})

    events = snapshot.get("custody") or []
    recorded = any(isinstance(e, dict) and e.get("action") == "exported"
                   and isinstance(e.get("details"), dict) and e["details"].get("package_id") == package_id
                   for e in events)
    if not recorded:
        warnings.append("the export itself is not in the custody log (use export_case to record it)")
    custody = {"case_id": case.get("id"), "package_id": package_id, "events": events}
    files["custody.json"] = json.dumps(custody, indent=1, ensure_ascii=False, sort_keys=True, default=str).encode()

    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "package_id": package_id, "created_at": created,
        "tool": snapshot.get("tool") or {"name": "bouclier", "version": __version__},
        "case": {k: case.get(k) for k in CASE_FIELDS},
        "items": items, "notices": notices,
        "custody": "custody.json", "custody_export_recorded": recorded,
        "timestamp": {"file": "manifest.tsr", "tsa_url": tsa_url, "hash_algorithm": "sha256"} if tsa_url else None,
        "media": {"included": include_media, "format": MEDIA_FORMAT if include_media else None,
                  "recipient": str(rcpt) if include_media and rcpt is not None else None},
        "excluded": "the person's pseudonym, contact details and case notes; suspect media unless opted in",
        "artefacts": [{"path": p, "sha256": _sha(b), "size": len(b)} for p, b in sorted(files.items())],
    }
    mbytes = json.dumps(manifest, indent=1, ensure_ascii=False, default=str).encode("utf-8")
    tsr, info = None, None
    if tsa_url:
        tsr, token = tsa.request(tsa_url, mbytes, ca=ca)
        info = token.to_dict()
    _write_zip(out, mbytes, tsr, files, created)
    return ExportResult(out, package_id, _sha(mbytes), len(files), info, warnings)


def _write_zip(out: Path, manifest: bytes, tsr: bytes | None, files: dict[str, bytes], created: str) -> None:
    dt = datetime.fromisoformat(created).timetuple()[:6]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as e:
        raise ExportError(f"cannot write {out}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as z:
                entries = [("manifest.json", manifest)] + ([("manifest.tsr", tsr)] if tsr else []) + sorted(files.items())
                for name, data in entries:
                    z.writestr(zipfile.ZipInfo(name, dt), data, compress_type=zipfile.ZIP_DEFLATED)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, out)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"cannot write {out}: {e.strerror or e}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def configured_tsa(settings) -> tuple[str | None, str | None]:
    """The TSA URL and CA file from $BOUCLIER_TSA_URL / $BOUCLIER_TSA_CA, else the TOML's tsa_url / tsa_ca."""
    extra = getattr(settings, "extra", None) or {}
    url = os.environ.get("BOUCLIER_TSA_URL") or extra.get("tsa_url") or None
    ca = os.environ.get("BOUCLIER_TSA_CA") or extra.get("tsa_ca") or None
    return url, (ca if url else None)


def export_case(registry, actor: str, case_id: str, out_zip: str | Path, *, tsa_url: str | None = None,
                tsa_ca=None, include_media: bool = False, recipient=None) -> ExportResult:
    """Export a case of the registry: records the export in the chain of custody first (so custody.json
    shows it), reads opted-in media through Cases.item_media (itself a custody event), then writes.

    tsa_url None: the configured TSA (configured_tsa), if any; "" : no timestamp."""
    from ..cases.store import Cases

    if tsa_url is None:
        tsa_url, conf_ca = configured_tsa(registry.settings)
        tsa_ca = tsa_ca if tsa_ca is not None else conf_ca
    tsa_url = tsa_url or None
    ca, rcpt = check_options(tsa_url=tsa_url, tsa_ca=tsa_ca, include_media=include_media, recipient=recipient)
    cases = Cases(registry)
    first = cases.snapshot(case_id)  # unknown case: raises before anything is recorded
    package_id = uuid.uuid4().hex
    details = {"package_id": package_id, "file": Path(out_zip).name, "media": include_media,
               "timestamp_tsa": tsa_url, "recipient": str(rcpt) if rcpt is not None else None}
    cases.record_custody(actor, case_id, "exported", f"evidence package {Path(out_zip).name}", details)
    media: dict[int, bytes] = {}
    errors: list[str] = []
    if include_media:
        for it in first.get("items") or []:
            if it.get("has_media"):
                try:
                    media[it["id"]] = cases.item_media(actor, it["id"], purpose="evidence-export")
                except Exception as e:  # one unreadable item never stops the export; the manifest says so
                    errors.append(f"item {it['id']}: media unreadable ({e})")
    snap = cases.snapshot(case_id)
    try:
        res = export(snap, out_zip, tsa_url=tsa_url, tsa_ca=ca, include_media=include_media, recipient=rcpt,
                     media=media, package_id=package_id)
    except BouclierError as e:
        cases.record_custody(actor, case_id, "export-failed", f"evidence package {Path(out_zip).name}",
                             {"package_id": package_id, "error": str(e)})
        raise
    res.warnings = errors + res.warnings
    return res
