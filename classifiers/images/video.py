"""Video frames for the image checks: MP4/MOV/WebM in, a few downscaled RGB frames out.

Why this shape: a re-share of a victim's picture or a sexual clip is as often a short video (a
Telegram animation, a Discord MP4, a WebM sticker) as a photo, and the same hash/bank and nudity
checks work on sampled frames. FFmpeg (inside OpenCV's wheel) parses a great many formats, some of
which can read other files or URLs (playlists, concat lists); so here:

- the container is recognised by its magic bytes first (MP4/MOV `ftyp`, Matroska/WebM EBML) and
  FFmpeg is told to accept only those demuxers and the `file` protocol (`format_whitelist`,
  `protocol_whitelist`), so nothing else is ever parsed;
- the dimensions the container declares are checked before FFmpeg sees the file, and the decoded
  dimensions again after it opened it;
- the bytes live in an anonymous in-memory file (`memfd`, Linux) that vanishes with the process:
  nothing is written to disk, even when the worker is killed mid-decode (elsewhere a temp file,
  removed in `finally`);
- frames are sampled (first, then evenly spaced), each read step is bounded by a frame budget, and
  sampling stops early on a time budget, keeping what it has; what it cannot bound (a seek that
  spins) is bounded by the worker's wall-clock timeout (classifiers/images/worker.py), which kills
  the process.

Runs only inside the image worker process (it sets FFmpeg options in the environment).
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from classifiers.images.decode import DecodedImage, ImageRejected, Limits

log = logging.getLogger(__name__)

#: ftyp major brands of the ISO base media family we accept (MP4, QuickTime MOV, 3GP, M4V)
_ISO_BRANDS = (
    b"isom",
    b"iso2",
    b"iso4",
    b"iso5",
    b"iso6",
    b"mp41",
    b"mp42",
    b"mp71",
    b"avc1",
    b"M4V ",
    b"M4VP",
    b"qt  ",
    b"3gp4",
    b"3gp5",
    b"3gp6",
    b"3g2a",
    b"dash",
    b"MSNV",
    b"XAVC",
    b"f4v ",
)
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
#: FFmpeg demuxers allowed to open a file (the names FFmpeg gives its MP4/MOV and Matroska/WebM readers)
FORMAT_WHITELIST = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm"
#: the video codecs chat apps send; FFmpeg refuses to open any other decoder
CODEC_WHITELIST = "h264,hevc,vp8,vp9,av1,mpeg4,libvpx,libvpx-vp9,libdav1d"


def video_format(data: bytes) -> str | None:
    """ "MP4", "MOV" or "WebM" when the bytes start like one of the accepted containers, else None."""
    if data[:4] == _EBML_MAGIC:
        return "WebM"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand == b"qt  ":
            return "MOV"
        if brand in _ISO_BRANDS:
            return "MP4"
        return None
    # QuickTime files from old cameras may start with a `moov`/`mdat`/`wide` atom instead of `ftyp`
    if data[4:8] in (b"moov", b"mdat", b"wide", b"free") and len(data) >= 16:
        return "MOV"
    return None


#: bounds of the header walk in `declared_dimensions`
_MAX_TRACKS = 16
_MAX_EBML_PROBES = 4096
_HEADER_WINDOW = 256 * 1024


def _reject(reason: str, code: str) -> ImageRejected:
    log.warning("video rejected (%s): %s", code, reason)
    return ImageRejected(reason, code)


def declared_dimensions(data: bytes, fmt: str) -> list[tuple[int, int]]:
    """Every width x height the container declares for its tracks, read from the headers only.

    MP4/MOV: each `tkhd` box ends with width and height as 16.16 fixed point. Matroska/WebM: the
    PixelWidth (0xB0) / PixelHeight (0xBA) elements of each video track. A file can lie here
    (the codec's own header has the real size), which is why the decoded size is checked again.
    The walk is bounded (`_MAX_TRACKS` headers, `_MAX_EBML_PROBES` candidates in the first
    `_HEADER_WINDOW` bytes), so a file stuffed with look-alike bytes costs milliseconds.
    """
    out: list[tuple[int, int]] = []
    if fmt in ("MP4", "MOV"):
        start = 0
        while len(out) < _MAX_TRACKS:
            i = data.find(b"tkhd", start)
            if i < 4:
                break
            start = i + 4
            (size,) = struct.unpack_from(">I", data, i - 4)
            if size < 92 or i - 4 + size > len(data):
                continue
            w, h = struct.unpack_from(">II", data, i - 4 + size - 8)
            out.append((w >> 16, h >> 16))
        return out
    # Matroska: PixelWidth/PixelHeight are 1-byte IDs inside a Video (0xE0) element; read the
    # element's size (EBML varint) and value wherever a Video element is found
    start = 0
    for _ in range(_MAX_EBML_PROBES):
        i = data.find(b"\xe0", start, _HEADER_WINDOW)  # the track header comes first; never scan a whole file
        if i < 0 or len(out) >= _MAX_TRACKS:
            break
        start = i + 1
        body = _ebml_children(data, i + 1)
        if body is None:
            continue
        w = body.get(0xB0)
        h = body.get(0xBA)
        if w is not None and h is not None:
            out.append((w, h))
    return out


def _vint(data: bytes, i: int) -> tuple[int, int] | None:
    """An EBML variable-length size at `i`: (value, length in bytes), or None when malformed."""
    if i >= len(data):
        return None
    first = data[i]
    for n in range(1, 9):
        if first & (0x80 >> (n - 1)):
            if i + n > len(data):
                return None
            value = first & (0xFF >> n)
            for b in data[i + 1 : i + n]:
                value = (value << 8) | b
            return value, n
    return None


def _ebml_children(data: bytes, i: int) -> dict[int, int] | None:
    """The unsigned-integer children (1-byte ids) of an EBML element whose size starts at `i`."""
    size = _vint(data, i)
    if size is None or size[0] > 256:
        return None
    end = i + size[1] + size[0]
    j = i + size[1]
    out: dict[int, int] = {}
    while j < end and j < len(data):
        eid = data[j]
        if not eid & 0x80:  # only 1-byte ids are of interest here; anything else ends the walk
            return out or None
        sz = _vint(data, j + 1)
        if sz is None or sz[0] > 8:
            return out or None
        k = j + 1 + sz[1]
        out[eid] = int.from_bytes(data[k : k + sz[0]], "big") if sz[0] else 0
        j = k + sz[0]
    return out or None


def _configure_ffmpeg() -> None:
    """FFmpeg options for every capture opened in this process (OpenCV reads them at each open)."""
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "|".join(
        f"{k};{v}"
        for k, v in (
            ("protocol_whitelist", "file"),
            ("format_whitelist", FORMAT_WHITELIST),
            ("codec_whitelist", CODEC_WHITELIST),
            ("threads", "1"),
            ("probesize", str(4 * 1024 * 1024)),
            ("analyzeduration", str(5_000_000)),
        )
    )
    os.environ["OPENCV_FFMPEG_LOGLEVEL"] = "-8"  # FFmpeg's own stderr chatter: off (we log the refusal, once)


def _quiet(cv2: Any) -> None:
    with contextlib.suppress(Exception):
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


@contextlib.contextmanager
def _in_memory_file(data: bytes) -> Iterator[str]:
    """A path FFmpeg can open that holds `data` and is gone when the process is."""
    if hasattr(os, "memfd_create") and sys.platform.startswith("linux"):
        fd = os.memfd_create("triagebot-video", 0)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    fd, path = tempfile.mkstemp(prefix="triagebot-video-")  # pragma: no cover - non-Linux fallback
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _frame_indices(count: int, limits: Limits) -> list[int]:
    """First frame, then evenly spaced over the video, at most `max_video_frames`."""
    k = max(1, min(limits.max_video_frames, count))
    return sorted({int(round(x)) for x in np.linspace(0, count - 1, k)})


def _rgb_small(frame: Any, side: int) -> np.ndarray:
    import cv2

    h, w = frame.shape[:2]
    scale = min(1.0, side / max(w, h))
    if scale < 1.0:
        frame = cv2.resize(frame, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    else:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(frame, dtype=np.uint8)


def decode_video(data: bytes, limits: Limits) -> DecodedImage:
    """Sample up to `max_video_frames` RGB frames (<= `max_output_side`) of an MP4/MOV/WebM, or raise
    `ImageRejected`. Never raises anything else for bad input."""
    fmt = video_format(data)
    if fmt is None:
        raise _reject("not an accepted video container (accepted: MP4, MOV, WebM)", "format_not_allowed")
    if len(data) > limits.max_bytes:
        raise _reject(f"file is {len(data)} bytes, over the {limits.max_bytes}-byte cap", "too_large")
    for w, h in declared_dimensions(data, fmt):
        if max(w, h) > limits.max_video_side or w * h > limits.max_video_pixels:
            raise _reject(f"{fmt} declares {w}x{h} frames, over the {limits.max_video_pixels:,}-pixel video cap", "too_many_pixels")
    try:
        import cv2
    except ImportError:  # pragma: no cover - the images extra brings OpenCV
        raise _reject("videos need OpenCV (pip install 'triagebot[images]')", "format_not_allowed") from None
    _configure_ffmpeg()
    _quiet(cv2)
    try:
        with _in_memory_file(data) as path:
            return _sample(cv2, path, fmt, limits)
    except ImageRejected:
        raise
    except MemoryError:
        raise _reject("video needs too much memory to decode", "too_many_bytes") from None
    except Exception as e:  # an OpenCV error on a broken file is a refusal, never a crash
        raise _reject(f"could not decode video ({type(e).__name__}: {e})", "corrupt") from None


def _sample(cv2: Any, path: str, fmt: str, limits: Limits) -> DecodedImage:
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise _reject(f"{fmt} file is truncated, corrupt or uses a codec that is not accepted", "corrupt")
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if w <= 0 or h <= 0:
            raise _reject(f"{fmt} file has no readable video track", "corrupt")
        if max(w, h) > limits.max_video_side or w * h > limits.max_video_pixels:
            raise _reject(f"{fmt} frames are {w}x{h}, over the {limits.max_video_pixels:,}-pixel video cap", "too_many_pixels")
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        started = time.monotonic()
        budget = limits.video_timeout * 0.5  # past this, keep the frames we have rather than be killed with none
        frames: list[np.ndarray] = []
        indices: list[int] = []
        if 0 < count:
            pos = 0
            for idx in _frame_indices(count, limits):
                if frames and time.monotonic() - started > budget:
                    log.info("video sampling stopped after %d frames (time budget)", len(frames))
                    break
                if idx - pos > limits.max_video_step:  # far ahead: seek (FFmpeg decodes from the keyframe before)
                    cap.set(cv2.CAP_PROP_POS_FRAMES, idx)
                    pos = idx
                while pos < idx:  # near: decode forward without converting
                    if not cap.grab():
                        break
                    pos += 1
                ok, frame = cap.read()
                if not ok:
                    break
                pos += 1
                frames.append(_rgb_small(frame, limits.max_output_side))
                indices.append(idx)
        else:  # no frame count (a live-style WebM): read forward within the frame budget
            stride = max(1, limits.max_video_step // max(1, limits.max_video_frames))
            pos = 0
            while len(frames) < limits.max_video_frames and pos < limits.max_video_step:
                if frames and time.monotonic() - started > budget:
                    break
                ok, frame = cap.read()
                if not ok:
                    break
                if pos % stride == 0:
                    frames.append(_rgb_small(frame, limits.max_output_side))
                    indices.append(pos)
                pos += 1
            count = max(count, pos)
        if not frames:
            raise _reject(f"{fmt} file has no decodable frame (truncated or corrupt)", "corrupt")
        return DecodedImage(frames=frames, format=fmt, size=(w, h), n_frames=count, frame_indices=indices)
    finally:
        cap.release()


__all__ = ["CODEC_WHITELIST", "FORMAT_WHITELIST", "declared_dimensions", "decode_video", "video_format"]
