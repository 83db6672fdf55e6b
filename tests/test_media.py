"""Every kind of media decodes to sampled frames the bank and nudity checks can use (videos, animations,
stickers), and hostile ones are refused with a reason. In-process here; through the worker in
tests/test_image_worker.py and end to end in tests/test_image_pipeline.py."""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import tempfile

import pytest

from classifiers.images.bank import BankIndex, fingerprint
from classifiers.images.decode import ImageRejected, Limits
from classifiers.images.lottie import decode_lottie, inflate_capped
from classifiers.images.media import decode_media, media_kind, timeout_for
from classifiers.images.video import declared_dimensions, video_format
from tests.hostile_images import HOSTILE_MEDIA, mp4_lying_small, webm_without_duration
from tests.media_files import animation, benign, picture, still, tgs, video

pytestmark = pytest.mark.skipif(importlib.util.find_spec("cv2") is None, reason="videos are read with OpenCV's FFmpeg (pip install 'triagebot[images]')")

#: media kind -> builder of that kind carrying a picture (None: no picture, noise frames only)
KINDS = {
    "MP4 video": lambda pic: video(pic, "mp4"),
    "MOV video": lambda pic: video(pic, "mov"),
    "WebM video (Telegram video sticker)": lambda pic: video(pic, "webm"),
    "animated GIF": lambda pic: animation(pic, "GIF"),
    "animated WebP": lambda pic: animation(pic, "WEBP"),
    "APNG": lambda pic: animation(pic, "PNG"),
    "static WebP sticker": lambda pic: still(pic or benign(5), "WEBP"),
    "animated sticker (.tgs) with a bitmap": lambda pic: tgs(pic or benign(5)),
}


@pytest.fixture(scope="module")
def bank() -> BankIndex:
    idx = BankIndex()
    idx.add(1, fingerprint(picture("original")))
    return idx


def best_match(data: bytes, bank: BankIndex):
    img = decode_media(data, Limits())
    for frame in img.frames:
        m = bank.match(fingerprint(frame, bank_variants=False))
        if m is not None:
            return m
    return None


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("content", ["re-share (JPEG q35)", "benign"])
def test_every_kind_reaches_the_bank_check(kind: str, content: str, bank: BankIndex) -> None:
    pic = picture("reshare_jpeg") if content.startswith("re-share") else benign(9)
    m = best_match(KINDS[kind](pic), bank)
    if content.startswith("re-share"):
        assert m is not None and m.entry_id == 1
    else:
        assert m is None


@pytest.mark.parametrize("container,fmt", [("mp4", "MP4"), ("mov", "MOV"), ("webm", "WebM")])
def test_video_frames_are_the_first_then_evenly_spaced(container: str, fmt: str) -> None:
    img = decode_media(video(None, container, n=40, size=(96, 64)), Limits(max_video_frames=5))
    assert img.format == fmt and img.size == (96, 64) and img.n_frames == 40
    assert img.frame_indices == [0, 10, 20, 29, 39]
    assert all(f.shape == (64, 96, 3) for f in img.frames)


def test_video_frames_are_downscaled() -> None:
    img = decode_media(video(None, n=2, size=(640, 360)), Limits(max_output_side=128))
    assert img.frames[0].shape == (72, 128, 3)


@pytest.mark.parametrize(
    "data,kind",
    [
        (b"", "image"),
        (b"\x89PNG\r\n\x1a\n", "image"),
        (b"\x00\x00\x00\x18ftypisom" + b"\x00" * 8, "video"),
        (b"\x00\x00\x00\x14ftypqt  " + b"\x00" * 8, "video"),
        (b"\x1a\x45\xdf\xa3\x9f", "video"),
        (b"\x1f\x8b\x08", "lottie"),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 8, "image"),
        (b"\x00\x00\x00\x18ftypavif" + b"\x00" * 8, "image"),
    ],
)
def test_kind_is_decided_from_the_bytes(data: bytes, kind: str) -> None:
    assert media_kind(data) == kind
    assert timeout_for(data, Limits(timeout=1, video_timeout=7)) == (7 if kind == "video" else 1)


