"""Safe image decoding: every byte a member uploads is hostile until proven otherwise.

Why this module exists: Pillow happily opens EPS (Ghostscript), only *warns* about
decompression bombs below twice its own cap, decodes every frame of an animation on
seek, and keeps full-resolution pixels around. Here every input goes through one
path: sniff -> whitelist -> size and cost caps (before any pixel is decoded: declared
pixels, JPEG scan count, decoded bytes over the frames we would decode) -> bounded frame
sampling -> downscale (libjpeg's `draft` while decoding, then box-reduction in strips so
no full-size copy is ever made) -> EXIF orientation. Anything else raises
`ImageRejected` with a reason a moderator can read, and is logged.

The caps bound memory and most of the CPU; what they cannot bound (a decoder bug, a
pathological file we did not foresee) is bounded by running `decode` in a killable
worker process with a wall-clock timeout (classifiers/images/worker.py).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import struct
import threading
import warnings
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from classifiers.errors import TriagebotError

log = logging.getLogger(__name__)

try:  # optional: HEIC/HEIF only when the user installed pillow-heif
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_AVAILABLE = True
except Exception:  # pragma: no cover - depends on the environment
    HEIF_AVAILABLE = False

try:
    from PIL import features as _features

    AVIF_AVAILABLE = bool(_features.check("avif"))
except Exception:  # pragma: no cover
    AVIF_AVAILABLE = False

#: Pillow format names we are willing to decode. EPS/SVG/PSD/TIFF/etc. never get a plugin.
ALLOWED_FORMATS: tuple[str, ...] = tuple(["JPEG", "PNG", "WEBP", "GIF"] + (["AVIF"] if AVIF_AVAILABLE else []) + (["HEIF"] if HEIF_AVAILABLE else []))


@dataclass(frozen=True, slots=True)
class Limits:
    """Hard caps for one image. Defaults fit chat uploads (Discord/Telegram photos)."""

    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 50_000_000  # per frame, declared size; 12 MP phone photos pass
    max_side: int = 20_000
    max_frames_sampled: int = 4
    #: total pixels we may decode while seeking through an animation (bounds CPU)
    max_seek_pixels: int = 80_000_000
    max_output_side: int = 1024
    #: bytes the decoder may fill over all frames it decodes (width x height x bytes per
    #: pixel as held in memory x frames, plus a progressive JPEG's coefficient buffer).
    #: 128 MiB admits a 4K RGBA screenshot (33 MB) or a 6000 x 5000 16-bit grey scan.
    max_decoded_bytes: int = 128 * 1024 * 1024
    #: progressive JPEGs have ~10 scans (libjpeg, mozjpeg); every extra scan costs a pass over
    #: all blocks, which is how a 172 KB file takes 11 s to decode
    max_jpeg_scans: int = 48
    #: wall clock for one image in the worker process (decode + NudeNet + fingerprints); the
    #: slowest file that passes the caps (a 7000 x 7000 16-bit PNG) took 1.3 s on a loaded core
    timeout: float = 5.0
    # videos (MP4/MOV/WebM: classifiers/images/video.py) and animated stickers
    #: frames sampled from a video: the first, then evenly spaced
    max_video_frames: int = 8
    #: per-frame cap for videos (4K UHD): a decoder holds a few frames of this size at once
    max_video_pixels: int = 3840 * 2160
    max_video_side: int = 8192
    #: at most this many frames are decoded forward to reach the next sample (beyond it: a seek)
    max_video_step: int = 120
    #: wall clock for one video in the worker; sampling stops at half of it, keeping the frames it has
    video_timeout: float = 12.0
    #: embedded raster images read from an animated sticker (Lottie JSON), and its JSON size once unzipped
    max_embedded_images: int = 4
    max_lottie_bytes: int = 4 * 1024 * 1024
    #: extra wall clock when the worker also reads the text in the image (OCR: 0.5-2 s per frame on a loaded core)
    ocr_timeout: float = 5.0


DEFAULT_LIMITS = Limits()


class ImageRejected(TriagebotError):
    """The input was refused; `reason` is safe to show to moderators, `code` is for metrics."""

    def __init__(self, reason: str, code: str = "rejected") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """RGB uint8 frames (H x W x 3, <= max_output_side), plus what was declared originally."""

    frames: list[np.ndarray]
    format: str
    size: tuple[int, int]  # original (width, height) as declared by the file
    n_frames: int  # frames in the file; `frames` holds at most Limits.max_frames_sampled
    frame_indices: list[int] = field(default_factory=list)

    @property
    def image(self) -> np.ndarray:
        """The first sampled frame: what still-image consumers want."""
        return self.frames[0]


def _reject(reason: str, code: str) -> ImageRejected:
    log.warning("image rejected (%s): %s", code, reason)
    return ImageRejected(reason, code)


def check_declared(size: int | None, width: int | None, height: int | None, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse before downloading, from what the platform declares (bytes, width, height).

    Declared values can lie; `read_capped` and `decode` enforce the same caps again.
    """
    if size is not None and size > limits.max_bytes:
        raise _reject(f"file is {size} bytes, over the {limits.max_bytes}-byte cap", "too_large")
    if width is not None and height is not None:
        if width <= 0 or height <= 0:
            raise _reject(f"declared dimensions {width}x{height} are invalid", "bad_dimensions")
        if max(width, height) > limits.max_side:
            raise _reject(f"declared dimensions {width}x{height} exceed {limits.max_side} px per side", "too_many_pixels")
        if width * height > limits.max_pixels:
            raise _reject(f"declared dimensions {width}x{height} exceed the {limits.max_pixels:,}-pixel cap", "too_many_pixels")


