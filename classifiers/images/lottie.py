"""Telegram animated stickers (.tgs): gzip-compressed Lottie JSON. We read the raster images a
sticker embeds, and do not render its vector shapes.

Why not render: a Lottie file is drawn vector art (rendering it needs rlottie, a native library
with no maintained wheel here), and vector art is not where a victim's photo or a nude ends up.
But Lottie lets an animation embed bitmaps (`assets[].p` as a `data:image/...;base64,` URI), and
that is exactly how a photo could be smuggled into a sticker; those bitmaps go through the same
safe image decoder as any upload. A sticker with no bitmap is refused as `vector_only` (counted,
not flagged). Decompression is capped (a small .tgs can inflate to gigabytes).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import zlib
from typing import Any

from classifiers.images.decode import DecodedImage, ImageRejected, Limits, decode

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"


def _reject(reason: str, code: str) -> ImageRejected:
    log.log(logging.INFO if code == "vector_only" else logging.WARNING, "animated sticker rejected (%s): %s", code, reason)
    return ImageRejected(reason, code)


def is_lottie(data: bytes) -> bool:
    """A gzip stream: how a .tgs sticker starts (we accept no other gzip)."""
    return data[:2] == GZIP_MAGIC


def inflate_capped(data: bytes, max_bytes: int) -> bytes:
    """Gunzip, refusing as soon as the output passes `max_bytes` (a gzip bomb stops there)."""
    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, max_bytes + 1)
    except zlib.error as e:
        raise _reject(f"animated sticker is not valid gzip ({e})", "corrupt") from None
    if len(out) > max_bytes or d.unconsumed_tail:
        raise _reject(f"animated sticker inflates past the {max_bytes:,}-byte cap", "too_large")
    return out


def embedded_images(doc: Any, limit: int) -> list[bytes]:
    """Bytes of the first `limit` base64 bitmaps in a Lottie document's assets."""
    out: list[bytes] = []
    assets = doc.get("assets") if isinstance(doc, dict) else None
    for asset in assets if isinstance(assets, list) else []:
        uri = asset.get("p") if isinstance(asset, dict) else None
        if not isinstance(uri, str) or not uri.startswith("data:image/") or ";base64," not in uri[:64]:
            continue
        try:
            out.append(base64.b64decode(uri.split(",", 1)[1], validate=False))
        except (binascii.Error, ValueError):
            continue
        if len(out) >= limit:
            break
    return out


def decode_lottie(data: bytes, limits: Limits) -> DecodedImage:
    """The first frame of each embedded bitmap (at most `max_embedded_images`), or `ImageRejected`."""
    raw = inflate_capped(data, limits.max_lottie_bytes)
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise _reject(f"animated sticker is not valid Lottie JSON ({type(e).__name__})", "corrupt") from None
    images = embedded_images(doc, limits.max_embedded_images)
    if not images:
        raise _reject("animated sticker is vector-only (no embedded bitmap to check)", "vector_only")
    frames = []
    size = (0, 0)
    for blob in images:
        img = decode(blob, limits)  # an unreadable bitmap refuses the sticker, with the decoder's reason
        frames.append(img.image)
        size = size if size != (0, 0) else img.size
    return DecodedImage(frames=frames, format="Lottie", size=size, n_frames=len(frames), frame_indices=list(range(len(frames))))


__all__ = ["decode_lottie", "embedded_images", "inflate_capped", "is_lottie"]
