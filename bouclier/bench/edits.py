"""Benign edit simulation for the benchmark, with ground truth.

Hard line: region replacement uses benign fills only (OpenCV inpainting, a patch or texture from another
photo, blur, noise, a colour-shifted copy of the region). No generative model, nothing sexual. The
scenario is "the body below the head was replaced while face and background survive"; what fills the
region is deliberately plain.

Platform transforms follow, single or chained. The edited mask and the 2x3 affine matrix that maps
original pixel coordinates to suspect pixel coordinates are carried through every geometric transform,
so that localisation can be scored in the suspect's frame. Pixel coordinates are pixel centres
(0 .. w-1), the convention of ``cv2.warpAffine``.

All randomness comes from the ``numpy.random.Generator`` passed in: one seed, one derivative.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import cv2
import numpy as np
import simplejpeg
from PIL import Image

AREAS = (0.10, 0.25, 0.40, 0.60)
FILLS = ["telea", "ns", "patch", "texture", "blur", "noise", "colour"]
SHAPES = ["ellipse", "rect", "polygon"]
TRANSFORM_NAMES = ["jpeg", "webp", "resize", "crop", "pad", "screenshot", "hflip", "rot90", "rotate",
                   "overlay_text", "logo", "colour", "blur", "sharpen"]
GEOMETRIC = {"resize", "crop", "pad", "screenshot", "hflip", "rot90", "rotate"}
ENCODERS = {"jpeg", "webp"}

HEAD_FRACTION = 0.20  # top of each person's box that is kept (the head)
MIN_PERSON_BODY = 0.01  # below this fraction of the image, a person mask is too small to use


@dataclass
class Derivative:
    pixels: np.ndarray  # RGB uint8, the suspect image
    edited_mask: np.ndarray  # bool, suspect frame: where the region replacement landed (not overlays)
    area: float  # target edited fraction of the original (0 for unedited copies)
    fill: str | None
    shape: str | None  # "person" | "ellipse" | "rect" | "polygon"
    transforms: list[str] = field(default_factory=list)  # labels, e.g. ["crop:0.35", "jpeg:42"]
    matrix: np.ndarray = field(default_factory=lambda: np.eye(3)[:2])  # original -> suspect, 2x3

    @property
    def achieved_area(self) -> float:
        """Edited fraction of the suspect frame (after crops and pads, not the target)."""
        return float(self.edited_mask.mean())


# ---------------------------------------------------------------- regions


def _select_nearest(dist: np.ndarray, cand: np.ndarray, k: int) -> np.ndarray:
    """The k candidate pixels with the smallest `dist` (ties broken by position): exact counts."""
    idx = np.flatnonzero(cand)
    if k >= idx.size:
        return cand.copy()
    out = np.zeros(cand.size, bool)
    if k > 0:
        d = dist.ravel()[idx]
        out[idx[np.argpartition(d, k - 1)[:k]]] = True
    return out.reshape(cand.shape)


def _grow(mask: np.ndarray, want: int, allowed: np.ndarray) -> np.ndarray:
    """Dilate `mask` (by distance) inside `allowed` until it has `want` pixels, where room allows."""
    have = int(mask.sum())
    if have >= want:
        return mask
    dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)
    return mask | _select_nearest(dist, allowed & ~mask, want - have)


def _shrink(mask: np.ndarray, want: int) -> np.ndarray:
    """Erode `mask` (by distance to its edge) to its `want` deepest pixels."""
    if int(mask.sum()) <= want:
        return mask
    pad = cv2.copyMakeBorder(mask.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    dist = cv2.distanceTransform(pad, cv2.DIST_L2, 5)[1:-1, 1:-1]
    return _select_nearest(-dist, mask, want)


def _person_parts(person: np.ndarray, boxes=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(body below the head, the heads, the no-go zone for growth) of a binary person mask.

    Each person keeps the top HEAD_FRACTION of its box: the boxes given (one per person, [x, y, w, h]
    in mask pixels) and the box of each connected part of the mask. People who touch merge into one
    part, so without boxes the heads of a front row below a back row are not known; pass the boxes
    where the corpus has them. Growth never enters a head's box widened by 15 % nor anything above it,
    so a grown region cannot wrap around a face.
    """
    h, w = person.shape
    n, lab, stats, _ = cv2.connectedComponentsWithStats(person.astype(np.uint8), connectivity=8)
    heads = np.zeros((h, w), bool)
    nogo = np.zeros((h, w), bool)
    for i in range(1, n):
        x, y, bw, bh, _a = stats[i]
        cut = y + max(1, int(np.ceil(HEAD_FRACTION * bh)))
        heads[y:cut, x : x + bw] |= lab[y:cut, x : x + bw] == i
        mx = int(0.15 * bw)
        nogo[:cut, max(0, x - mx) : x + bw + mx] = True
    for bx, by, bw, bh in boxes or ():
        x0, y0 = max(0, int(np.floor(bx))), max(0, int(np.floor(by)))
        x1 = min(w, int(np.ceil(bx + bw)))
        cut = min(h, int(np.ceil(by + HEAD_FRACTION * bh)))
        if x1 <= x0 or cut <= y0:
            continue
        heads[y0:cut, x0:x1] |= person[y0:cut, x0:x1]
        mx = int(0.15 * bw)
        nogo[:cut, max(0, x0 - mx) : min(w, x1 + mx)] = True
    body = person & ~heads
    return body, heads, nogo


