"""Bundle: the one file `bouclier protect` writes, holding many fingerprints and no pixels.

Layout: magic "BCLB", format version (u8), metadata JSON (u32 length + UTF-8), fingerprint count
(u32), each fingerprint (u32 length + bytes), then the SHA-256 of everything before it.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from .errors import FormatError
from .fingerprint import Fingerprint

MAGIC = b"BCLB"
VERSION = 1
MAX_FINGERPRINTS = 1_000_000


@dataclass
class Bundle:
    fingerprints: list[Fingerprint] = field(default_factory=list)
    meta: dict = field(default_factory=dict)


def new_meta(**extra) -> dict:
    return {"tool": "bouclier", "tool_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), **extra}


def dumps(bundle: Bundle) -> bytes:
    meta = json.dumps(bundle.meta, sort_keys=True).encode()
    parts = [MAGIC, bytes([VERSION]), struct.pack("<I", len(meta)), meta, struct.pack("<I", len(bundle.fingerprints))]
    for fp in bundle.fingerprints:
        b = fp.to_bytes()
        parts += [struct.pack("<I", len(b)), b]
    body = b"".join(parts)
    return body + hashlib.sha256(body).digest()


def loads(data: bytes) -> Bundle:
    data = bytes(data)
    if len(data) < 4 or data[:4] != MAGIC:
        raise FormatError("not a bouclier bundle (bad magic)")
    if len(data) < 5 + 4 + 4 + 32:
        raise FormatError("bundle is truncated")
    if data[4] != VERSION:
        raise FormatError(f"bundle format version {data[4]} is not supported (this is {VERSION})")
    body, digest = data[:-32], data[-32:]
    if hashlib.sha256(body).digest() != digest:
        raise FormatError("bundle checksum mismatch: the file is corrupted or truncated")
    off = 5
    (n,) = struct.unpack_from("<I", body, off)
    off += 4
    try:
        meta = json.loads(body[off : off + n].decode())
    except (ValueError, RecursionError) as e:  # bad UTF-8 or JSON, over-long int, too deep nesting
        raise FormatError(f"bundle metadata is not valid JSON: {e}") from None
    off += n
    if off + 4 > len(body):
        raise FormatError("bundle is truncated")
    (count,) = struct.unpack_from("<I", body, off)
    off += 4
    if count > MAX_FINGERPRINTS:
        raise FormatError(f"bundle declares {count} fingerprints, over the limit of {MAX_FINGERPRINTS}")
    fps = []
    for i in range(count):
        if off + 4 > len(body):
            raise FormatError(f"bundle is truncated at fingerprint {i}")
        (ln,) = struct.unpack_from("<I", body, off)
        chunk = body[off + 4 : off + 4 + ln]
        if len(chunk) != ln:
            raise FormatError(f"bundle is truncated at fingerprint {i}")
        fps.append(Fingerprint.from_bytes(chunk))
        off += 4 + ln
    if off != len(body):
        raise FormatError("bundle has trailing bytes")
    return Bundle(fps, meta if isinstance(meta, dict) else {})


def read(path: str | os.PathLike) -> Bundle:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise FormatError(f"{p}: cannot read bundle ({e.strerror or e})") from None
    try:
        return loads(data)
    except FormatError as e:
        raise FormatError(f"{p}: {e}") from None


def write(path: str | os.PathLike, bundle: Bundle) -> None:
    """Atomic write: a crash never leaves a half-written bundle under the final name."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=p.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(dumps(bundle))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
