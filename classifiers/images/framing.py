"""The views of an upload as a whole: the picture with the framing re-sharers add peeled off
(uniform borders and letterboxing, caption bands, the photo inside a chat screenshot, up to three
layers deep), and the angle that straightens a tilted frame. The re-share bank hashes each view
(classifiers/images/bank.py); a cropped or framed re-share then lands near one of its entry's
stored variants."""

from __future__ import annotations

import numpy as np
from PIL import Image

from classifiers.images.pixels import downscale, gray, maxdiff

#: Kinds of whole view (the low bits of a hash's variant code, classifiers/images/bank.py): the
#: picture with uniform borders trimmed, its main content blob, caption bands cut, a collage tile
V_FULL, V_CONTENT, V_BANDS, V_TILE = 0, 1, 2, 3


def trim_uniform(arr: np.ndarray, tol: float = 18.0, max_frac: float = 0.45) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) after peeling flat single-colour borders off each side.

    Why: borders and letterboxing change every global hash; removing them first makes
    the bordered copy hash like the original. A line counts as border only if nearly all
    its pixels are within `tol` of the outermost line's colour, so skies and walls (which
    drift) are mostly left alone.
    """
    h, w = arr.shape[:2]
    a = arr.astype(np.int16)

    def peel(lines: np.ndarray, limit: int) -> int:
        if limit <= 0:
            return 0
        edge = np.median(lines[0], axis=0)
        k, step = 0, 4
        while k < limit:  # chunks: most images have no border, so stop early
            chunk = lines[k : min(limit, k + step)]
            off = (maxdiff(chunk, edge) > tol).mean(axis=1) > 0.03
            bad = np.flatnonzero(off)
            if len(bad):
                return k + int(bad[0])
            k += len(chunk)
            step *= 2
        return limit

    y0 = peel(a, int(h * max_frac))
    y1 = h - peel(a[::-1], int(h * max_frac))
    at = a.transpose(1, 0, 2)
    x0 = peel(at, int(w * max_frac))
    x1 = w - peel(at[::-1], int(w * max_frac))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return 0, 0, w, h
    return x0, y0, x1, y1


def trim_bands(arr: np.ndarray, tol: float = 30.0, max_frac: float = 0.35) -> tuple[int, int, int, int]:
    """Peel top/bottom/left/right bands of the edge colour *with text on them*.

    Why: meme captions and chat UI are a flat band with writing; `trim_uniform` stops
    at the first text row. A band ends at the last clean row (>= 90% edge colour) that
    is reached only through rows that are at least 25% edge colour, and it must hold
    some writing (rows between 25% and 97% edge colour; small fonts mark few pixels).
    """
    h, w = arr.shape[:2]
    a = arr.astype(np.int16)

    def band(lines: np.ndarray, n: int) -> int:
        limit = int(n * max_frac)
        if limit < 2:
            return 0
        edge = np.median(lines[0], axis=0)
        frac = (maxdiff(lines[:limit], edge) <= tol).mean(axis=1)
        ok = np.cumprod(frac >= 0.25).astype(bool)
        clean = np.flatnonzero(ok & (frac >= 0.9))
        if len(clean) == 0 or clean[-1] < max(2, n // 50):
            return 0
        k = int(clean[-1]) + 1
        # a caption band has writing on it; an all-clean band is sky or wall, not a caption
        if int(((frac[:k] >= 0.25) & (frac[:k] < 0.97)).sum()) < 2:
            return 0
        return k

    y0 = band(a, h)
    y1 = h - band(a[::-1], h)
    at = a.transpose(1, 0, 2)
    x0 = band(at, w)
    x1 = w - band(at[::-1], w)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return 0, 0, w, h
    return x0, y0, x1, y1


def content_region(arr: np.ndarray, tol: float = 28.0, min_area: float = 0.12) -> tuple[int, int, int, int]:
    """Box of the largest solid non-background blob: the photo inside a chat screenshot,
    a letterbox, or a caption layout. Sparse text and icons are dropped by a density filter."""
    from scipy import ndimage

    h, w = arr.shape[:2]
    a = arr.astype(np.int16)
    e = 2 if min(h, w) > 16 else 0  # inset: resampling blends the outermost line with whatever was outside
    ring = np.concatenate([a[e], a[h - 1 - e], a[:, e], a[:, w - 1 - e]])
    bg = np.median(ring, axis=0)
    mask = (maxdiff(a, bg) > tol).astype(np.float32)
    k = max(3, min(h, w) // 16)
    # local density instead of a plain opening: a starry or noisy photo keeps holes
    # (pixels that happen to match the background), text and icons stay sparse
    dens = ndimage.uniform_filter(mask, size=k, mode="reflect")
    labels, n = ndimage.label(dens >= 0.7)  # 4-connected
    if n == 0:
        return 0, 0, w, h
    areas = np.bincount(labels.ravel())[1:]
    i = int(np.argmax(areas))
    sl = ndimage.find_objects(labels)[i]
    y, yy, x, xx = sl[0].start, sl[0].stop, sl[1].start, sl[1].stop
    bw, bh = xx - x, yy - y
    if bw * bh < min_area * w * h or areas[i] < 0.6 * bw * bh:
        return 0, 0, w, h
    return x, y, xx, yy


def boxes_differ(a: tuple[int, int, int, int], b: tuple[int, int, int, int], w: int, h: int, frac: float = 0.03) -> bool:
    return any(abs(p - q) > frac * (w if i % 2 == 0 else h) for i, (p, q) in enumerate(zip(a, b)))


MAX_VIEWS = 10


def _sub_views(arr: np.ndarray) -> list[tuple[int, tuple[int, int, int, int], bool]]:
    """One peeling step: uniform borders, the main content blob, caption bands (all sides,
    then each side alone: a caption on one side, a starry sky on another). The flag says
    whether the box is worth peeling further (single-side bands are not)."""
    h, w = arr.shape[:2]
    out = [(V_FULL, trim_uniform(arr), True), (V_CONTENT, content_region(arr), True)]
    bx = trim_bands(arr)
    out.append((V_BANDS, bx, True))
    cuts = [bx[0], bx[1], w - bx[2], h - bx[3]]
    if sum(c > 0 for c in cuts) > 1:
        for j in range(4):
            if cuts[j] > 0:
                one = [0, 0, w, h]
                one[j] = bx[j]
                out.append((V_BANDS, (one[0], one[1], one[2], one[3]), False))
    return out


def whole_views(small: np.ndarray, max_views: int = MAX_VIEWS) -> list[tuple[int, tuple[int, int, int, int]]]:
    """Boxes of the image "as a whole" under the framings re-sharers add, peeled up to three
    layers deep (a border around a screenshot, a caption above a letterbox...). The first
    box is the untouched image; then boxes that can be peeled further, shallowest first;
    single-side band cuts last. Boxes within 3% of each other count once."""
    sh, sw = small.shape[:2]
    whole = (0, 0, sw, sh)
    main: list[tuple[int, tuple[int, int, int, int]]] = [(V_FULL, whole)]
    extra: list[tuple[int, tuple[int, int, int, int]]] = []
    frontier = [whole]
    for _ in range(3):
        nxt = []
        for fx0, fy0, fx1, fy1 in frontier:
            for code, (a, b, c, d), expand in _sub_views(small[fy0:fy1, fx0:fx1]):
                box = (fx0 + a, fy0 + b, fx0 + c, fy0 + d)
                if (box[2] - box[0]) * (box[3] - box[1]) < 0.1 * sw * sh:
                    continue
                if all(boxes_differ(box, v[1], sw, sh) for v in main + extra):
                    (main if expand else extra).append((code, box))
                    if expand:
                        nxt.append(box)
        frontier = nxt[:4]
        if not frontier or len(main) >= max_views:
            break
    return (main + extra)[:max_views]


_TILTS = np.concatenate([[0.0], np.arange(1.5, 6.01, 0.5), -np.arange(1.5, 6.01, 0.5)])


def estimate_tilt(small: np.ndarray) -> float:
    """Angle (degrees, for `Image.rotate`) that straightens a tilted frame, or 0.0.

    Why: a re-share rotated *after* a caption, letterbox or screenshot frame was added has
    tilted frame lines that no peeling step can remove. Projection profiles of the strong
    edges are sharpest when those lines are axis-aligned (classic deskew); small tilts
    (< 1.5 degrees) are left to the bank's rotation variants and the hash's tolerance.
    """
    from scipy import ndimage

    g = gray(downscale(small, 128))
    mag = np.hypot(ndimage.sobel(g, 1), ndimage.sobel(g, 0))
    mag = np.where(mag > np.percentile(mag, 85), mag, 0).astype(np.float32)
    im = Image.fromarray(mag, "F")
    scores = []
    for a in _TILTS:
        r = np.asarray(im.rotate(float(a), Image.Resampling.BILINEAR)) if a else mag
        scores.append(float((r.sum(axis=1) ** 2).sum() + (r.sum(axis=0) ** 2).sum()))
    k = int(np.argmax(scores))
    return float(_TILTS[k]) if k and scores[k] >= 1.005 * scores[0] else 0.0


__all__ = [
    "MAX_VIEWS",
    "V_BANDS",
    "V_CONTENT",
    "V_FULL",
    "V_TILE",
    "boxes_differ",
    "content_region",
    "estimate_tilt",
    "trim_bands",
    "trim_uniform",
    "whole_views",
]
