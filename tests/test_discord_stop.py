"""`triagebot run` stops promptly on SIGTERM/SIGINT in the middle of a rate-limited pile-on, and loses no accepted message.

The elapsed time is measured by benchmarks/bench_pileon_discord.py; here the timeout only guards against a hang."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.store import Store
from tests import run_process
from tests.fake_discord import GUILD, MODQ, FakeDiscord, pile_on_plan, send_pile_on
from tests.run_process import config_text, connected, discord_env, kill

MODEL = Path(__file__).resolve().parents[1] / "classifiers" / "resources" / "model.skops"
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("classifiers.text") is None or not MODEL.exists(),
    reason="`triagebot run` loads the shipped text model (classifiers/resources/model.skops), not built yet",
)
SERVER = f"discord:{GUILD}"


async def start_run(tmp_path: Path, fake: FakeDiscord) -> asyncio.subprocess.Process:
    config = config_text(tmp_path / "stop.db", SERVER, ("mod_channel", MODQ))
    proc = await run_process.start_run(tmp_path, config, discord_env(fake), stderr=asyncio.subprocess.STDOUT)
    problem = await connected(proc, fake.identified)
    if problem is not None:
        pytest.fail(f"triagebot run never connected to the fake Discord:\n{problem}")
    return proc


async def wait_stored(db: Path, payload: dict, timeout: float = 60.0) -> None:
    """Until the bot has stored this message's flag (gateway order: everything before it was read too)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if db.exists():
            store = Store.open(db)
            try:
                if store.find_flag(SERVER, payload["channel_id"], payload["id"]) is not None:
                    return
            finally:
                store.close()
        await asyncio.sleep(0.1)
    pytest.fail("the bot never stored the last harassing message")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_stop_while_alerts_wait_out_a_rate_limit_exits_0_and_loses_nothing(tmp_path: Path, sig):
    fake = await FakeDiscord().start()
    fake.limit_messages(1, 25.0)  # after the first alert, every edit has to wait up to 25 s
    proc = await start_run(tmp_path, fake)
    try:
        await fake.wait_call("PUT", r"^/applications/\d+/commands$", timeout=30)
        sent = await send_pile_on(fake, pile_on_plan(120, 30))
        harassing = [p for p, h in sent if h]
        await wait_stored(tmp_path / "stop.db", harassing[-1])
        await fake.wait_call("POST", rf"^/channels/{MODQ}/messages$", timeout=30)
        proc.send_signal(sig)
        out, _ = await asyncio.wait_for(proc.communicate(), 30)  # a hang guard; the time is measured by the benchmark
    finally:
        await kill(proc)
        await fake.stop()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    store = Store.open(tmp_path / "stop.db")
    try:
        stored = [store.find_flag(SERVER, p["channel_id"], p["id"]) for p in harassing]
        assert all(f is not None for f in stored), f"{sum(f is None for f in stored)} of {len(harassing)} harassing messages lost"
        assert all(store.find_flag(SERVER, p["channel_id"], p["id"]) is None for p, h in sent if not h)
        assert store.undelivered_alerts(SERVER)[0] >= 1  # the edit still waiting stays in the outbox for the next start
    finally:
        store.close()
