"""A deterministic set of >= 2,000 varied images that are *not* re-shares of any bank image.

The re-share bank must never accuse an innocent picture, so its thresholds are set on images
chosen to be hard: near-duplicate stock backgrounds, flat colours and gradients, text and chat
screenshots (same UI as the framed re-shares), memes sharing one template with different
captions, collages, faces, and photo-like procedural scenes. Everything comes from packaged
or procedural sources (scikit-image's bundled samples, Pillow drawing, numpy noise): nothing is
downloaded and nothing is explicit. Same seed, same images.

Run alone to write a contact sheet: python benchmarks/distractor_set.py --sheet /tmp/sheet.png
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator

import numpy as np
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

#: scikit-image samples that are not bank images (benchmarks/bench_images.py BANK_NAMES)
SAMPLES = [
    "brick",
    "grass",
    "gravel",
    "page",
    "text",
    "cell",
    "colorwheel",
    "logo",
    "horse",
    "binary_blobs",
    "shepp_logan_phantom",
    "checkerboard",
    "microaneurysms",
]

_WORDS = (
    "kamu lihat ini gak sih wkwk anjir parah banget bestie omg look at this who did it lmao "
    "besok kuliah jam berapa aku udah di jalan sorry late traffic macet banget hari ini "
    "meeting moved to 3pm please confirm happy birthday selamat ulang tahun semoga sukses"
).split()


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - old Pillow
        return ImageFont.load_default()


def _sample(name: str) -> np.ndarray:
    import skimage.data as d

    x = getattr(d, name)()
    return as_rgb(x[0] if isinstance(x, tuple) else x)


def as_rgb(x: np.ndarray) -> np.ndarray:
    """A scikit-image sample (bool, float, grey or RGBA) as contiguous 8-bit RGB on white."""
    x = np.asarray(x)
    if x.dtype == bool:
        x = x.astype(np.uint8) * 255
    if x.dtype.kind == "f":
        x = (np.clip(x, 0, 1) * 255).astype(np.uint8)
    if x.ndim == 2:
        x = np.repeat(x[:, :, None], 3, axis=2)
    if x.shape[2] == 4:
        a = x[:, :, 3:4].astype(np.float32) / 255
        x = (x[:, :, :3] * a + 255 * (1 - a)).astype(np.uint8)
    return np.ascontiguousarray(x)


def _noise(rng: np.random.Generator, h: int, w: int, beta: float = 2.0) -> np.ndarray:
    """1/f^beta noise in [0, 1]: the spectrum of natural photos (clouds, foliage, terrain)."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    spec = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f ** (beta / 2)
    spec[0, 0] = 0
    n = np.fft.irfft2(spec, s=(h, w))
    n -= n.min()
    return n / max(float(n.max()), 1e-9)


def _size(rng: np.random.Generator) -> tuple[int, int]:
    return int(rng.integers(240, 640)), int(rng.integers(240, 640))


