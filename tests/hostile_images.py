"""Hostile image files, made at run time (nothing is shipped): tiny files that cost a decoder a lot.

Shared by tests/test_image_worker.py and benchmarks/bench_hostile_images.py.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each segment of a well-formed JPEG; an SOS includes its entropy data."""
    out, i = [], 2
    while i < len(data):
        m = data[i + 1]
        if m == 0xD9:
            out.append((m, i, i + 2))
            break
        (length,) = struct.unpack_from(">H", data, i + 2)
        j = i + 2 + length
        if m == 0xDA:
            while not (data[j] == 0xFF and data[j + 1] != 0 and not 0xD0 <= data[j + 1] <= 0xD7):
                j += 1
        out.append((m, i, j))
        i = j
    return out


def scan_bomb(width: int, height: int, repeats: int) -> bytes:
    """A progressive JPEG whose last scan is repeated: each copy is ~30 bytes but costs the
    decoder a pass over every block (4000 x 4000 with 1000 copies: 172 KB, ~11 s to decode)."""
    b = io.BytesIO()
    Image.new("RGB", (width, height), (120, 80, 200)).save(b, "JPEG", quality=90, progressive=True)
    data = b.getvalue()
    segs = jpeg_segments(data)
    last = [s for s in segs if s[0] == 0xDA][-1]
    eoi = segs[-1]
    return data[: eoi[1]] + data[last[1] : last[2]] * repeats + data[eoi[1] :]


def jpeg_declaring(width: int, height: int, progressive: bool = True) -> bytes:
    """A small JPEG whose frame header is patched to claim `width` x `height`."""
    b = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 30)).save(b, "JPEG", progressive=progressive)
    data = bytearray(b.getvalue())
    sof = next(s for s in jpeg_segments(bytes(data)) if s[0] in (0xC0, 0xC2))
    struct.pack_into(">HH", data, sof[1] + 5, height, width)
    return bytes(data)


