"""Verify an evidence package: every file listed with the right SHA-256 and size, no unlisted file, the
timestamp token valid for manifest.json, the custody log well-formed. Hostile zips (zip-slip names,
zip bombs, truncation, not a zip) become problems in the report, never a traceback or a hang: nothing
is extracted, and every read is bounded."""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from ..errors import BouclierError
from . import tsa
from .package import FORMAT

MAX_ENTRIES = 10_000
MAX_ENTRY = 512 << 20  # one file, uncompressed
MAX_TOTAL = 2 << 30
MAX_JSON = 64 << 20  # manifest.json, custody.json
MAX_RATIO = 200  # uncompressed / compressed, for entries over 1 MiB
RESERVED = {"manifest.json", "manifest.tsr"}


class PackageIOError(BouclierError):
    """The package (or the CA file) could not be read at all."""


@dataclass
class Problem:
    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}" if self.file else self.message


@dataclass
class Report:
    path: str
    problems: list[Problem] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)
    manifest: dict | None = None
    timestamp: dict | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, file: str, message: str) -> None:
        self.problems.append(Problem(file, message))

    def to_dict(self) -> dict:
        m = self.manifest or {}
        return {"path": self.path, "ok": self.ok, "problems": [{"file": p.file, "message": p.message, "text": str(p)}
                                                               for p in self.problems],
                "verified": self.verified, "timestamp": self.timestamp,
                "package_id": m.get("package_id"), "case": (m.get("case") or {}).get("id"),
                "created_at": m.get("created_at")}


def _unsafe(name: str) -> str | None:
    if not name or "\0" in name or "\\" in name:
        return "unsafe name"
    p = PurePosixPath(name)
    if p.is_absolute() or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in p.parts:
        return "path escapes the package (zip-slip)"
    return None


def _read(z: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    if info.file_size > limit:
        raise ValueError(f"{info.file_size} bytes, over the {limit}-byte limit")
    with z.open(info) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError("larger than declared")
    return data


def _hash(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[str, int]:
    h, n = hashlib.sha256(), 0
    with z.open(info) as f:
        while chunk := f.read(1 << 20):
            n += len(chunk)
            if n > MAX_ENTRY:
                raise ValueError("larger than the size limit")
            h.update(chunk)
    return h.hexdigest(), n


READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, RuntimeError, OSError)


def verify(zip_path: str | Path, *, tsa_ca=None) -> Report:
    """Check a package; the Report lists each problem with the file it concerns."""
    path = Path(zip_path)
    ca = tsa.load_ca(tsa_ca) if isinstance(tsa_ca, (str, Path)) else tsa_ca
    rep = Report(str(path))
    try:
        size = path.stat().st_size
        fh = open(path, "rb")
    except OSError as e:
        raise PackageIOError(f"cannot read {path}: {e.strerror or e}") from None
    with fh:
        try:
            z = zipfile.ZipFile(fh)
            infos = z.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError, IndexError, KeyError) as e:
            fh.seek(0)
            if fh.read(4) == b"PK\x03\x04":
                what = f"truncated or corrupt zip file ({e})"
            else:
                what = "not a zip file"
            rep.add(path.name, what)
            return rep
        with z:
            _check(z, infos, rep, ca)
    return rep


def _check(z: zipfile.ZipFile, infos: list[zipfile.ZipInfo], rep: Report, ca) -> None:
    if len(infos) > MAX_ENTRIES:
        rep.add("", f"too many entries ({len(infos)}, limit {MAX_ENTRIES})")
        return
    entries: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = info.filename
        why = _unsafe(name)
        if why:
            rep.add(name, f"{why}; refusing this package entry")
            continue
        if name in entries:
            rep.add(name, "duplicate entry in the zip")
            continue
        if info.flag_bits & 0x1:
            rep.add(name, "encrypted zip entry (not made by bouclier)")
            continue
        total += info.file_size
        if info.file_size > MAX_ENTRY:
            rep.add(name, f"entry too large ({info.file_size} bytes, limit {MAX_ENTRY})")
            continue
        if info.file_size > 1 << 20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            rep.add(name, f"suspicious compression ratio ({info.file_size} bytes from {info.compress_size}; zip bomb?)")
            continue
        entries[name] = info
    if total > MAX_TOTAL:
        rep.add("", f"package expands to {total} bytes, over the {MAX_TOTAL}-byte limit")
        return

    if "manifest.json" not in entries:
        rep.add("manifest.json", "missing" if not any(i.filename == "manifest.json" for i in infos) else "unreadable")
        for name in entries:
            rep.add(name, "cannot be checked without a manifest")
        return
    try:
        mbytes = _read(z, entries["manifest.json"], MAX_JSON)
    except READ_ERRORS as e:
        rep.add("manifest.json", f"unreadable (truncated or corrupt: {e})")
        return
    try:
        manifest = json.loads(mbytes)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        rep.add("manifest.json", f"not valid JSON ({e})")
        return
    arts = manifest.get("artefacts") if isinstance(manifest, dict) else None
    if not isinstance(arts, list) or manifest.get("format") != FORMAT:
        rep.add("manifest.json", f"not a bouclier evidence manifest (format {FORMAT!r} with an artefacts list expected)")
        return
    rep.manifest = manifest
    rep.verified.append("manifest.json")

    listed: dict[str, dict] = {}
    for a in arts:
        if not (isinstance(a, dict) and isinstance(a.get("path"), str) and isinstance(a.get("sha256"), str)
                and isinstance(a.get("size"), int)):
            rep.add("manifest.json", f"malformed artefact entry {str(a)[:80]}")
            continue
        p = a["path"]
        if _unsafe(p) or p in RESERVED or p in listed:
            rep.add("manifest.json", f"invalid or repeated artefact path {p[:80]!r}")
            continue
        listed[p] = a
    for p, a in listed.items():
        info = entries.get(p)
        if info is None:
            rep.add(p, "listed in manifest.json but missing from the package")
            continue
        try:
            digest, n = _hash(z, info)
        except READ_ERRORS as e:
            rep.add(p, f"unreadable (truncated or corrupt: {e})")
            continue
        if n != a["size"]:
            rep.add(p, f"size mismatch (manifest {a['size']}, file {n})")
        elif digest != a["sha256"].lower():
            rep.add(p, f"SHA-256 mismatch (manifest {a['sha256'][:12]}…, file {digest[:12]}…)")
        else:
            rep.verified.append(p)
    for name in entries:
        if name not in listed and name not in RESERVED:
            rep.add(name, "extra file not in manifest")

    _check_refs(manifest, listed, rep)
    _check_timestamp(z, entries, manifest, mbytes, rep, ca)
    if "custody.json" in listed and "custody.json" in rep.verified:
        _check_custody(_read(z, entries["custody.json"], MAX_JSON), manifest, rep)
    elif "custody.json" not in listed:
        rep.add("custody.json", "not listed in manifest.json (every package carries its chain of custody)")


