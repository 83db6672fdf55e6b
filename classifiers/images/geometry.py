"""Geometric verification of a bank candidate: does one plausible homography map many of the
bank image's keypoints onto the query, spread over both images?

Why: a hash or a keypoint vote only says two images look alike. A re-share of a victim's
photo is the *same* picture moved by a crop, resize, rotation or a screenshot frame, so a
single homography explains many keypoint pairs at once, and those pairs cover a real part of
both pictures. Unrelated images (two memes from one template, two screenshots of one app,
two photos of brick walls) agree on a few points clustered in one place, or on a warp no
re-sharer makes. Every bank match, hash hits included, must pass `verify` (thresholds set on
the distractor set in benchmarks/bench_images.py).

OpenCV is needed (the `images` extra); without it nothing can be verified.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Lowe's ratio test and an absolute Hamming cap (of 256 bits) for a descriptor pair to count
RATIO = 0.8
MAX_HAMMING = 64
#: RANSAC reprojection error, pixels in the 512-px ORB frames
REPROJ = 6.0


@dataclass(frozen=True)
class Thresholds:
    """What a verified match needs. `min_inliers` is relaxed to `min_inliers_hash` when the
    global hash already agrees (distance <= the index's strict threshold)."""

    min_inliers: int = 10
    min_inliers_hash: int = 8
    min_ratio: float = 0.25  # inliers / ratio-tested pairs
    #: ... or this ratio with at least `many_inliers`: no unrelated picture in the distractor sets came
    #: near 30 inliers (the most was 15, with a warp no re-share makes). A deep crop matched against a
    #: bank picture's whole and centre keypoints pairs many of them at the wrong scale.
    min_ratio_many: float = 0.15
    many_inliers: int = 30
    #: at most this share of the inliers near one of them (`Geometry.concentration`), unless there are
    #: `many_inliers`: on the benchmark, true matches reached 0.55 below 30 inliers (0.89 with 34, a
    #: deep crop left with the rocket alone); a meme matched another through one caption word at 0.9
    max_concentration: float = 0.75
    #: at least this many inliers off the two horizontal bands that hold most of them (`Geometry.off_bands`),
    #: however many there are: memes sharing caption words in one font had 0-2, with up to 32 inliers
    min_off_bands: int = 4
    min_spread: float = 0.035  # inlier hull area / keypoint extent, on *each* image
    min_thickness: float = 0.03  # the inliers' minor-axis spread / sqrt(keypoint extent area), on each image
    #: the same spread in pixels of the 512-px frames: a quote card on a smooth background has keypoints
    #: on its line of text alone, so relative to its own keypoints a line of glyphs looks thick
    min_thickness_px: float = 10.0
    max_anisotropy: float = 1.6  # ratio of the warp's singular values (shear / squash)
    max_perspective: float = 0.35  # how much the warp's scale changes across the image
    min_scale: float = 0.12
    max_scale: float = 8.0


DEFAULT = Thresholds()


@dataclass(frozen=True)
class Geometry:
    """The evidence for one (bank image, query) pair."""

    pairs: int  # ratio-tested descriptor pairs
    inliers: int
    ratio: float
    spread_bank: float
    spread_query: float
    scale: float
    anisotropy: float
    perspective: float
    #: how far the inliers extend across their main direction: a line of text in one font shares
    #: glyph keypoints with any other line in that font, but only along a thin band
    thickness_bank: float = 1.0
    thickness_query: float = 1.0
    minor_px_bank: float = float("inf")
    minor_px_query: float = float("inf")
    #: the largest share of the inliers within `_CLUSTER_RADIUS` of one of them, on either image: one
    #: word in one font (a meme caption) agrees with the same word in another meme, and a few stray
    #: inliers elsewhere then make the hull look spread
    concentration: float = 0.0
    #: inliers off the two horizontal bands (each `_BAND` of the height) that hold most of them, on the
    #: image where they are most: two memes with the same caption words in one font at the same place
    #: (top and bottom lines, "WKWK ... BANGET") agree on the letters and little else, in both images;
    #: a deep crop's inliers bunch up in the bank picture, but not in the upload
    off_bands: int = 99

    def passes(self, t: Thresholds = DEFAULT, hash_agrees: bool = False) -> bool:
        need = t.min_inliers_hash if hash_agrees else t.min_inliers
        return (
            self.inliers >= need
            and (self.ratio >= t.min_ratio or (self.inliers >= t.many_inliers and self.ratio >= t.min_ratio_many))
            and (self.concentration <= t.max_concentration or self.inliers >= t.many_inliers)
            and self.off_bands >= t.min_off_bands
            and min(self.spread_bank, self.spread_query) >= t.min_spread
            and min(self.thickness_bank, self.thickness_query) >= t.min_thickness
            and min(self.minor_px_bank, self.minor_px_query) >= t.min_thickness_px
            and self.anisotropy <= t.max_anisotropy
            and self.perspective <= t.max_perspective
            and t.min_scale <= self.scale <= t.max_scale
        )


def _cv2() -> Any:
    import cv2

    return cv2


def _hull_fraction(pts: np.ndarray, extent: np.ndarray) -> float:
    """Area of the points' convex hull over the area of the `extent` points' bounding box."""
    cv2 = _cv2()
    if len(pts) < 3:
        return 0.0
    hull = cv2.convexHull(pts.astype(np.float32).reshape(-1, 1, 2))
    area = float(cv2.contourArea(hull))
    lo, hi = extent.min(axis=0), extent.max(axis=0)
    box = float(max(1.0, hi[0] - lo[0]) * max(1.0, hi[1] - lo[1]))
    return min(1.0, area / box)


def _minor(pts: np.ndarray) -> float:
    """Standard deviation of the points along their minor axis, in pixels (0 for collinear points)."""
    if len(pts) < 3:
        return 0.0
    cov = np.cov(pts.astype(np.float64).T)
    return float(np.sqrt(max(0.0, np.linalg.eigvalsh(cov)[0])))


_CLUSTER_RADIUS = 0.08  # of the longer side of the keypoints' extent


def _concentration(pts: np.ndarray, extent: np.ndarray) -> float:
    """The largest share of `pts` within `_CLUSTER_RADIUS` of one of them."""
    if len(pts) == 0:
        return 1.0
    r = _CLUSTER_RADIUS * float(max(1.0, (extent.max(axis=0) - extent.min(axis=0)).max()))
    p = pts.astype(np.float64)
    d2 = ((p[:, None, :] - p[None, :, :]) ** 2).sum(axis=2)
    return float((d2 <= r * r).sum(axis=1).max() / len(p))


_BAND = 0.08  # of the keypoints' vertical extent: the height of a line of caption text, with slack


def _off_bands(pts: np.ndarray, extent: np.ndarray, bands: int = 2) -> int:
    """How many of `pts` lie outside the `bands` horizontal bands (each `_BAND` of the extent's
    height) that hold the most of them, taken greedily."""
    height = _BAND * float(max(1.0, extent[:, 1].max() - extent[:, 1].min()))
    y = np.sort(pts[:, 1].astype(np.float64))
    for _ in range(bands):
        if len(y) == 0:
            break
        counts = np.searchsorted(y, y + height, side="right") - np.arange(len(y))  # points in [y_i, y_i + height]
        k = int(np.argmax(counts))
        y = np.concatenate([y[:k], y[k + counts[k] :]])
    return len(y)


def _thickness(pts: np.ndarray, extent: np.ndarray) -> float:
    """Standard deviation of the points along their minor axis, over the square root of the
    area of the `extent` points' bounding box (0 for collinear points)."""
    if len(pts) < 3:
        return 0.0
    minor = _minor(pts)
    lo, hi = extent.min(axis=0), extent.max(axis=0)
    return minor / float(np.sqrt(max(1.0, hi[0] - lo[0]) * max(1.0, hi[1] - lo[1])))


def _warp_shape(h: np.ndarray, pts: np.ndarray) -> tuple[float, float, float]:
    """(mean scale, anisotropy, perspective) of homography `h` over the points it maps.

    Scale and shear come from the Jacobian at the points' centre; perspective is how much
    the local scale varies between the points' extreme corners (0 for an affine warp)."""
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    corners = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]], (lo + hi) / 2], np.float64)
    scales = []
    aniso = 1.0
    for k, (x, y) in enumerate(corners):
        w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
        if abs(w) < 1e-9:
            return 0.0, np.inf, np.inf
        u = (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / w
        v = (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / w
        jac = np.array([[(h[0, 0] - u * h[2, 0]) / w, (h[0, 1] - u * h[2, 1]) / w], [(h[1, 0] - v * h[2, 0]) / w, (h[1, 1] - v * h[2, 1]) / w]])
        if np.linalg.det(jac) <= 0:  # a mirrored or folded warp: never a re-share of this view
            return 0.0, np.inf, np.inf
        s = np.linalg.svd(jac, compute_uv=False)
        scales.append(float(np.sqrt(s[0] * s[1])))
        if k == 4:
            aniso = float(s[0] / max(s[1], 1e-9))
    centre = scales[4]
    persp = float(max(abs(np.log(s_ / centre)) for s_ in scales[:4])) if centre > 0 else np.inf
    return centre, aniso, persp


def pairs(bank_desc: np.ndarray, q_desc: np.ndarray) -> list[tuple[int, int]]:
    """Ratio-tested nearest-neighbour pairs (bank index, query index)."""
    if len(bank_desc) < 2 or len(q_desc) < 2:
        return []
    cv2 = _cv2()
    knn = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(bank_desc, q_desc, k=2)
    return [(m[0].queryIdx, m[0].trainIdx) for m in knn if len(m) == 2 and m[0].distance < RATIO * m[1].distance and m[0].distance <= MAX_HAMMING]


def verify(bank_xy: np.ndarray, bank_desc: np.ndarray, q_xy: np.ndarray, q_desc: np.ndarray) -> Geometry | None:
    """Fit a homography (RANSAC) to the ratio-tested pairs and measure it. None when there are
    too few pairs to fit anything; call `Geometry.passes` for the decision."""
    pr = pairs(bank_desc, q_desc)
    if len(pr) < 8:
        return None
    cv2 = _cv2()
    bi = np.fromiter((p[0] for p in pr), np.int64, len(pr))
    qi = np.fromiter((p[1] for p in pr), np.int64, len(pr))
    src = bank_xy[bi].astype(np.float32)
    dst = q_xy[qi].astype(np.float32)
    # USAC with local optimisation: on the benchmark the same recall and false matches as the classic
    # RANSAC, which ran all 800 iterations on an unrelated pair (1-9 ms a call, against 0.1-0.3)
    h, mask = cv2.findHomography(src.reshape(-1, 1, 2), dst.reshape(-1, 1, 2), cv2.USAC_ACCURATE, REPROJ, maxIters=800, confidence=0.995)
    if h is None or mask is None:
        return None
    inl = mask.reshape(-1).astype(bool)
    s_in, d_in = src[inl], dst[inl]
    # many pairs collapsing onto a few query points is a texture, not a re-share
    n = min(len(np.unique(np.round(d_in / 4.0), axis=0)), len(np.unique(np.round(s_in / 4.0), axis=0)))
    if n < 4:
        return Geometry(len(pr), n, n / len(pr), 0.0, 0.0, 0.0, np.inf, np.inf)
    scale, aniso, persp = _warp_shape(h, s_in.astype(np.float64))
    return Geometry(
        pairs=len(pr),
        inliers=n,
        ratio=n / len(pr),
        spread_bank=_hull_fraction(s_in, bank_xy),
        spread_query=_hull_fraction(d_in, q_xy),
        scale=scale,
        anisotropy=aniso,
        perspective=persp,
        thickness_bank=_thickness(s_in, bank_xy),
        thickness_query=_thickness(d_in, q_xy),
        minor_px_bank=_minor(s_in),
        minor_px_query=_minor(d_in),
        concentration=max(_concentration(s_in, bank_xy), _concentration(d_in, q_xy)),
        off_bands=max(_off_bands(s_in, bank_xy), _off_bands(d_in, q_xy)),
    )


__all__ = ["DEFAULT", "Geometry", "Thresholds", "pairs", "verify"]
