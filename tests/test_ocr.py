"""Text inside images: read by the optional OCR engine in the worker, checked by the text model, quoted
safely in the reason. Engine tests skip without the `ocr` extra; the quoting and config tests always run."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from bot.config import ConfigError, parse_settings
from bot.image_scan import ImageScan
from bot.image_text import QUOTE_CHARS, image_text_verdicts, quote_image_text
from bot.models import Attachment
from bot.pipeline import Pipeline
from classifiers.base import Verdict
from classifiers.images.decode import Limits
from classifiers.images.ocr import OcrEngine, clean, ocr_available
from classifiers.images.worker import ImageWorkerPool, scan
from tests.conftest import KeywordDetector, RecordingAdapter, make_message, make_settings
from tests.media_files import benign, video

needs_ocr = pytest.mark.skipif(not ocr_available(), reason="OCR needs the ocr extra (pip install 'triagebot[ocr]')")


def meme(lines: list[str], size: tuple[int, int] = (640, 360), bg: Image.Image | None = None) -> Image.Image:
    """A picture with caption lines drawn in large black-on-white bands, as meme generators do."""
    im = (bg or Image.new("RGB", size, (235, 235, 235))).resize(size).convert("RGB")
    d = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=34)
    for i, line in enumerate(lines):
        y = 20 + i * 70
        d.rectangle([10, y - 6, size[0] - 10, y + 48], fill=(255, 255, 255))
        d.text((24, y), line, fill=(0, 0, 0), font=font)
    return im


def png(im: Image.Image) -> bytes:
    import io

    b = io.BytesIO()
    im.save(b, "PNG")
    return b.getvalue()


# ---- quoting and verdicts (always run) ---------------------------------------------------------
@pytest.mark.parametrize(
    "text,expected",
    [
        ("", "“”"),
        ("dasar  monyet\n pulang   sana", "“dasar monyet pulang sana”"),
        ("@everyone <@123> **bold** ||x||", "“@everyone <@123> **bold** ||x||”"),  # the renderers escape it
        ("a" * 5000, "“" + "a" * (QUOTE_CHARS - 1) + "…”"),
        ('=HYPERLINK("x")', '“=HYPERLINK("x")”'),  # starts with a quote mark: never a spreadsheet formula
    ],
)
def test_image_text_is_quoted_on_one_short_line(text: str, expected: str) -> None:
    assert quote_image_text(text) == expected


@pytest.mark.parametrize(
    "text,labels",
    [
        ("lihat foto lewd ini", ["sexual"]),
        ("dasar slur", ["racial"]),
        ("selamat pagi", []),
        ("", []),
        ("   \n ", []),
    ],
)
def test_image_text_goes_through_the_text_model(text: str, labels: list[str]) -> None:
    out = image_text_verdicts(text, KeywordDetector().classify)
    assert [v.label for v in out] == labels
    for v in out:
        assert v.reason.startswith("text in the image “") and v.detector.endswith("+ocr")


def test_a_verdict_without_a_reason_still_quotes_the_text() -> None:
    out = image_text_verdicts("x", lambda t: [Verdict("sexual", 0.9, "", "m")])
    assert out[0].reason == "text in the image “x”"


@pytest.mark.parametrize(
    "raw,cleaned",
    [
        ("a\x00b\u200bc", "abc"),
        ("  two   words \n\n next ", "two words\nnext"),
        ("x" * 2000, "x" * 1000),
        ("", ""),
    ],
)
def test_ocr_output_is_cleaned(raw: str, cleaned: str) -> None:
    assert clean(raw) == cleaned


@pytest.mark.parametrize("value,ok", [(True, True), (False, True), ("yes", False), (1, False)])
def test_images_ocr_config(value, ok: bool) -> None:
    if ok:
        assert parse_settings({"images": {"ocr": value}}, {}).image_ocr is value
    else:
        with pytest.raises(ConfigError, match="images.ocr"):
            parse_settings({"images": {"ocr": value}}, {})


def test_ocr_is_off_by_default(store, db_path) -> None:
    settings = make_settings(db_path)
    assert settings.image_ocr is False
    with ImageWorkerPool(1, nudity=False) as pool:
        scanner = ImageScan(store, settings, nudity=False, pool=pool)
        assert scanner.ocr is False and "text in images not read" in scanner.status()


# ---- the engine (needs the extra) ----------------------------------------------------------------
@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    e = OcrEngine()
    e.load()
    return e


@needs_ocr
@pytest.mark.parametrize(
    "lines",
    [
        ["dasar monyet pulang sana"],
        ["send nudes now", "or else"],
        ["b0k3p gratis"],
        ["KAMU CANTIK"],
    ],
)
def test_engine_reads_captions(engine: OcrEngine, lines: list[str]) -> None:
    got = engine.read(np.asarray(meme(lines))).lower().split("\n")
    assert got == [x.lower() for x in lines]


@needs_ocr
@pytest.mark.parametrize(
    "im",
    [
        Image.new("RGB", (320, 240), (255, 255, 255)),
        Image.fromarray(np.random.default_rng(1).integers(0, 256, (12, 16, 3), dtype=np.uint8)).resize((640, 480), Image.Resampling.BICUBIC),
    ],
    ids=["blank", "photo-like"],
)
def test_engine_finds_no_text_where_there_is_none(engine: OcrEngine, im: Image.Image) -> None:
    assert engine.read(np.asarray(im)) == ""


@needs_ocr
def test_engine_reads_a_watermark_on_a_photo(engine: OcrEngine) -> None:
    assert engine.read(np.asarray(benign(6))) == "@sari.cooks"  # the demo picture's handle, drawn small


@needs_ocr
def test_worker_reads_text_of_stills_and_videos() -> None:
    with ImageWorkerPool(1, nudity=False, ocr=True) as p:
        assert scan(p, png(meme(["dasar monyet"])), nudity=False, ocr=True).text.lower() == "dasar monyet"
        assert scan(p, video(meme(["kirim foto bugil"]), n=4, at=0, size=(640, 360)), nudity=False, ocr=True).text.lower() == "kirim foto bugil"
        assert scan(p, png(meme(["dasar monyet"])), nudity=False, ocr=False).text == ""  # asked for nothing, reads nothing
        # reading text gets its own time on top of the picture's (Limits.ocr_timeout)
        assert scan(p, png(meme(["dasar monyet"])), nudity=False, ocr=True, limits=Limits(timeout=0.001, ocr_timeout=30)).text


@needs_ocr
async def test_caption_in_a_meme_is_flagged_with_the_text_as_reason(store, db_path) -> None:
    settings = make_settings(db_path)
    with ImageWorkerPool(1, nudity=False, ocr=True) as pool:
        scanner = ImageScan(store, settings, nudity=False, pool=pool, ocr=True)
        p = Pipeline(settings, store, [KeywordDetector()], image_scanner=scanner, base_thresholds={"sexual": 0.5, "racial": 0.5})
        p.adapters["discord"] = RecordingAdapter(
            files={"x://meme": png(meme(["dasar slur", "pulang sana"], bg=benign(2))), "x://plain": png(meme(["selamat pagi"]))}
        )
        flagged = await p.handle(make_message("", attachments=(Attachment(kind="image", url="x://meme"),)))
        clean_one = await p.handle(make_message("", attachments=(Attachment(kind="image", url="x://plain"),)))
        p.executor.shutdown(wait=False)
    assert flagged.flagged and flagged.labels == ("racial",)
    assert any(r.startswith("text in the image “dasar slur pulang sana”") for r in flagged.reasons)
    assert not clean_one.flagged
