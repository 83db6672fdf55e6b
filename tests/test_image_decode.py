"""Safe decoding: hostile files get a clear rejection (never a crash, never unbounded memory)."""

from __future__ import annotations

import concurrent.futures
import io
import logging
import struct
import tracemalloc
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from classifiers.errors import TriagebotError
from tests.hostile_images import scan_bomb
from classifiers.images.decode import (
    AVIF_AVAILABLE,
    DEFAULT_LIMITS,
    HEIF_AVAILABLE,
    ImageRejected,
    Limits,
    aread_capped,
    bytes_per_pixel,
    check_declared,
    decode,
    jpeg_cost,
    read_capped,
)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` (a decompression bomb's calling card)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def photo(w: int, h: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC))


def encode(arr: np.ndarray, fmt: str, **kw: object) -> bytes:
    b = io.BytesIO()
    Image.fromarray(arr).save(b, fmt, **kw)
    return b.getvalue()


def jpeg_bytes(w: int = 320, h: int = 240) -> bytes:
    return encode(photo(w, h), "JPEG", quality=85)


def gif_frames(n: int, side: int = 64) -> bytes:
    frames = [Image.fromarray(np.full((side, side, 3), (i * 7) % 256, np.uint8)) for i in range(n)]
    b = io.BytesIO()
    frames[0].save(b, "GIF", save_all=True, append_images=frames[1:], duration=20)
    return b.getvalue()


FAKE_HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200

BAD_INPUTS = [
    ("zero-byte file", b"", "empty"),
    ("text file named .jpg", b"hello, this is not a picture\n", "unrecognised"),
    ("truncated JPEG", jpeg_bytes()[:1500], "truncated"),
    ("SVG", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "format_not_allowed"),
    ("bare SVG", b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="9" height="9"/></svg>', "format_not_allowed"),
    ("EPS", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n", "format_not_allowed"),
    ("DOS EPS", b"\xc5\xd0\xd3\xc6" + b"\x00" * 64, "format_not_allowed"),
    ("PDF", b"%PDF-1.7\n1 0 obj\n", "format_not_allowed"),
    ("bomb: 100k x 100k PNG", png_declaring(100_000, 100_000), "too_many_pixels"),
    ("bomb: 10k x 10k PNG (Pillow would only warn)", png_declaring(10_000, 10_000), "too_many_pixels"),
    ("over our cap: 8k x 8k PNG", png_declaring(8_000, 8_000), "too_many_pixels"),
    ("one absurd side", png_declaring(30_000, 10), "too_many_pixels"),
    ("BMP (not whitelisted)", encode(photo(16, 16), "BMP"), "unrecognised"),
    ("TIFF (not whitelisted)", encode(photo(16, 16), "TIFF"), "unrecognised"),
    ("PNG header only", png_declaring(64, 64)[:33], "corrupt"),
    ("JPEG magic, garbage after", b"\xff\xd8\xff\xe0" + b"\x00" * 40, "corrupt"),
    ("GIF header only", b"GIF89a\x10\x00", "corrupt"),
]


@pytest.mark.parametrize("name,data,code", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_rejected_clearly(name: str, data: bytes, code: str, caplog: pytest.LogCaptureFixture) -> None:
    filters_before = list(warnings.filters)
    cap_before = Image.MAX_IMAGE_PIXELS
    with caplog.at_level(logging.WARNING, logger="classifiers.images.decode"):
        with pytest.raises(ImageRejected) as exc:
            decode(data)
    assert exc.value.code == code, exc.value.reason
    assert exc.value.reason and str(exc.value) == exc.value.reason
    assert any("image rejected" in r.getMessage() and exc.value.reason in r.getMessage() for r in caplog.records)
    # no global state was changed on the way
    assert list(warnings.filters) == filters_before and Image.MAX_IMAGE_PIXELS == cap_before


@pytest.mark.skipif(HEIF_AVAILABLE, reason="pillow-heif is installed, HEIC is accepted")
def test_heic_without_pillow_heif_names_the_missing_package() -> None:
    with pytest.raises(ImageRejected) as exc:
        decode(FAKE_HEIC)
    assert "pillow-heif" in exc.value.reason and exc.value.code == "format_not_allowed"


FORMATS = ["JPEG", "PNG", "WEBP", "GIF"] + (["AVIF"] if AVIF_AVAILABLE else [])


@pytest.mark.parametrize("fmt", FORMATS)
def test_whitelisted_formats_decode_to_rgb(fmt: str) -> None:
    img = decode(encode(photo(200, 120), fmt))
    assert img.format == fmt and img.size == (200, 120) and img.n_frames == 1
    assert img.image.shape == (120, 200, 3) and img.image.dtype == np.uint8


def test_transparency_is_flattened_to_rgb() -> None:
    rgba = np.zeros((50, 50, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:25, :, 3] = 255  # top half opaque red, bottom half transparent
    img = decode(encode(rgba, "PNG"))
    assert img.image.shape == (50, 50, 3)
    assert tuple(img.image[5, 5]) == (255, 0, 0) and tuple(img.image[45, 5]) == (255, 255, 255)


def test_300_frame_gif_samples_a_few_frames_with_bounded_memory() -> None:
    data = gif_frames(300)
    tracemalloc.start()
    try:
        img = decode(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert img.n_frames == 300
    assert 1 < len(img.frames) <= DEFAULT_LIMITS.max_frames_sampled
    assert img.frame_indices[0] == 0 and img.frame_indices[-1] > 200  # spread over the animation
    assert len({int(f[0, 0, 0]) for f in img.frames}) == len(img.frames)  # really different frames
    assert peak < 20 * 1024 * 1024


def test_animation_seek_budget_limits_frames_reached() -> None:
    limits = Limits(max_seek_pixels=64 * 64 * 10)
    img = decode(gif_frames(300), limits)
    assert img.n_frames == 300 and max(img.frame_indices) <= 9


def test_12_megapixel_photo_is_downscaled_via_draft() -> None:
    data = encode(photo(4000, 3000, seed=2), "JPEG", quality=80)
    tracemalloc.start()
    try:
        img = decode(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert img.size == (4000, 3000)
    assert max(img.image.shape[:2]) <= 1024 and img.image.shape[2] == 3
    assert img.image.shape[1] == 1024
    # full-resolution RGB would be 36 MB; draft() decodes at 1/2 scale at most
    assert peak < 20 * 1024 * 1024


def test_large_png_is_downscaled() -> None:
    img = decode(encode(photo(2500, 500), "PNG"))
    assert img.image.shape[:2] == (205, 1024) or max(img.image.shape[:2]) == 1024


@pytest.mark.parametrize("orientation,shape", [(1, (100, 200, 3)), (3, (100, 200, 3)), (6, (200, 100, 3)), (8, (200, 100, 3))])
def test_exif_orientation_is_applied(orientation: int, shape: tuple[int, int, int]) -> None:
    arr = np.zeros((100, 200, 3), np.uint8)
    arr[:, :100] = (255, 0, 0)  # left half red, right half blue
    arr[:, 100:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = orientation
    b = io.BytesIO()
    Image.fromarray(arr).save(b, "JPEG", quality=95, exif=exif.tobytes())
    img = decode(b.getvalue())
    assert img.image.shape == shape
    if orientation == 6:  # rotated 90° clockwise for display: red (left) ends up on top
        assert img.image[10, 50, 0] > 200 and img.image[190, 50, 2] > 200


@pytest.mark.parametrize(
    "size,w,h,ok",
    [
        (1000, 640, 480, True),
        (None, None, None, True),
        (DEFAULT_LIMITS.max_bytes + 1, 10, 10, False),
        (1000, 100_000, 100_000, False),
        (1000, 9000, 9000, False),
        (1000, 0, 10, False),
        (1000, 4000, 3000, True),
    ],
)
def test_check_declared(size: int | None, w: int | None, h: int | None, ok: bool) -> None:
    if ok:
        check_declared(size, w, h)
    else:
        with pytest.raises(ImageRejected):
            check_declared(size, w, h)


@pytest.mark.parametrize("as_stream", [True, False])
@pytest.mark.parametrize("n,cap,ok", [(1000, 1000, True), (1001, 1000, False), (0, 10, True), (300_000, 100_000, False)])
def test_read_capped(as_stream: bool, n: int, cap: int, ok: bool) -> None:
    payload = b"x" * n
    src = io.BytesIO(payload) if as_stream else (payload[i : i + 4096] for i in range(0, n, 4096))
    if ok:
        assert read_capped(src, cap) == payload
    else:
        with pytest.raises(ImageRejected) as exc:
            read_capped(src, cap)
        assert exc.value.code == "too_large"


@pytest.mark.parametrize("n,cap,ok", [(5000, 5000, True), (5001, 5000, False)])
async def test_aread_capped(n: int, cap: int, ok: bool) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, n, 1000):
            yield b"y" * min(1000, n - i)

    if ok:
        assert len(await aread_capped(chunks(), cap)) == n
    else:
        with pytest.raises(ImageRejected):
            await aread_capped(chunks(), cap)


def test_rejected_is_an_exception_with_reason() -> None:
    e = ImageRejected("because", "code")
    assert isinstance(e, TriagebotError) and e.reason == "because" and e.code == "code"


def test_concurrent_decodes_leave_warning_filters_alone() -> None:
    before = list(warnings.filters)
    inputs = [png_declaring(10_000, 10_000), jpeg_bytes(), gif_frames(20), png_declaring(100_000, 100_000)] * 6

    def one(data: bytes) -> str:
        try:
            decode(data)
            return "ok"
        except ImageRejected as e:
            return e.code

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        codes = list(pool.map(one, inputs))
    assert codes == ["too_many_pixels", "ok", "ok", "too_many_pixels"] * 6
    assert list(warnings.filters) == before


@pytest.mark.parametrize(
    "mode,fmt,animated,expected",
    [
        ("L", "PNG", False, 1),
        ("P", "GIF", False, 1),
        ("I;16", "PNG", False, 2),  # 16-bit grey costs twice 8-bit
        ("RGB", "PNG", False, 4),  # Pillow holds RGB in 4 bytes
        ("RGBA", "PNG", False, 4),
        ("RGB", "WEBP", False, 16),  # libwebp's canvases, then Pillow's copy
        ("P", "GIF", True, 8),  # later frames are composited in RGBA, previous canvas kept
        ("RGBA", "WEBP", True, 16),
    ],
)
def test_bytes_per_pixel(mode: str, fmt: str, animated: bool, expected: int) -> None:
    assert bytes_per_pixel(mode, fmt, animated) == expected


def _progressive(w: int = 64, h: int = 48, mode: str = "RGB") -> bytes:
    b = io.BytesIO()
    Image.new(mode, (w, h), 90).save(b, "JPEG", progressive=True)
    return b.getvalue()


@pytest.mark.parametrize(
    "name,data,scans,progressive",
    [
        ("baseline", jpeg_bytes(), 1, False),
        ("progressive colour (libjpeg's 10 scans)", _progressive(), 10, True),
        ("progressive grey", _progressive(mode="L"), 6, True),
        ("last scan repeated 100x", scan_bomb(64, 48, 100), 110, True),
        ("garbage after SOI", b"\xff\xd8\xff\xe0" + b"\x00" * 40, 0, False),
        ("SOI only", b"\xff\xd8", 0, False),
        ("empty", b"", 0, False),
    ],
)
def test_jpeg_cost_counts_scans_from_the_markers(name: str, data: bytes, scans: int, progressive: bool) -> None:
    n, prog, coef = jpeg_cost(data)
    assert (n, prog) == (scans, progressive)
    assert coef == 0 or (prog and coef >= 64 * 48 * 2)  # 2 bytes per coefficient, >= 1 per pixel


def test_scan_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(ImageRejected) as exc:
        decode(scan_bomb(4000, 4000, 1000))
    assert exc.value.code == "too_many_scans" and "1010 scans" in exc.value.reason


def test_decoded_bytes_cap_counts_bytes_not_pixels() -> None:
    grey = encode(np.zeros((1000, 1000), np.uint8), "PNG")
    rgba = encode(np.zeros((1000, 1000, 4), np.uint8), "PNG")
    limits = Limits(max_decoded_bytes=2_000_000)  # 1 MP: 1 MB grey passes, 4 MB RGBA does not
    assert decode(grey, limits).image.shape == (1000, 1000, 3)
    with pytest.raises(ImageRejected) as exc:
        decode(rgba, limits)
    assert exc.value.code == "too_many_bytes" and "RGBA" in exc.value.reason


def test_16_bit_grey_is_stretched_with_one_range_over_all_strips() -> None:
    ramp = np.repeat(np.linspace(1000, 60000, 4000).astype(np.uint16)[:, None], 1500, axis=1)  # tall: many strips
    b = io.BytesIO()
    Image.fromarray(ramp).save(b, "PNG")
    img = decode(b.getvalue())
    col = img.image[:, 0, 0].astype(int)
    assert img.image.shape == (1024, 384, 3)
    assert col[0] <= 2 and col[-1] >= 253 and (np.diff(col) >= 0).all()


def test_large_transparent_png_is_flattened_strip_by_strip() -> None:
    rgba = np.zeros((3000, 2000, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:1500, :, 3] = 255  # top half opaque red, bottom half transparent
    img = decode(encode(rgba, "PNG"))
    assert img.image.shape == (1024, 683, 3)
    assert tuple(img.image[100, 100]) == (255, 0, 0) and tuple(img.image[1000, 100]) == (255, 255, 255)
