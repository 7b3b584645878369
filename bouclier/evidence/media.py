"""Suspect media in a package, encrypted to one recipient in the age format (age-encryption.org/v1,
X25519 recipients) with the `pyrage` wheel. Any age implementation decrypts it:
`age -d -i key.txt media/item-3.jpg.age > item-3.jpg`, or `bouclier evidence decrypt`."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pyrage
from pyrage import x25519

from ..errors import BouclierError


class MediaKeyError(BouclierError):
    """A recipient or identity key is unusable."""


def keygen(path: Path) -> str:
    """Write a new identity (private key) file, mode 0600, in age's format; returns the public key."""
    ident = x25519.Identity.generate()
    pub = str(ident.to_public())
    text = (f"# created: {datetime.now(timezone.utc).isoformat(timespec='seconds')}\n"
            f"# public key: {pub}\n{ident}\n")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise MediaKeyError(f"{path} exists; not overwriting a key") from None
    except OSError as e:
        raise MediaKeyError(f"cannot write {path}: {e.strerror or e}") from None
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return pub


def recipient(spec: str) -> x25519.Recipient:
    """An `age1...` public key, or a file holding one (a public key file or `# public key:` line)."""
    candidates = [spec.strip()]
    if not spec.startswith("age1"):
        try:
            text = Path(spec).read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            raise MediaKeyError(f"recipient {spec!r}: not an age1... key and not a readable file ({e.strerror or e})") from None
        if "AGE-SECRET-KEY-" in text and "# public key:" not in text:
            raise MediaKeyError(f"{spec}: this is a private key; give the recipient's public key (age1...)")
        candidates = [w for line in text.splitlines() for w in line.replace(":", " ").split() if w.startswith("age1")]
    for c in candidates:
        try:
            return x25519.Recipient.from_str(c)
        except Exception:
            continue
    raise MediaKeyError(f"recipient {spec!r}: no valid age X25519 public key (age1...)")


def identity(path: Path) -> list[x25519.Identity]:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise MediaKeyError(f"cannot read identity file {path}: {e.strerror or e}") from None
    ids = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("AGE-SECRET-KEY-"):
            try:
                ids.append(x25519.Identity.from_str(line))
            except Exception:
                raise MediaKeyError(f"{path}: malformed AGE-SECRET-KEY line") from None
    if not ids:
        raise MediaKeyError(f"{path}: no AGE-SECRET-KEY-... line (is it the private key file from `keygen`?)")
    return ids


def encrypt(data: bytes, to: x25519.Recipient) -> bytes:
    return pyrage.encrypt(data, [to])


def decrypt(data: bytes, ids: list[x25519.Identity]) -> bytes:
    try:
        return pyrage.decrypt(data, ids)
    except pyrage.DecryptError as e:
        raise MediaKeyError(f"cannot decrypt ({e}): wrong key or damaged file") from None
