"""Harmless synthetic pictures for the demo: a stand-in for the victim's photo and its re-shares.

Nothing explicit is ever shipped or drawn; the point is to show the re-share bank matching
an image after cropping, recompression and watermark removal.
"""

from __future__ import annotations

import io
import logging
import random

from PIL import Image, ImageDraw, ImageFilter

log = logging.getLogger(__name__)


def original(seed: int = 7, size: tuple[int, int] = (640, 800)) -> Image.Image:
    """A 'portrait-like' picture with a watermark in the corner, deterministic from the seed."""
    rng = random.Random(seed)
    w, h = size
    im = Image.new("RGB", size, (rng.randrange(150, 220), rng.randrange(120, 180), rng.randrange(90, 160)))
    d = ImageDraw.Draw(im)
    for y in range(h):  # warm vertical gradient for a backdrop
        c = int(60 + 120 * y / h)
        d.line([(0, y), (w, y)], fill=(c + 40, c, max(0, c - 30)))
    for _ in range(40):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        r = rng.randrange(10, 120)
        d.ellipse([x0 - r, y0 - r, x0 + r, y0 + r], fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    d.ellipse([w * 0.3, h * 0.15, w * 0.7, h * 0.5], fill=(224, 180, 150))  # a head-ish shape
    d.rectangle([w * 0.2, h * 0.5, w * 0.8, h], fill=(90, 40, 120))
    im = im.filter(ImageFilter.GaussianBlur(1.2))
    d = ImageDraw.Draw(im)
    d.rectangle([w - 190, h - 60, w - 10, h - 10], fill=(255, 255, 255))
    d.text((w - 180, h - 45), "@sari.cooks", fill=(0, 0, 0))
    return im


def _jpeg(im: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def variant(name: str) -> bytes:
    """The re-shared copies the demo chat attaches."""
    im = original()
    w, h = im.size
    if name == "original":
        buf = io.BytesIO()
        im.save(buf, "PNG")
        return buf.getvalue()
    if name == "reshare_cropped":
        return _jpeg(im.crop((int(w * 0.08), int(h * 0.06), int(w * 0.95), int(h * 0.9))), 80)
    if name == "reshare_jpeg":
        return _jpeg(im.resize((w // 2, h // 2)), 40)
    if name == "reshare_watermark_cropped":
        return _jpeg(im.crop((0, 0, w, h - 70)).resize((int(w * 0.75), int((h - 70) * 0.75))), 60)
    raise KeyError(f"unknown demo image {name!r}")
