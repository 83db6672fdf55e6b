"""Safe image decoding: every byte a member uploads is hostile until proven otherwise.

Why this module exists: Pillow happily opens EPS (Ghostscript), only *warns* about
decompression bombs below twice its own cap, decodes every frame of an animation on
seek, and keeps full-resolution pixels around. Here every input goes through one
path: sniff -> whitelist -> size caps (before any pixel is decoded) -> bounded frame
sampling -> EXIF orientation -> downscale to <= 1024 px. Anything else raises
`ImageRejected` with a reason a moderator can read, and is logged.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import logging
import threading
import warnings
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

try:  # optional: HEIC/HEIF only when the user installed pillow-heif
    import pillow_heif  # type: ignore[import-not-found]

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
ALLOWED_FORMATS: tuple[str, ...] = tuple(
    ["JPEG", "PNG", "WEBP", "GIF"] + (["AVIF"] if AVIF_AVAILABLE else []) + (["HEIF"] if HEIF_AVAILABLE else [])
)


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
    timeout: float = 10.0


DEFAULT_LIMITS = Limits()


class ImageRejected(Exception):
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
            raise _reject(
                f"declared dimensions {width}x{height} exceed the {limits.max_pixels:,}-pixel cap", "too_many_pixels"
            )


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
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo or 1.0) * 255.0
        return Image.fromarray(arr.astype(np.uint8)).convert("RGB")
    return im.convert("RGB")


def _sample_indices(n_frames: int, frame_pixels: int, limits: Limits) -> list[int]:
    """Spread <= max_frames_sampled indices over the part of the animation we can afford to seek."""
    reachable = max(1, min(n_frames, limits.max_seek_pixels // max(1, frame_pixels)))
    k = min(limits.max_frames_sampled, reachable)
    return sorted({int(round(x)) for x in np.linspace(0, reachable - 1, k)})


def _finish(im: Image.Image, limits: Limits) -> np.ndarray:
    im = _to_rgb(im)
    if max(im.size) > limits.max_output_side:
        im.thumbnail((limits.max_output_side, limits.max_output_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(im, dtype=np.uint8).copy()


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
        indices = _sample_indices(n_frames, w * h, limits) if n_frames > 1 else [0]
        frames: list[np.ndarray] = []
        if fmt == "JPEG":
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: a 12 MP photo never exists in memory.
            scale = min(1.0, limits.max_output_side / max(w, h))
            im.draft("RGB", (max(1, int(w * scale)), max(1, int(h * scale))))
        for idx in indices:
            if idx:
                with _bombs_are_errors():  # GIF frames may grow the canvas; Pillow checks on seek
                    im.seek(idx)
                fw, fh = im.size
                if max(fw, fh) > limits.max_side or fw * fh > limits.max_pixels:
                    raise _reject(f"frame {idx} grows the image to {fw}x{fh}, over the pixel cap", "too_many_pixels")
            im.load()
            frame = ImageOps.exif_transpose(im) if idx == 0 else im
            frames.append(_finish(frame.copy() if frame is im else frame, limits))
    return DecodedImage(frames=frames, format=fmt, size=(w, h), n_frames=n_frames, frame_indices=indices)


_executor: concurrent.futures.ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _get_executor() -> concurrent.futures.ThreadPoolExecutor:
    """A small dedicated pool: a flood of uploads queues instead of starving the event loop's default pool."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="image-decode")
        return _executor


async def decode_async(
    data: bytes,
    timeout: float | None = None,
    limits: Limits = DEFAULT_LIMITS,
    executor: concurrent.futures.Executor | None = None,
) -> DecodedImage:
    """`decode` off the event loop with a timeout; a slow decode becomes `ImageRejected`.

    The worker thread cannot be killed, so the caps in `limits` are what bound its work;
    the timeout only stops the caller from waiting.
    """
    loop = asyncio.get_running_loop()
    fut = loop.run_in_executor(executor or _get_executor(), decode, data, limits)
    t = limits.timeout if timeout is None else timeout
    try:
        return await asyncio.wait_for(fut, timeout=t)
    except asyncio.TimeoutError:
        raise _reject(f"decoding took longer than {t:g} s", "timeout") from None


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
    "decode",
    "decode_async",
    "read_capped",
]
