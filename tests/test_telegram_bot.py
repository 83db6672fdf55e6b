"""The Telegram adapter with the real python-telegram-bot client against a fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import parse_settings
from bot.models import Review, utcnow
from bot.pipeline import Pipeline
from bot.platforms.telegram_bot import build_application, start_polling
from bot.platforms.telegram_render import callback_data, parse_callback
from bot.platforms.telegram_setup import normalize_code
from bot.store import Store, iso
from tests.conftest import KeywordDetector, StandInImageScanner
from tests.fake_telegram import BOT_USER, FakeTelegram, private, supergroup, user

GROUP = -1001234567890
MODS = -1009999999999
OTHER_GROUP = -1005555555555
SERVER = f"telegram:{GROUP}"
ADMIN = user(100, "Ada", "ada_admin")
MEMBER = user(200, "Budi", "budi")
TROLL = user(300, "Troll", "troll_x")
CREATOR = user(400, "Sari", "sari_creates")
NSFW = b"NSFW" + b"\x00" * 5000
SAFE = b"SAFE" + b"\x00" * 5000


@dataclass
class Env:
    fake: FakeTelegram
    store: Store
    pipeline: Pipeline
    app: object
    errors: list = field(default_factory=list)

    @property
    def handlers(self):
        return self.app.bot_data["triagebot"]

    async def settle(self) -> None:
        """Let buffered media groups and the intake finish."""
        await self.fake.wait_for(lambda: not self.handlers._albums, what="albums flushed")
        if self.handlers._intake_started:
            await self.handlers.intake.drain()
        await asyncio.wait_for(self.pipeline.settle(), 10)  # alerts and protective actions run in the background

    def mod_messages(self) -> list:
        return [c for c in self.fake.calls_of("sendMessage") if int(c.params["chat_id"]) == MODS]


#: What the stand-in detector flags in these tests.
KEYWORDS = {"slur": ("racial", 0.95), "nude": ("sexual", 0.9)}


def make_settings(fake: FakeTelegram, servers: dict | None = None):
    env = {"TELEGRAM_TOKEN": fake.token, "TRIAGEBOT_TELEGRAM_BASE_URL": fake.base_url, "TRIAGEBOT_TELEGRAM_BASE_FILE_URL": fake.base_file_url}
    data = {"servers": servers if servers is not None else {SERVER: {"mod_chat": MODS}}, "limits": {"max_attachment_bytes": 20000}}
    return parse_settings(data, env)


async def start_env(tmp_path: Path, monkeypatch, servers: dict | None = None, fake: FakeTelegram | None = None):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    fake = await (fake or FakeTelegram()).start()
    for chat in (GROUP, OTHER_GROUP):
        fake.set_member(chat, ADMIN, "administrator")
        fake.set_member(chat, MEMBER)
        fake.set_member(chat, TROLL)
        fake.set_member(chat, CREATOR, "creator")
        fake.set_member(chat, BOT_USER, "administrator")  # the bot needs its delete and ban rights
    store = Store.open(tmp_path / "t.db")
    settings = make_settings(fake, servers)
    pipeline = Pipeline(settings, store, text_detectors=[KeywordDetector(KEYWORDS)], image_scanner=StandInImageScanner())
    app = build_application(pipeline, settings, media_group_delay=0.3)
    env = Env(fake, store, pipeline, app)

    async def record(update, context):
        env.errors.append(context.error)

    app.add_error_handler(record)
    await app.__aenter__()
    pipeline.start()
    await start_polling(app, timeout=1)
    return env


async def stop_env(env: Env) -> None:
    await env.app.updater.stop()
    await env.app.stop()
    await env.handlers.aclose()
    await env.pipeline.stop()
    await env.app.__aexit__(None, None, None)
    await env.fake.stop()
    env.store.close()


@pytest.fixture
async def env(tmp_path, monkeypatch):
    e = await start_env(tmp_path, monkeypatch)
    try:
        yield e
    finally:
        await stop_env(e)
    assert not e.errors, f"handler errors: {e.errors!r}"


G = supergroup(GROUP, "Sari's fans")


# ---- classification and the moderators' message ---------------------------------------------
async def test_group_text_flag_posts_escaped_alert_with_spoiler_and_buttons(env: Env):
    await env.fake.send(G, TROLL, "you slur <b>bold</b> <a href='https://evil.example'>x</a> & co")
    calls = await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS)
    p = calls[0].params
    assert p["parse_mode"] == "HTML"
    text = p["text"]
    assert "<tg-spoiler>you slur &lt;b&gt;bold&lt;/b&gt; &lt;a href=&#x27;https://evil.example&#x27;&gt;x&lt;/a&gt; &amp; co</tg-spoiler>" in text
    assert "<b>bold</b>" not in text and "evil.example'>" not in text and "<a href='https" not in text
    assert "Troll (@troll_x)" in text and "<code>300</code>" in text
    assert f"https://t.me/c/{str(GROUP)[4:]}/" in text
    assert "racial 0.95" in text and "keyword &quot;slur&quot;" in text
    assert p["link_preview_options"] == {"is_disabled": True}
    datas = [b["callback_data"] for row in p["reply_markup"]["inline_keyboard"] for b in row]
    assert {parse_callback(d).verb for d in datas} == {"confirm", "dismiss", "delete", "mute", "ban", "warn"}
    assert sorted(parse_callback(d).seconds for d in datas if d.startswith("tb:mute")) == [600, 3600, 86400]
    await env.settle()
    [flag] = env.store.queue(SERVER)
    assert flag.labels == ("racial",) and flag.author_id == "300" and flag.alert_ref and flag.alert_ref.startswith(f"{MODS}:")


async def test_clean_message_and_moderators_chat_are_not_flagged(env: Env):
    await env.fake.send(G, MEMBER, "hello everyone")
    await env.fake.send(supergroup(MODS, "Mods"), ADMIN, "look at this slur they posted")
    await env.fake.send(G, ADMIN, "admins quoting a slur are exempt")
    await env.fake.wait_for(lambda: len(env.fake.calls_of("getUpdates")) > 3, what="polls")
    await env.settle()
    assert env.store.pending_count(SERVER) == 0
    assert env.store.pending_count(f"telegram:{MODS}") == 0
    assert not env.mod_messages()


async def test_caption_and_photo_are_classified_without_reposting_the_image(env: Env):
    env.fake.add_file("ph-big", NSFW)
    env.fake.add_file("ph-small", SAFE)
    photo = [
        {"file_id": "ph-small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": len(SAFE)},
        {"file_id": "ph-big", "file_unique_id": "b", "width": 1280, "height": 720, "file_size": len(NSFW)},
    ]
    await env.fake.send(G, TROLL, caption="look", photo=photo)
    calls = await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS)
    assert [c.params["file_id"] for c in env.fake.calls_of("getFile")] == ["ph-big"]  # largest size only
    assert env.fake.downloads and env.fake.downloads[0][0].endswith("ph-big")
    text = calls[0].params["text"]
    assert "sexual 0.95" in text and "image/jpeg 1280×720 (not re-posted" in text
    for method in ("sendPhoto", "sendDocument", "sendMediaGroup", "forwardMessage", "copyMessage"):
        assert not env.fake.calls_of(method)
    await env.settle()
    [flag] = env.store.queue(SERVER)
    assert flag.attachments[0]["mime"] == "image/jpeg"
    assert "file/bot" not in json.dumps(flag.attachments)  # the token-bearing file URL is never stored


async def test_image_document_over_the_cap_is_not_downloaded_in_full(env: Env):
    big = b"NSFW" + b"\x00" * 60000  # cap is 20000 bytes; getFile does not declare the size
    env.fake.add_file("doc-big", big, declared_size=None)
    doc = {"file_id": "doc-big", "file_unique_id": "d", "file_name": "a.png", "mime_type": "image/png"}
    await env.fake.send(G, TROLL, document=doc, caption="hi")
    await env.fake.wait_call("getFile")
    await env.settle()
    await env.fake.wait_for(lambda: env.fake.downloads, what="download finished")
    assert env.store.pending_count(SERVER) == 0  # nothing scanned: the download was cut off
    env.fake.add_file("doc-ok", NSFW)
    await env.fake.send(G, TROLL, document=dict(doc, file_id="doc-ok", file_size=len(NSFW)))
    await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS)


async def test_edited_message_is_reclassified(env: Env):
    m = await env.fake.send(G, TROLL, "hello")
    await env.fake.wait_for(lambda: len(env.fake.calls_of("getUpdates")) > 2, what="polls")
    await env.settle()
    assert env.store.pending_count(SERVER) == 0
    await env.fake.edit(m, "now a slur")
    await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS)
    await env.settle()
    [flag] = env.store.queue(SERVER)
    assert flag.message_id == str(m["message_id"]) and flag.excerpt == "now a slur"


async def test_media_group_is_handled_as_one_post(env: Env):
    for i, data in enumerate([SAFE, NSFW, SAFE]):
        env.fake.add_file(f"al{i}", data)
    ids = []
    for i in range(3):
        m = await env.fake.send(
            G,
            TROLL,
            caption="album nude" if i == 0 else None,
            media_group_id="mg1",
            photo=[{"file_id": f"al{i}", "file_unique_id": f"u{i}", "width": 800, "height": 600, "file_size": 5004}],
        )
        ids.append(m["message_id"])
    calls = await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS)
    await env.settle()
    assert len(env.mod_messages()) == 1 == len(calls)
    [flag] = env.store.queue(SERVER)
    assert flag.message_id == str(ids[0]) and len(flag.attachments) == 3
    assert set(flag.labels) == {"sexual"}
    # Deleting the post removes every part of the album.
    press = callback_data("delete", GROUP, flag.id)
    await env.fake.press(await _alert_message(env), ADMIN, press)
    await env.fake.wait_call("deleteMessage", n=3)
    assert sorted(int(c.params["message_id"]) for c in env.fake.calls_of("deleteMessage")) == ids


async def _alert_message(env: Env) -> dict:
    """The message a button sits on; the bot acts on the flag id in the button data, not on this."""
    assert env.mod_messages(), "no alert was posted to the moderators' chat"
    return {"message_id": 1, "date": 0, "chat": supergroup(MODS, "Mods"), "from": {"id": 999000, "is_bot": True, "first_name": "T"}, "text": "alert"}


async def _flag_one(env: Env, text: str = "you slur") -> tuple[int, dict]:
    m = await env.fake.send(G, TROLL, text)
    await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS)
    await env.settle()
    flag = env.store.queue(SERVER)[0]
    return flag.id, m


# ---- buttons ------------------------------------------------------------------------------
async def test_non_admin_button_is_refused_and_admin_confirm_edits_the_alert(env: Env):
    fid, _ = await _flag_one(env)
    alert = await _alert_message(env)
    await env.fake.press(alert, MEMBER, callback_data("confirm", GROUP, fid))
    answer = await env.fake.wait_call("answerCallbackQuery")
    assert "Only admins" in answer[0].params["text"] and answer[0].params.get("show_alert") is True
    assert env.store.flag(SERVER, fid).status == "pending"
    assert any(int(c.params["user_id"]) == MEMBER["id"] and int(c.params["chat_id"]) == GROUP for c in env.fake.calls_of("getChatMember"))

    await env.fake.press(alert, ADMIN, callback_data("confirm", GROUP, fid))
    edits = await env.fake.wait_call("editMessageText")
    assert env.store.flag(SERVER, fid).status == "confirmed"
    ref_chat, ref_msg = env.store.flag(SERVER, fid).alert_ref.split(":")
    assert int(edits[-1].params["chat_id"]) == int(ref_chat) and int(edits[-1].params["message_id"]) == int(ref_msg)
    assert "confirmed</b> by Ada (@ada_admin) · id <code>100</code>" in edits[-1].params["text"]
    assert len(env.mod_messages()) == 1  # edited in place, not re-posted
    # Second press by the same admin: getChatMember is cached.
    n = len(env.fake.calls_of("getChatMember"))
    await env.fake.press(alert, ADMIN, callback_data("dismiss", GROUP, fid))
    await env.fake.wait_for(lambda: env.store.flag(SERVER, fid).status == "dismissed", what="dismissed")
    assert len(env.fake.calls_of("getChatMember")) == n


@pytest.mark.parametrize(
    "verb,seconds,method",
    [
        ("delete", None, "deleteMessage"),
        ("mute", 3600, "restrictChatMember"),
        ("ban", None, "banChatMember"),
    ],
)
async def test_moderation_buttons_call_the_api_and_log_the_action(env: Env, verb, seconds, method):
    fid, m = await _flag_one(env)
    await env.fake.press(await _alert_message(env), ADMIN, callback_data(verb, GROUP, fid, seconds))
    [call] = await env.fake.wait_call(method)
    assert int(call.params["chat_id"]) == GROUP
    if method == "deleteMessage":
        assert int(call.params["message_id"]) == m["message_id"]
    else:
        assert int(call.params["user_id"]) == TROLL["id"]
    if method == "restrictChatMember":
        assert call.params["permissions"]["can_send_messages"] is False
        until = int(call.params["until_date"])
        assert abs(until - (utcnow() + timedelta(seconds=3600)).timestamp()) < 30
    edits = await env.fake.wait_call("editMessageText")
    kind = {"delete": "delete", "mute": "timeout", "ban": "ban"}[verb]
    assert f"Action: {kind}" in edits[-1].params["text"] and "by Ada (@ada_admin)" in edits[-1].params["text"]
    acts = [a for a in env.store.actions_for(SERVER, fid) if a["kind"] == kind]
    assert acts and acts[0]["status"] == "ok" and acts[0]["actor"] == str(ADMIN["id"])


async def test_api_error_keeps_the_flag_and_logs_the_action_as_error(env: Env):
    env.fake.fail["deleteMessage"] = (400, "Bad Request: message can't be deleted")
    fid, _ = await _flag_one(env)
    await env.fake.press(await _alert_message(env), ADMIN, callback_data("delete", GROUP, fid))
    answers = await env.fake.wait_call("answerCallbackQuery")
    assert answers[-1].params["text"].startswith("Failed:") and "48 h" in answers[-1].params["text"]
    flag = env.store.flag(SERVER, fid)
    assert flag.status == "pending"
    [act] = [a for a in env.store.actions_for(SERVER, fid) if a["kind"] == "delete"]
    assert act["status"] == "error" and "can't be deleted" in act["detail"]


async def test_delete_after_48_hours_is_refused_with_a_clear_reason(env: Env):
    fid, _ = await _flag_one(env)
    env.store.db.conn.execute("UPDATE flags SET message_time = ? WHERE id = ?", (iso(utcnow() - timedelta(hours=50)), fid))
    await env.fake.press(await _alert_message(env), ADMIN, callback_data("delete", GROUP, fid))
    answers = await env.fake.wait_call("answerCallbackQuery")
    assert "younger than 48 h" in answers[-1].params["text"] and answers[-1].params["show_alert"] is True
    assert not env.fake.calls_of("deleteMessage")
    assert not [a for a in env.store.actions_for(SERVER, fid) if a["kind"] == "delete"]


async def test_alert_send_failure_keeps_the_flag_and_the_alert_is_posted_once_the_chat_works(env: Env):
    env.fake.fail["sendMessage"] = (400, "Bad Request: chat not found")
    await env.fake.send(G, TROLL, "you slur")
    await env.fake.wait_call("sendMessage")
    await env.settle()
    [flag] = env.store.queue(SERVER)
    assert env.store.undelivered_alerts(SERVER)[0] == 1
    del env.fake.fail["sendMessage"]
    await env.fake.wait_for(lambda: env.store.undelivered_alerts(SERVER)[0] == 0, timeout=15, what="alert delivered")
    assert len([c for c in env.mod_messages() if "Flagged" in c.params["text"] and c.params["chat_id"]]) == 2  # 1 refused, 1 posted
    assert env.store.flag(SERVER, flag.id).alert_ref


# ---- setup --------------------------------------------------------------------------------
@pytest.fixture
async def unlinked(tmp_path, monkeypatch):
    e = await start_env(tmp_path, monkeypatch, servers={})
    try:
        yield e
    finally:
        await stop_env(e)
    assert not e.errors, f"handler errors: {e.errors!r}"


async def test_setup_links_the_moderators_chat_with_a_one_time_code(unlinked: Env):
    env = unlinked
    await env.fake.send(G, MEMBER, "/setup", entities=[{"type": "bot_command", "offset": 0, "length": 6}])
    refused = await env.fake.wait_call("sendMessage")
    assert "Only this group's admins" in refused[0].params["text"]
    await env.fake.send(G, ADMIN, "/setup", entities=[{"type": "bot_command", "offset": 0, "length": 6}])
    calls = await env.fake.wait_call("sendMessage", n=2)
    text = calls[1].params["text"]
    code = text.split("/link ")[1].split("<")[0]
    assert normalize_code(code) == code
    mods = supergroup(MODS, "Mods")
    # A member who saw the code cannot link their own chat.
    await env.fake.send(supergroup(-100777, "Evil"), MEMBER, f"/link {code}", entities=[{"type": "bot_command", "offset": 0, "length": 5}])
    await env.fake.wait_call("sendMessage", n=3)
    assert "Only an admin" in env.fake.calls_of("sendMessage")[2].params["text"]
    await env.fake.send(mods, ADMIN, f"/link {code.lower()}", entities=[{"type": "bot_command", "offset": 0, "length": 5}])
    await env.fake.wait_call("sendMessage", n=5)
    assert env.pipeline.server_settings(SERVER).mod_chat == str(MODS)
    assert any("Linked" in c.params["text"] and int(c.params["chat_id"]) == MODS for c in env.fake.calls_of("sendMessage"))
    assert env.fake.calls_of("deleteMessage")  # the code notice is removed from the group
    # The code works once.
    await env.fake.send(mods, ADMIN, f"/link {code}", entities=[{"type": "bot_command", "offset": 0, "length": 5}])
    await env.fake.wait_for(lambda: any("unknown or expired" in c.params["text"] for c in env.fake.calls_of("sendMessage")), what="reuse refused")
    # Alerts now go to the linked chat.
    await env.fake.send(G, TROLL, "slur")
    await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS and "Flagged" in c.params["text"])


async def test_link_code_survives_a_restart(tmp_path, monkeypatch):
    """An admin gets a code, the bot restarts (same database), the code still links the chat."""
    env = await start_env(tmp_path, monkeypatch, servers={})
    try:
        await env.fake.send(G, ADMIN, "/setup", entities=[{"type": "bot_command", "offset": 0, "length": 6}])
        [notice] = await env.fake.wait_call("sendMessage")
        code = notice.params["text"].split("/link ")[1].split("<")[0]
    finally:
        await stop_env(env)
    assert not env.errors, f"handler errors before the restart: {env.errors!r}"
    env = await start_env(tmp_path, monkeypatch, servers={})
    try:
        await env.fake.send(supergroup(MODS, "Mods"), ADMIN, f"/link {code}", entities=[{"type": "bot_command", "offset": 0, "length": 5}])
        await env.fake.wait_for(lambda: env.pipeline.server_settings(SERVER).mod_chat == str(MODS), what="linked")
        await env.fake.wait_call("deleteMessage")  # the code notice posted before the restart is removed
    finally:
        await stop_env(env)
    assert not env.errors, f"handler errors: {env.errors!r}"


async def test_setup_threshold_and_dry_run(env: Env):
    cmd = lambda s: {"type": "bot_command", "offset": 0, "length": 6}  # noqa: E731
    await env.fake.send(G, ADMIN, "/setup threshold racial 0.99", entities=[cmd(0)])
    await env.fake.wait_call("sendMessage")
    assert env.pipeline.server_settings(SERVER).thresholds["racial"] == 0.99
    await env.fake.send(G, ADMIN, "/setup threshold nonsense 0.5", entities=[cmd(0)])
    calls = await env.fake.wait_call("sendMessage", n=2)
    assert "Not changed" in calls[1].params["text"] and "unknown label" in calls[1].params["text"]
    await env.fake.send(G, ADMIN, "/setup dryrun on", entities=[cmd(0)])
    await env.fake.wait_call("sendMessage", n=3)
    assert env.pipeline.server_settings(SERVER).dry_run is True
    await env.fake.send(G, TROLL, "slur")  # 0.95 < 0.99 now
    await env.fake.wait_for(lambda: len(env.fake.calls_of("getUpdates")) > 5, what="polls")
    await env.settle()
    assert env.store.pending_count(SERVER) == 0


# ---- queue, stats, export -------------------------------------------------------------------
async def test_queue_and_stats_in_the_moderators_chat(env: Env):
    await _flag_one(env)
    mods = supergroup(MODS, "Mods")
    await env.fake.send(mods, MEMBER, "/queue", entities=[{"type": "bot_command", "offset": 0, "length": 6}])
    reply = await env.fake.wait_call(
        "sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS and " open" in c.params["text"] and "Flag #" not in c.params["text"]
    )
    assert "1 open" in reply[0].params["text"] and "#1 · racial · pending · Troll (@troll_x)" in reply[0].params["text"]
    await env.fake.send(mods, MEMBER, "/stats", entities=[{"type": "bot_command", "offset": 0, "length": 6}])
    reply = await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS and "Flags: " in c.params["text"])
    assert "Flags: 1 (pending 1)" in reply[0].params["text"] and "racial 1" in reply[0].params["text"]
    assert "Detectors: text (" in reply[0].params["text"]
    # In the group, admins get counts only; members are refused.
    await env.fake.send(G, MEMBER, "/queue", entities=[{"type": "bot_command", "offset": 0, "length": 6}])
    await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == GROUP and "Only" in c.params["text"])
    await env.fake.send(G, ADMIN, "/queue", entities=[{"type": "bot_command", "offset": 0, "length": 6}])
    [r] = await env.fake.wait_call(
        "sendMessage", where=lambda c: int(c.params["chat_id"]) == GROUP and " open" in c.params["text"] and "Flag #" not in c.params["text"]
    )
    assert "slur" not in r.params["text"] and "#1" not in r.params["text"]


async def test_anchor_in_the_moderators_chat_or_for_group_admins(env: Env):
    await _flag_one(env)
    head, rows, _ = env.store.chain_anchor(SERVER)
    cmd = [{"type": "bot_command", "offset": 0, "length": 7}]
    await env.fake.send(supergroup(MODS, "Mods"), MEMBER, "/anchor", entities=cmd)
    [r] = await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS and "Evidence anchor" in c.params["text"])
    assert f"{head}:{rows}" in r.params["text"] and SERVER in r.params["text"]
    await env.fake.send(G, MEMBER, "/anchor", entities=cmd)
    await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == GROUP and "Only" in c.params["text"])
    await env.fake.send(G, ADMIN, "/anchor", entities=cmd)
    await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == GROUP and f"{head}:{rows}" in c.params["text"])


async def test_the_daily_anchor_survives_an_outage_and_is_posted_once(env: Env):
    """The running bot's daily anchor meets a 5xx outage of the Bot API: late, then posted exactly once, as plain text."""
    from bot import anchors

    await _flag_one(env)
    await env.fake.wait_for(lambda: env.store.undelivered_alerts(SERVER)[0] == 0, timeout=15, what="alert delivered")
    head, rows, _ = env.store.chain_anchor(SERVER)
    env.fake.outage(4.5, status=502)  # longer than the chat's pacing (3.05 s) after the alert, so the anchor meets it
    for server in anchors.queue_daily(env.store, env.pipeline.server_settings):
        env.pipeline.delivery.wake(server)
    await env.fake.wait_for(lambda: env.store.undelivered_notices(SERVER)[0] == 0, timeout=30, what="anchor delivered")
    tries = [c for c in env.mod_messages() if "Evidence anchor" in c.params["text"]]
    refused = [c for c in env.fake.rejected if c.method == "sendMessage" and "Evidence anchor" in c.params.get("text", "")]
    assert refused and len(tries) == len(refused) + 1  # refused during the outage, then one post
    assert f"{head}:{rows}" in tries[-1].params["text"] and "parse_mode" not in tries[-1].params


