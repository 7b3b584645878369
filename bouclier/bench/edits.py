"""Benign edit simulation for the benchmark, with ground truth.

Region replacement uses benign fills only (OpenCV inpainting, a patch or texture from another photo,
blur, noise, a colour-shifted copy of the region); no generative model, no nudity. Platform
transforms follow. The edited mask and the original -> suspect affine matrix are carried through
every geometric transform, so localisation can be scored in the suspect's frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

AREAS = (0.10, 0.25, 0.40, 0.60)
FILLS = ("telea", "ns", "patch", "texture", "blur", "noise", "colour")
TRANSFORM_NAMES = ("jpeg", "webp", "resize", "crop", "pad", "screenshot", "hflip", "rot90", "rotate",
                   "overlay_text", "logo", "colour", "blur", "sharpen")
GEOMETRIC = {"resize", "crop", "pad", "screenshot", "hflip", "rot90", "rotate"}


@dataclass
class Derivative:
    pixels: np.ndarray
    edited_mask: np.ndarray
    area: float
    fill: str | None
    shape: str | None
    transforms: list[str] = field(default_factory=list)
    matrix: np.ndarray = field(default_factory=lambda: np.eye(3)[:2])


# ---------------------------------------------------------------- regions

def _fit_area(mask: np.ndarray, target: float, allowed: np.ndarray | None = None) -> np.ndarray:
    """Grow (within `allowed`) or shrink a mask to about `target` of the image, by distance quantile."""
    total = mask.size
    want = int(round(target * total))
    have = int(mask.sum())
    if have == 0:
        return mask
    if have < want:
        dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
        if allowed is not None:
            dist[~allowed] = np.inf
        cand = np.sort(dist[~mask])
        extra = min(want - have, int(np.isfinite(cand).sum()))
        if extra <= 0:
            return mask
        return mask | (dist <= cand[extra - 1])
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    inside = np.sort(dist[mask])[::-1]
    return mask & (dist >= inside[max(want - 1, 0)])


def _ellipse(h: int, w: int, area: float, rng) -> np.ndarray:
    cx, cy = w * rng.uniform(0.4, 0.6), h * rng.uniform(0.58, 0.72)
    aspect = rng.uniform(0.6, 1.3)
    m = np.zeros((h, w), np.uint8)
    a = np.sqrt(area * w * h / np.pi / aspect)
    cv2.ellipse(m, (int(cx), int(cy)), (max(1, int(a)), max(1, int(a * aspect))), rng.uniform(-15, 15), 0, 360, 1, -1)
    return m > 0


def _rect(h: int, w: int, area: float, rng) -> np.ndarray:
    aspect = rng.uniform(0.7, 1.6)  # height / width
    rw = min(w, np.sqrt(area * w * h / aspect))
    rh = min(h, area * w * h / max(rw, 1))
    x0 = int(np.clip(w / 2 - rw / 2 + rng.uniform(-0.1, 0.1) * w, 0, w - rw))
    y0 = int(np.clip(h - rh - rng.uniform(0, 0.1) * h, 0, h - rh))
    m = np.zeros((h, w), bool)
    m[y0 : y0 + int(rh), x0 : x0 + int(rw)] = True
    return m


def _polygon(h: int, w: int, area: float, rng) -> np.ndarray:
    k = int(rng.integers(5, 9))
    ang = np.sort(rng.uniform(0, 2 * np.pi, k))
    rad = rng.uniform(0.7, 1.0, k)
    cx, cy = w * rng.uniform(0.4, 0.6), h * rng.uniform(0.6, 0.7)
    r0 = np.sqrt(area * w * h / np.pi)
    pts = np.stack([cx + r0 * rad * np.cos(ang), cy + r0 * 1.2 * rad * np.sin(ang)], 1).astype(np.int32)
    m = np.zeros((h, w), np.uint8)
    cv2.fillPoly(m, [pts], 1)
    return m > 0


def region_mask(shape_hw: tuple[int, int], area: float, rng: np.random.Generator,
                person_mask: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """A body-like region of about `area` of the image: the person below the head, or a shape."""
    h, w = shape_hw
    if person_mask is not None and person_mask.shape == (h, w) and (person_mask > 127).mean() > 0.02:
        # Each person's own head (top 20 % of their box) is kept: the scenario is a body replaced
        # while face and background survive. Growth to the target area never enters a head.
        person = person_mask > 127
        n, lab, stats, _ = cv2.connectedComponentsWithStats(person.astype(np.uint8), connectivity=8)
        heads = np.zeros((h, w), bool)
        for i in range(1, n):
            x, y, bw, bh, a = stats[i]
            if a < 0.002 * h * w:
                continue
            hx = int(0.15 * bw)
            heads[y : y + max(1, int(0.2 * bh)), max(0, x - hx) : x + bw + hx] = True
        body = person & ~heads
        if body.sum() > 0:
            return _fit_area(body, area, allowed=~heads), "person"
    shape = ("ellipse", "rect", "polygon")[int(rng.integers(3))]
    m = {"ellipse": _ellipse, "rect": _rect, "polygon": _polygon}[shape](h, w, area, rng)
    below = np.zeros((h, w), bool)
    below[int(0.25 * h):] = True
    return _fit_area(m, area, allowed=below), shape


# ---------------------------------------------------------------- fills

def _inpaint(img: np.ndarray, mask: np.ndarray, method: int) -> np.ndarray:
    h, w = mask.shape
    s = min(1.0, 200 / max(h, w))  # inpaint small, then upscale the fill: fast for big regions
    sw, sh = max(1, int(w * s)), max(1, int(h * s))
    small = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA)
    sm = cv2.resize(mask.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST)
    sm = cv2.dilate(sm, np.ones((3, 3), np.uint8))
    filled = cv2.inpaint(small, sm, 5, method)
    return cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)


def replace_region(pixels: np.ndarray, mask: np.ndarray, fill: str, rng: np.random.Generator,
                   donor: np.ndarray | None) -> np.ndarray:
    """The region under `mask` replaced by a benign fill, with a feathered boundary."""
    h, w = mask.shape
    img = pixels
    if fill in ("patch", "texture") and donor is None:
        fill = "blur"
    if fill == "telea":
        src = _inpaint(img, mask, cv2.INPAINT_TELEA)
    elif fill == "ns":
        src = _inpaint(img, mask, cv2.INPAINT_NS)
    elif fill == "patch":
        dh, dw = donor.shape[:2]
        s = max(h / dh, w / dw) * rng.uniform(1.0, 1.4)
        big = cv2.resize(donor, (int(dw * s) + 1, int(dh * s) + 1), interpolation=cv2.INTER_LINEAR)
        y, x = int(rng.integers(0, big.shape[0] - h + 1)), int(rng.integers(0, big.shape[1] - w + 1))
        src = big[y : y + h, x : x + w]
    elif fill == "texture":
        dh, dw = donor.shape[:2]
        t = int(rng.integers(32, 96))
        y, x = int(rng.integers(0, max(1, dh - t))), int(rng.integers(0, max(1, dw - t)))
        tile = donor[y : y + t, x : x + t]
        src = np.tile(tile, (h // tile.shape[0] + 1, w // tile.shape[1] + 1, 1))[:h, :w]
    elif fill == "blur":
        src = cv2.GaussianBlur(img, (0, 0), rng.uniform(12, 30))
    elif fill == "noise":
        mean = img[mask].mean(axis=0) if mask.any() else np.full(3, 128.0)
        src = np.clip(rng.normal(mean, rng.uniform(20, 50), img.shape), 0, 255).astype(np.uint8)
    elif fill == "colour":
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.int32)
        hsv[..., 0] = (hsv[..., 0] + int(rng.integers(30, 150))) % 180
        hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.4, 1.8), 0, 255)
        hsv[..., 2] = np.clip(hsv[..., 2] * rng.uniform(0.6, 1.3), 0, 255)
        src = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    else:
        raise ValueError(f"unknown fill {fill!r}")
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), max(1.0, 0.006 * max(h, w)))[..., None]
    alpha = np.where(mask[..., None], np.maximum(alpha, 0.5), alpha)
    out = img.astype(np.float32) * (1 - alpha) + src.astype(np.float32) * alpha
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- transforms

def _h(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0, 0, 1]])


def _warp(px, mask, mat, t: np.ndarray, size: tuple[int, int], border=(0, 0, 0)):
    px = cv2.warpAffine(px, t, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border)
    mask = cv2.warpAffine(mask.astype(np.uint8), t, size, flags=cv2.INTER_NEAREST) > 0
    return px, mask, (_h(t) @ _h(mat))[:2]


def _encode(px: np.ndarray, ext: str, q: int) -> np.ndarray:
    flag = cv2.IMWRITE_JPEG_QUALITY if ext == ".jpg" else cv2.IMWRITE_WEBP_QUALITY
    ok, buf = cv2.imencode(ext, cv2.cvtColor(px, cv2.COLOR_RGB2BGR), [flag, q])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _text(px: np.ndarray, text: str, rng, width_frac: float, alpha: float, colour=(255, 255, 255)) -> np.ndarray:
    """`text` stamped across about `width_frac` of the image width."""
    h, w = px.shape[:2]
    layer = px.copy()
    font = cv2.FONT_HERSHEY_DUPLEX
    (uw, _), _ = cv2.getTextSize(text, font, 1.0, 2)
    scale = width_frac * w / uw
    (tw, th), _ = cv2.getTextSize(text, font, scale, max(1, int(scale * 2)))
    x = int(rng.uniform(0, max(1, w - tw)))
    y = int(rng.uniform(th, max(th + 1, h)))
    cv2.putText(layer, text, (x, y), font, scale, colour, max(1, int(scale * 2)), cv2.LINE_AA)
    return cv2.addWeighted(layer, alpha, px, 1 - alpha, 0)


def apply_transform(px: np.ndarray, mask: np.ndarray, mat: np.ndarray, name: str, rng: np.random.Generator):
    """One platform transform; returns (pixels, mask, matrix, label)."""
    h, w = px.shape[:2]
    if name == "jpeg":
        q = int(rng.integers(30, 96))
        return _encode(px, ".jpg", q), mask, mat, f"jpeg:{q}"
    if name == "webp":
        q = int(rng.integers(30, 91))
        return _encode(px, ".webp", q), mask, mat, f"webp:{q}"
    if name == "resize":
        f = float(rng.uniform(0.25, 1.0))
        nw, nh = max(8, round(w * f)), max(8, round(h * f))
        t = np.array([[nw / w, 0, 0.5 * nw / w - 0.5], [0, nh / h, 0.5 * nh / h - 0.5]])
        out = cv2.resize(px, (nw, nh), interpolation=cv2.INTER_AREA)
        m = cv2.resize(mask.astype(np.uint8), (nw, nh), interpolation=cv2.INTER_NEAREST) > 0
        return out, m, (_h(t) @ _h(mat))[:2], f"resize:{f:.2f}"
    if name == "crop":
        keep = float(rng.uniform(0.5, 0.95))  # fraction of the area kept
        ar = float(rng.uniform(0.75, 1.33))
        cw, ch = min(w, int(w * np.sqrt(keep * ar))), min(h, int(h * np.sqrt(keep / ar)))
        x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        t = np.array([[1.0, 0, -x0], [0, 1.0, -y0]])
        return (np.ascontiguousarray(px[y0 : y0 + ch, x0 : x0 + cw]), mask[y0 : y0 + ch, x0 : x0 + cw],
                (_h(t) @ _h(mat))[:2], f"crop:{1 - cw * ch / (w * h):.2f}")
    if name == "pad":
        frac = float(rng.uniform(0.05, 0.3))
        if rng.random() < 0.5:  # letterbox to square-ish
            pw, ph = int(w * frac), int(h * frac * rng.uniform(0, 0.3))
        else:
            pw, ph = int(w * frac * rng.uniform(0, 0.3)), int(h * frac)
        colour = tuple(int(c) for c in rng.choice([0, 255, 32], size=1).repeat(3))
        t = np.array([[1.0, 0, pw], [0, 1.0, ph]])
        return (*_warp(px, mask, mat, t, (w + 2 * pw, h + 2 * ph), colour), f"pad:{frac:.2f}")
    if name == "screenshot":
        cw, ch = 720, 1280 if rng.random() < 0.6 else 900
        bar_top, bar_bottom = int(ch * 0.06), int(ch * 0.09)
        avail_h = ch - bar_top - bar_bottom - 40
        s = min((cw - 20) / w, avail_h / h)
        x0, y0 = (cw - w * s) / 2, bar_top + 20 + (avail_h - h * s) / 2
        t = np.array([[s, 0, x0 + 0.5 * s - 0.5], [0, s, y0 + 0.5 * s - 0.5]])
        bg = (250, 250, 250) if rng.random() < 0.5 else (18, 18, 18)
        out, m, mt = _warp(px, mask, mat, t, (cw, ch), bg)
        fg = (30, 30, 30) if bg[0] > 128 else (230, 230, 230)
        out[:bar_top] = (60, 90, 160)
        out[ch - bar_bottom :] = (235, 235, 235) if bg[0] > 128 else (40, 40, 40)
        cv2.putText(out, "12:41", (20, int(bar_top * 0.7)), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2, cv2.LINE_AA)
        cv2.putText(out, "user_1234 shared a photo", (20, ch - bar_bottom // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.8, fg, 2, cv2.LINE_AA)
        m[:bar_top] = False
        m[ch - bar_bottom :] = False
        return out, m, mt, "screenshot"
    if name == "hflip":
        t = np.array([[-1.0, 0, w - 1], [0, 1.0, 0]])
        return (np.ascontiguousarray(px[:, ::-1]), np.ascontiguousarray(mask[:, ::-1]), (_h(t) @ _h(mat))[:2], "hflip")
    if name == "rot90":
        k = int(rng.integers(1, 4))
        out, m = np.ascontiguousarray(np.rot90(px, k)), np.ascontiguousarray(np.rot90(mask, k))
        # np.rot90 turns counter-clockwise: (x, y) -> (y, w-1-x) for k = 1
        t = {1: [[0, 1.0, 0], [-1.0, 0, w - 1]], 2: [[-1.0, 0, w - 1], [0, -1.0, h - 1]],
             3: [[0, -1.0, h - 1], [1.0, 0, 0]]}[k]
        return out, m, (_h(np.array(t)) @ _h(mat))[:2], f"rot90:{90 * k}"
    if name == "rotate":
        a = float(rng.uniform(-10, 10))
        t = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), a, 1.0)
        return (*_warp(px, mask, mat, t, (w, h)), f"rotate:{a:.1f}")
    if name == "overlay_text":
        return _text(px, "FAKE", rng, rng.uniform(0.15, 0.4), rng.uniform(0.5, 0.9), (255, 40, 40)), mask, mat, "overlay_text"
    if name == "logo":
        layer = px.copy()
        r = int(min(h, w) * rng.uniform(0.05, 0.12))
        cx, cy = int(rng.uniform(r, w - r)), int(rng.uniform(r, h - r))
        cv2.circle(layer, (cx, cy), r, (240, 200, 40), -1, cv2.LINE_AA)
        cv2.rectangle(layer, (cx - r // 2, cy - r // 4), (cx + r // 2, cy + r // 4), (20, 20, 120), -1)
        return cv2.addWeighted(layer, 0.8, px, 0.2, 0), mask, mat, "logo"
    if name == "colour":
        b, c, s = rng.uniform(-30, 30), rng.uniform(0.7, 1.3), rng.uniform(0.6, 1.4)
        out = np.clip((px.astype(np.float32) - 128) * c + 128 + b, 0, 255).astype(np.uint8)
        hsv = cv2.cvtColor(out, cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 1] = np.clip(hsv[..., 1] * s, 0, 255)
        return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB), mask, mat, f"colour:{b:.0f}/{c:.2f}/{s:.2f}"
    if name == "blur":
        s = float(rng.uniform(0.8, 2.0))
        return cv2.GaussianBlur(px, (0, 0), s), mask, mat, f"blur:{s:.1f}"
    if name == "sharpen":
        soft = cv2.GaussianBlur(px, (0, 0), 1.5)
        return cv2.addWeighted(px, 1.6, soft, -0.6, 0), mask, mat, "sharpen"
    raise ValueError(f"unknown transform {name!r}")


def make_derivative(pixels: np.ndarray, rng: np.random.Generator, *, area: float, n_transforms: int,
                    person_mask: np.ndarray | None = None, donor: np.ndarray | None = None,
                    fill: str | None = None, transforms: list[str] | None = None) -> Derivative:
    """A suspect: region replacement (area > 0) then platform transforms, ending in a JPEG upload."""
    h, w = pixels.shape[:2]
    px, mask, shape = pixels, np.zeros((h, w), bool), None
    if area > 0:
        mask, shape = region_mask((h, w), area, rng, person_mask)
        fill = fill or FILLS[int(rng.integers(len(FILLS)))]
        px = replace_region(pixels, mask, fill, rng, donor)
    else:
        fill = None
    names = list(transforms) if transforms is not None else \
        [str(x) for x in rng.choice(TRANSFORM_NAMES, size=n_transforms, replace=False)]
    mat, labels = np.eye(3)[:2], []
    for n in names:
        px, mask, mat, label = apply_transform(px, mask, mat, n, rng)
        labels.append(label)
    if not any(lbl.startswith(("jpeg", "webp")) for lbl in labels):  # platforms recompress uploads
        q = int(rng.integers(70, 96))
        px = _encode(px, ".jpg", q)
        labels.append(f"upload-jpeg:{q}")
    return Derivative(np.ascontiguousarray(px), mask, area, fill, shape, labels, mat)
