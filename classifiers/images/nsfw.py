"""Explicit-image detection with NudeNet's bundled ONNX model (AGPL-3.0, runs offline).

Why we run the ONNX session ourselves instead of `nudenet.NudeDetector`: its session
uses every core (we want one thread so a flood of images cannot starve the bot) and it
only takes paths/BGR arrays, while we already hold safely decoded RGB frames. We reuse
its model file and its pre/post-processing maths (pad to square, 320x320, NMS).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.base import Verdict
from classifiers.images.decode import DEFAULT_LIMITS, DecodedImage, Limits, decode

log = logging.getLogger(__name__)

#: NudeNet 3.4 class order (index = model output channel - 4).
NUDENET_LABELS: tuple[str, ...] = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)

#: How much each class counts towards `sexual`. Exposed intimate parts count fully;
#: covered genitals/anus count weakly (lingerie-style fakes); swimwear-level coverage,
#: bellies, feet, armpits and male chests don't count at all.
CLASS_WEIGHTS: dict[str, float] = {
    "FEMALE_GENITALIA_EXPOSED": 1.0,
    "MALE_GENITALIA_EXPOSED": 1.0,
    "ANUS_EXPOSED": 1.0,
    "FEMALE_BREAST_EXPOSED": 1.0,
    "BUTTOCKS_EXPOSED": 0.9,
    "FEMALE_GENITALIA_COVERED": 0.25,
    "ANUS_COVERED": 0.25,
}
FACE_CLASSES: tuple[str, ...] = ("FACE_FEMALE", "FACE_MALE")
#: A face at least this confident is mentioned in the reason (targeted-fake hint).
FACE_MIN_SCORE = 0.4
#: Detections below this are dropped before NMS (NudeNet uses 0.2 too).
MIN_DETECTION_SCORE = 0.2
INPUT_SIZE = 320
STATUS_OFF = "nudity detection off (install triagebot[images])"


@dataclass(frozen=True, slots=True)
class Detection:
    """One NudeNet box: class name, confidence, (x, y, w, h) in frame pixels, frame index."""

    cls: str
    score: float
    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    frame: int = 0


def nudity_available() -> bool:
    """True when nudenet (and its onnxruntime/cv2 deps) can be imported; never imports them."""
    return all(importlib.util.find_spec(m) is not None for m in ("nudenet", "onnxruntime", "cv2"))


def nudity_status() -> str:
    """One line for the bot's status command."""
    if not nudity_available():
        return STATUS_OFF
    return "nudity detection on (NudeNet 320n, 1 ONNX thread)"


def map_detections(detections: Iterable[Detection], n_frames: int = 1) -> Verdict:
    """Turn raw detections into one `sexual` verdict with a reason moderators can read.

    Pure (no model) so the mapping is unit-tested. Score = the best weighted class
    confidence; 0.0 with a "nothing detected" reason when no counted class fired.
    """
    best: dict[str, Detection] = {}
    for d in detections:
        if d.cls not in best or d.score > best[d.cls].score:
            best[d.cls] = d
    counted = sorted(
        ((c, d) for c, d in best.items() if CLASS_WEIGHTS.get(c, 0.0) > 0),
        key=lambda cd: cd[1].score * CLASS_WEIGHTS[cd[0]],
        reverse=True,
    )
    if not counted:
        return Verdict("sexual", 0.0, "no exposed body parts detected", "nudenet")
    score = max(d.score * CLASS_WEIGHTS[c] for c, d in counted)
    parts = [f"{c} {d.score:.2f}" for c, d in counted[:3]]
    reason = ", ".join(parts)
    if n_frames > 1:
        top = counted[0][1]
        reason += f" (animation frame {top.frame + 1} of {n_frames})"
    faces = [best[c] for c in FACE_CLASSES if c in best and best[c].score >= FACE_MIN_SCORE]
    if faces:
        f = max(faces, key=lambda d: d.score)
        reason += f"; face present ({f.cls} {f.score:.2f}) — may be a targeted fake"
    return Verdict("sexual", float(min(1.0, max(0.0, score))), reason, "nudenet")


def _model_path() -> Path:
    spec = importlib.util.find_spec("nudenet")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(STATUS_OFF)
    return Path(list(spec.submodule_search_locations)[0]) / "320n.onnx"


