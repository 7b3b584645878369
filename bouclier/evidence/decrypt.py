"""Decrypt the suspect media of a package for the holder of the recipient's private key."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

from ..errors import BouclierError
from ..load import image_format
from . import media as media_mod
from .verify import MAX_ENTRY, MAX_JSON, READ_ERRORS, _read, _unsafe


def _ext(data: bytes) -> str:
    fmt = image_format(data)
    return {"jpeg": "jpg", "heif": "heic"}.get(fmt, fmt or "bin")


def _write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BouclierError(f"{p} exists; not overwriting") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return p


def decrypt_source(source: Path, identity: Path, out: Path) -> tuple[list[Path], list[str]]:
    """Returns (files written, problems). Raises BouclierError when nothing can be tried."""
    ids = media_mod.identity(identity)
    try:
        is_zip = zipfile.is_zipfile(source)
    except OSError as e:
        raise BouclierError(f"cannot read {source}: {e.strerror or e}") from None
    if not is_zip:
        try:
            data = Path(source).read_bytes()
        except OSError as e:
            raise BouclierError(f"cannot read {source}: {e.strerror or e}") from None
        plain = media_mod.decrypt(data, ids)
        stem = Path(source).name.removesuffix(".age") or "media"
        return [_write(out, f"{stem}.{_ext(plain)}" if "." not in stem else stem, plain)], []
    written, problems = [], []
    try:
        with zipfile.ZipFile(source) as z:
            manifest = json.loads(_read(z, z.getinfo("manifest.json"), MAX_JSON))
            for it in manifest.get("items") or []:
                path = it.get("media") if isinstance(it, dict) else None
                if not path:
                    continue
                if _unsafe(path):
                    problems.append(f"{path}: unsafe path")
                    continue
                try:
                    plain = media_mod.decrypt(_read(z, z.getinfo(path), MAX_ENTRY), ids)
                except (KeyError, *READ_ERRORS) as e:
                    problems.append(f"{path}: unreadable ({e})")
                    continue
                except media_mod.MediaKeyError as e:
                    problems.append(f"{path}: {e}")
                    continue
                if it.get("sha256") and hashlib.sha256(plain).hexdigest() != it["sha256"]:
                    problems.append(f"{path}: decrypted file does not match the item's SHA-256 in manifest.json")
                    continue
                written.append(_write(out, f"item-{it.get('id')}.{_ext(plain)}", plain))
    except (KeyError, json.JSONDecodeError, UnicodeDecodeError, AttributeError, *READ_ERRORS) as e:
        raise BouclierError(f"{source}: not a readable evidence package ({type(e).__name__}: {e})") from None
    return written, problems
