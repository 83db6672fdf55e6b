"""Images through the core pipeline: re-share bank hits, confirm -> bank, /protect, hostile files."""

import importlib.util
import io

import pytest
from PIL import Image

from bot import demo_images
from bot.image_scan import ImageScan
from bot.models import ORIGIN_NOTES, ORIGINS, Attachment, Review
from bot.pipeline import Pipeline
from classifiers.images.decode import Limits
from classifiers.images.nsfw import nudity_available
from classifiers.images.worker import ImageWorkerPool
from tests.conftest import KeywordDetector, RecordingAdapter, make_message, make_settings
from tests.hostile_images import scan_bomb


@pytest.fixture(scope="module")
def pool():
    """One pool of image workers for the module: starting one costs ~1 s."""
    with ImageWorkerPool(2, nudity=nudity_available()) as p:
        yield p


@pytest.fixture
def img_pipeline(store, db_path, pool):
    settings = make_settings(db_path)
    p = Pipeline(settings, store, [KeywordDetector()], image_scanner=ImageScan(store, settings, pool=pool), base_thresholds={"sexual": 0.5, "racial": 0.5})
    adapter = RecordingAdapter(files={f"x://{n}": demo_images.variant(n) for n in ("original", "reshare_cropped", "reshare_jpeg", "reshare_watermark_cropped")})
    adapter.files["x://garbage"] = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    adapter.files["x://text"] = b"this is not an image at all"
    adapter.files["x://bomb"] = scan_bomb(2000, 2000, 500)
    p.adapters["discord"] = adapter
    yield p
    p.executor.shutdown(wait=False)


def with_image(name, **kw):
    return make_message("look", attachments=(Attachment(kind="image", url=f"x://{name}", mime="image/jpeg"),), **kw)


#: The tight crop matches only through the ORB stage (OpenCV, the `images` extra); without it matching is
#: hash-only, the documented fallback, which the other variants still exercise.
needs_opencv = pytest.mark.skipif(
    importlib.util.find_spec("cv2") is None, reason="tight crops match only with OpenCV's ORB stage (pip install 'triagebot[images]')"
)


@pytest.mark.parametrize("variant", [pytest.param("reshare_cropped", marks=needs_opencv), "reshare_jpeg", "reshare_watermark_cropped"])
async def test_reshare_of_protected_image_is_flagged_and_aimed_at_the_victim(img_pipeline, store, variant):
    out = await img_pipeline.protect("discord:s1", demo_images.variant("original"), "victim", "my photo")
    assert out.ok and store.bank_entry(out.entry_id)["protects"] == "victim"
    d = await img_pipeline.handle(with_image(variant))
    assert d.flagged and d.labels == ("reshare",)
    f = store.flag("discord:s1", d.flag_id)
    assert f.targets == ("victim",) and f.incident_id is not None
    assert any(f"bank entry #{out.entry_id}" in r for r in f.reasons)


@pytest.mark.parametrize("origin", ORIGINS)
async def test_the_record_says_where_a_reshare_was(img_pipeline, store, origin):
    """A re-share forwarded or shown in a link preview says so in its reasons, the audited evidence exports carry."""
    out = await img_pipeline.protect("discord:s1", demo_images.variant("original"), "victim", "my photo")
    message = make_message("look", attachments=(Attachment(kind="image", url="x://reshare_jpeg", mime="image/jpeg", origin=origin),))
    d = await img_pipeline.handle(message)
    reasons = store.flag("discord:s1", d.flag_id).reasons
    assert any(f"bank entry #{out.entry_id}" in r for r in reasons)
    note = ORIGIN_NOTES[origin]
    if note:
        assert all(r.endswith(f"({note})") for r in reasons), reasons
    else:  # a plain attachment: no note
        assert not any(r.endswith(f"({n})") for r in reasons for n in ORIGIN_NOTES.values() if n), reasons


async def test_bank_is_per_server(img_pipeline):
    await img_pipeline.protect("discord:s1", demo_images.variant("original"), "victim")
    assert not (await img_pipeline.handle(with_image("reshare_jpeg", server_id="s2"))).flagged


async def test_shared_bank_for_opted_in_servers(store, db_path, pool):
    settings = make_settings(db_path, shared_bank=True)
    p = Pipeline(settings, store, [], image_scanner=ImageScan(store, settings, pool=pool))
    p.adapters["discord"] = RecordingAdapter(files={"x://reshare_jpeg": demo_images.variant("reshare_jpeg")})
    await p.protect("discord:s1", demo_images.variant("original"), "victim")
    assert (await p.handle(with_image("reshare_jpeg", server_id="s2"))).flagged
    p.executor.shutdown(wait=False)


