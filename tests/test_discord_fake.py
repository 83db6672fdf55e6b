"""The fake Discord enforces Discord's limits the way discord.py expects them (so raid tests mean something)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import discord
import pytest

from bot.store import Store
from tests.fake_discord import APP_ID, GENERAL, GUILD, MALLORY, MODQ, FakeDiscord
from tests.test_discord_bot import make_settings, start_client, stop_client


@pytest.fixture
async def fake():
    f = await FakeDiscord().start()
    yield f
    await f.stop()


async def raw(fake: FakeDiscord, method: str, path: str, body: dict | None = None) -> tuple[int, dict, object]:
    async with aiohttp.ClientSession() as s:
        async with s.request(method, fake.api_base + path, json=body) as r:
            text = await r.text()
            return r.status, dict(r.headers), json.loads(text) if r.content_type == "application/json" else text


@pytest.mark.parametrize("count", [1, 3, 5])
async def test_writes_over_the_limit_get_a_discord_style_429(fake, count):
    fake.limit_messages(count, 60.0)
    for i in range(count):
        status, headers, _ = await raw(fake, "POST", f"/channels/{MODQ}/messages", {"content": f"m{i}"})
        assert status == 200 and headers["X-RateLimit-Remaining"] == str(count - i - 1)
        assert headers["X-RateLimit-Bucket"] and headers["X-RateLimit-Limit"] == str(count)
    status, headers, body = await raw(fake, "PATCH", f"/channels/{MODQ}/messages/{fake.new_id()}", {"content": "x"})
    assert status == 429 and body["global"] is False and 0 < body["retry_after"] <= 60
    assert headers["X-RateLimit-Remaining"] == "0" and headers["Via"] and float(headers["X-RateLimit-Reset-After"]) > 0
    other, _, _ = await raw(fake, "POST", f"/channels/{GENERAL}/messages", {"content": "other channel"})
    assert other == 200 and len(fake.rate_limited) == 1  # the bucket is per channel


@pytest.mark.parametrize("method,path", [("GET", f"/channels/{MODQ}/messages"), ("DELETE", f"/channels/{MODQ}/messages/1")])
async def test_reads_and_deletes_are_not_in_the_message_bucket(fake, method, path):
    fake.limit_messages(1, 60.0)
    for _ in range(3):
        status, _, _ = await raw(fake, method, path)
        assert status != 429


async def test_discord_py_honours_the_limit_and_loses_nothing(tmp_path, fake):
    fake.limit_messages(5, 1.0)
    store = Store.open(tmp_path / "t.db")
    env = await start_client(fake, make_settings(tmp_path, fake), store)
    try:
        sent = await asyncio.gather(*(env.client.http.send_message(MODQ, params=_content(f"n{i}")) for i in range(12)))
        assert len({m["id"] for m in sent}) == 12
        posts = fake.find("POST", rf"^/channels/{MODQ}/messages$")
        ok = [c for c in posts if c.status == 200]
        assert len(ok) == 12 and len(posts) - len(ok) == len(fake.rate_limited)
    finally:
        await stop_client(env)
        env.pipeline.executor.shutdown(wait=False)
        store.close()


@pytest.mark.parametrize("status,error", [(403, discord.Forbidden), (404, discord.NotFound)])
async def test_channel_switches_answer_403_and_404_until_healed(tmp_path, fake, status, error):
    store = Store.open(tmp_path / "t.db")
    env = await start_client(fake, make_settings(tmp_path, fake), store)
    try:
        fake.channel_status(MODQ, status)
        with pytest.raises(error):
            await env.client.http.send_message(MODQ, params=_content("x"))
        await env.client.http.send_message(GENERAL, params=_content("other channels work"))
        fake.channel_status(MODQ, None)
        assert (await env.client.http.send_message(MODQ, params=_content("back")))["channel_id"] == str(MODQ)
    finally:
        await stop_client(env)
        env.pipeline.executor.shutdown(wait=False)
        store.close()


async def test_outage_window_answers_5xx_then_recovers(fake):
    fake.outage(0.3, status=503)
    status, _, _ = await raw(fake, "POST", f"/channels/{MODQ}/messages", {"content": "x"})
    assert status == 503
    await asyncio.sleep(0.35)
    status, _, _ = await raw(fake, "POST", f"/channels/{MODQ}/messages", {"content": "x"})
    assert status == 200


@pytest.mark.parametrize("uid,found", [(MALLORY, True), (APP_ID, True), (999, False)])
async def test_members_are_served_over_rest(fake, uid, found):
    status, _, body = await raw(fake, "GET", f"/guilds/{GUILD}/members/{uid}")
    assert (status == 200) == found
    if found:
        assert body["user"]["id"] == str(uid)


def _content(text: str):
    return discord.http.handle_message_parameters(content=text)
