"""`triagebot run` started as users start it, in a subprocess wired to a fake platform.

The smoke, stop and health tests and the pile-on benchmarks start the bot the same way: write a config,
point the platform's base URLs at the fake, and keep the other platform's token (and a stray TRIAGEBOT_DB)
out of the environment, so only the fake is ever contacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Awaitable

#: Never through a proxy: the fakes listen on 127.0.0.1.
NO_PROXY = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def triagebot_exe() -> str | None:
    """The console script of the environment running the tests, if it is installed."""
    return shutil.which("triagebot", path=str(Path(sys.executable).parent)) or shutil.which("triagebot")


def discord_env(fake: Any) -> dict[str, str]:
    return {"DISCORD_TOKEN": "fake-token", "TRIAGEBOT_DISCORD_API_BASE": fake.api_base, "TRIAGEBOT_DISCORD_GATEWAY": fake.gateway}


def telegram_env(fake: Any) -> dict[str, str]:
    return {"TELEGRAM_TOKEN": fake.token, "TRIAGEBOT_TELEGRAM_BASE_URL": fake.base_url, "TRIAGEBOT_TELEGRAM_BASE_FILE_URL": fake.base_file_url}


def config_text(db: Path, server: str | None = None, destination: tuple[str, object] | None = None, extra: str = "") -> str:
    """A minimal config: the database, and optionally one server with its mod channel or moderators' chat."""
    text = f'[storage]\npath = "{db.as_posix()}"\n'
    if server is not None:
        text += f'\n[servers."{server}"]\n'
        if destination is not None:
            text += f'{destination[0]} = "{destination[1]}"\n'
    return text + extra


async def start_run(
    folder: Path, config: str, platform_env: dict[str, str], *, stdout: int | None = None, stderr: int | None = None
) -> asyncio.subprocess.Process:
    """Start `triagebot run --config folder/triagebot.toml` with only `platform_env`'s platform configured."""
    exe = triagebot_exe()
    if exe is None:
        raise RuntimeError("the triagebot console script is not installed in this environment")
    cfg = folder / "triagebot.toml"
    cfg.write_text(config, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "TELEGRAM_TOKEN", "TRIAGEBOT_DB")}
    env.update(platform_env)
    env.update(NO_PROXY)
    pipe = asyncio.subprocess.PIPE
    return await asyncio.create_subprocess_exec(
        exe, "run", "--config", str(cfg), env=env, stdout=pipe if stdout is None else stdout, stderr=pipe if stderr is None else stderr
    )


async def connected(proc: asyncio.subprocess.Process, ready: asyncio.Event, timeout: float = 60) -> str | None:
    """Wait until the fake says the bot connected (`ready` is set) or the process ends first. None when it
    connected; otherwise what it printed (the end of its stdout), for the failure message."""
    ready_task, exited = asyncio.create_task(ready.wait()), asyncio.create_task(proc.wait())
    await asyncio.wait({ready_task, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    ready_task.cancel()
    exited.cancel()
    if ready.is_set() and proc.returncode is None:
        return None
    if proc.returncode is None or proc.stdout is None:
        return "(still running)"
    return (await proc.stdout.read()).decode(errors="replace")[-3000:]


async def time_exit(proc: asyncio.subprocess.Process, sig: int, meanwhile: Awaitable[Any] | None = None, timeout: float = 120.0) -> float:
    """Seconds from sending `sig` to the process's exit, while `meanwhile` (e.g. the rest of a flood) runs;
    its errors are ignored, since the bot going away may break it. A non-zero exit code is printed."""
    t0 = time.monotonic()
    proc.send_signal(sig)
    if meanwhile is not None:
        with contextlib.suppress(Exception):
            await meanwhile
    code = await asyncio.wait_for(proc.wait(), timeout)
    elapsed = time.monotonic() - t0
    if code != 0:
        print(f"  exit code {code}")
    return elapsed


async def kill(proc: asyncio.subprocess.Process) -> None:
    """For every run's `finally`: a process still running is killed and reaped."""
    if proc.returncode is None:
        proc.kill()
        await proc.wait()
