"""The fake Bot API answers like Telegram when a bot floods a chat, during an outage, and after a kick."""

from __future__ import annotations

import aiohttp
import pytest

from tests.fake_telegram import FakeTelegram

GROUP, PRIVATE = -1001234567890, 4242


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _call(session: aiohttp.ClientSession, fake: FakeTelegram, method: str, **params) -> dict:
    async with session.post(f"{fake.base_url}{fake.token}/{method}", json=params) as resp:
        body = await resp.json()
        assert resp.status == (200 if body["ok"] else body["error_code"])
        return body


@pytest.fixture
async def fake(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    clock = Clock()
    f = await FakeTelegram(limits=True, clock=clock).start()
    f.test_clock = clock
    try:
        yield f
    finally:
        await f.stop()


# (chat, seconds between sends, number of sends, expected 429 count, expected retry_after of the first 429)
@pytest.mark.parametrize(
    "chat,gap,n,refused,retry",
    [
        (PRIVATE, 0.0, 2, 1, 1),  # a private chat: one message per second
        (PRIVATE, 1.0, 5, 0, None),  # one a second is fine
        (GROUP, 0.0, 3, 2, 1),  # groups have the per-chat limit too
        (GROUP, 1.0, 20, 0, None),  # 20 in 20 s is within 20 per minute
        (GROUP, 1.0, 22, 2, 40),  # the 21st within the minute waits for the first to leave the window
        (GROUP, 3.0, 40, 0, None),  # one every 3 s never hits the group limit
    ],
)
async def test_flood_limits_answer_429_with_retry_after(fake, chat, gap, n, refused, retry):
    seen = []
    async with aiohttp.ClientSession() as session:
        for i in range(n):
            body = await _call(session, fake, "sendMessage", chat_id=chat, text=f"m{i}")
            if not body["ok"]:
                assert body["error_code"] == 429 and body["description"].startswith("Too Many Requests")
                seen.append(body["parameters"]["retry_after"])
            fake.test_clock.now += gap
    assert len(seen) == refused and len(fake.rejected) == refused
    assert (seen[0] if seen else None) == retry


async def test_limits_count_edits_but_not_deletes_or_other_chats(fake):
    async with aiohttp.ClientSession() as session:
        assert (await _call(session, fake, "sendMessage", chat_id=GROUP, text="x"))["ok"]
        assert not (await _call(session, fake, "editMessageText", chat_id=GROUP, message_id=1, text="y"))["ok"]
        assert (await _call(session, fake, "deleteMessage", chat_id=GROUP, message_id=1))["ok"]
        assert (await _call(session, fake, "sendMessage", chat_id=GROUP - 1, text="other group"))["ok"]
        fake.test_clock.now += 1.0
        assert (await _call(session, fake, "editMessageText", chat_id=GROUP, message_id=1, text="y"))["ok"]


async def test_outage_answers_5xx_until_it_ends_but_polling_still_answers(fake):
    fake.outage(12, status=500)
    async with aiohttp.ClientSession() as session:
        body = await _call(session, fake, "sendMessage", chat_id=GROUP, text="x")
        assert body["error_code"] == 500
        assert (await _call(session, fake, "getUpdates", timeout=0))["ok"]
        fake.test_clock.now += 11.9
        assert (await _call(session, fake, "banChatMember", chat_id=GROUP, user_id=3))["error_code"] == 500
        fake.test_clock.now += 0.2
        assert (await _call(session, fake, "sendMessage", chat_id=GROUP, text="x"))["ok"]


async def test_a_kicked_bot_gets_403_in_that_chat_only(fake):
    fake.kicked.add(GROUP)
    async with aiohttp.ClientSession() as session:
        body = await _call(session, fake, "sendMessage", chat_id=GROUP, text="x")
        assert body["error_code"] == 403 and "kicked" in body["description"]
        assert (await _call(session, fake, "sendMessage", chat_id=GROUP - 1, text="x"))["ok"]


async def test_limits_are_off_unless_asked_for(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    fake = await FakeTelegram().start()
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(5):
                assert (await _call(session, fake, "sendMessage", chat_id=GROUP, text="x"))["ok"]
    finally:
        await fake.stop()
