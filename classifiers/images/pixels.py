"""Pixel helpers shared by the re-share bank's hashing, keypoints and framing: an RGB array from
whatever was decoded, a box-filter downscale and a grey level. Pillow and numpy only, so hashes never
depend on OpenCV (the `images` extra)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from classifiers.images.decode import DecodedImage


def as_rgb(img: DecodedImage | np.ndarray | Any) -> np.ndarray:
    """The pixels as an (h, w, 3) uint8 RGB array: from a decoded upload, an array (grey, RGBA or
    float in [0, 1]) or a PIL image."""
    if isinstance(img, DecodedImage):
        return img.image
    if isinstance(img, np.ndarray):
        arr = img
    else:  # PIL image
        arr = np.asarray(img.convert("RGB"))
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.dtype != np.uint8:
        arr = np.clip(arr * (255.0 if arr.dtype.kind == "f" and arr.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    return arr


def downscale(arr: np.ndarray, side: int, upscale_to: int | None = None) -> np.ndarray:
    """Resize so the longest side is <= `side` (box filter, i.e. area averaging), or up to
    `upscale_to` (bilinear). Pillow, not OpenCV, so hashes never depend on the extra."""
    h, w = arr.shape[:2]
    s = side / max(h, w)
    if s >= 1.0:
        if not upscale_to or max(h, w) >= upscale_to:
            return arr
        s = upscale_to / max(h, w)
        resample = Image.Resampling.BILINEAR
    else:
        resample = Image.Resampling.BOX
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return np.asarray(Image.fromarray(np.ascontiguousarray(arr)).resize(size, resample))


def gray(arr: np.ndarray) -> np.ndarray:
    a = arr.astype(np.float32)
    return a[:, :, 0] * 0.299 + a[:, :, 1] * 0.587 + a[:, :, 2] * 0.114


def maxdiff(a: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Largest per-channel |a - ref| (int16 input); a reduction over a length-3 last axis
    is several times slower in numpy than three element-wise maxima."""
    r = np.asarray(ref, np.int16)
    d = np.abs(a[..., 0] - r[0])
    np.maximum(d, np.abs(a[..., 1] - r[1]), out=d)
    np.maximum(d, np.abs(a[..., 2] - r[2]), out=d)
    return d


__all__ = ["as_rgb", "downscale", "gray", "maxdiff"]
