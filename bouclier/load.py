"""Safe image loading: the one module every image path goes through.

Every failure (missing file, folder, over-size file, decompression bomb, truncated or corrupt data,
unknown format) is raised as `bouclier.errors.ImageError(source, reason)` with a reason a person can
act on; never a raw traceback, never a hang.

Pipeline of `load`:
  1. read at most `max_bytes + 1` bytes (regular files only: a FIFO or device would block);
  2. sniff the format from magic bytes (never the extension);
  3. open lazily with the matching Pillow plugin (header only) and check the declared size against
     `max_pixels` *before* any pixel memory is allocated;
  4. decode: JPEG through simplejpeg with DCT scaling when `max_side` asks for a smaller image
     (measured faster than Pillow's draft and full decode), a still WebP through libwebp's own scaler
     (bouclier.webp), Pillow for everything else;
  5. normalise to 8-bit RGB (palette, CMYK, 16-bit, float, alpha composited on white), shrink with
     cv2.INTER_AREA to `max_side`, apply the EXIF orientation.

Pillow's own global decompression-bomb limit (`PIL.Image.MAX_IMAGE_PIXELS`) is never modified: we open
through the plugin classes (which skips the check in `Image.open`) and enforce our own `Limits`.
A few plugins (WebP, GIF, TIFF, MPO) still apply Pillow's check internally; its warning is silenced locally
and its error is reported like ours.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import struct
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import simplejpeg
from PIL import Image as PILImage

from . import webp
from .errors import BouclierError, ImageError, unexpected

__all__ = [
    "Limits",
    "Image",
    "load",
    "load_array",
    "find_images",
    "load_many",
    "encode_jpeg",
    "SKIP_SUFFIXES",
]

# Suffixes that `find_images` skips when walking a folder: sidecars (Google Takeout .json, .xmp, .aae),
# documents, videos, archives and bouclier's own bundles. Files given explicitly are never skipped.
SKIP_SUFFIXES = frozenset(
    ".json .xmp .aae .txt .md .csv .tsv .log .ini .db .xml .yaml .yml .html .htm .pdf .bcl"
    " .zip .tar .gz .7z .rar .mp4 .mov .m4v .avi .mkv .webm .3gp .mts .mp3 .m4a .wav .aac".split()
)


# ---------------------------------------------------------------------------------------------------
# Public types


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        try:  # accept "1e8"
            f = float(raw)
            value = int(f) if f.is_integer() else -1
        except ValueError:
            value = -1
    if value <= 0:
        raise BouclierError(f"{name} must be a positive whole number, got {raw!r}")
    return value


@dataclass(frozen=True)
class Limits:
    """Safety limits applied before decoding. Environment: BOUCLIER_MAX_BYTES, BOUCLIER_MAX_PIXELS."""

    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 100_000_000

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.max_pixels <= 0:
            raise ValueError("Limits must be positive")

    @classmethod
    def from_env(cls) -> "Limits":
        return cls(
            max_bytes=_env_int("BOUCLIER_MAX_BYTES", cls.max_bytes),
            max_pixels=_env_int("BOUCLIER_MAX_PIXELS", cls.max_pixels),
        )


@dataclass(frozen=True, eq=False)  # eq=False: identity equality (arrays have no truth value)
class Image:
    """A decoded image: H x W x 3 uint8 RGB, orientation applied, maybe reduced by `max_side`."""

    pixels: np.ndarray
    source: str  # the path as given, or the name passed for bytes
    sha256: str  # hex SHA-256 of the raw file bytes
    format: str  # jpeg | png | webp | gif | bmp | tiff | heif | avif | raw
    width: int  # full-size width after orientation (before any reduction)
    height: int  # full-size height after orientation

    @property
    def scale(self) -> float:
        """Decoded width over full-size width (1.0 when not reduced)."""
        return self.pixels.shape[1] / self.width


# ---------------------------------------------------------------------------------------------------
# Format sniffing

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1",
                b"mif2"}
_VIDEO_BRANDS = {b"isom", b"iso2", b"mp41", b"mp42", b"avc1", b"qt  ", b"M4V ", b"3gp4", b"3gp5", b"dash"}


def _sniff(data: bytes) -> tuple[str | None, str]:
    """Return (format, "") for a supported image, or (None, reason) otherwise."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg", ""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png", ""
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif", ""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp", ""
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in (12, 40, 52, 56, 64, 108, 124):
        return "bmp", ""
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff", ""
    if head[4:8] == b"ftyp":  # ISO base media: HEIF, AVIF, or a video
        size = int.from_bytes(head[:4], "big")
        box = data[8 : min(max(size, 16), 256)]
        brands = {box[i : i + 4] for i in range(0, len(box) - 3, 4) if i != 4}  # skip minor version
        if brands & {b"avif", b"avis"}:
            return "avif", ""
        if brands & _HEIF_BRANDS:
            return "heif", ""
        if brands & _VIDEO_BRANDS:
            return None, "not an image (looks like a video)"
        return None, "unsupported format (unknown ISO media file)"
    if head.startswith(b"%PDF"):
        return None, "not an image (looks like a PDF document)"
    if head.startswith((b"PK\x03\x04", b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!")):
        return None, "not an image (looks like an archive)"
    if head.startswith(b"8BPS"):
        return None, "unsupported format (Photoshop PSD)"
    if head.startswith(b"\xff\x0a") or head.startswith(b"\x00\x00\x00\x0cJXL "):
        return None, "unsupported format (JPEG XL)"
    text = _as_text(data[:4096])
    if text is not None:
        low = text.lstrip().lower()
        if "<svg" in low[:1024]:
            return None, "unsupported format (SVG vector image)"
        if low.startswith(("<!doctype html", "<html")):
            return None, "not an image (looks like an HTML page)"
        return None, "not an image (looks like text)"
    return None, "unsupported format (unrecognised content)"


def image_format(data: bytes) -> str | None:
    """The image format sniffed from content ("jpeg", "png", ..., "heif", "avif"), None if not an image."""
    return _sniff(data)[0]


def _as_text(chunk: bytes) -> str | None:
    """Decode as UTF-8 if the chunk looks like text (no NUL, mostly printable)."""
    if b"\x00" in chunk:
        return None
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(chunk) - 4:  # only a multi-byte char cut at the end is allowed
            return None
        text = chunk[: e.start].decode("utf-8")
    printable = sum(c.isprintable() or c in "\r\n\t" for c in text)
    return text if text and printable >= 0.95 * len(text) else None


# ---------------------------------------------------------------------------------------------------
# Pillow plugins, opened directly (header only; no global registration, no global limit change)


def _factory(fmt: str):
    if fmt == "jpeg":
        from PIL import JpegImagePlugin

        return JpegImagePlugin.jpeg_factory  # returns MPO for multi-picture phone JPEGs
    if fmt == "png":
        from PIL import PngImagePlugin

        return PngImagePlugin.PngImageFile
    if fmt == "gif":
        from PIL import GifImagePlugin

        return GifImagePlugin.GifImageFile
    if fmt == "webp":
        from PIL import WebPImagePlugin, features

        return WebPImagePlugin.WebPImageFile if features.check("webp") else None
    if fmt == "bmp":
        from PIL import BmpImagePlugin

        return BmpImagePlugin.BmpImageFile
    if fmt == "tiff":
        from PIL import TiffImagePlugin

        return TiffImagePlugin.TiffImageFile
    if fmt == "avif":
        try:  # built into Pillow >= 11.3; pillow-heif >= 1.0 dropped AVIF
            from PIL import AvifImagePlugin
        except ImportError:
            return None
        return AvifImagePlugin.AvifImageFile if AvifImagePlugin.SUPPORTED else None
    if fmt == "heif":
        try:
            from pillow_heif import HeifImageFile
        except ImportError:
            return None
        return HeifImageFile
    return None


def _looks_truncated(data: bytes, fmt: str) -> bool:
    """Does the data end before the format's end marker / declared length?"""
    if fmt == "jpeg":  # no EOI after the last scan (an EXIF thumbnail has its own EOI earlier)
        return data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda")
    if fmt == "png":
        return b"IEND" not in data[-4096:]
    if fmt == "gif":
        return not data.rstrip(b"\x00").endswith(b";")
    if fmt == "webp":
        return int.from_bytes(data[4:8], "little") + 8 > len(data)
    if fmt == "bmp":
        return int.from_bytes(data[2:6], "little") > len(data)
    return False


def _fail_reason(e: BaseException, data: bytes, fmt: str, limit: int) -> str:
    """Turn a decoder exception into a short reason."""
    name = fmt.upper()
    if isinstance(e, PILImage.DecompressionBombError):  # raised by a plugin (WebP canvas, GIF frame)
        m = re.search(r"\((\d+) pixels\)", str(e))
        n = int(m[1]) if m else 0
        if n > limit or not n:
            return f"image is {n:,} pixels, over the {_PIXEL_LIMIT_HINT.format(limit)}"
        return f"image is {n:,} pixels, over Pillow's decompression-bomb limit (PIL.Image.MAX_IMAGE_PIXELS)"
    if isinstance(e, MemoryError):
        return "not enough memory to decode this image"
    msg = str(e).strip()
    low = msg.lower()
    if (
        isinstance(e, (EOFError, struct.error))
        or any(k in low for k in ("truncated", "premature end", "requires a buffer"))
        or _looks_truncated(data, fmt)
    ):
        return f"truncated {name} data"
    msg = msg.splitlines()[0][:120] if msg else type(e).__name__
    return f"corrupt {name} data ({msg})"


# ---------------------------------------------------------------------------------------------------
# Pixel normalisation


def _to_uint8(a: np.ndarray) -> np.ndarray:
    """Map any integer/float/bool array to uint8."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == bool:
        return a.view(np.uint8) * np.uint8(255)
    if a.dtype.kind == "u" and a.dtype.itemsize == 2:  # 16-bit: high byte (exact for 257*k values)
        return (a >> 8).astype(np.uint8)
    f = a.astype(np.float32)
    np.nan_to_num(f, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(f.min()), float(f.max())) if f.size else (0.0, 0.0)
    if a.dtype.kind == "f" and lo >= 0 and hi <= 1:
        f *= 255
    elif lo >= 0 and hi <= 255:
        pass
    elif lo >= 0 and hi <= 65535:  # 16-bit data in a 32-bit mode (Pillow "I")
        f /= 257
    else:  # arbitrary range: stretch
        f -= lo
        f *= 255 / (hi - lo) if hi > lo else 0
    return np.clip(np.rint(f, out=f), 0, 255).astype(np.uint8)


def _to_rgb_array(a: np.ndarray) -> np.ndarray:
    """H x W (x 1|2|3|4) array of any dtype -> H x W x 3 uint8, alpha composited on white."""
    a = _to_uint8(a)
    if a.ndim == 2:
        a = a[:, :, None]
    c = a.shape[2]
    if c in (2, 4):  # composite on white, in row blocks to bound temporary memory
        out = np.empty(a.shape[:2] + (c - 1,), np.uint8)
        step = max(1, (1 << 20) // max(1, a.shape[1]))
        for y in range(0, a.shape[0], step):
            blk = a[y : y + step].astype(np.uint16)
            alpha, colour = blk[:, :, -1:], blk[:, :, :-1]
            # out = 255 - alpha * (255 - colour) / 255, rounded; stays within uint16
            out[y : y + step] = 255 - (alpha * (255 - colour) + 127) // 255
        a, c = out, c - 1
    if c == 1:
        a = np.repeat(a, 3, axis=2)
    elif c != 3:
        raise ValueError(f"{c} channels")
    return np.ascontiguousarray(a)


def _reduced(im: PILImage.Image, target: tuple[int, int]) -> PILImage.Image:
    """A large image box-reduced inside Pillow by the largest integer factor that stays >= target, so
    that the full-size pixels are never copied into numpy (a 100 MP PNG would need ~1 GB more).
    Pillow averages RGBA premultiplied, as an area resize of the composited image would."""
    k = min(im.size[0] // target[0], im.size[1] // target[1])
    if k < 2:
        return im
    im = _normal_mode(im)
    if im.mode not in ("L", "RGB", "RGBA", "I", "F"):  # 16-bit modes: numpy handles them at full size
        return im
    return im.reduce(k)


def _normal_mode(im: PILImage.Image) -> PILImage.Image:
    """Any Pillow mode -> L, RGB, RGBA, or an integer/float mode that `_to_uint8` maps."""
    mode = im.mode
    if mode in ("P", "PA"):
        return im.convert("RGBA" if mode == "PA" or "transparency" in im.info else "RGB")
    if mode in ("1", "L", "RGB") and "transparency" in im.info:
        return im.convert("RGBA")  # tRNS colour key
    if mode in ("LA", "La", "RGBa"):
        return im.convert("RGBA")
    if mode == "1":
        return im.convert("L")
    if mode not in ("L", "RGB", "RGBA") and not mode.startswith(("I", "F")):
        return im.convert("RGB")  # CMYK, YCbCr, RGBX, HSV, LAB...
    return im


def _pil_to_rgb(im: PILImage.Image) -> np.ndarray:
    """Any Pillow mode -> H x W x 3 uint8 RGB."""
    return _to_rgb_array(np.asarray(_normal_mode(im)))


# Orientation (EXIF tag 0x0112) as numpy ops on an H x W x C array.
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),  # rotate 90 degrees clockwise
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


def _orientation(im: PILImage.Image) -> int:
    """EXIF (or XMP) orientation; broken metadata counts as 1 (browsers still show the image)."""
    try:
        value = int(im.getexif().get(0x0112, 1))
    except Exception:
        return 1
    return value if value in _ORIENT else 1


def _target_size(w: int, h: int, max_side: int | None) -> tuple[int, int]:
    """Output size for a full-size w x h image: long side = max_side when larger."""
    if not max_side or max(w, h) <= max_side:
        return w, h
    s = max_side / max(w, h)
    return max(1, round(w * s)), max(1, round(h * s))


# ---------------------------------------------------------------------------------------------------
# Decoding


def _decode_jpeg_fast(data: bytes, im: PILImage.Image, target: tuple[int, int]) -> np.ndarray | None:
    """simplejpeg with DCT scaling (output >= target); None to fall back to Pillow."""
    if im.mode not in ("RGB", "L"):  # CMYK / YCCK: Pillow handles Adobe inversion
        return None
    w, h = im.size
    kw = {}
    if target != (w, h):
        kw = {"min_width": target[0], "min_height": target[1]}
    try:
        a = simplejpeg.decode_jpeg(data, "RGB", strict=True, **kw)
    except (ValueError, RuntimeError):
        return None  # Pillow decides: it tolerates recoverable warnings and reports real damage
    if a.shape[1] < target[0] or a.shape[0] < target[1]:
        return None
    return a


_MAX_JPEG_SCANS = 1000
_PIXEL_LIMIT_HINT = "pixel limit of {:,} (set BOUCLIER_MAX_PIXELS to raise it)"


def _check_pixels(w: int, h: int, fmt: str, limits: Limits) -> None:
    if w <= 0 or h <= 0:
        raise _Reject(f"corrupt {fmt.upper()} data (image has size {w}x{h})")
    if w * h > limits.max_pixels:
        hint = _PIXEL_LIMIT_HINT.format(limits.max_pixels)
        raise _Reject(f"image is {w}x{h} pixels ({w * h / 1e6:,.0f} MP), over the {hint}")


def _decode(data: bytes, fmt: str, limits: Limits, max_side: int | None) -> tuple[np.ndarray, int, int]:
    """Return (pixels, full width, full height) with orientation applied.

    Clean refusals raise _Reject; decoder exceptions propagate to `load`, which words them."""
    if fmt == "jpeg" and data.count(b"\xff\xda") > _MAX_JPEG_SCANS:
        # SOS markers cannot occur inside entropy-coded data (0xFF is stuffed), so this counts scans;
        # thousands of tiny progressive scans make libjpeg spin for minutes on a small file
        raise _Reject(f"corrupt JPEG data (over {_MAX_JPEG_SCANS} scans: refusing a decoder-stalling file)")
    factory = _factory(fmt)
    if factory is None:
        raise _Reject(f"unsupported format ({fmt.upper()} support is not installed)")
    im = factory(io.BytesIO(data))  # parses the header only
    try:
        w, h = im.size
        _check_pixels(w, h, fmt, limits)  # before any pixel memory is allocated
        target = _target_size(w, h, max_side)
        a = None
        if fmt == "jpeg":
            a = _decode_jpeg_fast(data, im, target)
        elif fmt == "webp" and target != (w, h):
            a = webp.decode_scaled(data, (w, h), target)
        if a is None:
            # Pillow's DCT scaling (output >= target) for CMYK JPEGs or when simplejpeg refused
            drafted = fmt == "jpeg" and target != (w, h) and im.draft("RGB", target) is not None
            im.load()
            if not drafted and im.size != (w, h):  # a GIF frame larger than its screen, HEIF...
                w, h = im.size
                _check_pixels(w, h, fmt, limits)
                target = _target_size(w, h, max_side)
            orientation = _orientation(im)  # after load: PNG may keep eXIf after the pixels
            a = _pil_to_rgb(_reduced(im, target) if not drafted else im)
        else:
            orientation = _orientation(im)
    finally:
        im.close()
    if (a.shape[1], a.shape[0]) != target:
        a = cv2.resize(a, target, interpolation=cv2.INTER_AREA)
    if orientation in (5, 6, 7, 8):
        w, h = h, w
    if orientation != 1:
        a = _ORIENT[orientation](a)
    return np.ascontiguousarray(a), w, h


class _Reject(Exception):
    """Internal: a clean reason to report as ImageError."""


def _read(path: str, limits: Limits) -> bytes:
    """Read a regular file, refusing folders, special files and files over the byte limit."""
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise _Reject("is a folder, not an image file")
        if not stat.S_ISREG(st.st_mode):
            raise _Reject("not a regular file")
        if st.st_size > limits.max_bytes:
            raise _Reject(_too_big(st.st_size, limits))
        # O_NONBLOCK: a file swapped for a FIFO after stat cannot block us
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise _Reject("not a regular file")
            return f.read(limits.max_bytes + 1)
    except (FileNotFoundError, NotADirectoryError):
        raise _Reject("broken link (its target is missing)" if os.path.islink(path) else "no such file") from None
    except PermissionError:
        raise _Reject("permission denied") from None
    except IsADirectoryError:
        raise _Reject("is a folder, not an image file") from None
    except OSError as e:
        raise _Reject(f"cannot read file ({e.strerror or e})") from None


def _too_big(size: int, limits: Limits) -> str:
    return (
        f"file is {size / 1e6:,.1f} MB, over the limit of {limits.max_bytes / 1e6:,.1f} MB "
        f"(set BOUCLIER_MAX_BYTES to raise it)"
    )


# ---------------------------------------------------------------------------------------------------
# Public functions


def load(
    source: str | os.PathLike | bytes,
    *,
    name: str | None = None,
    limits: Limits | None = None,
    max_side: int | None = None,
) -> Image:
    """Load an image file (path) or encoded image (bytes) safely.

    `max_side`: when set, the long side of `pixels` is reduced to it (JPEG decodes at reduced size).
    Raises ImageError for every problem with the input; nothing else for any bytes.
    """
    if max_side is not None and (not isinstance(max_side, int) or max_side < 1):
        raise ValueError(f"max_side must be a positive int or None, got {max_side!r}")
    if isinstance(source, (bytes, bytearray, memoryview)):
        label = name or "<bytes>"
    else:
        label = name or os.fsdecode(source)
    limits = limits or Limits.from_env()
    fmt, data = "?", b""
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
        else:
            data = _read(os.fspath(source), limits)
        if not data:
            raise _Reject("empty file")
        if len(data) > limits.max_bytes:
            raise _Reject(_too_big(len(data), limits))
        fmt, reason = _sniff(data)
        if fmt is None:
            raise _Reject(reason)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's bomb/EXIF/MPO warnings: we report errors only
            pixels, width, height = _decode(data, fmt, limits, max_side)
    except _Reject as e:
        raise ImageError(label, str(e)) from None
    except Exception as e:  # any decoder failure on hostile bytes becomes a clean reason
        raise ImageError(label, _fail_reason(e, data, fmt, limits.max_pixels)) from None
    return Image(pixels, label, hashlib.sha256(data).hexdigest(), fmt, width, height)


def load_array(pixels: np.ndarray, name: str = "<array>") -> Image:
    """Wrap an in-memory array (H x W x 3 RGB; gray, RGBA and non-uint8 are normalised).

    sha256 is of the normalised array's raw bytes; format is "raw".
    """
    a = np.asarray(pixels)
    channels = a.shape[2] if a.ndim == 3 else 1
    if a.ndim not in (2, 3) or a.shape[0] < 1 or a.shape[1] < 1 or channels not in (1, 2, 3, 4):
        raise ImageError(name, f"array of shape {a.shape} is not an image (expected H x W x 3)")
    if a.dtype.kind not in "uifb":
        raise ImageError(name, f"array of dtype {a.dtype} is not an image")
    a = _to_rgb_array(a)
    return Image(a, name, hashlib.sha256(a.tobytes()).hexdigest(), "raw", a.shape[1], a.shape[0])


def find_images(paths: Iterable[str | os.PathLike], recursive: bool = True) -> list[Path]:
    """Expand files and folders into the list of files to load.

    Files given explicitly are kept as given (even missing ones or ones of any type, so the loader
    reports them). Folders are walked in sorted order (recursively unless `recursive=False`),
    skipping hidden files and folders, non-regular files, folder symlinks (no loops) and files whose
    suffix is in SKIP_SUFFIXES (sidecars such as Google Takeout .json, documents, videos, bundles):
    reporting thousands of sidecars as "not an image" would bury real problems. Broken file links are
    listed, so that the loader reports them (a photo on an unmounted drive). Any other file is
    included whatever its extension; content decides (an image named .dat still loads). Unreadable
    sub-folders are skipped. Duplicates (same real path) are listed once.
    """
    out: list[Path] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            out.append(p)

    for given in paths:
        root = Path(given)
        if not root.is_dir():
            add(root)
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
            for fn in sorted(files):
                p = Path(folder, fn)
                if fn.startswith(".") or p.suffix.lower() in SKIP_SUFFIXES:
                    continue
                try:
                    if not stat.S_ISREG(p.stat().st_mode):
                        continue
                except OSError:  # a broken link is listed (a photo the user thinks is there); a vanished file is not
                    if not p.is_symlink():
                        continue
                add(p)
    return out


def load_many(
    paths: Iterable[str | os.PathLike],
    *,
    limits: Limits | None = None,
    max_side: int | None = None,
) -> Iterator[Image | ImageError]:
    """Load each path in turn; a bad file yields its ImageError in its place and the batch goes on."""
    limits = limits or Limits.from_env()
    for p in paths:
        try:
            yield load(p, limits=limits, max_side=max_side)
        except ImageError as e:
            yield e
        except Exception as e:  # a bug must not stop a batch either
            yield ImageError(os.fsdecode(p), unexpected(e))


def encode_jpeg(pixels: np.ndarray, quality: int = 90, subsampling: str = "420") -> bytes:
    """Encode H x W x 3 RGB (or H x W gray) uint8 as JPEG; 4:2:0 by default, like platforms."""
    a = np.asarray(pixels)
    if a.dtype != np.uint8:
        raise ValueError("encode_jpeg needs uint8 pixels")
    if not 1 <= quality <= 100:
        raise ValueError("quality must be in 1..100")
    if a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 1):
        gray = np.ascontiguousarray(a.reshape(a.shape[0], a.shape[1], 1))
        return simplejpeg.encode_jpeg(gray, quality, "GRAY")
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"encode_jpeg needs H x W x 3 RGB, got shape {a.shape}")
    return simplejpeg.encode_jpeg(np.ascontiguousarray(a), quality, "RGB", subsampling)