def _raster(kind: str, hw: tuple[int, int], params: dict, s: float) -> np.ndarray:
    """Shape `kind` scaled by `s` (in units of sqrt(h*w)), as a uint8 0/1 mask."""
    h, w = hw
    m = np.zeros((h, w), np.uint8)
    u = s * np.sqrt(h * w)
    cx, cy = params["cx"], params["cy"]
    if kind == "ellipse":
        ax = (max(1, int(round(u * params["rx"]))), max(1, int(round(u * params["ry"]))))
        cv2.ellipse(m, (int(round(cx)), int(round(cy))), ax, params["angle"], 0, 360, 1, -1)
    elif kind == "rect":
        rw, rh = u * params["rx"], u * params["ry"]
        x0, y0 = int(round(cx - rw)), int(round(cy - rh))
        x1, y1 = int(round(cx + rw)), int(round(cy + rh))
        m[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = 1
    else:  # polygon: star-shaped around (cx, cy)
        pts = np.stack([cx + u * params["px"], cy + u * params["py"]], 1)
        cv2.fillPoly(m, [np.round(pts).astype(np.int32)], 1)
    return m


def _fit_scale(kind: str, hw: tuple[int, int], params: dict, want: int, extra: np.ndarray | None = None,
               allowed: np.ndarray | None = None) -> np.ndarray:
    """Bisection on the scale of a shape so that its (clipped) area, or its union with `extra`, is `want`."""

    def make(s: float) -> np.ndarray:
        m = _raster(kind, hw, params, s) > 0
        if allowed is not None:
            m &= allowed
        return m | extra if extra is not None else m

    lo, hi = 0.0, 0.5
    while make(hi).sum() < want and hi < 64:
        lo, hi = hi, hi * 2
    best = make(hi)
    for _ in range(18):
        mid = (lo + hi) / 2
        m = make(mid)
        if m.sum() >= want:
            hi, best = mid, m
        else:
            lo = mid
        if abs(int(best.sum()) - want) <= max(4, want // 400):
            break
    return best


def _shape_params(kind: str, hw: tuple[int, int], rng: np.random.Generator, centre=None) -> dict:
    """Body-like proportions: taller than wide, centred low in the frame."""
    h, w = hw
    if centre is None:
        centre = (w * rng.uniform(0.38, 0.62), h * rng.uniform(0.55, 0.72))
    tall = rng.uniform(1.1, 1.8)  # height / width
    p = {"cx": float(centre[0]), "cy": float(centre[1]), "rx": 1 / np.sqrt(tall), "ry": np.sqrt(tall),
         "angle": float(rng.uniform(-15, 15))}
    if kind == "polygon":
        k = int(rng.integers(5, 10))
        ang = np.sort((np.arange(k) + rng.uniform(-0.35, 0.35, k)) * 2 * np.pi / k)
        rad = rng.uniform(0.65, 1.0, k)
        p["px"] = rad * np.cos(ang) * p["rx"]
        p["py"] = rad * np.sin(ang) * p["ry"]
    return p


def region_mask(shape_hw: tuple[int, int], area: float, rng: np.random.Generator,
                person_mask: np.ndarray | None = None, person_boxes=None) -> tuple[np.ndarray, str]:
    """A region of about `area` of the image, and the name of its shape.

    With a person mask (255 = person) whose body is at least 1 % of the image: the body below each head,
    eroded (deepest pixels kept) or grown (by distance, or as a union with a lower-central ellipse)
    to the target area; growth never enters a head or the zone above it, so it may fall short when
    the heads leave no room (then it grows around the heads, keeping a margin). `person_boxes`
    ([x, y, w, h] per person, in the person mask's pixels) locate each head in a crowd. Without a
    mask: a lower-central ellipse, rectangle or polygon of that area. Areas are met to within a few
    pixels unless the heads leave no room.
    """
    h, w = int(shape_hw[0]), int(shape_hw[1])
    want = int(round(area * h * w))
    if person_mask is not None:
        pm = np.asarray(person_mask)
        if pm.ndim == 3:
            pm = pm[..., 0]
        boxes = [tuple(float(v) for v in b[:4]) for b in (person_boxes or ())]
        if pm.shape != (h, w):
            fx, fy = w / pm.shape[1], h / pm.shape[0]
            boxes = [(x * fx, y * fy, bw * fx, bh * fy) for x, y, bw, bh in boxes]
            pm = cv2.resize(pm.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        person = pm > 127
        body, heads, nogo = _person_parts(person, boxes)
        if body.sum() >= MIN_PERSON_BODY * h * w:
            have = int(body.sum())
            if have > want:
                return _shrink(body, want), "person"
            allowed = ~nogo
            if rng.random() < 0.5:
                m = _grow(body, want, allowed)
            else:
                ys, xs = np.nonzero(body)
                centre = (float(xs.mean()), float(np.clip(ys.mean() + 0.1 * (ys.max() - ys.min()), 0, h - 1)))
                params = _shape_params("ellipse", (h, w), rng, centre)
                m = _fit_scale("ellipse", (h, w), params, want, extra=body, allowed=allowed)
                if m.sum() > want:  # trim the bisection's last step: drop the added pixels farthest out
                    dist = cv2.distanceTransform((~body).astype(np.uint8), cv2.DIST_L2, 5)
                    m = body | _select_nearest(dist, m & ~body, want - have)
                m = _grow(m, want, allowed)  # top up where the ellipse hit the no-go zone
            if m.sum() < 0.98 * want:
                # Heads (or the zone above them) leave too little room: grow around the heads instead,
                # still keeping a margin of 3 % of the image around each head.
                r = max(2, int(0.03 * min(h, w)))
                disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
                near = cv2.dilate(heads.astype(np.uint8), disc)
                m = _grow(m, want, near == 0)
            return m, "person"
    kind = SHAPES[int(rng.integers(len(SHAPES)))]
    params = _shape_params(kind, (h, w), rng)
    return _fit_scale(kind, (h, w), params, want), kind


# ---------------------------------------------------------------- fills


def _bbox(mask: np.ndarray, margin: int) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    h, w = mask.shape
    return (max(0, int(ys[0]) - margin), min(h, int(ys[-1]) + 1 + margin),
            max(0, int(xs[0]) - margin), min(w, int(xs[-1]) + 1 + margin))


def _inpaint(crop: np.ndarray, m: np.ndarray, method: int) -> np.ndarray:
    """OpenCV inpainting at reduced resolution (long side <= 128 px), the fill upscaled back."""
    h, w = m.shape
    s = min(1.0, 128 / max(h, w))
    sw, sh = max(2, round(w * s)), max(2, round(h * s))
    small = cv2.resize(crop, (sw, sh), interpolation=cv2.INTER_AREA) if s < 1 else crop
    sm = cv2.resize(m.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA) if s < 1 else m.astype(np.float32)
    sm = cv2.dilate((sm > 0.01).astype(np.uint8), np.ones((3, 3), np.uint8))
    filled = cv2.inpaint(small, sm, 3, method)
    return cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC) if s < 1 else filled


def _self_donor(pixels: np.ndarray) -> np.ndarray:
    """Without another photo: the same photo turned half a turn (a clone-stamp from elsewhere)."""
    return np.ascontiguousarray(pixels[::-1, ::-1])


def _rgb(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 2:
        a = np.stack([a] * 3, axis=2)
    if a.shape[2] == 4:
        a = a[..., :3]
    return np.ascontiguousarray(a.astype(np.uint8, copy=False))


def replace_region(pixels: np.ndarray, mask: np.ndarray, fill: str, rng: np.random.Generator,
                   donor: np.ndarray | None) -> np.ndarray:
    """The region under `mask` replaced by a benign fill; pixels outside `mask` are left untouched.

    Fills: "telea" / "ns" OpenCV inpainting (at <= 128 px, upscaled: a smooth blur-inpaint); "patch" a
    piece of `donor` (another photo) scaled to cover the region, its mean colour pulled part-way to the
    surroundings; "texture" a small donor tile, mirror-tiled; "blur" a strong Gaussian blur; "noise" the
    region's smoothed colours under strong Gaussian grain; "colour" the same region with its hue rotated
    30-150 degrees, saturation and brightness changed. Without a donor, patch and texture take from the
    photo itself turned half a turn.

    The boundary is feathered inward: the fill's weight ramps from ~0 at the mask's edge to 1 at 2-5 px
    inside it (smoothstep on the distance to the edge), so edges blend and the ground truth stays the
    mask itself. Work is done on the mask's bounding box (plus a margin) for speed.
    """
    if fill not in FILLS:
        raise ValueError(f"unknown fill {fill!r}; one of {FILLS}")
    pixels = _rgb(pixels)
    mask = np.asarray(mask, bool)
    out = pixels.copy()
    if not mask.any():
        return out
    h, w = mask.shape
    margin = max(8, int(0.04 * max(h, w)))
    y0, y1, x0, x1 = _bbox(mask, margin)
    crop, m = pixels[y0:y1, x0:x1], mask[y0:y1, x0:x1]
    ch, cw = m.shape
    feather = float(rng.uniform(2.0, 5.0))

    m8 = m.astype(np.uint8)
    if fill in ("telea", "ns"):
        src = _inpaint(crop, m, cv2.INPAINT_TELEA if fill == "telea" else cv2.INPAINT_NS)
    elif fill == "patch":
        d = _rgb(donor) if donor is not None else _self_donor(pixels)
        dh, dw = d.shape[:2]
        s = max(ch / dh, cw / dw) * rng.uniform(1.0, 1.5)
        big = cv2.resize(d, (max(cw, int(np.ceil(dw * s))), max(ch, int(np.ceil(dh * s)))),
                         interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        yy = int(rng.integers(0, big.shape[0] - ch + 1))
        xx = int(rng.integers(0, big.shape[1] - cw + 1))
        src = np.ascontiguousarray(big[yy : yy + ch, xx : xx + cw])
        # a touch of colour matching to the surroundings, as a clone tool user would do
        k = rng.uniform(0.3, 0.7)
        shift = k * (np.array(cv2.mean(crop, m8)[:3]) - np.array(cv2.mean(src, m8)[:3]))
        src = cv2.add(src, (*shift.tolist(), 0.0))
    elif fill == "texture":
        d = _rgb(donor) if donor is not None else _self_donor(pixels)
        dh, dw = d.shape[:2]
        t = int(min(dh, dw, rng.integers(32, 97)))
        ty, tx = int(rng.integers(0, dh - t + 1)), int(rng.integers(0, dw - t + 1))
        tile = d[ty : ty + t, tx : tx + t]
        block = np.concatenate([np.concatenate([tile, tile[:, ::-1]], 1),
                                np.concatenate([tile[::-1], tile[::-1, ::-1]], 1)], 0)  # mirrored: no seams
        src = np.ascontiguousarray(np.tile(block, (ch // (2 * t) + 1, cw // (2 * t) + 1, 1))[:ch, :cw])
    elif fill == "blur":
        f = 4
        small = cv2.resize(crop, (max(2, cw // f), max(2, ch // f)), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), rng.uniform(3.0, 6.0), borderType=cv2.BORDER_REFLECT)
        src = cv2.resize(small, (cw, ch), interpolation=cv2.INTER_LINEAR)
    elif fill == "noise":
        # the region's own colours, smoothed away, under strong Gaussian grain: the content is replaced
        f = 8
        small = cv2.resize(crop, (max(2, cw // f), max(2, ch // f)), interpolation=cv2.INTER_AREA)
        base = cv2.resize(cv2.GaussianBlur(small, (0, 0), 2.0), (cw, ch), interpolation=cv2.INTER_LINEAR)
        cv2.setRNGSeed(int(rng.integers(2**31 - 1)))  # OpenCV's generator, seeded from ours: fast normals
        noise = np.empty((ch, cw, 3), np.int16)
        cv2.randn(noise, 0.0, float(rng.uniform(20, 45)))
        src = cv2.add(base, noise, dtype=cv2.CV_8U)
    else:  # colour: hue rotation, saturation change, and a brightness shift (so grey regions change too)
        ramp = np.arange(256, dtype=np.float32)
        hue = np.mod(ramp + rng.uniform(15, 75), 180)  # 30-150 degrees (OpenCV hue is 0-179)
        sat = ramp * rng.uniform(0.4, 1.8) + rng.uniform(20, 60)
        val = ramp + rng.choice([-1, 1]) * rng.uniform(20, 45)
        lut = np.clip(np.stack([hue, sat, val], 1) + 0.5, 0, 255).astype(np.uint8).reshape(256, 1, 3)
        src = cv2.cvtColor(cv2.LUT(cv2.cvtColor(crop, cv2.COLOR_RGB2HSV), lut), cv2.COLOR_HSV2RGB)

    dist = cv2.distanceTransform(m8, cv2.DIST_L2, 5)
    a = np.minimum(dist * np.float32(1 / feather), np.float32(1))
    a = a * a * (3 - 2 * a)  # smoothstep: 0 outside the mask, 1 past the feather
    blended = cv2.blendLinear(np.ascontiguousarray(src, np.uint8), np.ascontiguousarray(crop), a, 1 - a)
    np.copyto(out[y0:y1, x0:x1], blended, where=m[..., None])  # outside the mask: never written
    return out


# ---------------------------------------------------------------- transforms


def _h(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0.0, 0.0, 1.0]])


def _compose(t, mat) -> np.ndarray:
    """t after mat, both 2x3."""
    return (_h(np.asarray(t, np.float64)) @ _h(np.asarray(mat, np.float64)))[:2]


def _warp(px, mask, mat, t, size, border=(0, 0, 0), mode=cv2.BORDER_CONSTANT):
    t = np.asarray(t, np.float64)
    out = cv2.warpAffine(px, t, size, flags=cv2.INTER_LINEAR, borderMode=mode, borderValue=border)
    m = cv2.warpAffine(mask.astype(np.uint8), t, size, flags=cv2.INTER_NEAREST,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
    return out, m, _compose(t, mat)


def _scale_into(px, mask, mat, s: float, canvas_wh: tuple[int, int], x0: int, y0: int, bg) -> tuple:
    """Resize by s and place at (x0, y0) on a flat canvas; exact matrix for the pixel-centre convention."""
    h, w = px.shape[:2]
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    sx, sy = nw / w, nh / h
    small = cv2.resize(px, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    # mask: coverage >= 1/2 (area for shrinking, linear for enlarging; both pixel-centre aligned)
    msmall = cv2.resize(mask.astype(np.float32), (nw, nh),
                        interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR) >= 0.5
    cw, ch = canvas_wh
    out = np.empty((ch, cw, 3), np.uint8)
    out[:] = bg
    m = np.zeros((ch, cw), bool)
    out[y0 : y0 + nh, x0 : x0 + nw] = small
    m[y0 : y0 + nh, x0 : x0 + nw] = msmall
    t = [[sx, 0, 0.5 * sx - 0.5 + x0], [0, sy, 0.5 * sy - 0.5 + y0]]
    return out, m, _compose(t, mat)


def _encode(px: np.ndarray, kind: str, q: int) -> np.ndarray:
    if kind == "jpeg":
        buf = simplejpeg.encode_jpeg(np.ascontiguousarray(px), quality=q, colorspace="RGB", colorsubsampling="420")
        return simplejpeg.decode_jpeg(buf, colorspace="RGB")
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, "WEBP", quality=q, method=2)  # a fast encoder setting, as upload pipelines use
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _blend_layer(px: np.ndarray, layer: np.ndarray, alpha: np.ndarray, opacity: float) -> np.ndarray:
    """`layer` over `px` where the uint8 `alpha` map is set, at `opacity`; only its bounding box is touched."""
    out = px.copy()
    x, y, w, h = cv2.boundingRect(alpha)
    if w == 0 or h == 0:
        return out
    a = alpha[y : y + h, x : x + w].astype(np.float32) * np.float32(opacity / 255)
    if layer.ndim == 1:  # one colour
        lay = np.empty((h, w, 3), np.uint8)
        lay[:] = layer
    else:
        lay = np.ascontiguousarray(layer[y : y + h, x : x + w])
    out[y : y + h, x : x + w] = cv2.blendLinear(lay, np.ascontiguousarray(px[y : y + h, x : x + w]), a, 1 - a)
    return out


def _stamp(px: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A semi-transparent "FAKE" stamp, 15-40 % of the width, tilted, somewhere on the image."""
    h, w = px.shape[:2]
    font = cv2.FONT_HERSHEY_DUPLEX
    (uw, uh), _ = cv2.getTextSize("FAKE", font, 1.0, 2)
    scale = max(0.3, rng.uniform(0.15, 0.4) * w / uw)
    thick = max(1, int(round(scale * 2.2)))
    (tw, th), base = cv2.getTextSize("FAKE", font, scale, thick)
    x = int(rng.uniform(0, max(1, w - tw)))
    y = int(rng.uniform(th, max(th + 1, h - base)))
    a = np.zeros((h, w), np.uint8)
    cv2.putText(a, "FAKE", (x, y), font, scale, 255, thick, cv2.LINE_AA)
    pad = max(2, thick * 2)
    if rng.random() < 0.5:  # rubber-stamp frame
        cv2.rectangle(a, (x - pad, y - th - pad), (x + tw + pad, y + base + pad), 255, max(1, thick // 2), cv2.LINE_AA)
    rot = cv2.getRotationMatrix2D((x + tw / 2, y - th / 2), rng.uniform(-25, 25), 1.0)
    a = cv2.warpAffine(a, rot, (w, h), flags=cv2.INTER_LINEAR)
    colours = [(220, 30, 30), (255, 255, 255), (20, 20, 20), (230, 200, 40)]
    colour = np.array(colours[int(rng.integers(len(colours)))], np.uint8)
    return _blend_layer(px, colour, a, rng.uniform(0.5, 0.9))


def _logo(px: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A simple watermark logo (disc with a bar, or a triangle) near a corner."""
    h, w = px.shape[:2]
    r = max(4, int(min(h, w) * rng.uniform(0.05, 0.1)))
    m = int(r * rng.uniform(0.3, 1.0))
    cx = r + m if rng.random() < 0.5 else w - r - m
    cy = r + m if rng.random() < 0.5 else h - r - m
    a = np.zeros((h, w), np.uint8)
    layer = px.copy()
    c1 = tuple(int(v) for v in rng.integers(0, 256, 3))
    c2 = tuple(int(v) for v in 255 - np.array(c1))
    if rng.random() < 0.5:
        cv2.circle(a, (cx, cy), r, 255, -1, cv2.LINE_AA)
        cv2.circle(layer, (cx, cy), r, c1, -1, cv2.LINE_AA)
        cv2.rectangle(layer, (cx - r // 2, cy - r // 5), (cx + r // 2, cy + r // 5), c2, -1)
    else:
        pts = np.array([[cx, cy - r], [cx - r, cy + r], [cx + r, cy + r]], np.int32)
        cv2.fillPoly(a, [pts], 255, cv2.LINE_AA)
        cv2.fillPoly(layer, [pts], c1, cv2.LINE_AA)
        cv2.circle(layer, (cx, cy + r // 3), max(2, r // 3), c2, -1, cv2.LINE_AA)
    return _blend_layer(px, layer, a, rng.uniform(0.5, 0.9))


def _screenshot(px, mask, mat, rng):
    """The image inside a phone screenshot: flat UI bars with text on top and bottom, margins around."""
    h, w = px.shape[:2]
    portrait = rng.random() < 0.7
    cw = int(rng.choice([540, 720])) if portrait else int(rng.choice([960, 1280]))
    ch = int(cw * (rng.uniform(1.9, 2.2) if portrait else rng.uniform(0.56, 0.63)))
    top, bottom = int(ch * rng.uniform(0.04, 0.08)), int(ch * rng.uniform(0.06, 0.12))
    side = int(cw * rng.uniform(0.0, 0.04))
    avail_w, avail_h = cw - 2 * side, ch - top - bottom - int(ch * 0.04)
    s = min(avail_w / w, avail_h / h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    x0 = (cw - nw) // 2
    y0 = top + int(rng.uniform(0, max(1, avail_h - nh)))
    dark = rng.random() < 0.5
    bg = (16, 16, 18) if dark else (248, 248, 248)
    out, m, mt = _scale_into(px, mask, mat, s, (cw, ch), x0, y0, bg)
    bar = tuple(int(v) for v in (rng.integers(20, 90, 3) if dark else rng.integers(170, 250, 3)))
    fg = (235, 235, 235) if dark else (25, 25, 25)
    out[:top] = bar
    out[ch - bottom :] = bar
    m[:top] = False
    m[ch - bottom :] = False
    fs = top / 45
    cv2.putText(out, f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}", (int(cw * 0.04), int(top * 0.7)),
                cv2.FONT_HERSHEY_SIMPLEX, fs, fg, max(1, int(fs * 2)), cv2.LINE_AA)
    cv2.putText(out, f"{int(rng.integers(5, 100))}%", (int(cw * 0.85), int(top * 0.7)),
                cv2.FONT_HERSHEY_SIMPLEX, fs, fg, max(1, int(fs * 2)), cv2.LINE_AA)
    fb = bottom / 70
    cv2.putText(out, f"@user{int(rng.integers(100, 9999))}  Like  Comment  Share", (int(cw * 0.04), ch - bottom // 2),
                cv2.FONT_HERSHEY_SIMPLEX, fb, fg, max(1, int(fb * 2)), cv2.LINE_AA)
    # the strip of text under the photo is not part of it either
    return out, m, mt


def apply_transform(px: np.ndarray, mask: np.ndarray, mat: np.ndarray, name: str, rng: np.random.Generator):
    """One platform transform; returns (pixels, mask, matrix, label). The label starts with `name`.

    Geometric transforms move the mask and compose their own matrix after `mat`; the others leave both.
    """
    px = _rgb(px)
    h, w = px.shape[:2]
    if name in ENCODERS:
        q = int(rng.integers(30, 96))
        return _encode(px, name, q), mask, mat, f"{name}:{q}"
    if name == "resize":
        f = float(rng.uniform(max(0.25, 48 / min(h, w)) if min(h, w) > 48 else 1.0, 1.0))
        nw, nh = max(1, round(w * f)), max(1, round(h * f))
        out, m, mt = _scale_into(px, mask, mat, f, (nw, nh), 0, 0, (0, 0, 0))
        return out, m, mt, f"resize:{f:.2f}"
    if name == "crop":
        keep = float(rng.uniform(0.5, 0.95))  # fraction of the area kept: up to 50 % removed
        ar = float(np.exp(rng.uniform(-0.3, 0.3)))
        cw = int(min(w, max(1, round(w * np.sqrt(keep * ar)))))
        ch = int(min(h, max(1, round(keep * w * h / cw))))
        x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        t = [[1.0, 0, -x0], [0, 1.0, -y0]]
        return (np.ascontiguousarray(px[y0 : y0 + ch, x0 : x0 + cw]),
                np.ascontiguousarray(mask[y0 : y0 + ch, x0 : x0 + cw]),
                _compose(t, mat), f"crop:{1 - cw * ch / (w * h):.2f}")
    if name == "pad":
        target = [(1, 1), (16, 9), (9, 16), (4, 5)][int(rng.integers(4))]
        r = target[0] / target[1]
        cw, ch = (max(w, round(h * r)), h) if w / h < r else (w, max(h, round(w / r)))
        extra = rng.uniform(0.0, 0.08)  # some margin even when the aspect already fits
        cw, ch = int(cw + 2 * round(extra * w)), int(ch + 2 * round(extra * h))
        centred = rng.random() < 0.7
        x0 = (cw - w) // 2 if centred else int(rng.integers(0, cw - w + 1))
        y0 = (ch - h) // 2 if centred else int(rng.integers(0, ch - h + 1))
        colour = [(0, 0, 0), (255, 255, 255), (24, 24, 24), (240, 240, 240)][int(rng.integers(4))]
        out = np.empty((ch, cw, 3), np.uint8)
        out[:] = colour
        out[y0 : y0 + h, x0 : x0 + w] = px
        m = np.zeros((ch, cw), bool)
        m[y0 : y0 + h, x0 : x0 + w] = mask
        return out, m, _compose([[1.0, 0, x0], [0, 1.0, y0]], mat), f"pad:{target[0]}x{target[1]}"
    if name == "screenshot":
        return (*_screenshot(px, mask, mat, rng), "screenshot")
    if name == "hflip":
        t = [[-1.0, 0, w - 1], [0, 1.0, 0]]
        return np.ascontiguousarray(px[:, ::-1]), np.ascontiguousarray(mask[:, ::-1]), _compose(t, mat), "hflip"
    if name == "rot90":
        k = int(rng.integers(1, 4))  # counter-clockwise quarter turns, as np.rot90
        t = {1: [[0, 1.0, 0], [-1.0, 0, w - 1]], 2: [[-1.0, 0, w - 1], [0, -1.0, h - 1]],
             3: [[0, -1.0, h - 1], [1.0, 0, 0]]}[k]
        return (np.ascontiguousarray(np.rot90(px, k)), np.ascontiguousarray(np.rot90(mask, k)),
                _compose(t, mat), f"rot90:{90 * k}")
    if name == "rotate":
        a = float(rng.uniform(1.0, 10.0) * rng.choice([-1, 1]))
        t = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), a, 1.0)
        if rng.random() < 0.5:
            out, m, mt = _warp(px, mask, mat, t, (w, h), mode=cv2.BORDER_REPLICATE)
        else:
            border = [(0, 0, 0), (255, 255, 255)][int(rng.integers(2))]
            out, m, mt = _warp(px, mask, mat, t, (w, h), border=border)
        return out, m, mt, f"rotate:{a:.1f}"
    if name == "overlay_text":
        return _stamp(px, rng), mask, mat, "overlay_text:FAKE"
    if name == "logo":
        return _logo(px, rng), mask, mat, "logo"
    if name == "colour":
        b, c, s = rng.uniform(-35, 35), rng.uniform(0.7, 1.3), rng.uniform(0.5, 1.5)
        grey = cv2.cvtColor(cv2.cvtColor(px, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        out = cv2.addWeighted(px, s, grey, 1 - s, 0)  # saturation
        out = cv2.addWeighted(out, c, out, 0, 128 * (1 - c) + b)  # contrast about mid-grey, brightness
        return out, mask, mat, f"colour:b{b:+.0f},c{c:.2f},s{s:.2f}"
    if name == "blur":
        s = float(rng.uniform(0.8, 2.5))
        return cv2.GaussianBlur(px, (0, 0), s), mask, mat, f"blur:{s:.1f}"
    if name == "sharpen":
        amount = float(rng.uniform(0.5, 1.5))
        soft = cv2.GaussianBlur(px, (0, 0), 1.5)
        return cv2.addWeighted(px, 1 + amount, soft, -amount, 0), mask, mat, f"sharpen:{amount:.1f}"
    raise ValueError(f"unknown transform {name!r}; one of {TRANSFORM_NAMES}")


def make_derivative(pixels: np.ndarray, rng: np.random.Generator, *, area: float, n_transforms: int,
                    person_mask: np.ndarray | None = None, donor: np.ndarray | None = None,
                    fill: str | None = None, transforms: list[str] | None = None,
                    person_boxes=None) -> Derivative:
    """A suspect image with its ground truth: region replacement (area > 0), then platform transforms.

    area 0 gives an unedited copy (a near-duplicate under the same transforms). Without `transforms`,
    `n_transforms` distinct ones are drawn at random, re-encoders (jpeg/webp) moved last as platforms
    do. When the chain has no jpeg/webp, an "upload-jpeg" recompression (quality 70-95) ends it:
    platforms recompress uploads. `person_boxes` ([x, y, w, h] per person, in the person mask's
    pixels; Photo.person_boxes) keep every head of a crowd.
    """
    px = _rgb(pixels)
    h, w = px.shape[:2]
    mask, shape = np.zeros((h, w), bool), None
    if area > 0:
        mask, shape = region_mask((h, w), area, rng, person_mask, person_boxes)
        fill = fill or FILLS[int(rng.integers(len(FILLS)))]
        px = replace_region(px, mask, fill, rng, donor)
    else:
        fill = None
    if transforms is None:
        names = [str(x) for x in rng.choice(TRANSFORM_NAMES, size=int(n_transforms), replace=False)]
        names.sort(key=lambda n: n in ENCODERS)  # stable: encoders last
    else:
        names = list(transforms)
    mat, labels = np.eye(3)[:2].copy(), []
    for n in names:
        px, mask, mat, label = apply_transform(px, mask, mat, n, rng)
        labels.append(label)
    if not any(n in ENCODERS for n in names):
        q = int(rng.integers(70, 96))
        px = _encode(px, "jpeg", q)
        labels.append(f"upload-jpeg:{q}")
    return Derivative(np.ascontiguousarray(px), np.ascontiguousarray(mask), float(area), fill, shape, labels, mat)