def read_capped(stream: Any, max_bytes: int) -> bytes:
    """Read a file-like object (`.read(n)`) or an iterable of byte chunks, refusing past `max_bytes`.

    Why: Content-Length can lie or be absent; the cap must hold on what actually arrives.
    """
    buf = bytearray()
    if hasattr(stream, "read"):
        while True:
            chunk = stream.read(min(65536, max_bytes + 1 - len(buf)))
            if not chunk:
                break
            buf += chunk
            if len(buf) > max_bytes:
                raise _reject(f"download exceeds the {max_bytes}-byte cap", "too_large")
        return bytes(buf)
    for chunk in stream:
        buf += chunk
        if len(buf) > max_bytes:
            raise _reject(f"download exceeds the {max_bytes}-byte cap", "too_large")
    return bytes(buf)


async def aread_capped(stream: Any, max_bytes: int) -> bytes:
    """Async twin of `read_capped`: an async iterable of chunks (aiohttp `iter_chunked`) or
    an object with an awaitable `.read(n)` (aiohttp `StreamReader`)."""
    buf = bytearray()
    if isinstance(stream, AsyncIterable):
        async for chunk in stream:
            buf += chunk
            if len(buf) > max_bytes:
                raise _reject(f"download exceeds the {max_bytes}-byte cap", "too_large")
        return bytes(buf)
    while True:
        chunk = await stream.read(min(65536, max_bytes + 1 - len(buf)))
        if not chunk:
            break
        buf += chunk
        if len(buf) > max_bytes:
            raise _reject(f"download exceeds the {max_bytes}-byte cap", "too_large")
    return bytes(buf)


def _sniff(data: bytes) -> str | None:
    """Name formats we refuse by their magic bytes, so the rejection says *why*."""
    head = data[:64]
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"):
            if brand in (b"mif1", b"msf1") and b"avif" in data[8:64]:
                return None  # an AVIF with a generic brand
            if not HEIF_AVAILABLE:
                return "HEIC/HEIF images need pillow-heif, which is not installed"
        return None
    if stripped[:5].lower() in (b"<?xml", b"<svg ", b"<svg>", b"<!doc") or b"<svg" in data[:512].lower():
        return "SVG is not an accepted image format"
    if head.startswith(b"%!PS") or head.startswith(b"\xc5\xd0\xd3\xc6"):
        return "EPS/PostScript is not an accepted image format"
    if head.startswith(b"%PDF"):
        return "PDF is not an accepted image format"
    return None