def png_raw(width: int, height: int, bit_depth: int, colour_type: int, fill: int = 0x40) -> bytes:
    """A real, fully decodable PNG of flat rows: a 7000 x 7000 image compresses to ~100-200 KB."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    row = b"\x00" + bytes([fill]) * (width * channels * bit_depth // 8)
    comp = zlib.compressobj(6)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def gif_canvas_bomb(width: int, height: int, frames: int) -> bytes:
    """A GIF with a `width` x `height` screen and `frames` one-pixel frames: ~23 bytes a frame,
    but every frame is composited onto the full canvas."""
    out = [
        b"GIF89a",
        struct.pack("<HHBBB", width, height, 0x80, 0, 0),
        b"\x00\x00\x00\xff\xff\xff",
        b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00",
    ]
    for i in range(frames):
        out.append(b"!\xf9\x04\x00\x02\x00\x00\x00")  # 20 ms per frame
        out.append(b"," + struct.pack("<HHHHB", i % width, (i // width) % height, 1, 1, 0) + b"\x02\x02\x44\x01\x00")
    out.append(b";")
    return b"".join(out)


def webp_canvas_bomb(width: int, height: int, frames: int) -> bytes:
    """An animated WebP of 16 x 16 frames whose canvas is patched to `width` x `height`."""
    seq = [Image.new("RGB", (16, 16), (i * 9 % 256, 0, 0)) for i in range(frames)]
    b = io.BytesIO()
    seq[0].save(b, "WEBP", save_all=True, append_images=seq[1:], lossless=True, method=0)
    data = bytearray(b.getvalue())
    i = data.index(b"VP8X")
    data[i + 12 : i + 15] = (width - 1).to_bytes(3, "little")
    data[i + 15 : i + 18] = (height - 1).to_bytes(3, "little")
    return bytes(data)


def webp_still(width: int, height: int) -> bytes:
    """A flat still WebP: a few KB, but libwebp and Pillow hold ~14 bytes per pixel decoding it."""
    b = io.BytesIO()
    Image.new("RGB", (width, height), (50, 100, 150)).save(b, "WEBP", quality=50, method=0)
    return b.getvalue()


def apng_claiming(frames: int) -> bytes:
    """A two-frame APNG whose animation header claims `frames` frames."""
    seq = [Image.new("RGB", (200, 200), (i * 90, 0, 0)) for i in range(2)]
    b = io.BytesIO()
    seq[0].save(b, "PNG", save_all=True, append_images=seq[1:])
    data = b.getvalue()
    start = data.index(b"acTL") - 4
    (length,) = struct.unpack_from(">I", data, start)
    return data[:start] + _chunk(b"acTL", struct.pack(">II", frames, 0)) + data[start + 12 + length :]


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` (a decompression bomb's calling card)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _chunk(b"IEND", b"")


#: (name, builder, refusal code or None for "decoded, safely downscaled")
HOSTILE: list[tuple[str, object, str | None]] = [
    ("progressive JPEG 4000x4000, last scan x1000", lambda: scan_bomb(4000, 4000, 1000), "too_many_scans"),
    ("progressive JPEG 1024x1024, last scan x60", lambda: scan_bomb(1024, 1024, 60), "too_many_scans"),
    ("progressive JPEG declaring 9000x5000", lambda: jpeg_declaring(9000, 5000), "too_many_bytes"),
    ("baseline JPEG declaring 9000x5000", lambda: jpeg_declaring(9000, 5000, progressive=False), None),
    ("7000x7000 16-bit grey PNG", lambda: png_raw(7000, 7000, 16, 0), None),
    ("7000x7000 RGBA PNG", lambda: png_raw(7000, 7000, 8, 6), "too_many_bytes"),
    ("7000x7000 16-bit RGBA PNG", lambda: png_raw(7000, 7000, 16, 6), "too_many_bytes"),
    ("5000x5000 RGBA PNG", lambda: png_raw(5000, 5000, 8, 6, fill=0x80), None),
    ("GIF 4000x4000 canvas, 1000 frames", lambda: gif_canvas_bomb(4000, 4000, 1000), None),
    ("GIF 7000x7000 canvas, 2 frames", lambda: gif_canvas_bomb(7000, 7000, 2), "too_many_bytes"),
    ("GIF 300x300, 200000 frames", lambda: gif_canvas_bomb(300, 300, 200_000), None),
    ("WebP 2500x2500 canvas, 500 frames", lambda: webp_canvas_bomb(2500, 2500, 500), None),
    ("WebP 4000x4000 canvas, 500 frames", lambda: webp_canvas_bomb(4000, 4000, 500), "too_many_bytes"),
    ("WebP still 4000x4000", lambda: webp_still(4000, 4000), "too_many_bytes"),
    ("WebP still 2800x2800", lambda: webp_still(2800, 2800), None),
    ("WebP 7000x7000 canvas, 50 frames", lambda: webp_canvas_bomb(7000, 7000, 50), "too_many_bytes"),
    ("APNG claiming 2^31-1 frames", lambda: apng_claiming(2**31 - 1), "truncated"),
    ("PNG declaring 100000x100000", lambda: png_declaring(100_000, 100_000), "too_many_pixels"),
    ("PNG declaring 10000x10000", lambda: png_declaring(10_000, 10_000), "too_many_pixels"),
]


# ---- videos and animated stickers ------------------------------------------------------------


def _patch_tkhd(data: bytes, width: int, height: int) -> bytes:
    """Rewrite every MP4/MOV track header's declared width x height (16.16 fixed point)."""
    out = bytearray(data)
    start = 0
    while (i := out.find(b"tkhd", start)) >= 4:
        (size,) = struct.unpack_from(">I", out, i - 4)
        struct.pack_into(">II", out, i - 4 + size - 8, width << 16, height << 16)
        start = i + 4
    return bytes(out)


def mp4_declaring(width: int, height: int) -> bytes:
    """A tiny real MP4 whose track header claims `width` x `height`."""
    from tests.media_files import video

    return _patch_tkhd(video(None, n=3, size=(64, 48)), width, height)


