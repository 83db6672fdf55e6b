"""Every kind of media, end to end through the real platform clients against the fakes: Discord link
previews (in the message and arriving later), forwarded messages, videos; Telegram stickers (static,
animated, video), documents, animations, round videos. The stand-in scanner flags bytes starting
with NSFW/NUDE; what matters here is what gets downloaded (and from where) and what does not."""

from __future__ import annotations

import pytest

from tests.fake_discord import ALICE, GENERAL, MALLORY
from tests.test_discord_bot import SERVER as DISCORD_SERVER
from tests.test_discord_bot import env as discord_env  # noqa: F401  (fixture)
from tests.test_discord_bot import fake  # noqa: F401  (fixture)
from tests.test_telegram_bot import MODS, NSFW, SAFE, TROLL, G
from tests.test_telegram_bot import SERVER as TELEGRAM_SERVER
from tests.test_telegram_bot import env as telegram_env  # noqa: F401  (fixture)

NUDE = b"NUDE" + b"\0" * 200


def discord_flag(env, payload):
    fid = env.store.find_flag(DISCORD_SERVER, str(GENERAL), payload["id"])
    return env.store.flag(DISCORD_SERVER, fid) if fid else None


@pytest.mark.parametrize("kind", ["image", "gifv", "article"])
async def test_discord_link_preview_media_is_scanned_through_the_proxy(discord_env, kind):
    env = discord_env
    embed = env.fake.link_embed(kind, NUDE, "x.mp4" if kind == "gifv" else "x.png")
    payload = await env.fake.send_message(MALLORY, "lihat https://example.org/x", embeds=(embed,))
    await env.settle()
    flag = discord_flag(env, payload)
    assert flag is not None and flag.labels == ("sexual",)
    assert [a["url"] for a in flag.attachments] == [(embed.get("video") or embed.get("image") or embed["thumbnail"])["proxy_url"]]
    assert all("example.org" not in a["url"] for a in flag.attachments)  # never the link's own host
    assert flag.attachments[0]["kind"] == ("video" if kind == "gifv" else "image")
    assert all(r.endswith("(in a link preview)") for r in flag.reasons), flag.reasons  # how it spread, in the record


async def test_discord_preview_arriving_later_is_scanned_once(discord_env):
    env = discord_env
    payload = await env.fake.send_message(MALLORY, "https://example.org/x")
    await env.settle()
    assert discord_flag(env, payload) is None
    embed = env.fake.link_embed("image", NUDE)
    updated = await env.fake.add_embeds(payload, (embed,))
    await env.settle(handled=2)
    flag = discord_flag(env, payload)
    assert flag is not None and flag.labels == ("sexual",) and flag.excerpt == ""  # the text was checked on arrival
    served = len(env.fake.served)
    await env.fake.add_embeds(updated, ())  # an update that brings nothing new: nothing fetched again
    await env.fake.send_message(ALICE, "halo")
    await env.settle(handled=3)
    assert len(env.fake.served) == served


async def test_discord_benign_preview_is_not_flagged(discord_env):
    env = discord_env
    payload = await env.fake.send_message(ALICE, "resep https://example.org/x", embeds=(env.fake.link_embed("article", b"SAFE pic"),))
    await env.settle()
    assert discord_flag(env, payload) is None and len(env.fake.served) == 1


@pytest.mark.parametrize(
    "forwarded",
    [
        {"attachments": (("pic.png", "image/png", NUDE),)},
        {"attachments": (("clip.mp4", "video/mp4", NUDE),)},
        {"content": "lihat", "embeds": "preview"},
    ],
    ids=["picture", "video", "link preview"],
)
async def test_discord_forwarded_message_media_is_scanned(discord_env, forwarded):
    env = discord_env
    if forwarded.get("embeds") == "preview":
        forwarded = dict(forwarded, embeds=(env.fake.link_embed("image", NUDE),))
    payload = await env.fake.send_message(MALLORY, "", forwarded=forwarded)
    await env.settle()
    flag = discord_flag(env, payload)
    assert flag is not None and flag.labels == ("sexual",) and len(flag.attachments) == 1
    assert all(r.endswith("(in a forwarded message)") for r in flag.reasons), flag.reasons


@pytest.mark.parametrize(
    "filename,ctype,scanned",
    [
        ("clip.mp4", "video/mp4", True),
        ("clip.webm", "", True),
        ("pic.gif", "", True),
        ("notes.pdf", "application/pdf", False),
    ],
)
async def test_discord_attachment_kinds(discord_env, filename, ctype, scanned):
    env = discord_env
    payload = await env.fake.send_message(MALLORY, "", attachments=((filename, ctype, NUDE),))
    await env.settle()
    assert (discord_flag(env, payload) is not None) is scanned
    assert len(env.fake.served) == int(scanned)


async def test_discord_previews_are_capped_per_message(discord_env):
    env = discord_env
    embeds = tuple(env.fake.link_embed("image", SAFE + bytes([i])) for i in range(7))
    await env.fake.send_message(ALICE, "links", embeds=embeds)
    await env.settle()
    assert len(env.fake.served) == 4


