"""`triagebot run` as a real process against the fake Discord: it connects, registers commands, and exits 0 on SIGINT."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.fake_discord import GUILD, MODQ, FakeDiscord

MODEL = Path(__file__).resolve().parents[1] / "classifiers" / "resources" / "model.skops"
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("classifiers.text") is None or not MODEL.exists(),
    reason="`triagebot run` loads the shipped text model (classifiers/resources/model.skops), not built yet",
)


async def test_run_connects_and_stops_cleanly_on_sigint(tmp_path: Path):
    fake = await FakeDiscord().start()
    config = tmp_path / "triagebot.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "smoke.db"}"\n\n[servers."discord:{GUILD}"]\nmod_channel = "{MODQ}"\n')
    env = {
        **os.environ,
        "DISCORD_TOKEN": "fake-token",
        "TRIAGEBOT_DISCORD_API_BASE": fake.api_base,
        "TRIAGEBOT_DISCORD_GATEWAY": fake.gateway,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    env.pop("TELEGRAM_TOKEN", None)
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("triagebot")),
        "run",
        "--config",
        str(config),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        ready, exited = asyncio.create_task(fake.identified.wait()), asyncio.create_task(proc.wait())
        await asyncio.wait({ready, exited}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if exited.done() or not fake.identified.is_set():
            exited.cancel()
            out = (await proc.stdout.read()).decode(errors="replace") if exited.done() else "(still running)"
            pytest.fail(f"triagebot run never connected to the fake Discord:\n{out[-3000:]}")
        exited.cancel()
        await fake.wait_call("PUT", r"^/applications/\d+/commands$", timeout=30)
        proc.send_signal(signal.SIGINT)
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await fake.stop()
    assert proc.returncode == 0, out.decode(errors="replace")[-3000:]
    names = {c["name"] for c in fake.commands}
    assert {"triage", "report", "Report message"} <= names
