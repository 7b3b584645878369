"""Where was the photo edited? From fingerprints alone (the edit grid), or from the original's pixels.

Fingerprint path: the suspect is warped into the protected photo's frame with the verified transform,
the grid statistics are measured on it, a robust linear fit absorbs brightness / contrast / blur
changes, and cells that still disagree are the edited region. The fit is made on the cells around
the verified inliers (content that matched, so unedited), not on all cells: when most of the photo
was replaced, a fit on all cells can lock onto the edited majority. Cells outside the suspect are "not
visible"; the edited fraction is of the visible area.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .signals.grid import ANALYSIS, CELLS, EditGrid, GridQuery, luma_cells, texture_cells
from .verify import Alignment

# Levels of 16, after the photometric fit. Tuned on a calibration half of shared-corpus derivatives
# (benign fills, 1-3 platform transforms): lower tolerances find more of each edit, and the larger
# minimum region keeps unedited copies low.
LUMA_TOLERANCE = 1.0
TEXTURE_TOLERANCE = 1.6
MIN_REGION_CELLS = 8
SEED_GROW = 1  # cells around each inlier's cell that the photometric fit is made on
MIN_SEED_CELLS = 6  # fewer: the fit uses every visible cell


def _h(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0.0, 0.0, 1.0]])


def _scale(src_w: int, src_h: int, dst_w: int, dst_h: int) -> np.ndarray:
    """3x3 map between two pixel grids of the same content (pixel-centre convention)."""
    sx, sy = dst_w / src_w, dst_h / src_h
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1.0]])


def robust_fit(x: np.ndarray, y: np.ndarray, iters: int = 5) -> tuple[float, float]:
    """y ~ a*x + b, refitted on the best-agreeing half each round (edited cells are outliers)."""
    keep = np.ones(len(x), bool)
    a, b = 1.0, float(np.median(y - x)) if len(x) else 0.0
    for _ in range(iters):
        if keep.sum() < 4 or np.ptp(x[keep]) < 1e-6:
            break
        a, b = np.polyfit(x[keep], y[keep], 1)
        a = float(np.clip(a, 0.3, 3.0))
        b = float(np.median(y[keep] - a * x[keep]))
        res = np.abs(y - (a * x + b))
        keep = res <= max(np.median(res) * 1.5, 0.5)
    return a, b


@dataclass
class EditMap:
    edited: np.ndarray  # bool CELLS x CELLS, protected frame
    visible: np.ndarray  # bool CELLS x CELLS
    luma_residual: np.ndarray
    texture_residual: np.ndarray
    analysis_to_suspect: np.ndarray  # 3x3: analysis pixels -> suspect working pixels

    @property
    def edited_fraction(self) -> float:
        v = self.visible.sum()
        return float((self.edited & self.visible).sum() / v) if v else 0.0

    @property
    def visible_fraction(self) -> float:
        return float(self.visible.mean())

    def suspect_mask(self, work_w: int, work_h: int, out_w: int, out_h: int) -> np.ndarray:
        """Edited region as a bool mask in the suspect's frame at out_w x out_h."""
        return self._to_suspect(self.edited & self.visible, work_w, work_h, out_w, out_h) >= 0.5

    def _to_suspect(self, cells: np.ndarray, work_w, work_h, out_w, out_h) -> np.ndarray:
        up = cv2.resize(cells.astype(np.float32), (ANALYSIS, ANALYSIS), interpolation=cv2.INTER_LINEAR)
        t = _scale(work_w, work_h, out_w, out_h) @ self.analysis_to_suspect
        return cv2.warpAffine(up, t[:2], (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=0)


def localise(grid: EditGrid, query: GridQuery, alignment: Alignment, prot_w: int, prot_h: int,
             inlier_xy: np.ndarray | None = None) -> EditMap:
    """Edit map of a suspect against a protected photo's grid; prot_w/h: protected working size;
    inlier_xy: the alignment's inliers (protected working pixels), where the photometric fit is made."""
    a2p = _scale(ANALYSIS, ANALYSIS, prot_w, prot_h)
    a2s = _h(alignment.matrix) @ a2p  # analysis -> suspect working
    gh, gw = query.gray.shape
    t = _scale(query.work_width, query.work_height, gw, gh) @ a2s  # analysis -> query grey pixels
    gray = query.gray
    s = float(np.sqrt(abs(np.linalg.det(t[:2, :2]))))
    if s > 1.3:  # shrinking: blur first so the warp does not alias
        gray = cv2.GaussianBlur(gray, (0, 0), 0.5 * np.sqrt(s * s - 1))
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(gray, t[:2], (ANALYSIS, ANALYSIS), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    ones = np.full(gray.shape, 255, np.uint8)
    cover = cv2.warpAffine(ones, t[:2], (ANALYSIS, ANALYSIS), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                           borderValue=0)
    visible = cv2.resize(cover.astype(np.float32) / 255, (CELLS, CELLS), interpolation=cv2.INTER_AREA) >= 0.95

    lp, tp = grid.luma.astype(np.float32) + 0.5, grid.texture.astype(np.float32) + 0.5
    ls, ts = luma_cells(warped), texture_cells(_inner_edge(warped))
    lres = np.zeros_like(lp)
    tres = np.zeros_like(tp)
    if visible.sum() >= 8:
        seed = seed_cells(inlier_xy, prot_w, prot_h) & visible
        lres = ls - _fitted(lp, ls, visible, seed)
        tres = ts - _fitted(tp, ts, visible, seed)
        agree = visible & (np.abs(lres) <= LUMA_TOLERANCE) & (np.abs(tres) <= TEXTURE_TOLERANCE)
        if agree.sum() >= 8:  # refit on every cell that first fit finds unedited
            lres = ls - _fitted(lp, ls, agree, agree)
            tres = ts - _fitted(tp, ts, agree, agree)
    raw = ((np.abs(lres) > LUMA_TOLERANCE) | (np.abs(tres) > TEXTURE_TOLERANCE)) & visible
    edited = _clean(raw) & visible
    return EditMap(edited, visible, lres, tres, a2s)


def seed_cells(xy: np.ndarray | None, prot_w: int, prot_h: int) -> np.ndarray:
    """Cells within SEED_GROW of a verified inlier (protected working pixels); none without inliers."""
    seed = np.zeros((CELLS, CELLS), np.uint8)
    if xy is not None and len(xy):
        cx = np.clip((xy[:, 0] + 0.5) * CELLS / prot_w, 0, CELLS - 1).astype(int)
        cy = np.clip((xy[:, 1] + 0.5) * CELLS / prot_h, 0, CELLS - 1).astype(int)
        seed[cy, cx] = 1
        seed = cv2.dilate(seed, np.ones((2 * SEED_GROW + 1, 2 * SEED_GROW + 1), np.uint8))
    return seed > 0


def _fitted(protected: np.ndarray, suspect: np.ndarray, visible: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The protected cells mapped by the photometric fit: made on the seed cells when there are
    enough of them (and they vary), else on every visible cell."""
    on = seed if seed.sum() >= MIN_SEED_CELLS and np.ptp(protected[seed]) >= 1e-6 else visible
    a, b = robust_fit(protected[on], suspect[on])
    return a * protected + b


def _inner_edge(analysis: np.ndarray) -> np.ndarray:
    """The analysis image with its outermost pixel ring replaced by the next ring in.

    Where the suspect has something else beyond the photo (a pad, a screenshot's frame, a crop edge),
    the warp and the suspect's own resampling / JPEG blend it into the outermost analysis pixels, and
    the step reads as texture in every border cell. Used for texture only.
    """
    a = analysis.copy()
    a[0], a[-1] = a[1], a[-2]
    a[:, 0], a[:, -1] = a[:, 1], a[:, -2]
    return a


def _clean(cells: np.ndarray) -> np.ndarray:
    """Close small gaps, then drop regions smaller than MIN_REGION_CELLS.

    No majority (median) filter: it shaved cells off every edit's border and thin parts (IoU was
    lower with it on the calibration set); the minimum region size removes isolated noise cells.
    """
    m = cv2.morphologyEx(cells.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) > 0
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=4)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= MIN_REGION_CELLS
    return keep[lab]


def pixel_difference(original_rgb: np.ndarray, suspect_rgb: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Per-pixel difference map (float 0-1, suspect frame) with the original aligned onto the suspect.

    `matrix` maps original working pixels to suspect working pixels; both images are working copies.
    """
    h, w = suspect_rgb.shape[:2]
    warped = cv2.warpAffine(original_rgb, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    cover = cv2.warpAffine(np.ones(original_rgb.shape[:2], np.uint8), matrix, (w, h), flags=cv2.INTER_NEAREST) > 0
    sl = cv2.GaussianBlur(cv2.cvtColor(suspect_rgb, cv2.COLOR_RGB2LAB).astype(np.float32), (0, 0), 2.0)
    ol = cv2.GaussianBlur(cv2.cvtColor(warped, cv2.COLOR_RGB2LAB).astype(np.float32), (0, 0), 2.0)
    diff = np.zeros((h, w), np.float32)
    if cover.sum() >= 16:
        for c in range(3):  # per-channel photometric fit, robust to colour / contrast shifts
            x, y = ol[..., c][cover], sl[..., c][cover]
            idx = np.linspace(0, len(x) - 1, min(len(x), 20000)).astype(int)
            a, b = robust_fit(x[idx], y[idx])
            diff += (sl[..., c] - (a * ol[..., c] + b)) ** 2
    diff = np.sqrt(diff)
    diff[~cover] = 0
    return np.clip(diff / 40.0, 0, 1)
