"""NudeNet mapping (pure, no model) and, when nudenet is installed, the model on benign images."""

from __future__ import annotations

import io
import importlib.util

import numpy as np
import pytest
from PIL import Image

from classifiers.base import ImageDetector, Verdict
from classifiers.images import nsfw
from classifiers.images.decode import decode
from classifiers.images.nsfw import CLASS_WEIGHTS, Detection, NsfwDetector, map_detections

HAS_NUDENET = importlib.util.find_spec("nudenet") is not None
needs_model = pytest.mark.skipif(not HAS_NUDENET, reason="nudenet not installed (triagebot[images])")

D = Detection

MAPPING = [
    # detections, expected score (approx), substrings the reason must contain, must not contain
    ([], 0.0, ["no exposed"], ["face"]),
    ([D("FEMALE_BREAST_EXPOSED", 0.91)], 0.91, ["FEMALE_BREAST_EXPOSED 0.91"], ["face"]),
    (
        [D("FEMALE_BREAST_EXPOSED", 0.91), D("FACE_FEMALE", 0.88)],
        0.91,
        ["FEMALE_BREAST_EXPOSED 0.91", "face present (FACE_FEMALE 0.88)", "targeted fake"],
        [],
    ),
    ([D("FACE_FEMALE", 0.95)], 0.0, ["no exposed"], ["targeted"]),  # a face alone is not sexual
    ([D("FEMALE_BREAST_COVERED", 0.9), D("BELLY_EXPOSED", 0.8), D("FEET_EXPOSED", 0.9)], 0.0, ["no exposed"], []),
    ([D("MALE_BREAST_EXPOSED", 0.9), D("ARMPITS_EXPOSED", 0.9)], 0.0, ["no exposed"], []),
    ([D("FEMALE_GENITALIA_COVERED", 0.8)], 0.2, ["FEMALE_GENITALIA_COVERED 0.80"], []),  # weak
    ([D("MALE_GENITALIA_EXPOSED", 0.6), D("ANUS_EXPOSED", 0.7)], 0.7, ["ANUS_EXPOSED 0.70", "MALE_GENITALIA_EXPOSED 0.60"], []),
    ([D("BUTTOCKS_EXPOSED", 0.5)], 0.45, ["BUTTOCKS_EXPOSED 0.50"], []),
    ([D("FEMALE_BREAST_EXPOSED", 0.4), D("FEMALE_BREAST_EXPOSED", 0.8)], 0.8, ["FEMALE_BREAST_EXPOSED 0.80"], ["0.40"]),
    ([D("FEMALE_GENITALIA_EXPOSED", 0.7), D("FACE_MALE", 0.3)], 0.7, ["FEMALE_GENITALIA_EXPOSED 0.70"], ["face"]),  # weak face
]


@pytest.mark.parametrize("dets,score,has,has_not", MAPPING)
def test_map_detections(dets: list[Detection], score: float, has: list[str], has_not: list[str]) -> None:
    v = map_detections(dets)
    assert isinstance(v, Verdict) and v.label == "sexual" and v.detector == "nudenet"
    assert v.score == pytest.approx(score, abs=1e-6)
    for s in has:
        assert s in v.reason
    for s in has_not:
        assert s not in v.reason


def test_animation_frame_is_named_in_the_reason() -> None:
    v = map_detections([D("FEMALE_BREAST_EXPOSED", 0.9, frame=199)], n_frames=300)
    assert "frame 200 of 300" in v.reason


def test_only_exposed_intimate_classes_count_fully() -> None:
    full = {c for c, w in CLASS_WEIGHTS.items() if w >= 0.9}
    assert full == {
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "ANUS_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "BUTTOCKS_EXPOSED",
    }
    assert all("COVERED" not in c or w < 0.5 for c, w in CLASS_WEIGHTS.items())


@pytest.mark.skipif(importlib.util.find_spec("cv2") is None, reason="postprocess uses OpenCV's NMS (pip install 'triagebot[images]')")
def test_postprocess_decodes_a_synthetic_model_output() -> None:
    # one confident FEMALE_BREAST_EXPOSED box centred at (160, 160), 40x40 in model space
    out = np.zeros((1, 4 + len(nsfw.NUDENET_LABELS), 2100), np.float32)
    out[0, :4, 7] = (160, 160, 40, 40)
    out[0, 4 + nsfw.NUDENET_LABELS.index("FEMALE_BREAST_EXPOSED"), 7] = 0.93
    dets = nsfw.postprocess(out, w=640, h=320)
    assert [(d.cls, round(d.score, 2)) for d in dets] == [("FEMALE_BREAST_EXPOSED", 0.93)]
    x, y, bw, bh = dets[0].box
    assert (x, y, bw, bh) == (280, 280, 80, 40)  # scaled by 640/320, clipped to the 320-px height


def test_status_when_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nsfw, "nudity_available", lambda: False)
    assert nsfw.nudity_status() == "nudity detection off (install triagebot[images])"
    det = NsfwDetector()
    with pytest.raises(RuntimeError, match="nudity detection off"):
        det.load()


def test_detector_satisfies_the_protocol() -> None:
    assert isinstance(NsfwDetector(), ImageDetector)


@needs_model
@pytest.mark.parametrize("name", ["astronaut", "chelsea", "rocket", "camera"])
def test_benign_sample_images_have_no_exposed_classes(name: str) -> None:
    data = pytest.importorskip("skimage.data")
    arr = getattr(data, name)()
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    b = io.BytesIO()
    Image.fromarray(arr).save(b, "PNG")
    det = NsfwDetector()
    img = decode(b.getvalue())
    dets = det.detect(img)
    assert not [d for d in dets if d.cls.endswith("_EXPOSED") and CLASS_WEIGHTS.get(d.cls, 0) > 0 and d.score >= 0.5]
    (v,) = det.classify_decoded(img)
    assert v.label == "sexual" and v.score < 0.5


@needs_model
def test_face_is_found_on_astronaut_with_one_thread() -> None:
    data = pytest.importorskip("skimage.data")
    det = NsfwDetector()
    dets = det.detect_frame(data.astronaut())
    assert any(d.cls == "FACE_FEMALE" and d.score > 0.5 for d in dets)
    opts = det._session.get_session_options()
    assert opts.intra_op_num_threads == 1 and opts.inter_op_num_threads == 1


@needs_model
def test_classify_image_takes_bytes_and_samples_animation_frames() -> None:
    frames = [Image.fromarray(np.full((64, 64, 3), i * 40, np.uint8)) for i in range(5)]
    b = io.BytesIO()
    frames[0].save(b, "GIF", save_all=True, append_images=frames[1:])
    (v,) = NsfwDetector().classify_image(b.getvalue())
    assert v.label == "sexual" and v.score == 0.0
