"""A raid on a channel: flags aimed at no one, coming less than `raid_window_minutes` apart, become one incident
with one alert and whole-incident actions, instead of one alert per message."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot import incidents
from bot.models import utcnow
from bot.pipeline import Pipeline
from tests.conftest import KeywordDetector, RecordingAdapter, make_message, make_settings

SERVER = "discord:s1"


def _pipeline(store, db_path, **overrides) -> tuple[Pipeline, RecordingAdapter]:
    adapter = RecordingAdapter()
    p = Pipeline(make_settings(db_path, **overrides), store, [KeywordDetector()])
    p.adapters["discord"] = adapter
    return p, adapter


def _posts(adapter: RecordingAdapter) -> list:
    return [a for a in adapter.executed if a.kind == "notify" and a.ref is None]


async def test_a_raid_on_a_channel_is_one_incident_with_one_alert(store, db_path):
    p, adapter = _pipeline(store, db_path)
    decisions = [await p.handle(make_message(f"lewd {i}", author=f"raider{i}", channel_name="general")) for i in range(30)]
    await p.settle()
    [incident_id] = {d.incident_id for d in decisions}
    inc = store.incident(SERVER, incident_id)
    assert (inc.flag_count, inc.author_count, inc.target_id) == (30, 30, "#c1")
    assert incidents.summary(inc).startswith("30 sexual messages from 30 accounts in #general")
    assert incidents.summary(inc, lang="id").startswith("30 pesan seksual dari 30 akun di #general")
    assert len(_posts(adapter)) == 1  # one alert, edited as the raid grows
    await p.stop()


@pytest.mark.parametrize("case", ["other channel", "after the window", "window off", "aimed at someone"])
async def test_what_stays_out_of_a_channel_raid(store, db_path, case):
    p, _ = _pipeline(store, db_path, raid_window_minutes=0 if case == "window off" else 5)
    now = utcnow()
    first = await p.handle(make_message("lewd 1", author="x1", time=now - timedelta(minutes=20)))
    kw: dict = {"author": "x2", "time": now - timedelta(minutes=20, seconds=-30)}
    if case == "other channel":
        kw["channel"] = "c2"
    elif case == "after the window":
        kw["time"] = now
    elif case == "aimed at someone":
        kw["targets"] = ("victim",)
    second = await p.handle(make_message("lewd 2", **kw))
    if case == "window off":
        assert first.incident_id is None and second.incident_id is None
    else:
        assert first.incident_id is not None and second.incident_id != first.incident_id
    if case == "aimed at someone":
        assert store.incident(SERVER, second.incident_id).target_id == "victim"
    await p.stop()


async def test_the_whole_raid_can_be_handled_at_once(store, db_path):
    p, adapter = _pipeline(store, db_path)
    decisions = [await p.handle(make_message(f"lewd {i}", author=f"raider{i}")) for i in range(6)]
    await p.settle()
    outcome = await p.moderate_incident(SERVER, decisions[0].incident_id, "ban", "mod1", reason="raid")
    await p.settle()
    banned = sorted(a.user_id for a in adapter.executed if a.kind == "ban")
    assert banned == sorted(f"raider{i}" for i in range(6)) and outcome is not None
    await p.stop()
