"""The real discord.py client, built by build_bot(), against the fake Discord in tests/fake_discord.py."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from types import MappingProxyType

import pytest

from bot.config import DiscordSettings, ServerSettings, Settings
from bot.pipeline import Pipeline
from bot.platforms import discord_bot
from bot.platforms.discord_render import PIPE_STANDIN
from bot.store import Store
from classifiers.base import Verdict
from tests.fake_discord import (ALICE, APP_ID, BOB, CAROL, DAVE, GENERAL, GUILD, MALLORY, MODQ, OTHER, FakeDiscord)

SERVER = f"discord:{GUILD}"


class KeywordDetector:
    """Stand-in for the text model: flags two keywords so tests do not depend on the real model."""

    name = "keyword"

    def classify(self, text: str) -> list[Verdict]:
        out = []
        if "bokep" in text.lower():
            out.append(Verdict("sexual", 0.99, "keyword 'bokep'", self.name))
        if "monyet" in text.lower():
            out.append(Verdict("racial", 0.80, "keyword 'monyet'", self.name))
        return out


def fake_image_scanner(data: bytes, server: str) -> list[Verdict]:
    return [Verdict("sexual", 0.95, f"nudity detector on {len(data)} bytes", "fake_nsfw")] if data.startswith(b"NUDE") else []


@dataclass
class Env:
    fake: FakeDiscord
    store: Store
    pipeline: Pipeline
    client: discord_bot.TriageBot
    settings: Settings
    task: asyncio.Task

    async def settle(self, handled: int | None = None) -> None:
        """Wait until `handled` messages went through the Intake (default: every one the fake sent)."""
        want = handled if handled is not None else sum(1 for m in self.fake.messages.values() if m["author"]["id"] != str(APP_ID))
        await wait_until(lambda: self.client.intake.handled + self.client.intake.failed >= want)
        await asyncio.wait_for(self.client.intake.drain(), 10)


async def wait_until(pred, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def make_settings(tmp_path, fake: FakeDiscord, **server) -> Settings:
    srv = ServerSettings(mod_channel=str(MODQ), exempt_moderators=False)
    if server:
        srv = srv.with_overrides(server)
    return Settings(db_path=tmp_path / "t.db",
                    discord=DiscordSettings(token="fake-token", api_base=fake.api_base, gateway=fake.gateway),
                    servers=MappingProxyType({SERVER: srv}))


async def start_client(fake: FakeDiscord, settings: Settings, store: Store) -> Env:
    pipeline = Pipeline(settings, store, text_detectors=[KeywordDetector()], image_scanner=fake_image_scanner)
    discord_bot.point_at(settings)
    client = discord_bot.build_bot(pipeline, settings, guild_ready_timeout=0.05, sync_commands=False)
    task = asyncio.create_task(client.start(settings.discord.token))
    await asyncio.wait_for(client.wait_until_ready(), 10)
    return Env(fake, store, pipeline, client, settings, task)


async def stop_client(env: Env) -> None:
    await env.client.close()
    await asyncio.wait_for(env.task, 10)
    assert not env.client.errors, f"handler errors: {list(env.client.errors)}"


@pytest.fixture
async def fake():
    f = await FakeDiscord().start()
    yield f
    await f.stop()


@pytest.fixture
async def env(tmp_path, fake, request):
    overrides = getattr(request, "param", {})
    store = Store.open(tmp_path / "t.db")
    e = await start_client(fake, make_settings(tmp_path, fake, **overrides), store)
    yield e
    await stop_client(e)
    e.pipeline.executor.shutdown(wait=False)
    store.close()


def mod_posts(fake: FakeDiscord) -> list:
    return fake.find("POST", rf"^/channels/{MODQ}/messages$")


def alert_embed(call) -> dict:
    return call.json["embeds"][0]


def embed_text(embed: dict) -> str:
    return json.dumps(embed, ensure_ascii=False)


def custom_ids(message: dict) -> list[str]:
    out = []
    for row in message["components"]:
        out += [c["custom_id"] for c in row["components"]]
    return out


async def flag_one(env: Env, text: str = "sini bokep gratis", author: int = MALLORY, **kw) -> tuple[dict, dict, int]:
    """Send a flaggable message; return (message payload, alert message, flag id)."""
    start = len(env.fake.calls)
    payload = await env.fake.send_message(author, text, **kw)
    await env.settle()
    post = await env.fake.wait_call("POST", rf"^/channels/{MODQ}/messages$", start=start)
    flag_id = env.store.find_flag(SERVER, str(GENERAL if "channel_id" not in kw else kw["channel_id"]), payload["id"])
    alert = next(m for m in env.fake.messages.values() if m["author"]["id"] == str(APP_ID) and m["embeds"] == post.json["embeds"])
    return payload, alert, flag_id


# ---- live flagging ------------------------------------------------------------------------
async def test_live_flag_posts_one_embed_in_mod_channel(env):
    payload, alert, flag_id = await flag_one(env, "kamu bokep murahan", mentions=(ALICE,))
    post = mod_posts(env.fake)[0]
    embed = alert_embed(post)
    text = embed_text(embed)
    assert post.json["allowed_mentions"] == {"parse": []}
    assert "bokep" in embed["description"] and embed["description"].startswith("||")
    assert f"<@{MALLORY}>" in text and f"<#{GENERAL}>" in text
    assert f"https://discord.com/channels/{GUILD}/{GENERAL}/{payload['id']}" in text
    assert "sexual 0.99" in text and "keyword" in text
    assert any(f["name"] == "Reports" and f["value"] == "0" for f in embed["fields"])
    assert custom_ids(alert) == [f"tb:{a}:{flag_id}" for a in ("confirm", "dismiss", "delete", "ban", "timeout")]
    flag = env.store.flag(SERVER, flag_id)
    assert flag.targets == (str(ALICE),) and flag.alert_ref == alert["id"] and flag.status == "pending"


async def test_clean_message_is_not_flagged(env):
    await env.fake.send_message(ALICE, "selamat pagi semua")
    await env.settle()
    assert mod_posts(env.fake) == [] and env.store.pending_count(SERVER) == 0


async def test_image_attachment_is_scanned_but_never_reposted(env):
    payload = await env.fake.send_message(MALLORY, "", attachments=(("pic.png", "image/png", b"NUDE" + b"\0" * 100),))
    await env.settle()
    post = await env.fake.wait_call("POST", rf"^/channels/{MODQ}/messages$")
    text = embed_text(alert_embed(post))
    assert post.files == {} and "image" not in alert_embed(post) and "thumbnail" not in alert_embed(post)
    assert "not re-posted" in text and "attachments/" not in text
    assert env.fake.find("GET", "attachments") == []  # bytes are fetched directly, not through the API
    flag = env.store.flag(SERVER, env.store.find_flag(SERVER, str(GENERAL), payload["id"]))
    assert flag.labels == ("sexual",) and flag.attachments[0]["mime"] == "image/png"


async def test_reply_author_is_a_target(env):
    victim = await env.fake.send_message(ALICE, "halo")
    payload, _, flag_id = await flag_one(env, "dasar monyet", reply_to=int(victim["id"]))
    assert env.store.flag(SERVER, flag_id).targets == (str(ALICE),)


async def test_hostile_text_never_pings_or_escapes_the_spoiler(env):
    hostile = f"@everyone <@{ALICE}> **bokep** || unspoilered || `x` \\"
    _, _, flag_id = await flag_one(env, hostile)
    post = mod_posts(env.fake)[0]
    desc = alert_embed(post)["description"]
    assert post.json["allowed_mentions"] == {"parse": []}
    inner = desc[2:-2]
    assert desc.startswith("||") and desc.endswith("||") and "||" not in inner and "|" not in inner
    assert PIPE_STANDIN in inner and "@everyone" not in desc and f"<@{ALICE}>" not in desc and "\\*\\*" in desc


async def test_flood_is_queued_not_blocking(env):
    for i in range(40):
        await env.fake.send_message(MALLORY if i % 2 else DAVE, f"pesan {i} bokep" if i % 4 == 0 else f"pesan {i}")
    await env.settle(40)
    assert env.client.intake.handled == 40 and env.store.count_flags(SERVER) == 10


# ---- buttons --------------------------------------------------------------------------------
def callback_flags(call) -> int:
    return (call.json.get("data") or {}).get("flags", 0)


async def click(env: Env, who: int, alert: dict, action: str, flag_id: int, values=None):
    start = len(env.fake.calls)
    inter = await env.fake.click(who, int(alert["id"]), f"tb:{action}:{flag_id}", values=values)
    cb = await env.fake.callback(inter)
    return inter, cb, start


@pytest.mark.parametrize("action,status", [("confirm", "confirmed"), ("dismiss", "dismissed")])
async def test_review_buttons_update_embed_with_who_decided(env, action, status):
    _, alert, flag_id = await flag_one(env)
    inter, cb, start = await click(env, BOB, alert, action, flag_id)
    assert cb.json["type"] == 6  # deferred update: the alert itself is edited by the pipeline
    edit = await env.fake.wait_call("PATCH", rf"^/channels/{MODQ}/messages/{alert['id']}$", start=start)
    status_field = next(f for f in alert_embed(edit)["fields"] if f["name"] == "Status")
    assert status_field["value"] == f"**{status}** by <@{BOB}>"
    assert edit.json["allowed_mentions"] == {"parse": []}
    follow = await env.fake.followup(inter)
    assert follow.json["flags"] & 64 and status in follow.json["content"]
    flag = env.store.flag(SERVER, flag_id)
    assert flag.status == status and flag.last_review["reviewer"] == str(BOB)
    assert len(mod_posts(env.fake)) == 1  # edited in place, not re-posted


@pytest.mark.parametrize("action,who,allowed", [
    ("confirm", ALICE, False), ("dismiss", DAVE, False), ("delete", ALICE, False), ("ban", ALICE, False),
    ("delete", BOB, True), ("ban", BOB, True), ("ban", CAROL, True), ("confirm", CAROL, True),
])
async def test_buttons_check_permissions_at_click_time(env, action, who, allowed):
    payload, alert, flag_id = await flag_one(env)
    inter, cb, start = await click(env, who, alert, action, flag_id)
    if not allowed:
        assert cb.json["type"] == 4 and callback_flags(cb) & 64
        assert "You need the" in cb.json["data"]["content"]
        await asyncio.sleep(0.1)
        assert env.fake.find("DELETE", "messages") == [] and env.fake.find("PUT", "bans") == []
        assert env.store.flag(SERVER, flag_id).status == "pending"
        assert env.store.actions_for(SERVER, flag_id)[-1]["kind"] == "notify"
        return
    await env.fake.followup(inter)
    if action == "delete":
        call = env.fake.find("DELETE", rf"^/channels/{GENERAL}/messages/{payload['id']}$")[0]
        assert "triagebot" in call.headers.get("X-Audit-Log-Reason", "")
    elif action == "ban":
        assert env.fake.find("PUT", rf"^/guilds/{GUILD}/bans/{MALLORY}$")
    if action in ("delete", "ban"):
        act = [a for a in env.store.actions_for(SERVER, flag_id) if a["kind"] == action][0]
        assert act["status"] == "ok" and act["actor"] == str(who) and not act["automatic"]


@pytest.mark.parametrize("seconds", [600, 3600, 86400, 604800])
async def test_timeout_select_times_out_author(env, seconds):
    _, alert, flag_id = await flag_one(env)
    inter, cb, start = await click(env, BOB, alert, "timeout", flag_id, values=[str(seconds)])
    call = await env.fake.wait_call("PATCH", rf"^/guilds/{GUILD}/members/{MALLORY}$", start=start)
    until = call.json["communication_disabled_until"]
    from datetime import datetime, timezone
    delta = (datetime.fromisoformat(until) - datetime.now(timezone.utc)).total_seconds()
    assert seconds - 30 < delta <= seconds
    await env.fake.followup(inter)
    act = [a for a in env.store.actions_for(SERVER, flag_id) if a["kind"] == "timeout"][0]
    assert act["status"] == "ok" and act["duration_s"] == seconds


async def test_timeout_needs_moderate_members(env):
    _, alert, flag_id = await flag_one(env)
    inter, cb, _ = await click(env, ALICE, alert, "timeout", flag_id, values=["600"])
    assert "Moderate Members" in cb.json["data"]["content"]
    assert env.fake.find("PATCH", "/members/") == []


async def test_missing_bot_permission_keeps_flag_logs_error_and_tells_mods(env):
    env.fake.fail("DELETE", r"/messages/")
    payload, alert, flag_id = await flag_one(env)
    inter, cb, start = await click(env, BOB, alert, "delete", flag_id)
    follow = await env.fake.followup(inter)
    assert "refused" in follow.json["content"] and "403" in follow.json["content"]
    notice = [c for c in mod_posts(env.fake)[1:] if c.json.get("content")]
    assert notice and "Manage Messages" in notice[0].json["content"] and notice[0].json["allowed_mentions"] == {"parse": []}
    act = [a for a in env.store.actions_for(SERVER, flag_id) if a["kind"] == "delete"][0]
    assert act["status"] == "error" and "403" in act["detail"]
    assert env.store.flag(SERVER, flag_id).status == "pending"


async def test_buttons_survive_a_restart(tmp_path, fake):
    store = Store.open(tmp_path / "t.db")
    settings = make_settings(tmp_path, fake)
    first = await start_client(fake, settings, store)
    _, alert, flag_id = await flag_one(first)
    await stop_client(first)
    second = await start_client(fake, settings, store)  # a new process would start exactly like this
    try:
        inter, cb, start = await click(second, BOB, alert, "confirm", flag_id)
        await fake.followup(inter)
        assert store.flag(SERVER, flag_id).status == "confirmed"
        await fake.wait_call("PATCH", rf"^/channels/{MODQ}/messages/{alert['id']}$", start=start)
    finally:
        await stop_client(second)
        store.close()


async def test_button_for_another_servers_flag_is_refused(env):
    from bot.models import Decision, Message
    other = env.store.record_flag(Message(platform="discord", server_id="999", channel_id="1", message_id="2", author_id="3",
                                          text="x"), Decision(flagged=True, labels=("sexual",), verdicts=())).flag_id
    _, alert, flag_id = await flag_one(env)
    alert["components"][0]["components"][0]["custom_id"] = f"tb:confirm:{other}"  # a forged or stale button
    inter, cb, _ = await click(env, BOB, alert, "confirm", other)
    assert "not in this server" in cb.json["data"]["content"]
    assert env.store.flag("discord:999", other).status == "pending"
