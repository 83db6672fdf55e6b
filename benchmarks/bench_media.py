"""Every kind of media (issue 17 items 4-5): wall time per upload through one image worker, the
worker's peak memory, and the cost of OCR per image.

Run: python benchmarks/bench_media.py [--repeat N] [--no-nudity] [--no-ocr]

Part 1 scans each kind of media (made in code by tests/media_files.py: videos via cv2.VideoWriter,
animations via Pillow, a .tgs sticker) through one worker with NudeNet loaded (unless --no-nudity)
and a 1-entry bank, as the bot does: decode + sample frames + NudeNet on each sampled frame +
fingerprints of each frame + bank match. Reported: median and max wall time of N runs (the
parent's view: pipe round trip included), frames sampled, and the worker's peak RSS.

Then the hostile media of tests/hostile_images.py, refused or sampled, with the same worker.

Part 2 (needs the `ocr` extra) measures RapidOCR on one thread: the same worker scanning the
same pictures with and without OCR, so the difference is what OCR adds per image.
"""

from __future__ import annotations

import argparse
import io
import logging
import statistics
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classifiers.images.bank import BankIndex, fingerprint  # noqa: E402
from classifiers.images.nsfw import nudity_available  # noqa: E402
from classifiers.images.ocr import ocr_available  # noqa: E402
from classifiers.images.worker import ImageWorkerPool, peak_rss, scan  # noqa: E402
from classifiers.images.decode import ImageRejected  # noqa: E402
from tests.hostile_images import HOSTILE_MEDIA  # noqa: E402
from tests.media_files import animation, benign, picture, still, tgs, video  # noqa: E402


def jpeg(im: Image.Image, q: int = 85) -> bytes:
    b = io.BytesIO()
    im.convert("RGB").save(b, "JPEG", quality=q)
    return b.getvalue()


def meme(size: tuple[int, int], lines: list[str]) -> Image.Image:
    im = benign(8, size)
    d = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=max(18, size[1] // 12))
    for i, line in enumerate(lines):
        d.text((20, 20 + i * (size[1] // 8)), line, fill=(255, 255, 255), font=font, stroke_width=2, stroke_fill=(0, 0, 0))
    return im


def media() -> list[tuple[str, bytes]]:
    pic = picture("reshare_jpeg")
    return [
        ("JPEG photo 1280x960", jpeg(benign(2, (1280, 960)))),
        ("MP4 640x360, 10 s @ 30 fps (mp4v)", video(pic, "mp4", n=300, at=150, size=(640, 360), fps=30)),
        ("MP4 1280x720, 10 s @ 30 fps (mp4v)", video(pic, "mp4", n=300, at=150, size=(1280, 720), fps=30)),
        ("WebM 512x512, 3 s @ 30 fps (VP8 video sticker)", video(pic, "webm", n=90, at=45, size=(512, 512), fps=30)),
        ("animated GIF 480x360, 40 frames", animation(pic, "GIF", n=40, at=20, size=(480, 360))),
        ("animated WebP 512x512, 40 frames", animation(pic, "WEBP", n=40, at=20, size=(512, 512))),
        ("static WebP sticker 512x512", still(pic.resize((512, 512)), "WEBP")),
        (".tgs sticker with one embedded bitmap", tgs(pic.resize((512, 512)))),
    ]


def timed(pool: ImageWorkerPool, data: bytes, indexes, repeat: int, **kw) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = scan(pool, data, indexes, **kw)
        times.append((time.perf_counter() - t) * 1000)
    return times, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--no-nudity", action="store_true")
    ap.add_argument("--no-ocr", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)  # refusals are reported in the table, not logged line by line
    nudity = nudity_available() and not args.no_nudity
    index = BankIndex()
    index.add(1, fingerprint(picture("original")))
    print(f"Part 1: one worker, NudeNet {'on' if nudity else 'off'}, {args.repeat} runs each")
    print(f"{'media':50} {'bytes':>9} {'frames':>6} {'median ms':>9} {'max ms':>7} {'peak MB':>7}  match")
    with ImageWorkerPool(1, nudity=nudity) as pool:
        scan(pool, jpeg(benign(1)), [index], nudity=nudity)  # warm
        for name, data in media():
            times, out = timed(pool, data, [index], args.repeat, nudity=nudity)
            print(
                f"{name:50} {len(data):9,} {out.sampled:>6}"
                f"{statistics.median(times):9.0f} {max(times):7.0f} {out.peak_rss / 2**20:7.0f}  "
                f"{'entry #%d' % out.match.entry_id if out.match else '-'}"
            )
        print(f"\nHostile media (tests/hostile_images.py HOSTILE_MEDIA), same worker, {args.repeat} runs each")
        print(f"{'file':45} {'bytes':>10} {'median ms':>9} {'peak MB':>7}  outcome")
        for name, build, _code in HOSTILE_MEDIA:
            data = build()
            times, outcome = [], ""
            for _ in range(args.repeat):
                t = time.perf_counter()
                try:
                    out = scan(pool, data, [index], nudity=nudity)
                    outcome = f"scanned, {out.sampled} frames"
                except ImageRejected as exc:
                    outcome = f"refused ({exc.code}): {exc.reason[:60]}"
                times.append((time.perf_counter() - t) * 1000)
            peak = peak_rss(pool.pids()[0]) if pool.pids() else 0
            print(f"{name:45} {len(data):10,} {statistics.median(times):9.0f} {peak / 2**20:7.0f}  {outcome}")
    if args.no_ocr or not ocr_available():
        print("\nPart 2 skipped" + ("" if args.no_ocr else " (pip install 'triagebot[ocr]')"))
        return
    pictures = [
        ("meme 640x360, 2 caption lines", jpeg(meme((640, 360), ["DASAR MONYET", "PULANG SANA"]))),
        ("photo 1280x960 with a caption", jpeg(meme((1280, 960), ["kirim foto bugil kamu"]))),
        ("photo 1280x960, no text", jpeg(benign(2, (1280, 960)))),
        ("chat screenshot 1080x1920, 12 lines", jpeg(meme((1080, 1920), [f"pesan nomor {i} dari grup" for i in range(12)]))),
    ]
    print(f"\nPart 2: OCR cost (RapidOCR, 1 thread), NudeNet off, {args.repeat} runs each")
    print(f"{'picture':40} {'without ms':>10} {'with OCR ms':>11} {'OCR adds ms':>11} {'peak MB':>7}  text")
    with ImageWorkerPool(1, nudity=False, ocr=True) as pool:
        scan(pool, jpeg(benign(1)), nudity=False, ocr=True)  # warm
        for name, data in pictures:
            base, _ = timed(pool, data, [], args.repeat, nudity=False, ocr=False)
            with_ocr, out = timed(pool, data, [], args.repeat, nudity=False, ocr=True)
            b, w = statistics.median(base), statistics.median(with_ocr)
            text = out.text.replace("\n", " / ")
            print(f"{name:40} {b:10.0f} {w:11.0f} {w - b:11.0f} {out.peak_rss / 2**20:7.0f}  {text[:60]!r}")


if __name__ == "__main__":
    main()
