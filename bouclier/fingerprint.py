"""Fingerprints of protected photos and of suspects: computed from pixels, serialised compactly.

Binary format (docs/fingerprint-format.md): magic, format version, header, then one record per
signal kind (tag, kind version, length, payload), then a CRC-32 of everything before it.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass, field

from .errors import FormatError
from .signals import REGISTRY, View
from .signals.base import BY_TAG
from .signals.grid import EditGrid, GridQuery
from .signals.keypoints import KeypointQuery, Keypoints
from .signals.pdq import PDQ, PDQQuery

FORMAT_VERSION = 1
MAGIC = b"BCLF"
QUERY_MAGIC = b"BCLQ"
FLAG_PDQ_ONLY = 1
_HEAD = struct.Struct("<4sBBII32s")  # magic, version, flags, width, height, sha256


def _crc_ok(data: bytes, what: str) -> bytes:
    if len(data) < 4 + _HEAD.size + 2:  # + label length and signal count bytes
        raise FormatError(f"{what}: truncated ({len(data)} bytes)")
    body, (crc,) = data[:-4], struct.unpack("<I", data[-4:])
    if zlib.crc32(body) != crc:
        raise FormatError(f"{what}: checksum mismatch (corrupted)")
    return body


@dataclass
class Fingerprint:
    """What leaves the protecting device for one photo: no pixels, only these signals."""

    label: str
    sha256: str  # of the photo file's bytes, for the `identical` verdict
    width: int
    height: int
    signals: dict[str, object] = field(default_factory=dict)

    @property
    def pdq_only(self) -> bool:
        return set(self.signals) == {"pdq"}

    @property
    def pdq(self) -> PDQ | None:
        return self.signals.get("pdq")  # type: ignore[return-value]

    @property
    def pdq_hex(self) -> str | None:
        return self.pdq.hex if self.pdq else None

    @property
    def pdq_quality(self) -> int | None:
        return self.pdq.quality if self.pdq else None

    @property
    def id(self) -> str:
        return self.sha256[:16]

    @classmethod
    def pdq_only_hash(cls, hex_str: str, quality: int = 100, label: str = "") -> "Fingerprint":
        """A PDQ-only fingerprint for a hash from a list (no photo file, so a sha256 no real file can have)."""
        pdq = PDQ.from_hex(hex_str, max(0, min(100, int(quality))))
        fake_sha = hashlib.sha256(b"bouclier-import:" + pdq.hex.encode()).hexdigest()
        return cls(label, fake_sha, 0, 0, {"pdq": pdq})

    def to_bytes(self) -> bytes:
        label = self.label.encode()[:255]
        out = [_HEAD.pack(MAGIC, FORMAT_VERSION, FLAG_PDQ_ONLY if self.pdq_only else 0, self.width, self.height,
                          bytes.fromhex(self.sha256)), bytes([len(label)]), label, bytes([len(self.signals)])]
        for name in sorted(self.signals, key=lambda n: REGISTRY[n].tag):
            sig = self.signals[name]
            payload = sig.to_bytes()
            out.append(struct.pack("<BBH", sig.tag, sig.version, len(payload)) + payload)
        body = b"".join(out)
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Fingerprint":
        body = _crc_ok(bytes(data), "fingerprint")
        magic, version, _flags, w, h, sha = _HEAD.unpack_from(body)
        if magic != MAGIC:
            raise FormatError("not a bouclier fingerprint (bad magic)")
        if version != FORMAT_VERSION:
            raise FormatError(f"fingerprint format version {version} is not supported (this is {FORMAT_VERSION})")
        off = _HEAD.size
        n = body[off]
        label = body[off + 1 : off + 1 + n].decode("utf-8", "replace")
        off += 1 + n
        if off >= len(body):
            raise FormatError("fingerprint: truncated")
        count = body[off]
        off += 1
        signals: dict[str, object] = {}
        for _ in range(count):
            if off + 4 > len(body):
                raise FormatError("fingerprint: truncated signal header")
            tag, ver, ln = struct.unpack_from("<BBH", body, off)
            off += 4
            kind = BY_TAG.get(tag)
            payload = body[off : off + ln]
            off += ln
            if len(payload) != ln:
                raise FormatError("fingerprint: truncated signal")
            if kind is None or ver != kind.version:
                continue  # an unknown kind or version is skipped: older readers keep working
            signals[kind.name] = kind.from_bytes(payload, ver)
        return cls(label, sha.hex(), w, h, signals)


def compute(image, *, label: str = "", pdq_only: bool = False, view: View | None = None) -> Fingerprint:
    """Fingerprint a loaded image (bouclier.load.Image)."""
    view = view or View(image.pixels)
    kinds = ["pdq"] if pdq_only else list(REGISTRY)
    return Fingerprint(label, image.sha256, image.width, image.height,
                       {k: REGISTRY[k].compute(view) for k in kinds})


@dataclass
class Query:
    """A suspect, as the matcher needs it. Made from pixels in memory; can travel as bytes to a service."""

    sha256: str
    width: int
    height: int
    pdq: PDQQuery
    keypoints: KeypointQuery
    grid: GridQuery

    @classmethod
    def compute(cls, image, view: View | None = None) -> "Query":
        view = view or View(image.pixels)
        return cls(image.sha256, image.width, image.height, PDQ.query(view), Keypoints.query(view), EditGrid.query(view))

    def to_bytes(self) -> bytes:
        parts = [self.pdq.to_bytes(), self.keypoints.to_bytes(), self.grid.to_bytes()]
        body = _HEAD.pack(QUERY_MAGIC, FORMAT_VERSION, 0, self.width, self.height, bytes.fromhex(self.sha256))
        body += b"".join(struct.pack("<I", len(p)) + p for p in parts)
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Query":
        body = _crc_ok(bytes(data), "query fingerprint")
        magic, version, _f, w, h, sha = _HEAD.unpack_from(body)
        if magic != QUERY_MAGIC or version != FORMAT_VERSION:
            raise FormatError("not a bouclier query fingerprint of a supported version")
        off, parts = _HEAD.size, []
        for _ in range(3):
            if off + 4 > len(body):
                raise FormatError("query fingerprint: truncated")
            (ln,) = struct.unpack_from("<I", body, off)
            parts.append(body[off + 4 : off + 4 + ln])
            off += 4 + ln
            if len(parts[-1]) != ln:
                raise FormatError("query fingerprint: truncated")
        return cls(sha.hex(), w, h, PDQQuery.from_bytes(parts[0]), KeypointQuery.from_bytes(parts[1]),
                   GridQuery.from_bytes(parts[2]))