async def test_legal_hold_from_the_moderators_chat(env: Env):
    fid, _ = await _flag_one(env)
    mods = supergroup(MODS, "Mods")

    async def hold(who, args: str, expect: str) -> dict:
        await env.fake.send(mods, who, f"/hold {args}".strip(), entities=[{"type": "bot_command", "offset": 0, "length": 5}])
        [r] = await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS and expect in c.params["text"])
        assert "parse_mode" not in r.params  # reasons are people's words: plain text
        return r

    await hold(MEMBER, f"{fid} polisi <b>LP/123</b>", f"Legal hold on flag #{fid}")
    [h] = env.store.holds(SERVER)
    assert (h["target"], h["target_id"], h["placed_by"], h["reason"]) == ("flag", fid, str(MEMBER["id"]), "polisi <b>LP/123</b>")
    assert env.store.purge_plan(SERVER).held_ids == (fid,)
    r = await hold(MEMBER, "list", "Active legal holds (1)")
    assert "polisi <b>LP/123</b>" in r.params["text"]
    await hold(MEMBER, "incident 999", "No hold placed")
    await hold(MEMBER, "nonsense words", "Use: /hold")
    await hold(MEMBER, f"release {fid}", "Only administrators")  # lifting lets content be erased: admins only
    assert env.store.holds(SERVER)
    await hold(ADMIN, f"release {fid}", f"Lifted the legal hold on flag #{fid}")
    assert env.store.holds(SERVER) == [] and env.store.purge_plan(SERVER).held_ids == ()


