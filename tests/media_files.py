"""Test media made at run time (nothing shipped): videos via cv2.VideoWriter, animated GIF/WebP/APNG
via Pillow, Telegram-style .tgs stickers (gzipped Lottie JSON), each optionally carrying a picture.

Shared by tests/test_media.py, tests/test_image_pipeline.py, the adapter tests and benchmarks.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import tempfile

import numpy as np
from PIL import Image

from bot import demo_images

#: container -> (file suffix, fourcc) that the opencv wheel's FFmpeg writes
VIDEO_CODECS = {"mp4": (".mp4", "mp4v"), "mov": (".mov", "mp4v"), "webm": (".webm", "VP80")}


def picture(name: str = "original") -> Image.Image:
    """A demo picture (the victim's stand-in, or one of its re-shares) as RGB."""
    return Image.open(io.BytesIO(demo_images.variant(name))).convert("RGB")


def benign(seed: int = 3, size: tuple[int, int] = (320, 400)) -> Image.Image:
    """A harmless picture unrelated to the demo's: a different seed of the same generator."""
    return demo_images.original(seed=seed, size=size)


def _frames(pic: Image.Image | None, n: int, at: int, size: tuple[int, int], seed: int = 0) -> list[Image.Image]:
    """`n` frames of drifting noise with `pic` (resized to `size`) at frame `at`, and held after it."""
    rng = np.random.default_rng(seed)
    base = np.asarray(benign(seed + 11, size))
    out = []
    for i in range(n):
        if pic is not None and i >= at:
            out.append(pic.resize(size))
        else:
            shift = (base.astype(np.int16) + rng.integers(-20, 20, (1, 1, 3))).clip(0, 255).astype(np.uint8)
            out.append(Image.fromarray(np.roll(shift, i * 7, axis=1)))
    return out


def video(pic: Image.Image | None, container: str = "mp4", n: int = 12, at: int = 6, size: tuple[int, int] = (240, 300), fps: float = 10.0) -> bytes:
    """A short video whose frames from `at` on show `pic` (None: noise only)."""
    import cv2

    suffix, fourcc = VIDEO_CODECS[container]
    fd, path = tempfile.mkstemp(suffix=suffix)
    os.close(fd)
    try:
        w = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), fps, size)
        if not w.isOpened():
            raise RuntimeError(f"OpenCV cannot write {container}")
        for f in _frames(pic, n, at, size):
            w.write(cv2.cvtColor(np.asarray(f), cv2.COLOR_RGB2BGR))
        w.release()
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.unlink(path)


def animation(pic: Image.Image | None, fmt: str = "GIF", n: int = 10, at: int = 7, size: tuple[int, int] = (240, 300)) -> bytes:
    """An animated GIF/WebP/APNG(PNG) whose frames from `at` on show `pic`."""
    frames = _frames(pic, n, at, size)
    b = io.BytesIO()
    kw: dict = {"save_all": True, "append_images": frames[1:], "duration": 100, "loop": 0}
    if fmt == "WEBP":
        kw.update(quality=90)
    frames[0].save(b, fmt, **kw)
    return b.getvalue()


def still(pic: Image.Image, fmt: str = "WEBP") -> bytes:
    b = io.BytesIO()
    pic.save(b, fmt, **({"quality": 90} if fmt in ("WEBP", "JPEG") else {}))
    return b.getvalue()


def tgs(pic: Image.Image | None = None, size: int = 512) -> bytes:
    """A Telegram animated sticker: gzipped Lottie JSON, one vector layer, plus `pic` as an embedded bitmap."""
    doc: dict = {
        "v": "5.5.2",
        "fr": 60,
        "ip": 0,
        "op": 60,
        "w": size,
        "h": size,
        "tgs": 1,
        "assets": [],
        "layers": [{"ty": 4, "ind": 1, "ip": 0, "op": 60, "st": 0, "ks": {}, "shapes": []}],
    }
    if pic is not None:
        uri = "data:image/png;base64," + base64.b64encode(still(pic, "PNG")).decode()
        doc["assets"].append({"id": "image_0", "w": pic.width, "h": pic.height, "u": "", "p": uri, "e": 1})
        doc["layers"].append({"ty": 2, "ind": 2, "refId": "image_0", "ip": 0, "op": 60, "st": 0, "ks": {}})
    return gzip.compress(json.dumps(doc).encode())
