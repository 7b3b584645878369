"""WebP decoded at reduced size by libwebp's own scaler, for `load`.

Pillow decodes WebP only at full size, and its decoder holds about 15 bytes per pixel (791 MB peak
for a 48 MP upload). libwebp can scale while it decodes: lossy images are decoded a few rows at a time
into an area-averaged output, so only the output is held (lossless ones still keep 4 bytes per pixel).
This calls the libwebp that Pillow's wheel ships (else the system's) through ctypes, with the stable
decoder ABI of libwebp's decode.h. `decode_scaled` returns None whenever it cannot decode (animation,
damaged data, no library): Pillow then decodes and words the error, as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import glob
import os
from ctypes import c_int, c_size_t, c_uint32, c_void_p

import numpy as np
import PIL

_ABI = 0x0209  # WEBP_DECODER_ABI_VERSION (major byte 2 since libwebp 0.5; 1.x keeps it)
_MODE_RGB, _MODE_RGBA_PREMULTIPLIED = 0, 7  # WEBP_CSP_MODE: MODE_RGB, MODE_rgbA


class _Features(ctypes.Structure):
    _fields_ = [("width", c_int), ("height", c_int), ("has_alpha", c_int), ("has_animation", c_int),
                ("format", c_int), ("pad", c_uint32 * 5)]


class _RGBA(ctypes.Structure):
    _fields_ = [("rgba", c_void_p), ("stride", c_int), ("size", c_size_t)]


class _YUVA(ctypes.Structure):
    _fields_ = [(n, c_void_p) for n in "yuva"] + [(n + "_stride", c_int) for n in "yuva"] + [
        (n + "_size", c_size_t) for n in "yuva"]


class _Planes(ctypes.Union):
    _fields_ = [("RGBA", _RGBA), ("YUVA", _YUVA)]


class _Buffer(ctypes.Structure):
    _fields_ = [("colorspace", c_int), ("width", c_int), ("height", c_int), ("is_external_memory", c_int),
                ("u", _Planes), ("pad", c_uint32 * 4), ("private_memory", c_void_p)]


class _Options(ctypes.Structure):
    _fields_ = [(n, c_int) for n in (
        "bypass_filtering", "no_fancy_upsampling", "use_cropping", "crop_left", "crop_top", "crop_width",
        "crop_height", "use_scaling", "scaled_width", "scaled_height", "use_threads", "dithering_strength",
        "flip", "alpha_dithering_strength")] + [("pad", c_uint32 * 5)]


class _Config(ctypes.Structure):
    _fields_ = [("input", _Features), ("output", _Buffer), ("options", _Options)]


def _candidates() -> list[str]:
    """Pillow's bundled libwebp (manylinux wheels put it in site-packages/pillow.libs), then the system's."""
    site = os.path.dirname(os.path.dirname(PIL.__file__))
    system = ctypes.util.find_library("webp")
    return sorted(glob.glob(os.path.join(site, "pillow.libs", "libwebp-*.so*"))) + ([system] if system else [])


@functools.cache
def _lib():
    """The loaded libwebp with typed entry points, or None."""
    if ctypes.sizeof(_Config) != 240 or ctypes.sizeof(c_void_p) != 8:  # the layout below is for LP64
        return None
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
            init, decode = lib.WebPInitDecoderConfigInternal, lib.WebPDecode
            features, free = lib.WebPGetFeaturesInternal, lib.WebPFreeDecBuffer
        except (OSError, AttributeError):
            continue
        init.argtypes, init.restype = [ctypes.POINTER(_Config), c_int], c_int
        features.argtypes, features.restype = [ctypes.c_char_p, c_size_t, ctypes.POINTER(_Features), c_int], c_int
        decode.argtypes, decode.restype = [ctypes.c_char_p, c_size_t, ctypes.POINTER(_Config)], c_int
        free.argtypes, free.restype = [ctypes.POINTER(_Buffer)], None
        return lib
    return None


def available() -> bool:
    return _lib() is not None


def decode_scaled(data: bytes, full: tuple[int, int], size: tuple[int, int]) -> np.ndarray | None:
    """A still WebP of `full` (w, h) pixels decoded straight to `size`: H x W x 3 RGB, alpha composited
    on white. None when libwebp is missing, refuses the file, sees another size or an animation."""
    lib = _lib()
    if lib is None:
        return None
    cfg = _Config()
    if not lib.WebPInitDecoderConfigInternal(ctypes.byref(cfg), _ABI):
        return None
    f = cfg.input
    if lib.WebPGetFeaturesInternal(data, len(data), ctypes.byref(f), _ABI) != 0 or f.has_animation:
        return None
    if (f.width, f.height) != full:
        return None
    w, h = size
    channels = 4 if f.has_alpha else 3
    out = np.empty((h, w, channels), np.uint8)
    o = cfg.options
    o.use_scaling, o.scaled_width, o.scaled_height, o.use_threads = 1, w, h, 0
    b = cfg.output
    b.colorspace = _MODE_RGBA_PREMULTIPLIED if channels == 4 else _MODE_RGB
    b.is_external_memory = 1
    b.u.RGBA.rgba, b.u.RGBA.stride, b.u.RGBA.size = out.ctypes.data, w * channels, out.nbytes
    try:
        status = lib.WebPDecode(data, len(data), ctypes.byref(cfg))
    finally:
        lib.WebPFreeDecBuffer(ctypes.byref(b))
    if status != 0:
        return None
    if channels == 4:  # premultiplied: on white, colour + (255 - alpha)
        return np.minimum(out[..., :3] + (255 - out[..., 3:]).astype(np.uint16), 255).astype(np.uint8)
    return out
