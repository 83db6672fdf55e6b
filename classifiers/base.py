"""The one result type every detector returns, so deciding stays separate from detecting."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

log = logging.getLogger(__name__)

#: Labels the text model scores.
TEXT_LABELS: tuple[str, ...] = ("sexual", "racial")
#: Every label a detector may emit. `reshare` = an image matching the re-share bank;
#: `automod` = the platform's own filter fired (Discord AutoMod); `reported` = a member reported it.
LABELS: tuple[str, ...] = ("sexual", "racial", "reshare", "automod", "reported")


@dataclass(frozen=True, slots=True)
class Verdict:
    """One detector's opinion about one label.

    `score` is a probability-like number in [0, 1]; `reason` is shown to moderators
    verbatim, so it must be readable on its own (e.g. `"b0k3p" → bokep`).
    """

    label: str
    score: float
    reason: str
    detector: str

    def __post_init__(self) -> None:
        if not (0.0 <= self.score <= 1.0):
            raise ValueError(f"Verdict score must be within [0, 1], got {self.score!r}")


@runtime_checkable
class TextDetector(Protocol):
    """Anything that turns text into verdicts (the shipped model, a lexicon, a test stub)."""

    name: str

    def classify(self, text: str) -> list[Verdict]: ...


@runtime_checkable
class ImageDetector(Protocol):
    """Anything that turns decoded image bytes into verdicts."""

    name: str

    def classify_image(self, data: bytes) -> list[Verdict]: ...


class Scored(Protocol):
    """Anything with a label and a score: a Verdict, or a stored verdict row."""

    @property
    def label(self) -> str: ...
    @property
    def score(self) -> float: ...


def max_scores(verdicts: Sequence[Scored]) -> dict[str, float]:
    """The highest score per label: what moderators see as "the" score."""
    out: dict[str, float] = {}
    for v in verdicts:
        out[v.label] = max(out.get(v.label, 0.0), v.score)
    return out