async def test_export_sends_only_that_groups_log(env: Env):
    pytest.importorskip("bot.export", reason="bot.export (export_bytes) is not written yet")
    await _flag_one(env, "group one slur")
    other = supergroup(OTHER_GROUP, "Other")
    await env.fake.send(other, TROLL, "other group nude")
    await env.fake.wait_for(lambda: env.store.pending_count(f"telegram:{OTHER_GROUP}") == 1, what="other flag")
    dm = private(ADMIN)
    await env.fake.send(dm, MEMBER, f"/export csv {GROUP}", entities=[{"type": "bot_command", "offset": 0, "length": 7}])
    await env.fake.send(private(MEMBER), MEMBER, f"/export csv {GROUP}", entities=[{"type": "bot_command", "offset": 0, "length": 7}])
    await env.fake.wait_call("sendMessage", where=lambda c: "Only admins" in c.params["text"])
    assert not env.fake.calls_of("sendDocument")
    await env.fake.send(private(ADMIN), ADMIN, f"/export csv {GROUP}", entities=[{"type": "bot_command", "offset": 0, "length": 7}])
    docs = await env.fake.wait_call("sendDocument", n=2)
    assert all(int(d.params["chat_id"]) == ADMIN["id"] for d in docs)
    (name, data), (mname, manifest) = docs[0].files["document"], docs[1].files["document"]
    assert name.endswith(".csv") and mname == name + ".manifest.json"
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert [r["server"] for r in rows] == [SERVER] and rows[0]["excerpt"] == "group one slur"
    assert json.loads(manifest)["rows"] == 1 and json.loads(manifest)["sha256"] in docs[0].params["caption"]
    await env.fake.send(supergroup(MODS, "Mods"), ADMIN, "/export json", entities=[{"type": "bot_command", "offset": 0, "length": 7}])
    docs = await env.fake.wait_call("sendDocument", n=4)
    assert int(docs[2].params["chat_id"]) == MODS
    rows = json.loads(docs[2].files["document"][1])
    assert [r["server"] for r in rows] == [SERVER]


