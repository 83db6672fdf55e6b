"""Text inside pictures (memes, captions baked into a photo, screenshots), read by RapidOCR.

Why: a racist meme or a sexual caption written onto a picture never reaches the text model as
text. With the optional `ocr` extra (`pip install 'triagebot[ocr]'`: RapidOCR with its PP-OCR
ONNX models inside the wheel, run by onnxruntime; no torch, nothing downloaded at run time) and
`[images] ocr = true` in the config, the image worker reads the text of each upload and the
caller sends it through the text model. The engine is loaded once per worker, at its start, with
one thread; reading runs inside the worker's wall-clock timeout like the rest of an image's work.
"""

from __future__ import annotations

import importlib.util
import logging
import unicodedata
from typing import Any

import numpy as np

from classifiers.images.decode import DecodedImage

log = logging.getLogger(__name__)

#: text boxes recognised with less confidence than this are dropped (RapidOCR's own default is 0.5)
MIN_SCORE = 0.6
#: characters of image text kept per upload: a meme is short; a screenshot of a document is not our job
MAX_CHARS = 1000
STATUS_OFF = "text in images off (pip install 'triagebot[ocr]' and set [images] ocr = true)"


def ocr_available() -> bool:
    """RapidOCR and onnxruntime are importable (the `ocr` extra is installed)."""
    return importlib.util.find_spec("rapidocr") is not None and importlib.util.find_spec("onnxruntime") is not None


def clean(text: str, limit: int = MAX_CHARS) -> str:
    """One line per text box, control characters dropped, at most `limit` characters."""
    lines = []
    for line in text.splitlines():
        kept = "".join(ch for ch in line if unicodedata.category(ch)[0] != "C").strip()
        if kept:
            lines.append(" ".join(kept.split()))
    return "\n".join(lines)[:limit]


class OcrEngine:
    """RapidOCR on one thread. `read_decoded` reads the first sampled frame and, for animations and
    videos, the last one (a caption is usually on every frame; two reads catch one that changes)."""

    def __init__(self, threads: int = 1, min_score: float = MIN_SCORE, max_frames: int = 2) -> None:
        self.threads = threads
        self.min_score = min_score
        self.max_frames = max_frames
        self._engine: Any = None

    def load(self) -> None:
        """Load the models now (at worker start), so no image pays for it in its timeout."""
        if self._engine is not None:
            return
        if not ocr_available():
            raise RuntimeError(STATUS_OFF)
        from rapidocr import RapidOCR

        self._engine = RapidOCR(
            params={
                "Global.log_level": "error",
                "Global.text_score": self.min_score,
                "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            }
        )
        self.read(np.full((64, 256, 3), 255, np.uint8))  # first run initialises the sessions
        log.info("OCR engine loaded (RapidOCR, %d thread)", self.threads)

    def read(self, frame: np.ndarray) -> str:
        """The text of one RGB frame, one line per box, top to bottom."""
        self.load()
        out = self._engine(np.ascontiguousarray(frame[:, :, ::-1]))  # RapidOCR expects OpenCV's BGR order
        texts = getattr(out, "txts", None) or ()
        scores = getattr(out, "scores", None) or ()
        return clean("\n".join(t for t, s in zip(texts, scores) if t and s >= self.min_score))

    def read_decoded(self, img: DecodedImage) -> str:
        frames = img.frames if len(img.frames) <= 1 else [img.frames[0], img.frames[-1]][: self.max_frames]
        seen: list[str] = []
        for frame in frames:
            text = self.read(frame)
            if text and text not in seen:
                seen.append(text)
        return clean("\n".join(seen))


__all__ = ["MAX_CHARS", "MIN_SCORE", "OcrEngine", "STATUS_OFF", "clean", "ocr_available"]