async def test_confirming_a_flagged_image_banks_its_hashes(img_pipeline, store):
    d = await img_pipeline.handle(make_message("lewd pic", attachments=(Attachment(kind="image", url="x://original"),), targets=("victim",)))
    assert d.flagged and store.bank_size() == 0
    await img_pipeline.review(Review(flag_id=d.flag_id, server="discord:s1", decision="confirm", reviewer="mod1"))
    assert store.bank_size() == 1
    again = await img_pipeline.handle(with_image("reshare_jpeg"))
    assert again.labels == ("reshare",)


@pytest.mark.parametrize("name", ["garbage", "text"])
async def test_hostile_files_do_not_crash_or_flag(img_pipeline, store, name):
    d = await img_pipeline.handle(with_image(name))
    assert not d.flagged


async def test_protect_refuses_bad_images_clearly(img_pipeline, store):
    out = await img_pipeline.protect("discord:s1", b"GIF89a broken", "victim")
    assert not out.ok and "could not be read" in out.message and store.bank_size() == 0


async def test_oversized_declared_attachment_is_not_downloaded(img_pipeline):
    m = make_message("x", attachments=(Attachment(kind="image", url="x://original", size=10**9),))
    await img_pipeline.handle(m)
    assert img_pipeline.adapters["discord"].executed == []


async def test_only_fingerprints_are_kept(img_pipeline, store):
    image = demo_images.variant("original")
    await img_pipeline.protect("discord:s1", image, "victim")
    ((entry_id, records),) = store.bank_entries(["discord:s1"])
    kinds = {k for k, _ in records}
    assert kinds and all(b"\x89PNG" not in data and image[:64] not in data for _, data in records)
    w, h = Image.open(io.BytesIO(image)).size
    assert sum(len(d) for _, d in records) < w * h * 3 / 50  # hashes and keypoints, not a copy


async def test_cli_confirm_banks_the_flagged_image_too(img_pipeline, store):
    from bot.review import review_flag

    d = await img_pipeline.handle(make_message("lewd pic", attachments=(Attachment(kind="image", url="x://original"),)))
    review_flag(store, d.flag_id, "confirm", "cli:mod")
    review_flag(store, d.flag_id, "confirm", "cli:mod")  # confirming twice banks once
    assert store.bank_size(["discord:s1"]) == 1


async def test_an_image_over_time_is_refused_and_the_rest_of_the_message_goes_on(store, db_path, caplog):
    """The bot path uses the worker's timeout: the overrunning image's worker is killed, the
    text is still flagged and the message's other image is still scanned and fingerprinted."""
    settings = make_settings(db_path)
    with ImageWorkerPool(1, nudity=False) as slow_pool:
        scanner = ImageScan(store, settings, nudity=False, pool=slow_pool, limits=Limits(max_jpeg_scans=10**6, timeout=2))
        p = Pipeline(settings, store, [KeywordDetector()], image_scanner=scanner, base_thresholds={"sexual": 0.5, "racial": 0.5})
        p.adapters["discord"] = RecordingAdapter(files={"x://bomb": scan_bomb(4000, 4000, 1000), "x://original": demo_images.variant("original")})
        m = make_message("lewd", attachments=(Attachment(kind="image", url="x://bomb"), Attachment(kind="image", url="x://original")))
        d = await p.handle(m)
        p.executor.shutdown(wait=False)
    assert d.flagged and d.labels == ("sexual",)
    assert slow_pool.killed == 1 and any("took longer than 2 s" in r.getMessage() for r in caplog.records)
    assert len(store.flag_images("discord:s1", d.flag_id)) == 1  # the other image's hashes, not the bomb's


async def test_a_cpu_bomb_is_refused_by_its_scan_count(img_pipeline, store):
    d = await img_pipeline.handle(make_message("hi", attachments=(Attachment(kind="image", url="x://bomb"),)))
    assert not d.flagged and img_pipeline.image_scanner.pool.killed == 0


async def test_protect_twice_reuses_her_entry_and_says_so(img_pipeline, store):
    first = await img_pipeline.protect("discord:s1", demo_images.variant("original"), "victim", "my photo")
    again = await img_pipeline.protect("discord:s1", demo_images.variant("reshare_jpeg"), "victim")
    assert again.ok and again.reused and again.entry_id == first.entry_id
    assert f"#{first.entry_id}" in again.message
    assert [e["id"] for e in store.bank_list("discord:s1", registered_by="victim")] == [first.entry_id]
    # someone else registering the same picture gets an entry she controls herself
    other = await img_pipeline.protect("discord:s1", demo_images.variant("original"), "friend")
    assert other.ok and not other.reused and other.entry_id != first.entry_id
    # and after she withdraws hers, registering it again makes a new entry
    assert img_pipeline.unprotect("discord:s1", "victim", first.entry_id)
    back = await img_pipeline.protect("discord:s1", demo_images.variant("original"), "victim")
    assert back.ok and not back.reused and back.entry_id not in (first.entry_id, other.entry_id)