async def _export(env: Env, args: str, docs: int = 0) -> tuple[list, list]:
    """/export <args> from the admin's private chat: (documents sent, text replies) once the bot answered with
    `docs` documents (paced one a second in a chat), or with a reply when `docs` is 0."""
    before_docs, before = len(env.fake.calls_of("sendDocument")), len(env.fake.calls_of("sendMessage"))
    await env.fake.send(private(ADMIN), ADMIN, f"/export {args}", entities=[{"type": "bot_command", "offset": 0, "length": 7}])
    await env.fake.wait_for(
        lambda: (
            len(env.fake.calls_of("sendDocument")) >= before_docs + docs
            if docs
            else any(int(c.params["chat_id"]) == ADMIN["id"] for c in env.fake.calls_of("sendMessage")[before:])
        ),
        what="an answer to /export",
    )
    replies = [c for c in env.fake.calls_of("sendMessage")[before:] if int(c.params["chat_id"]) == ADMIN["id"]]
    return env.fake.calls_of("sendDocument")[before_docs:], replies


@pytest.mark.parametrize("case", ["incident", "member"])
async def test_export_of_one_case(env: Env, case):
    """A pile-on at Sari (replies to her message: one incident) and an unrelated flag: the case is the pile-on."""
    sari = user(400, "Sari", "sari")
    post = await env.fake.send(G, sari, "my new video")
    for text in ("you slur", "slur again"):
        await env.fake.send(G, TROLL, text, reply_to=post)
    await env.fake.send(G, MEMBER, "nude pics here")  # aimed at no one
    await env.fake.wait_for(lambda: len(env.store.queue(SERVER)) == 3, what="three flags")
    [incident] = {f.incident_id for f in env.store.queue(SERVER) if f.targets == ("400",)}
    docs, _ = await _export(env, f"csv {GROUP} incident {incident}" if case == "incident" else f"member 400 {GROUP}", docs=2)
    (name, data), (mname, manifest) = docs[0].files["document"], docs[1].files["document"]
    assert mname == name + ".manifest.json"
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert sorted(r["excerpt"] for r in rows) == ["slur again", "you slur"] and json.loads(manifest)["rows"] == 2
    assert json.loads(manifest)["sha256"] in docs[0].params["caption"]


