import asyncio
from datetime import timedelta
from unittest.mock import patch

from bot import retention
from bot.config import parse_settings
from bot.models import utcnow
from tests.conftest import record_lewd_flag


def old_flag(store, server_id, days_ago):
    """A flag recorded `days_ago` (the store's clock is set back, so the audit chain stays honest)."""
    then = utcnow() - timedelta(days=days_ago)
    with patch("bot.store.utcnow", lambda: then):
        return record_lewd_flag(store, "lewd words", server_id=server_id)[1].flag_id


def test_retention_is_per_server_and_runtime_overrides_win(store):
    settings = parse_settings({"servers": {"discord:short": {"retention_days": 7}}}, env={})
    a = old_flag(store, "short", 10)
    b = old_flag(store, "default", 10)
    c = old_flag(store, "default", 100)
    d = old_flag(store, "runtime", 10)
    store.set_server_overrides("discord:runtime", {"retention_days": 3})
    assert retention.apply(store, settings) == 3
    purged = {fid for fid, srv in ((a, "discord:short"), (b, "discord:default"), (c, "discord:default"), (d, "discord:runtime"))
              if store.flag(srv, fid).excerpt == "[purged]"}
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
