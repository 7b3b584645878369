"""Suspect media kept for review: AES-256-GCM under a key derived (HKDF-SHA256) from the server key.

Files live under DATA_DIR/media/<random name>; never in clear on disk. The file's name is bound to the
ciphertext as associated data, so swapping two files is detected. Protected photos are never stored.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..service.settings import Settings
from ..service.store import load_secret_key

MAGIC = b"BCM1"
INFO = b"bouclier case media v1"


class MediaError(Exception):
    pass


class MediaStore:
    def __init__(self, settings: Settings):
        self.dir = Path(settings.data_dir) / "media"
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(load_secret_key(settings))
        self._aead = AESGCM(key)

    def _path(self, name: str) -> Path:
        if not name or not all(c in "0123456789abcdef" for c in name):
            raise MediaError("invalid media name")
        return self.dir / name

    def put(self, data: bytes) -> str:
        """Encrypt and write; returns the file's name (random, says nothing about the content)."""
        name = secrets.token_hex(16)
        nonce = secrets.token_bytes(12)
        blob = MAGIC + nonce + self._aead.encrypt(nonce, data, name.encode())
        self.dir.mkdir(parents=True, exist_ok=True)
        path, tmp = self._path(name), self.dir / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return name

    def get(self, name: str) -> bytes:
        try:
            blob = self._path(name).read_bytes()
        except FileNotFoundError:
            raise MediaError("the media file is missing") from None
        if blob[:4] != MAGIC or len(blob) < 4 + 12 + 16:
            raise MediaError("not a bouclier media file")
        try:
            return self._aead.decrypt(blob[4:16], blob[16:], name.encode())
        except InvalidTag:
            raise MediaError("the media file was altered or the server key changed") from None

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)
