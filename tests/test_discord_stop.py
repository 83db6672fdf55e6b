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
from tests.fake_discord import GUILD, MODQ, FakeDiscord, pile_on_plan, send_pile_on

MODEL = Path(__file__).resolve().parents[1] / "data" / "model.skops"
pytestmark = pytest.mark.skipif(importlib.util.find_spec("classifiers.text") is None or not MODEL.exists(),
                                reason="`triagebot run` loads the shipped text model (data/model.skops), not built yet")
SERVER = f"discord:{GUILD}"


async def start_run(tmp_path: Path, fake: FakeDiscord) -> asyncio.subprocess.Process:
    config = tmp_path / "triagebot.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "stop.db"}"\n\n[servers."discord:{GUILD}"]\nmod_channel = "{MODQ}"\n')
    env = {**os.environ, "DISCORD_TOKEN": "fake-token", "TRIAGEBOT_DISCORD_API_BASE": fake.api_base,
           "TRIAGEBOT_DISCORD_GATEWAY": fake.gateway, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    env.pop("TELEGRAM_TOKEN", None)
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("triagebot")), "run", "--config", str(config),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    ready, exited = asyncio.create_task(fake.identified.wait()), asyncio.create_task(proc.wait())
    await asyncio.wait({ready, exited}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    ready.cancel()
    exited.cancel()
    if proc.returncode is not None or not fake.identified.is_set():
        out = (await proc.stdout.read()).decode(errors="replace") if proc.returncode is not None else "(still running)"
        pytest.fail(f"triagebot run never connected to the fake Discord:\n{out[-3000:]}")
    return proc


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_stop_mid_flood_exits_0_with_every_accepted_message_stored(tmp_path: Path, sig):
    fake = await FakeDiscord().start()
    fake.limit_messages(5, 5.0)
    proc = await start_run(tmp_path, fake)
    try:
        await fake.wait_call("PUT", r"^/applications/\d+/commands$", timeout=30)
        sent = await send_pile_on(fake, pile_on_plan(120, 30))
        # mid pile-on: the mod channel's bucket is used up, so alert posts and edits are waiting
        for _ in range(500):
            if len([c for c in fake.calls if c.path.startswith(f"/channels/{MODQ}/messages")]) >= 5:
                break
            await asyncio.sleep(0.02)
        proc.send_signal(sig)
        t0 = asyncio.get_running_loop().time()
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
        print(f"stopped {asyncio.get_running_loop().time() - t0:.2f} s after {sig.name}")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await fake.stop()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    store = Store.open(tmp_path / "stop.db")
    try:
        harassing = [p for p, h in sent if h]
        stored = [store.find_flag(SERVER, p["channel_id"], p["id"]) for p in harassing]
        assert all(f is not None for f in stored), f"{sum(f is None for f in stored)} of {len(harassing)} harassing messages lost"
        assert all(store.find_flag(SERVER, p["channel_id"], p["id"]) is None for p, h in sent if not h)
    finally:
        store.close()
