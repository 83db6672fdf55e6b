"""Catch-up after downtime: what was posted while the bot was down is flagged after it starts."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from bot.models import Message
from bot.platforms.discord_catchup import CatchUpLimits, ChannelCursors
from bot.store import Store
from tests.fake_discord import ALICE, DAVE, GENERAL, GUILD, MALLORY, MODQ, OTHER, FakeDiscord
from tests.test_discord_bot import SERVER, make_settings, start_client, stop_client, wait_until


@pytest.fixture
async def fake():
    f = await FakeDiscord().start()
    yield f
    await f.stop()


async def _session(fake, tmp_path, store, limits: CatchUpLimits | None = None):
    from bot.pipeline import Pipeline
    from bot.platforms import discord_bot
    from tests.conftest import KeywordDetector
    from tests.test_discord_bot import KEYWORDS, Env

    settings = make_settings(tmp_path, fake)
    if limits is None:
        return await start_client(fake, settings, store)
    pipeline = Pipeline(settings, store, text_detectors=[KeywordDetector(KEYWORDS)])
    discord_bot.point_at(settings)
    client = discord_bot.build_bot(pipeline, settings, guild_ready_timeout=0.05, sync_commands=False, catch_up=limits)
    task = asyncio.create_task(client.start(settings.discord.token))
    await asyncio.wait_for(client.wait_until_ready(), 10)
    return Env(fake, store, pipeline, client, settings, task)


async def _down_then_up(fake, tmp_path, store, while_down, limits=None):
    first = await _session(fake, tmp_path, store)
    await fake.send_message(ALICE, "selamat pagi", channel_id=GENERAL)
    await fake.send_message(ALICE, "halo juga", channel_id=OTHER)
    await first.settle()
    await stop_client(first)
    first.pipeline.executor.shutdown(wait=False)
    missed = [fake.message_payload(author, text, channel_id=channel) for author, text, channel in while_down]
    second = await _session(fake, tmp_path, store, limits)
    return second, missed


@pytest.mark.parametrize(
    "while_down,flagged",
    [
        ([(MALLORY, "kamu bokep", GENERAL)], 1),
        ([(MALLORY, "dasar monyet", OTHER), (DAVE, "biasa saja", GENERAL)], 1),
        ([(MALLORY, f"b0kep {i}" if i % 3 else f"bokep {i}", GENERAL) for i in range(9)], 3),  # obfuscated ones stay clean here
        ([], 0),
        ([(MALLORY, "bokep " + "x" * 3000, OTHER)], 1),  # huge
    ],
)
async def test_messages_posted_while_down_are_flagged_after_start(tmp_path, fake, while_down, flagged):
    store = Store.open(tmp_path / "t.db")
    env, missed = await _down_then_up(fake, tmp_path, store, while_down)
    try:
        await wait_until(lambda: env.client.catch_up.submitted >= len(missed))
        await env.settle(len(missed))
        ids = [store.find_flag(SERVER, m["channel_id"], m["id"]) for m in missed]
        assert sum(i is not None for i in ids) == flagged and store.count_flags(SERVER) == flagged
        assert env.client.catch_up.submitted == len(missed)  # the messages from before the cursor are not re-read
        if flagged:
            await fake.wait_call("POST", rf"^/channels/{MODQ}/messages$")
    finally:
        await stop_client(env)
        env.pipeline.executor.shutdown(wait=False)
        store.close()


@pytest.mark.parametrize("per_channel,max_channels,expected", [(2, 50, 4), (200, 1, 3), (1, 1, 1)])
async def test_catch_up_is_bounded(tmp_path, fake, per_channel, max_channels, expected):
    store = Store.open(tmp_path / "t.db")
    down = [(DAVE, f"pesan {i}", GENERAL) for i in range(3)] + [(DAVE, f"pesan {i}", OTHER) for i in range(3)]
    env, missed = await _down_then_up(fake, tmp_path, store, down, CatchUpLimits(per_channel=per_channel, max_channels=max_channels))
    try:
        await wait_until(lambda: env.client.catch_up.runs >= 1 and env.client.catch_up._task.done())
        assert env.client.catch_up.submitted == expected
    finally:
        await stop_client(env)
        env.pipeline.executor.shutdown(wait=False)
        store.close()


async def test_channels_quiet_for_a_day_are_not_re_read(tmp_path, fake):
    store = Store.open(tmp_path / "t.db")
    old = datetime.now(timezone.utc) - timedelta(hours=25)
    store.save_channel_cursors([(SERVER, str(GENERAL), 1, old)])
    fake.message_payload(MALLORY, "bokep", channel_id=GENERAL)
    env = await _session(fake, tmp_path, store)
    try:
        await _sent_and_handled(env)
        assert env.client.catch_up.runs == 0 and not fake.find("GET", rf"^/channels/{GENERAL}/messages$")
    finally:
        await stop_client(env)
        env.pipeline.executor.shutdown(wait=False)
        store.close()


async def _sent_and_handled(env) -> None:
    before = env.client.intake.handled
    await env.fake.send_message(ALICE, "hello", channel_id=OTHER)
    await wait_until(lambda: env.client.intake.handled > before)


def _msg(mid: int, channel: str = str(GENERAL), edited: bool = False) -> Message:
    return Message(platform="discord", server_id=str(GUILD), channel_id=channel, message_id=str(mid), author_id="1", edited=edited)


class CountingStore:
    def __init__(self) -> None:
        self.writes: list[list] = []

    def save_channel_cursors(self, rows) -> None:
        self.writes.append(list(rows))


@pytest.mark.parametrize("messages", [0, 1, 30, 500])
def test_cursors_are_written_in_batches_not_per_message(messages):
    store = CountingStore()
    cursors = ChannelCursors(store)
    for i in range(messages):
        m = _msg(1000 + i, channel=str(GENERAL if i % 2 else OTHER))
        cursors.submitted(m)
        cursors.handled(m)
    assert store.writes == []
    cursors.flush()
    assert len(store.writes) == (1 if messages else 0)
    newest: dict[str, int] = {}
    for i in range(messages):
        newest[str(GENERAL if i % 2 else OTHER)] = 1000 + i
    assert {r[1]: r[2] for w in store.writes for r in w} == newest


@pytest.mark.parametrize(
    "order,expected",
    [
        ([("s", 1), ("s", 2), ("s", 3), ("h", 3)], 0),  # 1 and 2 still queued: resume before them
        ([("s", 1), ("s", 2), ("h", 1), ("h", 2)], 2),
        ([("s", 5), ("s", 6), ("h", 6), ("h", 5)], 6),
        ([("s", 5), ("s", 9), ("h", 9)], 4),
    ],
)
def test_cursor_never_passes_a_message_still_in_the_queue(order, expected):
    store = CountingStore()
    cursors = ChannelCursors(store)
    for what, mid in order:
        (cursors.submitted if what == "s" else cursors.handled)(_msg(mid))
    cursors.flush()
    assert store.writes[-1][0][2] == expected


def test_edits_do_not_move_the_cursor():
    store = CountingStore()
    cursors = ChannelCursors(store)
    cursors.submitted(_msg(50, edited=True))
    cursors.handled(_msg(50, edited=True))
    cursors.flush()
    assert store.writes == []


@pytest.mark.parametrize(
    "rows,expected",
    [
        ([(5, 0), (3, 1)], 5),  # never moves backwards
        ([(3, 0), (7, 1)], 7),
    ],
)
def test_store_cursor_upsert(tmp_path, rows, expected):
    store = Store.open(tmp_path / "c.db")
    now = datetime.now(timezone.utc)
    for mid, minutes in rows:
        store.save_channel_cursors([(SERVER, "9", mid, now + timedelta(minutes=minutes))])
    got = store.channel_cursors("discord", now - timedelta(hours=1), 10)
    assert [c["last_message_id"] for c in got] == [expected]
    assert store.channel_cursors("telegram", now - timedelta(hours=1), 10) == []
    store.close()