@pytest.mark.parametrize("args, fragment", [("incident 999", "no incident #999"), ("incident", "Usage: /export"), ("member @troll_x", "Usage: /export")])
async def test_export_arguments_that_make_no_sense_are_explained(env: Env, args, fragment):
    await _flag_one(env)
    docs, replies = await _export(env, f"{args} {GROUP}")
    assert not docs and fragment in replies[-1].params["text"]


@pytest.mark.parametrize("fit", ["zipped", "too big"])
async def test_export_over_the_upload_limit_is_zipped_or_explained(env: Env, monkeypatch, fit):
    from bot import chat_export

    for i in range(10):
        await env.fake.send(G, TROLL, f"you slur number {i} " * 30)
    await env.fake.wait_for(lambda: len(env.store.queue(SERVER)) == 10, what="ten flags")
    docs, _ = await _export(env, f"json {GROUP}", docs=2)
    full = sum(len(d.files["document"][1]) for d in docs)
    limit = full - 1 if fit == "zipped" else 1500
    monkeypatch.setattr(chat_export, "TELEGRAM_UPLOAD_LIMIT", limit)
    env.fake.upload_limit = limit
    docs, replies = await _export(env, f"json {GROUP}", docs=1 if fit == "zipped" else 0)
    if fit == "zipped":
        [doc] = docs
        name, packed = doc.files["document"]
        assert name.endswith(".zip") and len(packed) <= limit and "one zip" in doc.params["caption"]
    else:
        assert not docs and "10 flags" in replies[-1].params["text"] and "triagebot export --server" in replies[-1].params["text"]
    assert not [c for c in env.fake.rejected if c.method == "sendDocument"]  # nothing sent that Telegram would refuse


