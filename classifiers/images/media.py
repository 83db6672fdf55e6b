"""One entry point for every kind of media a member can post: still and animated images
(classifiers/images/decode.py), videos (video.py) and animated stickers (lottie.py).

Why a dispatcher: platforms' declared MIME types lie or are missing (a Telegram document, a
Discord link preview), so the kind is decided from the bytes, here, inside the worker; the
caller only needs the matching timeout (`timeout_for`), which it computes from the same bytes.
"""

from __future__ import annotations

import logging

from classifiers.images.decode import DecodedImage, Limits, decode
from classifiers.images.lottie import decode_lottie, is_lottie
from classifiers.images.video import decode_video, video_format

log = logging.getLogger(__name__)


def media_kind(data: bytes) -> str:
    """ "video", "lottie" or "image" (the image decoder refuses whatever is none of its formats)."""
    if video_format(data) is not None:
        return "video"
    if is_lottie(data):
        return "lottie"
    return "image"


def timeout_for(data: bytes, limits: Limits) -> float:
    """Wall clock the worker may spend on these bytes: videos get longer than pictures."""
    return limits.video_timeout if media_kind(data) == "video" else limits.timeout


def decode_media(data: bytes, limits: Limits) -> DecodedImage:
    """Sampled RGB frames of any accepted media, or `ImageRejected` with a reason."""
    kind = media_kind(data)
    if kind == "video":
        return decode_video(data, limits)
    if kind == "lottie":
        return decode_lottie(data, limits)
    return decode(data, limits)


__all__ = ["decode_media", "media_kind", "timeout_for"]
