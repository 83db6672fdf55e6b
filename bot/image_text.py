"""Text read inside an image (OCR, in the image worker) becomes text-model verdicts that say where it came from.

Why its own module: the pipeline needs only this, not the image worker machinery; and the reason a
moderator reads must quote what the picture says ("text in the image “...”: keyword ..."), short
and on one line. Renderers escape reasons like any other hostile text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from classifiers.base import Verdict

log = logging.getLogger(__name__)

#: characters of image text quoted in a verdict's reason
QUOTE_CHARS = 120


def quote_image_text(text: str, limit: int = QUOTE_CHARS) -> str:
    """Image text as one short quoted line: whitespace collapsed, cut with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return f"“{flat}”"


def image_text_verdicts(text: str, classify: Callable[[str], Sequence[Verdict]]) -> list[Verdict]:
    """The text model's verdicts on text read in an image, each saying so and quoting the text."""
    if not text.strip():
        return []
    quoted = quote_image_text(text)
    return [
        Verdict(
            label=v.label,
            score=v.score,
            reason=f"text in the image {quoted}: {v.reason}" if v.reason else f"text in the image {quoted}",
            detector=f"{v.detector}+ocr",
        )
        for v in classify(text)
    ]
