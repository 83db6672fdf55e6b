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
