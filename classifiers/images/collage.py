"""Tiles of a collage: the pictures between straight gutters of one colour.

Why: a re-sharer's collage puts a victim's photo at a third or a quarter of the upload's size
beside other pictures. The whole upload's hash is then far from every bank variant, and its
keypoints are shared out among all the tiles, so a smooth photo (a clock on a plain wall, a face
against a sky) may have too few corners left at that size to be verified. Each tile, hashed and
given its own keypoints in a full-size frame, is matched like an upload of its own
(`classifiers/images/bank.py` adds the tiles to a query's views).

A gutter is a run of rows (or columns) of one colour crossing the whole region, with picture on
both sides: the bands of lines next to it must differ from its colour, mostly on at least one side. It is
either thin (at most `max_gutter` of the region), or of the colour of the collage's outer frame,
when it has one: a tile with a white background of its own (a logo, a drawing) widens a white
gutter, but a smooth wall inside a photo is not cut unless it happens to be the frame's colour.
Blank lines between lines of text don't count, as their neighbours are mostly background too;
every tile must be at least `min_frac` of the region in the cut direction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Box = tuple[int, int, int, int]

_SAMPLES = 64  # pixels sampled along each line: gutters are found on full-resolution lines, cheaply


def _runs(uniform: np.ndarray, colour: np.ndarray, tol: float) -> list[tuple[int, int]]:
    """(start, end) of each run of uniform lines of one colour."""
    n = len(uniform)
    start = uniform.copy()
    if n > 1:
        start[1:] &= ~(uniform[:-1] & ~_far(colour[1:], colour[:-1], tol))
    starts = np.flatnonzero(start)
    out = []
    for s0 in starts.tolist():
        e = s0 + 1
        while e < n and uniform[e] and not start[e]:
            e += 1
        out.append((s0, e))
    return out


def _far(x: np.ndarray, ref: np.ndarray, tol: float) -> np.ndarray:
    """Where any channel of `x` differs from `ref` by more than `tol` (three element-wise passes:
    a reduction over a length-3 last axis is several times slower in numpy)."""
    out = np.abs(x[..., 0] - ref[..., 0]) > tol
    out |= np.abs(x[..., 1] - ref[..., 1]) > tol
    out |= np.abs(x[..., 2] - ref[..., 2]) > tol
    return out


def _lines(a: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row of `a` (H x W x 3 uint8): whether nearly all of it is within `tol` of its mean
    colour, and that colour (H x 3)."""
    sample = a[:, :: max(1, a.shape[1] // _SAMPLES)].astype(np.float32)
    # a mean over the middle axis is ten times slower in numpy than this product
    colour = np.matmul(sample.transpose(0, 2, 1), np.full(sample.shape[1], 1.0 / sample.shape[1], np.float32))
    return _far(sample, colour[:, None, :], tol).mean(axis=1) <= 0.03, colour


def _span(uniform: np.ndarray) -> tuple[int, int]:
    """The span left after dropping uniform lines at both ends."""
    keep = np.flatnonzero(~uniform)
    return (int(keep[0]), int(keep[-1]) + 1) if len(keep) else (0, 0)


@dataclass(frozen=True)
class _Rules:
    tol: float
    min_frac: float
    max_gutter: float
    edge_frac: float
    frame: np.ndarray | None  # the outer frame's colour, if the picture has one


def _framed(a: np.ndarray, r: _Rules) -> np.ndarray:
    """Per row of `a`: whether it is uniform and of the frame's colour."""
    uniform, colour = _lines(a, r.tol)
    if r.frame is None:
        return np.zeros(len(uniform), bool)
    return uniform & ~_far(colour, r.frame, r.tol)


def _cuts(a: np.ndarray, r: _Rules, lines: tuple[np.ndarray, np.ndarray] | None = None) -> list[tuple[int, int]]:
    """Gutters across the rows of `a` (H x W x 3 uint8, no uniform rows at either end) that leave
    every piece at least `min_frac` of H. `lines`: `_lines(a)`, when the caller has it."""
    h = a.shape[0]
    uniform, colour = lines if lines is not None else _lines(a, r.tol)
    step = max(1, a.shape[1] // _SAMPLES)
    out: list[tuple[int, int]] = []
    last = 0
    k = max(3, min(12, h // 40))  # a band, not one line: the top line of lowercase letters is dense too
    for s, e in _runs(uniform, colour, r.tol):
        # cheap tests first: a page of text or a gradient has hundreds of runs
        if s < r.min_frac * h or h - e < r.min_frac * h or s - last < r.min_frac * h:
            continue
        ref = colour[(s + e) // 2]
        framed = r.frame is not None and not _far(ref, r.frame, r.tol)
        # a gutter of another colour than the frame is thin and has picture, not more flat colour,
        # on both sides (a smooth wall drifting in colour is a series of such runs)
        if not framed and (e - s > r.max_gutter * h or uniform[s - 1] or uniform[e]):
            continue
        before = _far(a[s - k : s, ::step].astype(np.float32), ref, r.tol).mean()
        after = _far(a[e : e + k, ::step].astype(np.float32), ref, r.tol).mean()
        if max(before, after) < r.edge_frac or (min(before, after) < r.edge_frac / 5 and not framed):
            continue
        out.append((s, e))
        last = e
    return out


def tiles(
    arr: np.ndarray,
    *,
    tol: float = 18.0,
    min_frac: float = 0.18,
    max_gutter: float = 0.03,
    edge_frac: float = 0.5,
    max_tiles: int = 6,
    min_area: float = 0.08,
    depth: int = 3,
) -> list[Box]:
    """Boxes (x0, y0, x1, y1) of a collage's tiles, or [] when `arr` (RGB) is not one.

    Cuts are guillotine cuts, rows first: a 2x2 grid, a strip of 2-4 pictures, one big picture
    beside two stacked ones. More than `max_tiles` leaves means a page of something else
    (a document, a grid of icons), not a collage: [] as well. Tiles smaller than `min_area` of
    the picture are left out."""
    a = np.asarray(arr)
    if a.ndim != 3 or a.shape[2] < 3 or min(a.shape[:2]) < 32:
        return []
    a = a[:, :, :3]
    rows, row_colour = _lines(a, tol)
    cols, col_colour = _lines(a.transpose(1, 0, 2), tol)
    y0, y1 = _span(rows)
    x0, x1 = _span(cols)
    # the frame's colour: that of the outermost lines, when they are uniform and agree
    outer = [c for u, c in ((rows[0], row_colour[0]), (rows[-1], row_colour[-1]), (cols[0], col_colour[0]), (cols[-1], col_colour[-1])) if u]
    frame = np.median(outer, axis=0) if len(outer) >= 2 else None
    if frame is not None and _far(np.array(outer), frame, tol).any():
        frame = None
    if y1 - y0 < 16 or x1 - x0 < 16:
        return []
    # most uploads have no uniform line inside their frame at all: nothing to cut
    if not (rows[y0:y1].any() or cols[x0:x1].any()):
        return []
    rules = _Rules(tol, min_frac, max_gutter, edge_frac, frame)
    leaves: list[Box] = []

    def split(box: Box, level: int) -> None:
        x0, y0, x1, y1 = box
        region = a[y0:y1, x0:x1]
        # the frame's colour around a tile (letterbox bars in its cell) is not part of it
        top, bottom = _span(_framed(region, rules)) if level else (0, region.shape[0])
        left, right = _span(_framed(region.transpose(1, 0, 2), rules)) if level else (0, region.shape[1])
        if bottom - top < 16 or right - left < 16:
            return  # a blank cell
        x0, y0, x1, y1 = x0 + left, y0 + top, x0 + right, y0 + bottom
        region = a[y0:y1, x0:x1]
        if level < depth:
            for axis in (0, 1):  # rows first, then columns
                # the whole picture's lines serve the first level: its frame is as uniform as a gutter
                known = None if level else ((rows[y0:y1], row_colour[y0:y1]) if axis == 0 else (cols[x0:x1], col_colour[x0:x1]))
                cuts = _cuts(region if axis == 0 else region.transpose(1, 0, 2), rules, known)
                if cuts:
                    bounds = [0] + [v for c in cuts for v in c] + [region.shape[axis]]
                    for lo, hi in zip(bounds[::2], bounds[1::2], strict=True):
                        split((x0, y0 + lo, x1, y0 + hi) if axis == 0 else (x0 + lo, y0, x0 + hi, y1), level + 1)
                    return
        leaves.append((x0, y0, x1, y1))

    split((x0, y0, x1, y1), 0)
    if len(leaves) > max_tiles:
        return []
    # a strip of chat bubbles or a line of text cut out of a screenshot is not a picture
    big = [b for b in leaves if (b[2] - b[0]) * (b[3] - b[1]) >= min_area * a.shape[0] * a.shape[1]]
    return big if len(big) >= 2 else []


__all__ = ["tiles"]