async def test_export_is_refused_in_the_group_itself(env: Env):
    await env.fake.send(G, ADMIN, "/export csv", entities=[{"type": "bot_command", "offset": 0, "length": 7}])
    [r] = await env.fake.wait_call("sendMessage")
    assert "private chat" in r.params["text"] and not env.fake.calls_of("sendDocument")


# ---- members: /report -------------------------------------------------------------------------
async def test_report_deletes_the_command_acks_privately_and_collapses_duplicates(env: Env):
    target = await env.fake.send(G, TROLL, "innocent looking but hurtful")
    cmd = {"type": "bot_command", "offset": 0, "length": 7}
    r1 = await env.fake.send(G, MEMBER, "/report harassing Sari", reply_to=target, entities=[cmd])
    deletes = await env.fake.wait_call("deleteMessage")
    assert int(deletes[0].params["message_id"]) == r1["message_id"] and int(deletes[0].params["chat_id"]) == GROUP
    dm = await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MEMBER["id"])
    assert "Thanks" in dm[0].params["text"]
    alert = await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS)
    assert "Reported by members" in alert[0].params["text"] and "Member reports: 1" in alert[0].params["text"]
    assert "Budi" not in alert[0].params["text"]  # the reporter is not named in the alert
    # Same reporter again: duplicate; another member: count 2, same queue item (edited, not re-posted).
    await env.fake.send(G, MEMBER, "/report", reply_to=target, entities=[cmd])
    await env.fake.wait_call("sendMessage", where=lambda c: "already reported" in c.params.get("text", ""))
    env.fake.blocked_private.add(CREATOR["id"])
    await env.fake.send(G, CREATOR, "/report", reply_to=target, entities=[cmd])
    await env.fake.wait_call("deleteMessage", n=3)
    await env.fake.wait_for(lambda: env.store.queue(SERVER) and env.store.queue(SERVER)[0].report_count == 2, what="2 reports")
    [flag] = env.store.queue(SERVER)
    assert flag.message_id == str(target["message_id"])
    assert len(env.mod_messages()) == 1
    # The reporter who never started the bot: nothing is said in the group.
    group_posts = [c for c in env.fake.calls_of("sendMessage") if int(c.params["chat_id"]) == GROUP]
    assert not group_posts


async def test_report_without_reply_explains_privately(env: Env):
    await env.fake.send(G, MEMBER, "/report", entities=[{"type": "bot_command", "offset": 0, "length": 7}])
    [dm] = await env.fake.wait_call("sendMessage")
    assert int(dm.params["chat_id"]) == MEMBER["id"] and "reply" in dm.params["text"]
    assert env.fake.calls_of("deleteMessage")


# ---- small pure pieces ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data,ok",
    [
        (callback_data("mute", GROUP, 7, 600), True),
        (callback_data("ban", GROUP, 7), True),
        ("tb:mute:1:2", False),
        ("tb:nuke:1:2", False),
        ("xx:ban:1:2", False),
        ("tb:ban:a:2", False),
        ("", False),
        (None, False),
    ],
)
def test_callback_data_round_trip(data, ok):
    assert (parse_callback(data) is not None) == ok


def test_callback_data_fits_telegram_limit():
    assert len(callback_data("dismiss", -1009999999999999, 10**12, 86400).encode()) <= 64


async def test_run_polls_until_stop_and_returns_cleanly(tmp_path, monkeypatch):
    import asyncio

    from bot.platforms.telegram_bot import run

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    fake = await FakeTelegram().start()
    store = Store.open(tmp_path / "run.db")
    settings = make_settings(fake)
    pipeline = Pipeline(settings, store, text_detectors=[KeywordDetector(KEYWORDS)])
    stop = asyncio.Event()
    task = asyncio.create_task(run(pipeline, settings, stop))
    try:
        await fake.wait_call("getUpdates")
        await fake.send(G, TROLL, "slur")
        await fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS)
        assert fake.calls_of("setMyCommands")
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    finally:
        if not task.done():
            task.cancel()
        await fake.stop()
        store.close()
    assert store.path.exists()


async def test_network_errors_are_retried(env: Env):
    env.fake.fail["restrictChatMember"] = (502, "Bad Gateway")
    env.fake.fail_times["restrictChatMember"] = 1
    fid, _ = await _flag_one(env)
    await env.fake.press(await _alert_message(env), ADMIN, callback_data("mute", GROUP, fid, 600))
    await env.fake.wait_call("restrictChatMember", n=2)
    await env.fake.wait_for(
        lambda: [a for a in env.store.actions_for(SERVER, fid) if a["kind"] == "timeout" and a["status"] == "ok"], what="timeout ok after a retry"
    )