def _check_refs(manifest: dict, listed: dict, rep: Report) -> None:
    refs = []
    for it in manifest.get("items") or []:
        if isinstance(it, dict):
            refs += [(f"item {it.get('id')}", it.get(k)) for k in ("report", "edit_map", "media")]
    for n in manifest.get("notices") or []:
        if isinstance(n, dict):
            refs.append((f"notice {n.get('id')}", n.get("file")))
    for who, p in refs:
        if p is not None and p not in listed:
            rep.add("manifest.json", f"{who} refers to {str(p)[:80]}, which is not listed in artefacts")


def _check_timestamp(z, entries, manifest, mbytes, rep: Report, ca) -> None:
    declared = manifest.get("timestamp")
    if "manifest.tsr" not in entries:
        if declared:
            rep.add("manifest.tsr", "missing (manifest.json declares a timestamp)")
        return
    try:
        tsr = _read(z, entries["manifest.tsr"], 1 << 20)
    except READ_ERRORS as e:
        rep.add("manifest.tsr", f"unreadable (truncated or corrupt: {e})")
        return
    try:
        info = tsa.verify(tsr, data=mbytes, ca=ca)
    except tsa.ImprintMismatch:
        rep.add("manifest.tsr", "message imprint does not match manifest.json")
        return
    except tsa.TimestampError as e:
        rep.add("manifest.tsr", str(e))
        return
    rep.timestamp = info.to_dict()
    rep.verified.append("manifest.tsr")


def _check_custody(data: bytes, manifest: dict, rep: Report) -> None:
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        rep.add("custody.json", f"not valid JSON ({e})")
        return
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        rep.add("custody.json", "not a custody log (an object with an events list expected)")
        return
    case_id = (manifest.get("case") or {}).get("id")
    if doc.get("case_id") != case_id:
        rep.add("custody.json", f"case id {doc.get('case_id')!r} differs from the manifest's {case_id!r}")
    if doc.get("package_id") != manifest.get("package_id"):
        rep.add("custody.json", "package id differs from the manifest's")
    prev, exported = None, False
    for i, e in enumerate(doc["events"]):
        if not isinstance(e, dict):
            rep.add("custody.json", f"event {i} is not an object")
            return
        for k in ("ts", "actor", "action"):
            if not isinstance(e.get(k), str) or not e[k]:
                rep.add("custody.json", f"event {i} has no {k}")
                return
        if not isinstance(e.get("artefact", ""), (str, type(None))) or not isinstance(e.get("details") or {}, dict):
            rep.add("custody.json", f"event {i} has a malformed artefact or details")
            return
        try:
            ts = datetime.fromisoformat(e["ts"].replace("Z", "+00:00"))
        except ValueError:
            rep.add("custody.json", f"event {i} has an invalid time {e['ts'][:40]!r}")
            return
        if ts.tzinfo is None:
            rep.add("custody.json", f"event {i} has a time without a time zone")
            return
        if prev is not None and ts < prev:
            rep.add("custody.json", f"event {i} is earlier than event {i - 1} (log out of order)")
            return
        prev = ts
        if e["action"] == "exported" and (e.get("details") or {}).get("package_id") == manifest.get("package_id"):
            exported = True
    if not exported and manifest.get("custody_export_recorded", True):
        rep.add("custody.json", "no 'exported' event for this package")