def webm_declaring(width: int, height: int) -> bytes:
    """A tiny real WebM whose PixelWidth/PixelHeight elements are rewritten (sizes kept at 2 bytes)."""
    from tests.media_files import video

    data = bytearray(video(None, "webm", n=3, size=(64, 48)))
    for eid, value in ((0xB0, width), (0xBA, height)):
        i = data.index(bytes([eid, 0x81]))  # 1-byte value as OpenCV's muxer writes 64/48
        data[i : i + 3] = bytes([eid, 0x82]) + value.to_bytes(2, "big")[:1]
        data.insert(i + 3, value & 0xFF)
    return bytes(data)


def mp4_lying_small(width: int, height: int) -> bytes:
    """A real `width` x `height` MP4 whose track header claims 64 x 48: only the decoder knows the truth."""
    from tests.media_files import video

    return _patch_tkhd(video(None, n=2, size=(width, height)), 64, 48)


def webm_without_duration(frames: int) -> bytes:
    """A WebM whose Duration element is blanked out (a Void element of the same length), as a live
    recording has none: the frame count is unknown and the decoder must read forward, within its budget."""
    from tests.media_files import video

    data = bytearray(video(None, "webm", n=frames, size=(32, 32)))
    i = data.index(b"\x44\x89")
    size = data[i + 2] & 0x7F
    data[i : i + 3 + size] = b"\xec" + bytes([0x80 | (size + 1)]) + b"\x00" * (size + 1)
    return bytes(data)


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


def gzip_bomb(size: int) -> bytes:
    """A .tgs-looking gzip of `size` zero bytes (a few KB that inflate to `size`)."""
    import gzip

    return gzip.compress(b"\x00" * size, 9)


def _mp4(n: int = 3, size: tuple[int, int] = (64, 48), container: str = "mp4") -> bytes:
    from tests.media_files import video

    return video(None, container, n=n, size=size)


#: (name, builder, refusal code or None for "decoded: frames sampled within the caps")
HOSTILE_MEDIA: list[tuple[str, object, str | None]] = [
    ("MP4 declaring 30000x30000", lambda: mp4_declaring(30000, 30000), "too_many_pixels"),
    ("MP4 declaring 5000x5000", lambda: mp4_declaring(5000, 5000), "too_many_pixels"),
    ("WebM declaring 9000x9000", lambda: webm_declaring(9000, 9000), "too_many_pixels"),
    ("MP4 truncated to half", lambda: truncated(_mp4(30, (160, 120))), "corrupt"),
    ("WebM truncated to a third", lambda: truncated(_mp4(30, (160, 120), "webm"), 0.33), None),
    ("MP4 header then garbage", lambda: _mp4()[:32] + bytes(range(256)) * 64, "corrupt"),
    ("EBML magic then garbage", lambda: b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 64, "corrupt"),
    ("AVI (not an accepted container)", lambda: b"RIFF\x00\x10\x00\x00AVI LIST" + b"\x00" * 512, "unrecognised"),
    ("HLS playlist naming a local file", lambda: b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n", "unrecognised"),
    ("MP4 of 5000 frames", lambda: _mp4(5000, (16, 16)), None),
    ("WebM of 3000 frames without a duration", lambda: webm_without_duration(3000), None),
    ("WebM header then 1 MB of look-alike Video elements", lambda: b"\x1a\x45\xdf\xa3" + b"\xe0\x82\xb0\x81" * 250_000, "corrupt"),
    ("MP4 header then 500,000 track-header look-alikes", lambda: _mp4()[:32] + b"\x00\x00\x00\x5ctkhd" * 500_000, "too_many_pixels"),
    ("tgs inflating to 64 MB", lambda: gzip_bomb(64 << 20), "too_large"),
    ("tgs that is not gzip after its magic", lambda: b"\x1f\x8b" + b"\xff" * 200, "corrupt"),
]