@pytest.mark.parametrize("name,build,code", HOSTILE_MEDIA, ids=[h[0] for h in HOSTILE_MEDIA])
def test_hostile_media_is_refused_with_a_reason(name: str, build, code: str | None) -> None:
    data = build()
    if code is None:
        img = decode_media(data, Limits())
        assert 1 <= len(img.frames) <= Limits().max_video_frames
        return
    with pytest.raises(ImageRejected) as exc:
        decode_media(data, Limits())
    assert exc.value.code == code and exc.value.reason and "\n" not in exc.value.reason


def test_a_video_lying_about_its_size_is_refused_by_its_decoded_size() -> None:
    data = mp4_lying_small(400, 300)
    assert declared_dimensions(data, "MP4") == [(64, 48)]
    with pytest.raises(ImageRejected) as exc:
        decode_media(data, Limits(max_video_pixels=100_000))
    assert exc.value.code == "too_many_pixels" and "400x300" in exc.value.reason


@pytest.mark.parametrize("container", ["mp4", "webm"])
def test_declared_dimensions_are_read_from_the_container(container: str) -> None:
    data = video(None, container, n=2, size=(96, 64))
    assert (96, 64) in declared_dimensions(data, video_format(data) or "")


def test_a_video_of_unknown_length_is_read_forward_within_the_step_budget() -> None:
    img = decode_media(webm_without_duration(600), Limits(max_video_frames=4, max_video_step=40))
    assert img.frame_indices == [0, 10, 20, 30] and img.n_frames == 31


def test_sampling_keeps_the_frames_it_has_when_time_runs_short() -> None:
    img = decode_media(video(None, n=60, size=(64, 48)), Limits(video_timeout=0.0))
    assert len(img.frames) == 1 and img.frame_indices == [0]


def test_nothing_is_written_to_disk() -> None:
    before = set(os.listdir(tempfile.gettempdir()))
    decode_media(video(picture(), n=4), Limits())
    assert not {n for n in set(os.listdir(tempfile.gettempdir())) - before if "triagebot" in n}


@pytest.mark.parametrize(
    "doc,code",
    [
        ({"v": "5.5.2", "layers": []}, "vector_only"),
        ({"assets": [{"p": "data:image/png;base64,AAAA"}]}, "unrecognised"),  # the decoder's own reason
        ({"assets": [{"p": "https://example.org/x.png"}]}, "vector_only"),
        ({"assets": "nope"}, "vector_only"),
        ([], "vector_only"),
    ],
)
def test_animated_stickers_without_a_readable_bitmap_are_refused(doc, code: str) -> None:
    with pytest.raises(ImageRejected) as exc:
        decode_lottie(gzip.compress(json.dumps(doc).encode()), Limits())
    assert exc.value.code == code


@pytest.mark.parametrize("payload,code", [(b"{" * 100_000, "corrupt"), (b"not json", "corrupt"), (b"", "corrupt")])
def test_broken_lottie_json_is_refused(payload: bytes, code: str) -> None:
    with pytest.raises(ImageRejected) as exc:
        decode_lottie(gzip.compress(payload), Limits())
    assert exc.value.code == code


def test_embedded_bitmaps_are_capped() -> None:
    doc = json.loads(gzip.decompress(tgs(benign(2))))
    doc["assets"] = doc["assets"] * 10
    img = decode_lottie(gzip.compress(json.dumps(doc).encode()), Limits(max_embedded_images=3))
    assert len(img.frames) == 3


def test_inflate_stops_at_the_cap() -> None:
    with pytest.raises(ImageRejected):
        inflate_capped(gzip.compress(b"x" * 5000), 4999)
    assert inflate_capped(gzip.compress(b"x" * 5000), 5000) == b"x" * 5000


@pytest.mark.skipif(importlib.util.find_spec("nudenet") is None, reason="nudenet not installed")
def test_scan_image_cli_takes_videos_and_stickers(tmp_path) -> None:
    from click.testing import CliRunner

    from bot.cli import main

    paths = []
    for name, data in [("clip.mp4", video(benign(3), n=6)), ("sticker.tgs", tgs(benign(4))), ("cut.webm", video(None, "webm")[:40])]:
        p = tmp_path / name
        p.write_bytes(data)
        paths.append(str(p))
    r = CliRunner().invoke(main, ["scan-image", *paths, "--format", "jsonl"], catch_exceptions=False)
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert r.exit_code == 1 and [("scores" in row, "error" in row) for row in rows] == [(True, False), (True, False), (False, True)]
