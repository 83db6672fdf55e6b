"""Image work in killable worker processes: hostile files are refused (or safely downscaled)
before the timeout with bounded memory, an overrunning worker is killed and replaced, and
matching through the worker equals matching in-process."""

from __future__ import annotations

import importlib.util
import io
import os
import threading

import numpy as np
import pytest
from PIL import Image

from classifiers.images.bank import BankIndex, fingerprint
from classifiers.images.decode import Limits, decode
from classifiers.images.nsfw import nudity_available
from classifiers.images.worker import ImageRejected, ImageWorkerPool, peak_rss, scan
from tests.hostile_images import HOSTILE, HOSTILE_MEDIA, scan_bomb
from tests.media_files import picture, tgs, video

#: the issue's target: a worker's peak with NudeNet loaded, per image
MAX_WORKER_RSS = 400 * 1024 * 1024
UNCAPPED_SCANS = Limits(max_jpeg_scans=10**6)


def photo_jpeg(w: int = 320, h: int = 240, seed: int = 0, angle: float = 0.0) -> bytes:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    im = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
    if angle:
        im = im.rotate(angle, Image.Resampling.BILINEAR, expand=True)
    b = io.BytesIO()
    im.save(b, "JPEG", quality=90)
    return b.getvalue()


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] not in ("Z", "X")
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def pool():
    """One worker (with NudeNet when installed), so its peak memory is this test's."""
    with ImageWorkerPool(1, nudity=nudity_available()) as p:
        yield p