@pytest.mark.parametrize("format_type,scanned", [(1, True), (2, True), (3, False)], ids=["PNG", "APNG", "Lottie"])
async def test_discord_picture_stickers_are_scanned(discord_env, monkeypatch, format_type, scanned):
    import discord

    env = discord_env
    monkeypatch.setattr(discord.asset.Asset, "BASE", f"http://127.0.0.1:{env.fake.port}")
    payload = await env.fake.send_message(MALLORY, "", stickers=(env.fake.sticker(NUDE, format_type),))
    await env.settle()
    flag = discord_flag(env, payload)
    assert (flag is not None and flag.labels == ("sexual",)) is scanned
    assert len(env.fake.served) == int(scanned)


def _sticker(file_id: str, data: bytes, **kw) -> dict:
    return {
        "file_id": file_id,
        "file_unique_id": "u" + file_id,
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "file_size": len(data),
        **kw,
    }


def _video(file_id: str, data: bytes, mime: str = "video/mp4", **kw) -> dict:
    return {"file_id": file_id, "file_unique_id": "u" + file_id, "width": 320, "height": 240, "duration": 2, "mime_type": mime, "file_size": len(data), **kw}


def _photo(file_id: str, data: bytes) -> dict:
    return {"file_id": file_id, "file_unique_id": "u" + file_id, "width": 640, "height": 480, "file_size": len(data)}


#: what a flag's reasons say about where the file was, by the message field it came in
ORIGIN_NOTE = {"photo": "(in a forwarded message)", "sticker": "(a sticker)", "document": "(sent as a file)"}


def _doc(file_id: str, data: bytes, name: str, mime: str) -> dict:
    return {"file_id": file_id, "file_unique_id": "u" + file_id, "file_name": name, "mime_type": mime, "file_size": len(data)}


#: kind -> (message field, payload builder(file id, bytes), whether it is downloaded and scanned)
TELEGRAM_MEDIA = {
    "forwarded photo": ("photo", lambda f, d: [_photo(f, d)], True),
    "static sticker": ("sticker", lambda f, d: _sticker(f, d), True),
    "animated sticker (.tgs)": ("sticker", lambda f, d: _sticker(f, d, is_animated=True), True),
    "video sticker (WebM)": ("sticker", lambda f, d: _sticker(f, d, is_video=True), True),
    "animation (GIF as MP4)": ("animation", lambda f, d: _video(f, d, file_name="x.mp4"), True),
    "video": ("video", lambda f, d: _video(f, d), True),
    "round video note": ("video_note", lambda f, d: {"file_id": f, "file_unique_id": "u" + f, "length": 240, "duration": 2, "file_size": len(d)}, True),
    "photo sent as a file": ("document", lambda f, d: _doc(f, d, "IMG_1.JPG", "application/octet-stream"), True),
    "video sent as a file": ("document", lambda f, d: _doc(f, d, "v.mov", "video/quicktime"), True),
    "tgs sent as a file": ("document", lambda f, d: _doc(f, d, "s.tgs", "application/x-tgsticker"), True),
    "PDF document": ("document", lambda f, d: _doc(f, d, "a.pdf", "application/pdf"), False),
    "unnamed binary document": ("document", lambda f, d: _doc(f, d, "blob", "application/octet-stream"), False),
}


@pytest.mark.parametrize("data", [NSFW, SAFE], ids=["nsfw", "benign"])
async def test_telegram_media_kinds_are_downloaded_once_and_scanned(telegram_env, data):
    """One message per kind of TELEGRAM_MEDIA (one bot for the whole table: each start costs seconds)."""
    env = telegram_env
    sent = {}
    for i, (kind, (field, build, _)) in enumerate(TELEGRAM_MEDIA.items()):
        file_id = f"f{i}"
        env.fake.add_file(file_id, data)
        forward = {"forward_origin": {"type": "user", "date": 0, "sender_user": TROLL}} if kind.startswith("forwarded") else {}
        sent[kind] = (file_id, await env.fake.send(G, TROLL, **{field: build(file_id, data)}, **forward))
    await env.fake.send(G, TROLL, "sentinel slur")  # the last update: once it is stored, every update was received
    await env.fake.wait_for(lambda: any(f.excerpt == "sentinel slur" for f in env.store.queue(TELEGRAM_SERVER)), what="sentinel")
    await env.handlers.intake.drain()  # and handled (alerts are paced by the outbox; not waited for here)
    fetched = [c.params["file_id"] for c in env.fake.calls_of("getFile")]
    flagged = {f.message_id for f in env.store.queue(TELEGRAM_SERVER) if "sexual" in f.labels}
    for kind, (_, _, scanned) in TELEGRAM_MEDIA.items():
        file_id, message = sent[kind]
        assert fetched.count(file_id) == int(scanned), kind  # an animation is also sent as a document: fetched once
        assert (str(message["message_id"]) in flagged) is (scanned and data is NSFW), kind
    for f in env.store.queue(TELEGRAM_SERVER):
        field = next((TELEGRAM_MEDIA[k][0] for k, (_, m) in sent.items() if str(m["message_id"]) == f.message_id), None)
        if field is not None:
            note = ORIGIN_NOTE.get(field)
            if note:
                assert all(r.endswith(note) for r in f.reasons), (field, f.reasons)
            else:  # a plain video or animation: no note
                assert not any(r.endswith(n) for r in f.reasons for n in ORIGIN_NOTE.values()), (field, f.reasons)
