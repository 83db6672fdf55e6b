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
from tests.run_process import config_text, connected, discord_env, kill, start_run

MODEL = Path(__file__).resolve().parents[1] / "classifiers" / "resources" / "model.skops"
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("classifiers.text") is None or not MODEL.exists(),
    reason="`triagebot run` loads the shipped text model (classifiers/resources/model.skops), not built yet",
)


async def test_run_connects_and_stops_cleanly_on_sigint(tmp_path: Path):
    fake = await FakeDiscord().start()
    config = config_text(tmp_path / "smoke.db", f"discord:{GUILD}", ("mod_channel", MODQ))
    proc = await start_run(tmp_path, config, discord_env(fake), stderr=asyncio.subprocess.STDOUT)
    try:
        problem = await connected(proc, fake.identified)
        if problem is not None:
            pytest.fail(f"triagebot run never connected to the fake Discord:\n{problem}")
        await fake.wait_call("PUT", r"^/applications/\d+/commands$", timeout=30)
        proc.send_signal(signal.SIGINT)
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        await kill(proc)
        await fake.stop()
    assert proc.returncode == 0, out.decode(errors="replace")[-3000:]
    names = {c["name"] for c in fake.commands}
    assert {"triage", "report", "Report message"} <= names