@pytest.mark.parametrize("name,build,code", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_file_is_refused_or_downscaled_within_the_timeout(pool, name, build, code, caplog) -> None:
    data = build()
    if code is None:
        out = scan(pool, data)
        assert out.records, "a decoded image comes back as bank records (hashes), never pixels"
        if nudity_available():
            assert [v.label for v in out.verdicts] == ["sexual"]
        peak = out.peak_rss
    else:
        with pytest.raises(ImageRejected) as exc:
            scan(pool, data)
        assert exc.value.code == code, exc.value.reason  # never "timeout": refused before it fired
        assert exc.value.reason and "\n" not in exc.value.reason
        assert any(exc.value.reason in r.getMessage() for r in caplog.records)  # logged, with the reason
        (pid,) = pool.pids()
        peak = peak_rss(pid)
    assert pool.killed == 0
    if peak:  # Linux: the kernel's high-water mark, reset at the start of each job
        assert peak < MAX_WORKER_RSS, f"{peak / 2**20:.0f} MB"


def test_a_worker_stuck_past_the_timeout_is_killed_and_the_next_image_is_scanned() -> None:
    with ImageWorkerPool(1, nudity=False) as p:
        scan(p, photo_jpeg())
        (pid,) = p.pids()
        with pytest.raises(ImageRejected) as exc:  # without the scan cap this file decodes for ~10 s
            scan(p, scan_bomb(4000, 4000, 1000), limits=UNCAPPED_SCANS, timeout=0.2)
        assert exc.value.code == "timeout" and "worker was stopped" in exc.value.reason
        assert p.killed == 1 and not alive(pid)
        out = scan(p, photo_jpeg(seed=1))
        assert out.records and p.started == 2 and p.pids() != [pid]


def test_a_worker_that_dies_mid_image_is_replaced() -> None:
    bomb = scan_bomb(4000, 4000, 1000)
    with ImageWorkerPool(1, nudity=False) as p:
        scan(p, photo_jpeg())
        (pid,) = p.pids()
        killer = threading.Timer(0.1, os.kill, (pid, 9))  # as the OOM killer would, while it decodes
        killer.start()
        try:
            with pytest.raises(ImageRejected) as exc:
                scan(p, bomb, limits=UNCAPPED_SCANS, timeout=60)
        finally:
            killer.cancel()
        assert exc.value.code == "worker_died"
        assert scan(p, photo_jpeg(seed=2)).records and p.started == 2


def test_a_worker_that_died_while_idle_costs_no_image() -> None:
    with ImageWorkerPool(1, nudity=False) as p:
        scan(p, photo_jpeg())
        (pid,) = p.pids()
        os.kill(pid, 9)
        p._idle[0].proc.join(10)  # until the pool can know it is gone
        assert scan(p, photo_jpeg(seed=3)).records and p.started == 2 and p.killed == 0


def test_a_slow_image_holds_only_its_own_worker() -> None:
    with ImageWorkerPool(2, nudity=False) as p:
        results: dict[str, object] = {}

        def slow() -> None:
            try:
                scan(p, scan_bomb(4000, 4000, 1000), limits=UNCAPPED_SCANS, timeout=3)
            except ImageRejected as e:
                results["slow"] = e.code

        t = threading.Thread(target=slow)
        t.start()
        results["fast"] = [bool(scan(p, photo_jpeg(seed=i)).records) for i in range(3)]
        t.join()
        assert results == {"fast": [True, True, True], "slow": "timeout"}


def test_refusals_leave_the_worker_usable() -> None:
    with ImageWorkerPool(1, nudity=False) as p:
        for bad in (b"", b"not an image", scan_bomb(512, 512, 100)):
            with pytest.raises(ImageRejected):
                scan(p, bad)
        assert scan(p, photo_jpeg()).records and p.started == 1 and p.killed == 0


@pytest.mark.parametrize("angle", [0.0, 6.0, 15.0, 35.0])
def test_matching_through_the_worker_equals_matching_in_process(angle: float) -> None:
    """The query's keypoints are fetched from the worker only when the hash stage needs them."""
    originals = [photo_jpeg(400, 300, seed=s) for s in range(3)]
    index = BankIndex()
    for i, data in enumerate(originals):
        index.add(i, fingerprint(decode(data).image))
    query = photo_jpeg(400, 300, seed=1, angle=angle)
    local = index.match(fingerprint(decode(query).image, bank_variants=False))
    with ImageWorkerPool(1, nudity=False) as p:
        remote = scan(p, query, [index], nudity=False, records=False).match
    assert remote == local
    if angle == 0.0:
        assert remote is not None and remote.entry_id == 1


def test_records_from_the_worker_equal_in_process_records() -> None:
    data = photo_jpeg(640, 480, seed=4)
    with ImageWorkerPool(1, nudity=False) as p:
        out = scan(p, data, nudity=False)
    assert out.records == fingerprint(decode(data).image).to_records()


needs_opencv = pytest.mark.skipif(importlib.util.find_spec("cv2") is None, reason="videos are read with OpenCV's FFmpeg (pip install 'triagebot[images]')")


@needs_opencv
@pytest.mark.parametrize("name,build,code", HOSTILE_MEDIA, ids=[h[0] for h in HOSTILE_MEDIA])
def test_hostile_media_is_refused_in_the_worker_with_bounded_memory(pool, name, build, code) -> None:
    data = build()
    if code is None:
        out = scan(pool, data)
        assert out.records and out.n_frames >= 1
        peak = out.peak_rss
    else:
        with pytest.raises(ImageRejected) as exc:
            scan(pool, data)
        assert exc.value.code == code, exc.value.reason
        (pid,) = pool.pids()
        peak = peak_rss(pid)
    assert pool.killed == 0
    if peak:
        assert peak < MAX_WORKER_RSS, f"{peak / 2**20:.0f} MB"


@needs_opencv
@pytest.mark.parametrize("build", [lambda: video(picture(), n=6, at=3), lambda: tgs(picture())], ids=["MP4", "tgs"])
def test_media_matches_through_the_worker(build) -> None:
    index = BankIndex()
    index.add(7, fingerprint(picture()))
    with ImageWorkerPool(1, nudity=False) as p:
        out = scan(p, build(), [index], nudity=False)
    assert out.match is not None and out.match.entry_id == 7


@needs_opencv
def test_a_video_gets_the_video_timeout_and_is_killed_past_it() -> None:
    """Videos get `Limits.video_timeout`, not the picture timeout; past it the worker is killed."""
    slow = video(None, n=400, size=(320, 240))
    with ImageWorkerPool(1, nudity=False) as p:
        assert scan(p, slow, limits=Limits(timeout=0.0001, video_timeout=30)).n_frames == 400
        with pytest.raises(ImageRejected) as exc:
            scan(p, slow, limits=Limits(timeout=30, video_timeout=0.0001))
        assert exc.value.code == "timeout" and p.killed == 1


def test_pool_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ImageWorkerPool(0)
