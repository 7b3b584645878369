"""Images shown to reviewers: a blurred greyscale preview by default, a bounded clear copy on reveal."""

from __future__ import annotations

import base64
import io

from PIL import Image, ImageFilter

from ..load import load

PREVIEW_SIDE = 360
CLEAR_SIDE = 1024


def _open(data: bytes, side: int) -> Image.Image:
    """Through bouclier's loader (its size limits, EXIF orientation, reduced-size JPEG decode); raises
    ImageError for anything it refuses."""
    return Image.fromarray(load(data, name="suspect", max_side=side).pixels)


def blurred_preview(data: bytes, side: int = PREVIEW_SIDE) -> bytes:
    """Greyscale, downscaled and strongly blurred: enough to see the layout, not the content."""
    im = _open(data, side).convert("L")
    im = im.resize((max(1, im.width // 8), max(1, im.height // 8)), Image.Resampling.BOX)
    im = im.resize((im.width * 8, im.height * 8), Image.Resampling.BILINEAR)
    im = im.filter(ImageFilter.GaussianBlur(max(im.size) / 30))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def clear_data_uri(data: bytes, side: int = CLEAR_SIDE) -> str:
    """The suspect as an inline data: URI (no URL that could be fetched, cached or shared)."""
    im = _open(data, side)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