# ---- to_message -------------------------------------------------------------------------------
def _tg(msg: dict):
    from telegram import Bot, Message as TgMessage

    return TgMessage.de_json(msg, Bot("1:x"))


@pytest.mark.parametrize(
    "chat,link",
    [
        (supergroup(GROUP, "G"), f"https://t.me/c/{str(GROUP)[4:]}/77"),
        (supergroup(GROUP, "G", username="sarifans"), "https://t.me/sarifans/77"),
        ({"id": -4242, "type": "group", "title": "basic"}, None),
    ],
)
def test_to_message_links(chat, link):
    from bot.platforms.telegram_events import to_message

    fake = FakeTelegram()
    m = to_message(_tg(fake.new_message(chat, TROLL, "hi", message_id=77)))
    assert m.link == link and m.server == f"telegram:{chat['id']}" and m.author_name == "Troll (@troll_x)"


def test_to_message_targets_attachments_and_moderators():
    from bot.platforms.telegram_events import to_message

    fake = FakeTelegram()
    target = fake.new_message(G, CREATOR, "my new video")
    text = "@sari_creates hey Sari and @nobody"
    ents = [
        {"type": "mention", "offset": 0, "length": 13},
        {"type": "text_mention", "offset": 18, "length": 4, "user": MEMBER},
        {"type": "mention", "offset": 27, "length": 7},
    ]
    m = to_message(
        _tg(
            fake.new_message(
                G,
                TROLL,
                caption=text,
                entities=ents,
                reply_to=target,
                document={"file_id": "d1", "file_unique_id": "u", "mime_type": "image/webp", "file_size": 10, "file_name": "x.webp"},
            )
        ),
        usernames={"sari_creates": str(CREATOR["id"])},
    )
    assert m.text == text and m.targets == (str(CREATOR["id"]), str(MEMBER["id"]))
    assert [(a.kind, a.ref, a.mime) for a in m.attachments] == [("image", "d1", "image/webp")]
    assert not m.author_is_moderator
    assert to_message(_tg(fake.new_message(G, ADMIN, "x")), moderators={ADMIN["id"]}).author_is_moderator
    anon = to_message(_tg(fake.new_message(G, user(1087968824, "Group"), "x", sender_chat=G)))
    assert anon.author_is_moderator and anon.author_id == str(GROUP)


async def test_pile_on_becomes_one_incident_alert_edited_in_place(env: Env):
    target = env.fake.new_message(G, CREATOR, "my new video", message_id=10)
    for who in (TROLL, MEMBER, user(301, "Troll2")):
        await env.fake.send(G, who, "slur nude", reply_to=target)
    await env.fake.wait_for(lambda: env.store.pending_count(SERVER) == 3, what="3 flags")
    await env.settle()
    assert len(env.mod_messages()) == 1
    # posted once, then edited in place as flags join (or, if all three were stored first, posted complete)
    shown = await env.fake.wait_for(
        lambda: [c for c in env.fake.calls if c.method in ("sendMessage", "editMessageText") and "3 flags from 3 accounts" in c.params.get("text", "")],
        timeout=15,
        what="the alert showing all three",
    )
    assert "Incident" in shown[-1].params["text"]
    assert len(env.mod_messages()) == 1  # edited in place, never a second post
    # the moderators' /queue shows the pile-on as one incident line
    await env.fake.send(supergroup(MODS, "Mods"), MEMBER, "/queue", entities=[{"type": "bot_command", "offset": 0, "length": 6}])
    [reply] = await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS and "Incident #" in c.params["text"])
    assert (
        "3 racial/sexual messages from 3 accounts targeting" in reply.params["text"]
        or "3 sexual/racial messages from 3 accounts targeting" in reply.params["text"]
    )


async def test_moderators_chat_migration_is_followed(env: Env):
    new_id = -1008888888888
    env.fake.fail["sendMessage"] = (400, "Bad Request: group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": new_id})
    env.fake.fail_times["sendMessage"] = 1
    await env.fake.send(G, TROLL, "slur")
    await env.fake.wait_call("sendMessage", n=2)
    await env.settle()
    assert int(env.fake.calls_of("sendMessage")[1].params["chat_id"]) == new_id  # the adapter follows at once
    # Telegram announces the upgrade in the old chat; from then on the settings name the new chat.
    await env.fake.push("message", {**env.fake.new_message(supergroup(MODS, "Mods"), ADMIN), "migrate_to_chat_id": new_id})
    await env.fake.wait_for(lambda: env.pipeline.server_settings(SERVER).mod_chat == str(new_id), what="settings follow")


async def test_run_retries_an_unreachable_api_and_stops_on_request(tmp_path, monkeypatch):
    import asyncio
    import socket

    from bot.platforms.telegram_bot import run

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = parse_settings({}, {"TELEGRAM_TOKEN": "1:x", "TRIAGEBOT_TELEGRAM_BASE_URL": f"http://127.0.0.1:{port}/bot"})
    store = Store.open(tmp_path / "r.db")
    stop = asyncio.Event()
    task = asyncio.create_task(run(Pipeline(settings, store), settings, stop))
    await asyncio.sleep(1.5)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    store.close()


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_short_flood_wait_is_waited_out(env: Env):
    env.fake.fail["banChatMember"] = (429, "Too Many Requests: retry after 1", {"retry_after": 1})
    env.fake.fail_times["banChatMember"] = 1
    fid, _ = await _flag_one(env)
    await env.fake.press(await _alert_message(env), ADMIN, callback_data("ban", GROUP, fid))
    await env.fake.wait_call("banChatMember", n=2)
    await env.fake.wait_for(
        lambda: [a for a in env.store.actions_for(SERVER, fid) if a["kind"] == "ban" and a["status"] == "ok"], what="ban ok after the flood wait"
    )


