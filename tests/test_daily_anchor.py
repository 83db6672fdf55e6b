"""The daily evidence anchor: queued when due, delivered through the outbox-like notices, posted once a day
at most (across restarts), only when the log moved, and never lost when the platform is down."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot import anchors
from bot.models import ActionResult, utcnow
from bot.pipeline import Pipeline
from bot.store import Store
from tests.conftest import KeywordDetector, RecordingAdapter, make_message, make_settings

SERVER = "discord:s1"


def _pipeline(store, db_path, adapter, **overrides) -> Pipeline:
    p = Pipeline(make_settings(db_path, **overrides), store, [KeywordDetector()])
    p.adapters["discord"] = adapter
    return p


async def _flag(p: Pipeline, text: str = "lewd") -> None:
    await p.handle(make_message(text))
    await p.settle()


def _notices(adapter) -> list:
    return [a for a in adapter.executed if a.kind == "notice"]


# (mod channel set, daily_anchor, log empty, last posted: None | "same head" | "hours ago" | "two days ago", queued)
@pytest.mark.parametrize(
    "mod_channel,daily,empty,last,queued",
    [
        ("900", True, False, None, True),
        (None, True, False, None, False),  # nowhere to post: nothing queued (and nothing lost: the next pass tries)
        ("900", False, False, None, False),  # the server turned it off
        ("900", True, True, None, False),  # an empty log has nothing to witness
        ("900", True, False, "same head", False),  # nothing changed since the last anchor
        ("900", True, False, "hours ago", False),  # a day has not passed, even after a restart
        ("900", True, False, "two days ago", True),
    ],
    ids=["due", "no-destination", "off", "empty-log", "same-head", "within-a-day", "after-a-day"],
)
async def test_which_servers_are_due(store, db_path, mod_channel, daily, empty, last, queued):
    adapter = RecordingAdapter()
    p = _pipeline(store, db_path, adapter, mod_channel=mod_channel, daily_anchor=daily)
    store.ensure_server(SERVER)
    if not empty:
        await _flag(p)
    head, rows, _ = store.chain_anchor(SERVER)
    if last is not None:
        at = utcnow() - (timedelta(hours=3) if last == "hours ago" else timedelta(days=2))
        seen = head if last == "same head" else "0" * 64
        store.set_state(f"anchor:{SERVER}", json.dumps({"head": seen, "rows": rows, "at": at.isoformat()}))
    assert anchors.queue_daily(store, p.server_settings) == ([SERVER] if queued else [])
    assert store.undelivered_notices(SERVER)[0] == int(queued)
    await p.stop()


async def test_the_anchor_is_posted_as_plain_text_and_a_second_pass_the_same_day_posts_nothing(store, db_path):
    adapter = RecordingAdapter()
    p = _pipeline(store, db_path, adapter)
    await _flag(p, "lewd <@&1> @everyone")
    head, rows, _ = store.chain_anchor(SERVER)
    for server in anchors.queue_daily(store, p.server_settings):
        p.delivery.wake(server)
    await p.settle()
    [notice] = _notices(adapter)
    assert notice.destination == "900" and not notice.mentions
    assert f"{head}:{rows}" in notice.text and "@everyone" not in notice.text  # the anchor quotes no message
    assert store.undelivered_notices() == (0, None)
    await _flag(p, "more lewd")  # the head moves, but a day has not passed
    assert anchors.queue_daily(store, p.server_settings) == []
    later = utcnow() + timedelta(days=1, minutes=1)
    assert anchors.queue_daily(store, p.server_settings, now=later) == [SERVER]
    await p.stop()


async def test_a_platform_outage_delays_the_anchor_and_a_restart_still_posts_it(store, db_path):
    down = RecordingAdapter()
    results = [ActionResult(ok=False, detail="503 Service Unavailable"), ActionResult(ok=False, detail="429", retry_after=3600)]

    async def failing(action, _orig=down.execute):
        if action.kind == "notice" and results:
            down.executed.append(action)
            return results.pop(0)
        return await _orig(action)

    down.execute = failing  # type: ignore[method-assign]
    p = _pipeline(store, db_path, down)
    await _flag(p)
    anchors.queue_daily(store, p.server_settings)
    p.delivery.wake(SERVER)
    await p.settle()
    assert store.undelivered_notices(SERVER)[0] == 1  # waiting out the platform's retry time, not dropped
    await p.stop()

    up = RecordingAdapter()  # the next start delivers it at once
    p2 = _pipeline(store, db_path, up)
    p2.start()
    await p2.settle()
    assert len(_notices(up)) == 1 and store.undelivered_notices() == (0, None)
    await p2.stop()


async def test_run_daily_stops_when_asked(store, db_path):
    import asyncio

    adapter = RecordingAdapter()
    p = _pipeline(store, db_path, adapter)
    await _flag(p)
    stop = asyncio.Event()
    task = asyncio.create_task(anchors.run_daily(store, p.server_settings, p.delivery.wake, stop, every_s=0.05))
    await asyncio.sleep(0.2)
    await p.settle()
    stop.set()
    await asyncio.wait_for(task, 5)
    assert len(_notices(adapter)) == 1  # several passes, one anchor
    await p.stop()


def test_a_notice_survives_reopening_the_database(db_path):
    with Store.open(db_path) as s:
        s.ensure_server(SERVER)
        s.enqueue_notice(SERVER, "anchor", "Evidence anchor for x")
    with Store.open(db_path) as s:
        [n] = s.due_notices(SERVER, utcnow())
        assert (n.kind, n.text) == ("anchor", "Evidence anchor for x")