# ---- every kind of media (issue 17 item 4) ----------------------------------------------------
def _media_table():
    from tests.hostile_images import gzip_bomb, mp4_declaring, truncated
    from tests.media_files import animation, benign, picture, still, tgs, video

    kinds = {
        "MP4": (lambda p: video(p, "mp4", n=8, at=5), "video"),
        "WebM": (lambda p: video(p, "webm", n=8, at=5), "video"),
        "animated GIF": (lambda p: animation(p, "GIF", n=6, at=4), "image"),
        "animated WebP": (lambda p: animation(p, "WEBP", n=6, at=4), "image"),
        "WebP sticker": (lambda p: still(p, "WEBP"), "image"),
        "tgs sticker": (lambda p: tgs(p), "sticker"),
    }
    hostile = {
        "MP4": lambda: truncated(video(None, n=20, size=(160, 120))),
        "WebM": lambda: mp4_declaring(20000, 20000),
        "animated GIF": lambda: b"GIF89a" + b"\xff" * 64,
        "animated WebP": lambda: b"RIFF\x10\x00\x00\x00WEBPVP8X" + b"\x00" * 20,
        "WebP sticker": lambda: b"\x00" * 10,
        "tgs sticker": lambda: gzip_bomb(16 << 20),
    }
    rows = []
    for name, (build, kind) in kinds.items():
        rows.append(pytest.param(name, kind, lambda b=build: b(picture("reshare_jpeg")), "reshare", id=f"{name}-reshare"))
        rows.append(pytest.param(name, kind, lambda b=build: b(benign(4)), None, id=f"{name}-benign"))
        rows.append(pytest.param(name, kind, hostile[name], "refused", id=f"{name}-hostile"))
    return rows


@needs_opencv
@pytest.mark.parametrize("name,kind,build,expect", _media_table())
async def test_every_media_kind_through_the_pipeline(img_pipeline, store, name, kind, build, expect):
    await img_pipeline.protect("discord:s1", demo_images.variant("original"), "victim")
    img_pipeline.adapters["discord"].files["x://media"] = build()
    text = "lihat, lewd" if expect == "refused" else "lihat"
    d = await img_pipeline.handle(make_message(text, attachments=(Attachment(kind=kind, url="x://media"),)))
    if expect == "reshare":
        assert d.flagged and "reshare" in d.labels and store.flag("discord:s1", d.flag_id).targets == ("victim",)
    elif expect is None:
        assert "reshare" not in d.labels
    else:  # refused with a reason, the message's text still checked, no worker killed
        assert d.flagged and d.labels == ("sexual",) and img_pipeline.image_scanner.pool.killed == 0


# ---- identical bytes seen again -----------------------------------------------------------------
async def test_identical_media_is_scanned_once_until_the_bank_changes(img_pipeline, store):
    scanner = img_pipeline.image_scanner
    first = await img_pipeline.handle(with_image("reshare_jpeg"))
    again = await img_pipeline.handle(with_image("reshare_jpeg"))
    assert not first.flagged and not again.flagged and scanner.cache_hits == 1
    await img_pipeline.protect("discord:s1", demo_images.variant("original"), "victim")  # the bank changed
    after = await img_pipeline.handle(with_image("reshare_jpeg"))
    assert after.labels == ("reshare",) and scanner.cache_hits == 1
    assert (await img_pipeline.handle(with_image("reshare_jpeg"))).labels == ("reshare",) and scanner.cache_hits == 2


@pytest.mark.parametrize("name", ["garbage", "text", "bomb"])
async def test_refusals_of_the_bytes_are_remembered(img_pipeline, name):
    scanner = img_pipeline.image_scanner
    for _ in range(2):
        await img_pipeline.handle(with_image(name))
    assert scanner.cache_hits == 1


async def test_a_timeout_is_not_remembered(store, db_path):
    settings = make_settings(db_path)
    with ImageWorkerPool(1, nudity=False) as slow_pool:
        scanner = ImageScan(store, settings, nudity=False, pool=slow_pool, limits=Limits(max_jpeg_scans=10**6, timeout=0.3))
        bomb = scan_bomb(4000, 4000, 1000)
        assert scanner.scan(bomb, ["discord:s1"]).error and scanner.scan(bomb, ["discord:s1"]).error
    assert scanner.cache_hits == 0 and slow_pool.killed == 2