def _magic_format(data: bytes) -> str | None:
    """Which whitelisted format the first bytes claim, to word rejections of broken files."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis"):
        return "AVIF"
    return None


def _to_rgb(im: Image.Image) -> Image.Image:
    """Flatten transparency onto white so hashes/models see what a viewer sees."""
    if im.mode == "RGB":
        return im
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    return im.convert("RGB")


def _sample_indices(n_frames: int, frame_pixels: int, limits: Limits, frame_bytes: int = 0) -> list[int]:
    """Spread <= max_frames_sampled indices over the part of the animation we can afford to seek
    (seeking decodes every frame on the way, so both budgets count all frames up to the last)."""
    reachable = min(
        n_frames,
        limits.max_seek_pixels // max(1, frame_pixels),
        limits.max_decoded_bytes // max(1, frame_bytes),
    )
    reachable = max(1, reachable)
    k = min(limits.max_frames_sampled, reachable)
    return sorted({int(round(x)) for x in np.linspace(0, reachable - 1, k)})


#: EXIF orientation -> the transpose that displays the image upright (as ImageOps.exif_transpose)
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
#: bytes per pixel Pillow holds for a mode (RGB is stored as 4 bytes, 16-bit grey as 2)
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
#: rows are reduced in strips of about this many source pixels: no full-size copy is made
_STRIP_PIXELS = 1 << 20


def bytes_per_pixel(mode: str, fmt: str = "", animated: bool = False) -> int:
    """What one decoded pixel costs in memory at peak, for the decoded-bytes cap.

    Palette and grey frames of an animation are composited into RGB(A) after the first
    (Pillow's GIF/APNG loading keeps the previous canvas too), so they count 8. Pillow reads
    every WebP, still or animated, through libwebp's animation decoder, which holds its own
    RGBA canvas and the previous one before Pillow copies the frame: measured at about 14
    bytes per pixel (a 4000 x 4000 still WebP raised a worker's peak by 220 MB), so 16.
    """
    if fmt == "WEBP":
        return 16
    if animated:
        return 8
    return _MODE_BYTES.get(mode, 4)


def _flatten_strip(im: Image.Image, lo_hi: tuple[float, float] | None) -> Image.Image:
    """One strip to RGB: transparency onto white (what a viewer sees), 16-bit/float stretched
    to 8 bits with the whole image's range (so strips agree)."""
    if im.mode in _SIXTEEN_BIT:
        lo, hi = lo_hi or (0.0, 1.0)
        arr = np.asarray(im, dtype=np.float32)
        arr = (arr - lo) * (255.0 / (hi - lo or 1.0))
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L").convert("RGB")
    return _to_rgb(im)


def _shrink(im: Image.Image, side: int) -> Image.Image:
    """RGB copy no larger than `side` px, made without any full-size intermediate.

    Why strips: Pillow's resize/convert of an RGBA or 16-bit image makes one or two
    full-size copies (premultiplied alpha, a mode conversion); on a 7000 x 7000 image that
    alone is hundreds of MB. Each strip is flattened and box-reduced by the same integer
    factor, then pasted into the small result; a final bilinear pass fits `side` exactly.
    """
    w, h = im.size
    factor = max(1, max(w, h) // side)
    lo_hi = None
    if im.mode in _SIXTEEN_BIT:
        ext = im.getextrema()
        lo_hi = (float(ext[0]), float(ext[1]))  # type: ignore[arg-type]  # one band: Pillow's stub also allows per-band pairs
    if factor == 1:
        out = _flatten_strip(im, lo_hi)
    else:
        out = Image.new("RGB", (math.ceil(w / factor), math.ceil(h / factor)))
        rows = max(factor, (_STRIP_PIXELS // max(1, w)) // factor * factor)
        for y in range(0, h, rows):
            strip = _flatten_strip(im.crop((0, y, w, min(h, y + rows))), lo_hi)
            out.paste(strip.reduce(factor), (0, y // factor))
    if max(out.size) > side:
        out.thumbnail((side, side), Image.Resampling.BILINEAR)
    return out


def _finish(im: Image.Image, limits: Limits, orientation: int = 1) -> np.ndarray:
    small = _shrink(im, limits.max_output_side)
    if orientation in _ORIENTATION:
        small = small.transpose(_ORIENTATION[orientation])
    return np.asarray(small, dtype=np.uint8).copy()


def jpeg_cost(data: bytes) -> tuple[int, bool, int]:
    """(SOS segments before EOI, progressive?, coefficient-buffer bytes if progressive) of a JPEG.

    Why: libjpeg-turbo decodes whatever number of scans a file holds, and each scan is a
    pass over every block; a progressive file keeps all coefficients (2 bytes each) in
    memory until the end. Both are known from the markers alone, before any decoding.
    A malformed marker stream ends the count early; Pillow reports the damage then.
    """
    n = len(data)
    i, scans, progressive, coef = 2, 0, False, 0
    while i + 4 <= n:
        if data[i] != 0xFF:
            break
        m = data[i + 1]
        if m == 0xFF:  # fill byte
            i += 1
            continue
        if m == 0xD9:  # EOI
            break
        if m in (0x01, *range(0xD0, 0xD8)):  # standalone markers
            i += 2
            continue
        (length,) = struct.unpack_from(">H", data, i + 2)
        if length < 2:
            break
        seg = i + 4
        if m in (0xC2, 0xC6, 0xCA, 0xCE) or m in (0xC0, 0xC1, 0xC3, 0xC5, 0xC7, 0xC9, 0xCB, 0xCD):
            progressive = m in (0xC2, 0xC6, 0xCA, 0xCE)
            if seg + 6 <= n:
                hgt, wid, nc = struct.unpack_from(">HHB", data, seg + 1)
                comps = [data[seg + 6 + 3 * k + 1] for k in range(nc) if seg + 6 + 3 * k + 1 < n]
                hmax = max([c >> 4 for c in comps] + [1])
                vmax = max([c & 15 for c in comps] + [1])
                coef = sum(math.ceil(math.ceil(wid * max(1, c >> 4) / hmax) / 8) * math.ceil(math.ceil(hgt * max(1, c & 15) / vmax) / 8) * 128 for c in comps)
        i += 2 + length
        if m == 0xDA:  # SOS: skip the entropy-coded data up to the next real marker
            scans += 1
            while True:
                j = data.find(b"\xff", i)
                if j < 0 or j + 1 >= n:
                    return scans, progressive, coef if progressive else 0
                nxt = data[j + 1]
                if nxt == 0x00 or 0xD0 <= nxt <= 0xD7:
                    i = j + 2
                    continue
                i = j
                break
    return scans, progressive, coef if progressive else 0


def decode(data: bytes, limits: Limits = DEFAULT_LIMITS) -> DecodedImage:
    """Decode untrusted bytes into <= `max_frames_sampled` RGB frames no larger than
    `max_output_side`, or raise `ImageRejected`. Never raises anything else for bad input."""
    if not data:
        raise _reject("empty file (0 bytes)", "empty")
    if len(data) > limits.max_bytes:
        raise _reject(f"file is {len(data)} bytes, over the {limits.max_bytes}-byte cap", "too_large")
    sniffed = _sniff(data)
    if sniffed:
        raise _reject(sniffed, "format_not_allowed")
    try:
        return _decode(data, limits)
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise _reject(f"decompression bomb: {e}", "too_many_pixels") from None
    except UnidentifiedImageError:
        magic = _magic_format(data)
        if magic:
            raise _reject(f"{magic} file is truncated or corrupt (header unreadable)", "corrupt") from None
        accepted = ", ".join(ALLOWED_FORMATS)
        raise _reject(f"not a recognised image (accepted: {accepted})", "unrecognised") from None
    except (OSError, SyntaxError, EOFError) as e:
        msg = str(e)
        if "truncated" in msg.lower() or isinstance(e, EOFError):
            raise _reject(f"truncated or incomplete image file ({msg})", "truncated") from None
        raise _reject(f"corrupt image file ({msg})", "corrupt") from None
    except MemoryError:
        raise _reject("image needs too much memory to decode", "too_many_pixels") from None
    except Exception as e:  # any other plugin failure is still a rejection, never a crash
        raise _reject(f"could not decode image ({type(e).__name__}: {e})", "corrupt") from None


_WARN_LOCK = threading.Lock()


@contextlib.contextmanager
def _bombs_are_errors() -> Iterator[None]:
    """Pillow only *warns* between 1x and 2x its own cap; we refuse instead.

    `warnings.catch_warnings` swaps process-wide filters and is not thread-safe, so the
    swap is serialised by a lock and held only around header parsing and frame seeks
    (where Pillow runs its bomb check), not around pixel decoding. Our own pixel cap is
    lower than Pillow's anyway; this is defence in depth.
    """
    with _WARN_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def _decode(data: bytes, limits: Limits) -> DecodedImage:
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # someone flipped the global; we still refuse truncation
        log.debug("ImageFile.LOAD_TRUNCATED_IMAGES is set globally; truncated files may decode partially")
    with _bombs_are_errors():
        opened = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
    with opened as im:
        fmt = im.format or "?"
        if fmt not in ALLOWED_FORMATS:  # defence in depth
            raise _reject(f"format {fmt} is not accepted", "format_not_allowed")
        w, h = im.size
        if w <= 0 or h <= 0:
            raise _reject(f"invalid dimensions {w}x{h}", "bad_dimensions")
        if max(w, h) > limits.max_side or w * h > limits.max_pixels:
            raise _reject(f"{w}x{h} exceeds the {limits.max_pixels:,}-pixel cap", "too_many_pixels")
        n_frames = int(getattr(im, "n_frames", 1) or 1)
        orientation = 1
        if "exif" in im.info:  # without it, PNG's getexif() would decode the whole image to look for one
            try:
                orientation = int(im.getexif().get(0x0112, 1) or 1)
            except Exception:  # a broken EXIF block is not worth refusing the picture for
                orientation = 1
        extra = 0
        if fmt == "JPEG":
            scans, _progressive, extra = jpeg_cost(data)
            if scans > limits.max_jpeg_scans:
                raise _reject(
                    f"JPEG has {scans} scans, over the cap of {limits.max_jpeg_scans} (a progressive-JPEG CPU bomb)",
                    "too_many_scans",
                )
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: a 12 MP photo never exists in memory.
            scale = min(1.0, limits.max_output_side / max(w, h))
            im.draft("RGB", (max(1, int(w * scale)), max(1, int(h * scale))))
        dw, dh = im.size  # after draft: what the decoder will really fill
        frame_bytes = dw * dh * bytes_per_pixel(im.mode, fmt, animated=n_frames > 1)
        if frame_bytes + extra > limits.max_decoded_bytes:
            raise _reject(
                f"{w}x{h} {im.mode} would need {(frame_bytes + extra) / 2**20:.0f} MB to decode, over the {limits.max_decoded_bytes / 2**20:.0f} MB cap",
                "too_many_bytes",
            )
        indices = _sample_indices(n_frames, w * h, limits, frame_bytes) if n_frames > 1 else [0]
        frames: list[np.ndarray] = []
        for idx in indices:
            if idx:
                with _bombs_are_errors():  # GIF frames may grow the canvas; Pillow checks on seek
                    im.seek(idx)
                fw, fh = im.size
                if max(fw, fh) > limits.max_side or fw * fh > limits.max_pixels:
                    raise _reject(f"frame {idx} grows the image to {fw}x{fh}, over the pixel cap", "too_many_pixels")
            im.load()
            frames.append(_finish(im, limits, orientation if idx == 0 else 1))
    return DecodedImage(frames=frames, format=fmt, size=(w, h), n_frames=n_frames, frame_indices=indices)


def as_pil(frame: np.ndarray) -> Image.Image:
    """A decoded frame as a PIL image (for callers that prefer Pillow)."""
    return Image.fromarray(frame, "RGB")


__all__ = [
    "ALLOWED_FORMATS",
    "AVIF_AVAILABLE",
    "DEFAULT_LIMITS",
    "DecodedImage",
    "HEIF_AVAILABLE",
    "ImageRejected",
    "Limits",
    "aread_capped",
    "as_pil",
    "check_declared",
    "bytes_per_pixel",
    "decode",
    "jpeg_cost",
    "read_capped",
]
