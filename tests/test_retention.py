import asyncio
from datetime import timedelta
from unittest.mock import patch

import pytest

from bot import retention
from bot.config import parse_settings
from bot.models import utcnow
from bot.store import StoreError
from tests.conftest import record_lewd_flag


def old_flag(store, server_id, days_ago):
    """A flag recorded `days_ago` (the store's clock is set back, so the audit chain stays honest)."""
    then = utcnow() - timedelta(days=days_ago)
    with patch("bot.store.record.utcnow", lambda: then):
        return record_lewd_flag(store, "lewd words", server_id=server_id)[1].flag_id


def test_retention_is_per_server_and_runtime_overrides_win(store):
    settings = parse_settings({"servers": {"discord:short": {"retention_days": 7}}}, env={})
    a = old_flag(store, "short", 10)
    b = old_flag(store, "default", 10)
    c = old_flag(store, "default", 100)
    d = old_flag(store, "runtime", 10)
    store.set_server_overrides("discord:runtime", {"retention_days": 3})
    assert retention.apply(store, settings) == 3
    purged = {
        fid
        for fid, srv in ((a, "discord:short"), (b, "discord:default"), (c, "discord:default"), (d, "discord:runtime"))
        if store.flag(srv, fid).excerpt == "[purged]"
    }
    assert purged == {a, c, d}
    assert all(r.ok for r in store.verify_chain())


async def test_running_bot_applies_retention_then_stops(store):
    settings = parse_settings({"defaults": {"retention_days": 1}}, env={})
    fid = old_flag(store, "s", 5)
    stop = asyncio.Event()
    task = asyncio.create_task(retention.run_daily(store, settings, stop, every_s=3600))
    for _ in range(50):
        await asyncio.sleep(0.01)
        if store.flag("discord:s", fid).excerpt == "[purged]":
            break
    stop.set()
    await asyncio.wait_for(task, 5)
    assert store.flag("discord:s", fid).excerpt == "[purged]"


def test_retention_days_zero_keeps_everything(store):
    settings = parse_settings({"defaults": {"retention_days": 0}, "servers": {"discord:short": {"retention_days": 1}}}, env={})
    keep = old_flag(store, "forever", 3650)
    gone = old_flag(store, "short", 5)
    assert retention.apply(store, settings) == 1
    assert store.flag("discord:forever", keep).excerpt != "[purged]"
    assert store.flag("discord:short", gone).excerpt == "[purged]"
    steps = {s.server: s for s in retention.plan(store, settings)}
    assert steps["discord:forever"].plan is None and steps["discord:short"].plan.count == 0


@pytest.mark.parametrize("hold_on", ["flag", "incident", None])
def test_holds_survive_retention_and_purge_and_are_reported(store, hold_on):
    settings = parse_settings({"defaults": {"retention_days": 1}}, env={})
    held = old_flag(store, "s", 10)
    other = old_flag(store, "s", 10)
    inc = store.attach_to_incident("discord:s", held, "victim", None, utcnow())
    if hold_on == "flag":
        store.add_hold("discord:s", "flag", held, "mod", "police case 12/2026")
    elif hold_on == "incident":
        store.add_hold("discord:s", "incident", inc, "mod", "kasus polisi")
    (step,) = retention.plan(store, settings, "discord:s")
    assert step.plan.held_ids == ((held,) if hold_on else ())
    assert retention.apply(store, settings) == (1 if hold_on else 2)
    assert (store.flag("discord:s", held).excerpt == "[purged]") is (hold_on is None)
    assert store.flag("discord:s", other).excerpt == "[purged]"
    assert store.purge_content(None, user_id="a1") == 0  # a user request respects the hold too
    assert all(r.ok for r in store.verify_chain())
    if hold_on:
        assert store.release_hold("discord:s", hold_on, held if hold_on == "flag" else inc, "mod") == 1
        assert store.purge_content("discord:s", user_id="a1") == 1
        assert [h["released_by"] for h in store.holds("discord:s", active_only=False)] == ["mod"]
        assert all(r.ok for r in store.verify_chain())


@pytest.mark.parametrize("target, ident, fragment", [("flag", 999, "no flag #999"), ("incident", 5, "no incident #5"), ("server", 1, "not 'server'")])
def test_hold_on_something_missing_is_refused(store, target, ident, fragment):
    old_flag(store, "s", 1)
    with pytest.raises(StoreError, match=fragment):
        store.add_hold("discord:s", target, ident, "mod")


def test_hold_rows_are_audited(store):
    fid = old_flag(store, "s", 1)
    store.add_hold("discord:s", "flag", fid, "mod", "case")
    store.db.conn.execute("UPDATE holds SET released_at = 'x', released_by = 'attacker'")
    (report,) = store.verify_chain("discord:s")
    assert not report.ok and "released_by" in report.problem.problem