# ---- members: /protect --------------------------------------------------------------------------
async def test_group_upgraded_to_supergroup_keeps_its_settings_and_protected_pictures(env: Env):
    """The monitored group gets a new id; Telegram says so in the old chat and in the new one."""
    new_id = -1007777777777
    env.store.add_bank_entry(SERVER, [("hash256", b"\x02" * 32)], note="photo", source="protect", registered_by="400")
    old_chat = {"id": GROUP, "type": "group", "title": "Sari's fans"}
    await env.fake.push("message", {**env.fake.new_message(old_chat, ADMIN), "migrate_to_chat_id": new_id})
    notice = await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS)
    assert "upgraded to a supergroup" in notice[0].params["text"] and "1 protected picture" in notice[0].params["text"]
    await env.fake.push(
        "message", {**env.fake.new_message(supergroup(new_id, "Sari's fans"), None, sender_chat=supergroup(new_id)), "migrate_from_chat_id": GROUP}
    )
    # Flags in the new supergroup reach the same moderators' chat, and the bank moved with the group.
    await env.fake.send(supergroup(new_id, "Sari's fans"), TROLL, "slur")
    await env.fake.wait_call("sendMessage", n=2, where=lambda c: int(c.params["chat_id"]) == MODS)
    await env.settle()
    new_key = f"telegram:{new_id}"
    assert [f.server for f in env.store.queue(new_key)] == [new_key]
    assert env.store.bank_size([new_key]) == 1 and env.store.bank_size([SERVER]) == 0
    assert len(env.mod_messages()) == 2  # the second announcement moved nothing and said nothing


async def test_protect_registers_privately_and_reshares_are_flagged_as_aimed_at_the_member(env: Env):
    picture = b"PRIV" + b"\x01" * 3000
    env.fake.add_file("priv1", picture)
    photo = [{"file_id": "priv1", "file_unique_id": "p1", "width": 600, "height": 800, "file_size": len(picture)}]
    dm = private(CREATOR)
    m = await env.fake.send(dm, CREATOR, caption=f"/protect {GROUP}", photo=photo)
    reply = await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == CREATOR["id"])
    assert "Registered" in reply[0].params["text"] and "removed the picture" in reply[0].params["text"]
    assert [int(c.params["message_id"]) for c in env.fake.calls_of("deleteMessage")] == [m["message_id"]]
    [(entry_id, records)] = env.store.bank_entries([SERVER])
    assert picture not in b"".join(r for _, r in records)
    # Someone re-shares it in the group: flagged, aimed at the member who protected it.
    env.fake.add_file("reshare1", picture)
    await env.fake.send(G, TROLL, caption="lol", photo=[dict(photo[0], file_id="reshare1")])
    alert = await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS)
    assert "reshare" in alert[0].params["text"]
    await env.settle()
    [flag] = env.store.queue(SERVER)
    assert flag.targets == (str(CREATOR["id"]),)


async def test_protect_without_group_uses_the_only_known_group_and_refuses_non_members(env: Env):
    picture = b"PRIV" + b"\x02" * 3000
    env.fake.add_file("priv2", picture)
    photo = [{"file_id": "priv2", "file_unique_id": "p2", "width": 60, "height": 80, "file_size": len(picture)}]
    env.fake.set_member(GROUP, TROLL, "left")
    await env.fake.send(private(TROLL), TROLL, caption="/protect", photo=photo)
    [r] = await env.fake.wait_call("sendMessage")
    assert "could not find a group" in r.params["text"] and not env.store.bank_entries([SERVER])
    assert not env.fake.calls_of("getFile")
    await env.fake.send(private(MEMBER), MEMBER, caption="/protect", photo=photo)
    await env.fake.wait_call("sendMessage", n=2)
    assert "Registered" in env.fake.calls_of("sendMessage")[1].params["text"]
    assert len(env.store.bank_entries([SERVER])) == 1


async def test_protect_as_a_reply_to_an_earlier_picture(env: Env):
    picture = b"PRIV" + b"\x03" * 100
    env.fake.add_file("priv3", picture)
    dm = private(CREATOR)
    pic = await env.fake.send(dm, CREATOR, photo=[{"file_id": "priv3", "file_unique_id": "p3", "width": 6, "height": 8, "file_size": 104}])
    cmd = await env.fake.send(dm, CREATOR, f"/protect {GROUP}", reply_to=pic, entities=[{"type": "bot_command", "offset": 0, "length": 8}])
    [r] = await env.fake.wait_call("sendMessage")
    assert "Registered" in r.params["text"]
    assert sorted(int(c.params["message_id"]) for c in env.fake.calls_of("deleteMessage")) == sorted([pic["message_id"], cmd["message_id"]])


async def test_anonymous_admin_can_run_setup(env: Env):
    anon = user(1087968824, "Group")
    await env.fake.send(G, anon, "/setup dryrun on", sender_chat=G, entities=[{"type": "bot_command", "offset": 0, "length": 6}])
    [r] = await env.fake.wait_call("sendMessage")
    assert "Saved" in r.params["text"] and env.pipeline.server_settings(SERVER).dry_run is True


async def test_a_private_chat_can_be_the_moderators_chat(tmp_path, monkeypatch):
    env = await start_env(tmp_path, monkeypatch, servers={SERVER: {"mod_chat": ADMIN["id"]}})
    try:
        await env.fake.send(G, TROLL, "slur")
        await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == ADMIN["id"] and "Flagged" in c.params["text"])
        await env.settle()
        await env.fake.send(private(ADMIN), ADMIN, "/queue", entities=[{"type": "bot_command", "offset": 0, "length": 6}])
        await env.fake.wait_call("sendMessage", where=lambda c: "1 open" in c.params["text"])
    finally:
        await stop_env(env)
    assert not env.errors


# ---- decisions: precision from reviews in /stats -------------------------------------------------
async def test_stats_shows_precision_from_reviews(env: Env):
    fid, _ = await _flag_one(env)
    env.store.record_review(Review(fid, SERVER, "dismiss", "100", "appeal reversed: a quote"))
    await env.fake.send(supergroup(MODS, "Mods"), MEMBER, "/stats", entities=[{"type": "bot_command", "offset": 0, "length": 6}])
    reply = await env.fake.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == MODS and "Precision" in c.params["text"])
    text = reply[0].params["text"]
    assert "Precision from 1 reviews: racial 0% of 1" in text and "racial: not enough decisions yet (1 of 30)" in text
