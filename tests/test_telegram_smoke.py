"""`triagebot run` as a real process against the fake Bot API: it polls, then SIGINT stops it with exit code 0."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest

from tests.fake_telegram import FakeTelegram

pytestmark = pytest.mark.slow


def _model_problem() -> str | None:
    """`run` loads the shipped text model; without it the smoke test cannot start the bot."""
    try:
        from bot.config import parse_settings
        from bot.detectors import load_text_detectors

        load_text_detectors(parse_settings({}, env={}))
    except Exception as exc:  # noqa: BLE001 - any failure means "model not available here"
        return f"{type(exc).__name__}: {exc}"
    return None


async def test_triagebot_run_polls_the_fake_and_exits_cleanly_on_sigint(tmp_path: Path):
    problem = _model_problem()
    if problem:
        pytest.skip(f"the shipped text model is not loadable yet ({problem[:200]})")
    exe = shutil.which("triagebot", path=str(Path(sys.executable).parent)) or shutil.which("triagebot")
    if exe is None:
        pytest.skip("the triagebot console script is not installed")
    fake = await FakeTelegram().start()
    cfg = tmp_path / "triagebot.toml"
    cfg.write_text(
        f'[storage]\npath = "{(tmp_path / "smoke.db").as_posix()}"\n\n[servers."telegram:-1001234567890"]\nmod_chat = "-1009999999999"\n', encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "TRIAGEBOT_DB")}
    env.update(
        TELEGRAM_TOKEN=fake.token,
        TRIAGEBOT_TELEGRAM_BASE_URL=fake.base_url,
        TRIAGEBOT_TELEGRAM_BASE_FILE_URL=fake.base_file_url,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    proc = await asyncio.create_subprocess_exec(exe, "run", "--config", str(cfg), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await fake.wait_for(lambda: fake.calls_of("getUpdates") or proc.returncode is not None, timeout=120, what="first getUpdates")
        assert proc.returncode is None, (await proc.stderr.read()).decode(errors="replace")[-2000:]
        assert [c.method for c in fake.calls[:2]] == ["getMe", "deleteWebhook"]
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
        assert (tmp_path / "smoke.db").exists()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await fake.stop()