def preprocess(frame: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, int, int]:
    """RGB HxWx3 uint8 -> NCHW float32 blob, exactly as NudeNet's own pipeline feeds it.

    NudeNet's `_read_image` reads BGR, applies COLOR_RGBA2BGR (a channel swap on 3-channel
    input) and then `blobFromImage(swapRB=True)`: the model receives BGR order. We reproduce
    that so scores match the published detector (checked on skimage samples).
    """
    import cv2

    frame = np.ascontiguousarray(frame[:, :, ::-1])
    h, w = frame.shape[:2]
    side = max(h, w)
    padded = cv2.copyMakeBorder(frame, 0, side - h, 0, side - w, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    resized = cv2.resize(padded, (size, size), interpolation=cv2.INTER_LINEAR)
    blob = resized.astype(np.float32).transpose(2, 0, 1)[None] / np.float32(255.0)
    return np.ascontiguousarray(blob), w, h


def postprocess(output: np.ndarray, w: int, h: int, frame: int = 0, size: int = INPUT_SIZE) -> list[Detection]:
    """Vectorised version of NudeNet's `_postprocess` (threshold, box rescale, NMS)."""
    import cv2

    rows = np.squeeze(output).T  # (anchors, 4 + classes)
    cls_scores = rows[:, 4:]
    class_ids = cls_scores.argmax(axis=1)
    scores = cls_scores[np.arange(len(rows)), class_ids]
    keep = scores >= MIN_DETECTION_SCORE
    if not keep.any():
        return []
    rows, class_ids, scores = rows[keep], class_ids[keep], scores[keep]
    side = max(w, h)
    xywh = rows[:, :4].astype(np.float64) * (side / size)
    x = np.clip(xywh[:, 0] - xywh[:, 2] / 2, 0, w)
    y = np.clip(xywh[:, 1] - xywh[:, 3] / 2, 0, h)
    bw = np.minimum(xywh[:, 2], w - x)
    bh = np.minimum(xywh[:, 3], h - y)
    boxes = np.stack([x, y, bw, bh], axis=1)
    idx = cv2.dnn.NMSBoxes(boxes.tolist(), scores.astype(float).tolist(), 0.25, 0.45)
    out = []
    for i in np.asarray(idx).reshape(-1):
        bx = boxes[i]
        out.append(Detection(NUDENET_LABELS[int(class_ids[i])], float(scores[i]), (int(bx[0]), int(bx[1]), int(bx[2]), int(bx[3])), frame))
    return out


class NsfwDetector:
    """`ImageDetector` for the `sexual` label. The ONNX session loads on first use (~12 MB model)."""

    name = "nudenet"

    def __init__(self, limits: Limits = DEFAULT_LIMITS, model_path: str | Path | None = None, threads: int = 1) -> None:
        self.limits = limits
        self._model_path = Path(model_path) if model_path else None
        self._threads = threads
        self._session: Any = None
        self._input_name = ""
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return nudity_available()

    def _ensure(self) -> Any:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    if not nudity_available():
                        raise RuntimeError(STATUS_OFF)
                    import onnxruntime as ort

                    opts = ort.SessionOptions()
                    opts.intra_op_num_threads = self._threads
                    opts.inter_op_num_threads = 1
                    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                    path = self._model_path or _model_path()
                    sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
                    self._input_name = sess.get_inputs()[0].name
                    self._session = sess
                    log.info("NudeNet loaded from %s (%d thread)", path, self._threads)
        return self._session

    def load(self) -> None:
        """Load the model now (e.g. at bot start) instead of on the first image."""
        self._ensure()

    def detect_frame(self, frame: np.ndarray, index: int = 0) -> list[Detection]:
        """Raw detections for one RGB frame."""
        sess = self._ensure()
        blob, w, h = preprocess(frame)
        out = sess.run(None, {self._input_name: blob})
        return postprocess(out[0], w, h, frame=index)

    def detect(self, img: DecodedImage) -> list[Detection]:
        """Detections over every sampled frame (frame index = position in the file)."""
        dets: list[Detection] = []
        indices = img.frame_indices or list(range(len(img.frames)))
        for frame, idx in zip(img.frames, indices):
            dets.extend(self.detect_frame(frame, idx))
        return dets

    def classify_decoded(self, img: DecodedImage) -> list[Verdict]:
        """One `sexual` verdict (score 0.0 when nothing counted was found)."""
        return [map_detections(self.detect(img), img.n_frames)]

    def classify_image(self, data: bytes) -> list[Verdict]:
        """Decode safely, then classify. Raises `ImageRejected` for refused input."""
        return self.classify_decoded(decode(data, self.limits))


__all__ = [
    "CLASS_WEIGHTS",
    "Detection",
    "NUDENET_LABELS",
    "NsfwDetector",
    "STATUS_OFF",
    "map_detections",
    "nudity_available",
    "nudity_status",
]