def scene(rng: np.random.Generator) -> np.ndarray:
    """A photo-like landscape: sky gradient, clouds, noisy terrain layers, a few objects."""
    h, w = _size(rng)
    sky_top, sky_low = rng.uniform(0.3, 1.0, 3), rng.uniform(0.5, 1.0, 3)
    t = np.linspace(0, 1, h)[:, None, None]
    img = sky_top * (1 - t) + sky_low * t
    img = img + 0.25 * (_noise(rng, h, w, 2.2)[..., None] - 0.5)
    for layer in range(int(rng.integers(1, 4))):
        ridge = _noise(rng, 1, w * 2, 2.0)[0, :w]
        base = h * (0.4 + 0.15 * layer) + (ridge - 0.5) * h * 0.3
        mask = np.arange(h)[:, None] > base[None, :]
        col = rng.uniform(0.05, 0.7, 3)
        tex = _noise(rng, h, w, 1.6)[..., None] * 0.4 + 0.8
        img = np.where(mask[..., None], col * tex, img)
    out = Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8))
    d = ImageDraw.Draw(out)
    for _ in range(int(rng.integers(0, 8))):
        x, y = int(rng.integers(0, w)), int(rng.integers(h // 3, h))
        r = int(rng.integers(5, max(6, w // 10)))
        d.ellipse((x - r, y - 2 * r, x + r, y), fill=tuple(int(c) for c in rng.integers(0, 200, 3)))
    return np.asarray(out)


def flat_or_gradient(rng: np.random.Generator) -> np.ndarray:
    h, w = _size(rng)
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return np.full((h, w, 3), rng.integers(0, 256, 3), np.uint8)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == 1:  # linear gradient at a random angle
        a = rng.uniform(0, np.pi)
        t = xx * np.cos(a) + yy * np.sin(a)
        t = (t - t.min()) / max(float(np.ptp(t)), 1e-9)
    elif kind == 2:  # radial
        t = np.hypot(xx - rng.uniform(0, w), yy - rng.uniform(0, h))
        t = t / max(float(t.max()), 1e-9)
    else:  # stripes / checks
        f = rng.uniform(0.02, 0.2)
        t = (np.sin(xx * f) * np.sin(yy * f * rng.uniform(0.5, 2)) + 1) / 2
    c0, c1 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    return (np.clip(c0 * (1 - t[..., None]) + c1 * t[..., None], 0, 1) * 255).astype(np.uint8)


def _sentence(rng: np.random.Generator, n: int) -> str:
    return " ".join(_WORDS[int(i)] for i in rng.integers(0, len(_WORDS), n))


def text_screenshot(rng: np.random.Generator) -> np.ndarray:
    """A chat or document screenshot: the same app chrome every time, different text."""
    W, H = int(rng.choice([540, 720, 1080])), int(rng.integers(700, 1300))
    dark = bool(rng.integers(0, 2))
    im = Image.new("RGB", (W, H), (17, 27, 33) if dark else (236, 229, 221))
    d = ImageDraw.Draw(im)
    d.rectangle((0, 0, W, 40), fill=(0, 0, 0) if dark else (7, 94, 84))
    d.text((16, 10), f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}", fill=(255, 255, 255), font=_font(18))
    d.rectangle((0, 40, W, 120), fill=(32, 44, 51) if dark else (7, 94, 84))
    d.text((80, 66), _sentence(rng, 2).title(), fill=(255, 255, 255), font=_font(22))
    y = 140
    while y < H - 120:
        mine = bool(rng.integers(0, 2))
        txt = _sentence(rng, int(rng.integers(2, 9)))
        bw = min(W - 60, 30 + 11 * len(txt))
        x0 = W - bw - 16 if mine else 16
        d.rounded_rectangle(
            (x0, y, x0 + bw, y + 56), radius=12, fill=((0, 92, 75) if dark else (220, 248, 198)) if mine else ((32, 44, 51) if dark else (255, 255, 255))
        )
        d.text((x0 + 12, y + 18), txt, fill=(230, 230, 230) if dark else (20, 20, 20), font=_font(20))
        y += int(rng.integers(70, 110))
    d.rounded_rectangle((12, H - 70, W - 70, H - 16), radius=24, fill=(32, 44, 51) if dark else (255, 255, 255))
    return np.asarray(im)


def document(rng: np.random.Generator) -> np.ndarray:
    W, H = int(rng.integers(400, 800)), int(rng.integers(500, 1000))
    im = Image.new("RGB", (W, H), (255, 255, 255))
    d = ImageDraw.Draw(im)
    size = int(rng.integers(12, 24))
    for y in range(20, H - 20, size + int(rng.integers(4, 12))):
        d.text((20, y), _sentence(rng, int(rng.integers(3, 10))), fill=(0, 0, 0), font=_font(size))
    return np.asarray(im)


class Templates:
    """Meme templates and stock backgrounds, each used many times with different content."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(seed + 1000)
        self.memes = [scene(rng) for _ in range(10)]
        self.backgrounds = [scene(rng) if i % 2 else flat_or_gradient(rng) for i in range(30)]

    def meme(self, rng: np.random.Generator, i: int) -> np.ndarray:
        """One template, a different caption (top/bottom, impact-style outline)."""
        base = Image.fromarray(self.memes[i % len(self.memes)]).copy()
        w, h = base.size
        d = ImageDraw.Draw(base)
        f = _font(max(14, h // 10))
        d.text((w // 20, h // 30), _sentence(rng, 3).upper(), fill=(255, 255, 255), font=f, stroke_width=2, stroke_fill=(0, 0, 0))
        d.text((w // 20, h - h // 6), _sentence(rng, 3).upper(), fill=(255, 255, 255), font=f, stroke_width=2, stroke_fill=(0, 0, 0))
        return np.asarray(base)

    def stock(self, rng: np.random.Generator, i: int) -> np.ndarray:
        """The same stock background with a different foreground: a product shot, a quote card."""
        base = Image.fromarray(self.backgrounds[i % len(self.backgrounds)]).copy()
        w, h = base.size
        d = ImageDraw.Draw(base)
        for _ in range(int(rng.integers(1, 4))):
            x, y = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
            bw, bh = int(rng.integers(30, max(31, w // 2))), int(rng.integers(30, max(31, h // 2)))
            col = tuple(int(c) for c in rng.integers(0, 256, 3))
            (d.ellipse if rng.random() < 0.5 else d.rectangle)((x, y, x + bw, y + bh), fill=col)
        if rng.random() < 0.5:
            d.text((w // 10, h // 2), _sentence(rng, 4), fill=(255, 255, 255), font=_font(max(12, h // 14)))
        return np.asarray(base)


def _sample_crop(rng: np.random.Generator, srcs: list[np.ndarray], i: int) -> np.ndarray:
    a = srcs[i % len(srcs)]
    h, w = a.shape[:2]
    ch, cw = max(32, int(h * rng.uniform(0.35, 1.0))), max(32, int(w * rng.uniform(0.35, 1.0)))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    c = a[y : y + ch, x : x + cw]
    if rng.random() < 0.3:
        c = c[::-1]
    if rng.random() < 0.3:
        c = c[:, ::-1]
    return np.ascontiguousarray(c)


def _faces() -> list[np.ndarray]:
    import skimage.data as d

    out = []
    for f in d.lfw_subset():
        g = (np.clip(f, 0, 1) * 255).astype(np.uint8)
        out.append(np.asarray(Image.fromarray(g).resize((200, 200), Image.Resampling.BICUBIC).convert("RGB")))
    return out


def _collage(rng: np.random.Generator, parts: list[np.ndarray]) -> np.ndarray:
    n = len(parts)
    cell = 300
    cols, rows = (2, 2) if n == 4 else (n, 1)
    im = Image.new("RGB", (cols * (cell + 4) + 4, rows * (cell + 4) + 4), (255, 255, 255))
    for k, t in enumerate(parts):
        th, tw = t.shape[:2]
        s = cell / max(th, tw)
        tile = Image.fromarray(t).resize((max(8, round(tw * s)), max(8, round(th * s))))
        im.paste(tile, (4 + (k % cols) * (cell + 4), 4 + (k // cols) * (cell + 4)))
    return np.asarray(im)


#: (category, share of the set) - the shares add up to 1
MIX: list[tuple[str, float]] = [
    ("sample crop", 0.22),
    ("face", 0.08),
    ("scene", 0.16),
    ("flat/gradient", 0.08),
    ("stock background", 0.14),
    ("meme template", 0.12),
    ("text screenshot", 0.08),
    ("document", 0.04),
    ("collage", 0.04),
    ("chat screenshot of a photo", 0.04),
]


def generate(n: int = 2000, seed: int = 7) -> Iterator[tuple[str, np.ndarray]]:
    """(category, RGB uint8 image) for `n` distractors, deterministic for a seed."""
    rng = np.random.default_rng(seed)
    srcs = [_sample(s) for s in SAMPLES]
    faces = _faces()
    tpl = Templates(seed)
    counts = [int(round(n * share)) for _, share in MIX]
    counts[0] += n - sum(counts)
    makers: dict[str, Callable[[int], np.ndarray]] = {
        "sample crop": lambda i: _sample_crop(rng, srcs, i),
        "face": lambda i: faces[i % len(faces)] if i < len(faces) else np.ascontiguousarray(faces[i % len(faces)][:, ::-1]),
        "scene": lambda i: scene(rng),
        "flat/gradient": lambda i: flat_or_gradient(rng),
        "stock background": lambda i: tpl.stock(rng, i),
        "meme template": lambda i: tpl.meme(rng, i),
        "text screenshot": lambda i: text_screenshot(rng),
        "document": lambda i: document(rng),
        "collage": lambda i: _collage(
            rng, [_sample_crop(rng, srcs, int(rng.integers(0, 99))) if rng.random() < 0.5 else scene(rng) for _ in range(int(rng.integers(2, 5)))]
        ),
        "chat screenshot of a photo": lambda i: _chat_photo(rng, scene(rng) if i % 2 else faces[i % len(faces)]),
    }
    for (name, _), k in zip(MIX, counts):
        for i in range(k):
            yield name, makers[name](i)


def smooth_picture(rng: np.random.Generator) -> np.ndarray:
    """A low-texture photo, the kind the bank's second keypoint pass (a lower FAST threshold) is for:
    a clock, plate or sign on a plain wall, or a heavily blurred scene; often recompressed."""
    from scipy import ndimage

    h, w = _size(rng)
    if rng.random() < 0.3:  # an out-of-focus photo
        img = ndimage.gaussian_filter(scene(rng).astype(np.float32), sigma=(rng.uniform(3, 8), rng.uniform(3, 8), 0))
        arr = np.clip(img, 0, 255).astype(np.uint8)
    else:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        c0, c1 = rng.uniform(0.3, 0.95, 3), rng.uniform(0.3, 0.95, 3)
        t = (xx / w * rng.uniform(0, 1) + yy / h * rng.uniform(0, 1))[..., None] / 2
        wall = (c0 * (1 - t) + c1 * t) + 0.03 * (_noise(rng, h, w, 2.5)[..., None] - 0.5)
        im = Image.fromarray((np.clip(wall, 0, 1) * 255).astype(np.uint8))
        d = ImageDraw.Draw(im)
        for _ in range(int(rng.integers(1, 3))):
            r = int(rng.integers(min(h, w) // 8, min(h, w) // 3))
            cx, cy = int(rng.integers(r, w - r + 1)), int(rng.integers(r, h - r + 1))
            face = tuple(int(c) for c in rng.integers(150, 256, 3))
            rim = tuple(int(c) for c in rng.integers(0, 120, 3))
            if rng.random() < 0.6:  # a clock: rim, ticks, two hands
                d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=face, outline=rim, width=max(2, r // 12))
                for k in range(12):
                    a = k * np.pi / 6
                    d.line((cx + 0.8 * r * np.cos(a), cy + 0.8 * r * np.sin(a), cx + 0.9 * r * np.cos(a), cy + 0.9 * r * np.sin(a)), fill=rim, width=2)
                for length, width in ((0.5, 4), (0.75, 2)):
                    a = rng.uniform(0, 2 * np.pi)
                    d.line((cx, cy, cx + length * r * np.cos(a), cy + length * r * np.sin(a)), fill=rim, width=width)
            else:  # a plate, a frame or a sign
                (d.ellipse if rng.random() < 0.5 else d.rectangle)((cx - r, cy - r, cx + r, cy + int(r * rng.uniform(0.5, 1))), fill=face, outline=rim, width=3)
        arr = np.asarray(im)
    if rng.random() < 0.5:
        import io

        b = io.BytesIO()
        Image.fromarray(arr).save(b, "JPEG", quality=int(rng.integers(40, 90)))
        arr = np.asarray(Image.open(b).convert("RGB"))
    return np.ascontiguousarray(arr)


def generate_smooth(n: int = 300, seed: int = 9) -> Iterator[tuple[str, np.ndarray]]:
    """`n` low-texture distractors (a set apart, so `generate`'s set stays the same for a seed)."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield "smooth picture", smooth_picture(rng)


def _chat_photo(rng: np.random.Generator, photo: np.ndarray) -> np.ndarray:
    shot = Image.fromarray(text_screenshot(rng))
    w = shot.width * 2 // 3
    h = max(8, round(photo.shape[0] * w / photo.shape[1]))
    shot.paste(Image.fromarray(photo).resize((w, min(h, shot.height - 300))), (shot.width - w - 20, 160))
    return np.asarray(shot)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--sheet", help="write a contact sheet of the first image of each category here")
    args = ap.parse_args(argv)
    seen: dict[str, int] = {}
    thumbs = []
    for cat, img in generate(args.n, args.seed):
        if cat not in seen:
            thumbs.append(Image.fromarray(img).resize((160, 160)))
        seen[cat] = seen.get(cat, 0) + 1
    for cat, k in seen.items():
        print(f"{cat:28s} {k:5d}")
    print(f"{'total':28s} {sum(seen.values()):5d}")
    if args.sheet:
        sheet = Image.new("RGB", (160 * len(thumbs), 160))
        for i, t in enumerate(thumbs):
            sheet.paste(t, (160 * i, 0))
        sheet.save(args.sheet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
