"""Hostile images (issue 13): per file, wall time and the worker's peak RSS; and whether a
harassing text in another server is still flagged while two CPU-bomb JPEGs are refused.

Run: python benchmarks/bench_hostile_images.py [--no-nudity] [--skip-responsiveness]

Part 1 runs every file of tests/hostile_images.py (plus an ordinary photo) through one
image worker with NudeNet loaded; "peak" is the kernel's high-water mark of the worker's
resident memory during that file (reset before each job). Part 2 uses the real Pipeline and
store with a keyword stand-in text detector and the real image scanner (2 workers): two
messages with a CPU-bomb JPEG arrive in server A, then a harassing text in server B. It runs
twice: with the default limits (the scan cap refuses the bombs before decoding) and with the
scan cap switched off, so the bombs really decode until the worker timeout kills them.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import MappingProxyType

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import ServerSettings, Settings  # noqa: E402
from bot.image_scan import ImageScan  # noqa: E402
from bot.models import Action, ActionResult, Attachment, Message  # noqa: E402
from bot.pipeline import Pipeline  # noqa: E402
from bot.store import Store  # noqa: E402
from classifiers.base import Verdict  # noqa: E402
from classifiers.images.decode import DEFAULT_LIMITS, ImageRejected, Limits  # noqa: E402
from classifiers.images.nsfw import nudity_available  # noqa: E402
from classifiers.images.worker import ImageWorkerPool, peak_rss, scan  # noqa: E402
from tests.hostile_images import HOSTILE, scan_bomb  # noqa: E402


class Keywords:
    """Stand-in text detector (the trained model's speed is measured in bench_text.py)."""

    name = "keywords"

    def classify(self, text: str) -> list[Verdict]:
        hit = "lonte" in text.lower()
        return [Verdict("sexual", 0.99 if hit else 0.01, 'keyword "lonte"' if hit else "", self.name)]


class FilesAdapter:
    platform = "discord"

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    async def execute(self, action: Action) -> ActionResult:
        return ActionResult(ok=True, ref=action.ref or "alert")

    async def fetch(self, attachment: Attachment, max_bytes: int) -> bytes:
        return self.files[attachment.url]


def photo(w: int = 1600, h: int = 1200) -> bytes:
    rng = np.random.default_rng(0)
    im = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
    b = io.BytesIO()
    im.save(b, "JPEG", quality=88)
    return b.getvalue()


def per_file(nudity: bool, repeats: int) -> None:
    files = [("ordinary 1600x1200 JPEG photo", photo, None)] + list(HOSTILE)
    uncapped = ("progressive JPEG 4000x4000, last scan x1000, scan cap off", lambda: scan_bomb(4000, 4000, 1000), "timeout")
    with ImageWorkerPool(1, nudity=nudity) as pool:
        scan(pool, photo())  # start the worker
        (pid,) = pool.pids()
        idle = peak_rss(pid)
        print(f"worker after start-up and one photo (NudeNet {'loaded' if nudity else 'off'}): peak {idle / 2**20:.0f} MB")
        print(f"{'file':58} {'bytes':>9} {'outcome':>16} {'median ms':>10} {'peak MB':>8}")
        for name, build, _ in files + [uncapped]:
            data = build()  # type: ignore[operator]
            times, peaks, outcome = [], [], "decoded"
            limits = Limits(max_jpeg_scans=10**6) if build is uncapped[1] else DEFAULT_LIMITS
            for _ in range(1 if build is uncapped[1] else repeats):
                t = time.perf_counter()
                try:
                    out = scan(pool, data, nudity=nudity, limits=limits)
                    peaks.append(out.peak_rss)
                except ImageRejected as e:
                    outcome = e.code
                    if pool.pids():
                        peaks.append(peak_rss(pool.pids()[0]))
                    elif "peak" in e.reason:
                        peaks.append(int(e.reason.rsplit("peak ", 1)[1].split()[0]) * 2**20)
                times.append(time.perf_counter() - t)
            print(f"{name:58} {len(data):9d} {outcome:>16} {statistics.median(times) * 1000:10.0f} {max(peaks) / 2**20:8.0f}")


async def responsiveness(db: Path, nudity: bool, limits: Limits, label: str) -> None:
    store = Store.open(db)
    settings = Settings(db_path=db, defaults=ServerSettings(mod_channel="1"))
    scanner = ImageScan(store, settings, nudity=nudity, limits=limits)
    p = Pipeline(settings, store, [Keywords()], image_scanner=scanner, base_thresholds=MappingProxyType({"sexual": 0.5}))
    bomb = scan_bomb(4000, 4000, 1000)
    p.adapters["discord"] = FilesAdapter({"x://bomb1": bomb, "x://bomb2": bomb, "x://photo": photo()})
    # start both workers first (a real bot has been running); then the attack
    await asyncio.gather(
        *(p.handle(Message("discord", "warmup", "c0", f"w{i}", "u0", text="", attachments=(Attachment(kind="image", url="x://photo"),))) for i in (1, 2))
    )

    def bomb_msg(i: int) -> Message:
        return Message("discord", "serverA", "c1", f"b{i}", "attacker", text="lihat", attachments=(Attachment(kind="image", url=f"x://bomb{i}"),))

    t0 = time.perf_counter()
    bombs = [asyncio.create_task(p.handle(bomb_msg(i))) for i in (1, 2)]
    await asyncio.sleep(0.3)  # both bombs are now in the workers
    t1 = time.perf_counter()
    d = await p.handle(Message("discord", "serverB", "c9", "t1", "harasser", text="dasar lonte murahan"))
    t_flag = time.perf_counter() - t1
    t2 = time.perf_counter()
    await p.handle(Message("discord", "serverC", "c5", "p1", "member", text="", attachments=(Attachment(kind="image", url="x://photo"),)))
    t_photo = time.perf_counter() - t2
    await asyncio.gather(*bombs)
    t_bombs = time.perf_counter() - t0
    print(
        f"{label}: text in server B flagged={d.flagged} {t_flag * 1000:.1f} ms after it arrived; "
        f"a photo in server C scanned {t_photo:.2f} s after it arrived; "
        f"both bombs refused {t_bombs:.2f} s after they arrived; workers killed: {scanner.pool.killed}"
    )
    scanner.close()
    p.executor.shutdown()
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-nudity", action="store_true", help="run the workers without NudeNet")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-responsiveness", action="store_true")
    args = ap.parse_args()
    nudity = nudity_available() and not args.no_nudity
    per_file(nudity, args.repeats)
    if not args.skip_responsiveness:
        for limits, label in ((DEFAULT_LIMITS, "default limits"), (Limits(max_jpeg_scans=10**6), f"scan cap off, {DEFAULT_LIMITS.timeout:g} s timeout")):
            with tempfile.TemporaryDirectory() as d:
                asyncio.run(responsiveness(Path(d) / "bench.db", nudity, limits, label))


if __name__ == "__main__":
    main()
