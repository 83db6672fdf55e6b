"""`triagebot run` fails loudly: fatal problems exit non-zero with one token-free line; crashes are restarted or fatal."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, DiscordSettings, Settings, TelegramSettings
from bot.runner import FatalError, Supervision, redact, serve, supervise
from tests.conftest import needs_model
from tests.fake_discord import GUILD, MODQ, FakeDiscord
from tests.fake_telegram import FakeTelegram

DISCORD_TOKEN = "MTIz.secret-discord-token.abc"
TELEGRAM_TOKEN = "987654:AAsecretTelegramHalf"
FAST = Supervision(startup_grace_s=0.5, delay_s=0.01, delay_max_s=0.02, max_quick_restarts=2)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", ""),
        ("nothing secret here", "nothing secret here"),
        (f"The token `{TELEGRAM_TOKEN}` was rejected by the server.", "The token `<token>` was rejected by the server."),
        ("bad secret AAsecretTelegramHalf", "bad secret <token>"),
        (f"login failed for {DISCORD_TOKEN}\nTraceback ...", "login failed for <token> Traceback ..."),
        ("token salah: " + DISCORD_TOKEN * 3, "token salah: <token><token><token>"),
        ("x" * 10_000, "x" * 10_000),
    ],
)
def test_redact_removes_tokens_and_makes_one_line(text: str, expected: str) -> None:
    settings = Settings(discord=DiscordSettings(token=DISCORD_TOKEN), telegram=TelegramSettings(token=TELEGRAM_TOKEN))
    assert redact(text, settings) == expected


def _scripted(outcomes: list[str], stop: asyncio.Event, calls: list[str]):
    """A platform run() that, call by call: 'config' raises ConfigError, 'crash' raises, 'return' returns,
    'slow-crash' crashes after the start-up grace, 'serve' waits for stop."""

    async def start() -> None:
        what = outcomes[min(len(calls), len(outcomes) - 1)]
        calls.append(what)
        if what == "config":
            raise ConfigError("DISCORD_TOKEN: Discord rejected the token")
        if what == "crash":
            raise OSError("connection reset")
        if what == "slow-crash":
            await asyncio.sleep(FAST.startup_grace_s + 0.05)
            raise OSError("connection reset")
        if what == "serve":
            stop.set()

    return start


@pytest.mark.parametrize(
    "outcomes, fatal, n_calls",
    [
        (["serve"], None, 1),
        (["config"], "rejected the token", 1),
        (["crash"], "could not start: OSError: connection reset", 1),
        (["return"], "could not start: RuntimeError: stopped by itself", 1),
        (["slow-crash", "serve"], None, 2),
        (["slow-crash", "crash", "serve"], None, 3),
        (["slow-crash", "config"], "rejected the token", 2),
        (["slow-crash", "crash", "crash", "crash"], "crashed 3 times in a row", 4),
        (["slow-crash", "return", "return", "return"], "stopped by itself", 4),
    ],
)
async def test_supervise_restarts_crashes_and_raises_fatal_errors(outcomes: list[str], fatal: str | None, n_calls: int) -> None:
    stop, calls = asyncio.Event(), []
    job = supervise("discord", _scripted(outcomes, stop, calls), stop, FAST)
    if fatal is None:
        await asyncio.wait_for(job, 30)
    else:
        with pytest.raises(FatalError, match=fatal):
            await asyncio.wait_for(job, 30)
    assert len(calls) == n_calls


async def test_supervise_returns_when_stopped_before_start() -> None:
    stop, calls = asyncio.Event(), []
    stop.set()
    await supervise("telegram", _scripted(["crash"], stop, calls), stop, FAST)
    assert calls == []


@pytest.mark.parametrize(
    "make_unusable",
    [
        lambda p: p.mkdir(),  # a directory where the database file should be
        lambda p: p.write_bytes(b"this is not a database, it is a text file " * 100),
    ],
)
async def test_unusable_database_is_fatal(tmp_path: Path, make_unusable) -> None:
    db = tmp_path / "bot.db"
    make_unusable(db)
    settings = Settings(db_path=db, discord=DiscordSettings(token=DISCORD_TOKEN))
    with pytest.raises(FatalError, match=r"^database.*bot\.db"):
        await asyncio.wait_for(serve(settings, asyncio.Event()), 30)


async def _run_cli(tmp_path: Path, env_extra: dict[str, str], config_extra: str = "") -> tuple[int, str]:
    cfg = tmp_path / "triagebot.toml"
    cfg.write_text(f'[storage]\npath = "{(tmp_path / "bot.db").as_posix()}"\n{config_extra}', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "TELEGRAM_TOKEN", "TRIAGEBOT_DB")}
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", **env_extra)
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("triagebot")), "run", "--config", str(cfg), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 90)  # a hang guard, not a timing assertion
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode, out.decode(errors="replace")


def _error_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("Error:")]


@needs_model
@pytest.mark.slow
@pytest.mark.parametrize(
    "problem, expected",
    [
        ("rejected token", "Discord rejected the token"),
        ("intent off", "Message Content intent is off"),
    ],
)
async def test_run_exits_non_zero_on_fatal_discord_problems(tmp_path: Path, problem: str, expected: str) -> None:
    fake = await FakeDiscord().start()
    if problem == "rejected token":
        fake.accepted_token = "another-token"
    else:
        fake.identify_close_code = 4014
    try:
        code, out = await _run_cli(
            tmp_path,
            {"DISCORD_TOKEN": DISCORD_TOKEN, "TRIAGEBOT_DISCORD_API_BASE": fake.api_base, "TRIAGEBOT_DISCORD_GATEWAY": fake.gateway},
            f'\n[servers."discord:{GUILD}"]\nmod_channel = "{MODQ}"\n',
        )
    finally:
        await fake.stop()
    assert code != 0, out[-2000:]
    assert len(_error_lines(out)) == 1 and expected in _error_lines(out)[0], out[-2000:]
    assert DISCORD_TOKEN not in out and "Traceback" not in out


@needs_model
@pytest.mark.slow
async def test_run_exits_non_zero_on_a_rejected_telegram_token(tmp_path: Path) -> None:
    fake = await FakeTelegram().start()  # accepts only its own token
    try:
        code, out = await _run_cli(
            tmp_path, {"TELEGRAM_TOKEN": TELEGRAM_TOKEN, "TRIAGEBOT_TELEGRAM_BASE_URL": fake.base_url, "TRIAGEBOT_TELEGRAM_BASE_FILE_URL": fake.base_file_url}
        )
    finally:
        await fake.stop()
    assert code != 0, out[-2000:]
    assert len(_error_lines(out)) == 1 and "Telegram rejected the token" in _error_lines(out)[0], out[-2000:]
    assert TELEGRAM_TOKEN not in out and TELEGRAM_TOKEN.split(":")[1] not in out and "Traceback" not in out


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on exit: nothing listens there


@needs_model
@pytest.mark.parametrize(
    "platform, expected",
    [
        ("discord", "discord: could not start: ClientConnectorError"),
        ("telegram", "telegram: could not start: ConnectionError: cannot reach Telegram after 2 attempts"),
    ],
)
async def test_api_unreachable_at_start_up_is_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str, expected: str) -> None:
    from bot.platforms import telegram_bot

    monkeypatch.setattr(telegram_bot, "STARTUP_ATTEMPTS", 2)  # 1 s of back-off instead of 15
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    base = f"http://127.0.0.1:{_closed_port()}"
    if platform == "discord":
        settings = Settings(db_path=tmp_path / "bot.db", discord=DiscordSettings(token=DISCORD_TOKEN, api_base=f"{base}/api/v10"))
    else:
        settings = Settings(
            db_path=tmp_path / "bot.db", telegram=TelegramSettings(token=TELEGRAM_TOKEN, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot")
        )
    with pytest.raises(FatalError, match=expected) as info:
        await asyncio.wait_for(serve(settings, asyncio.Event()), 60)
    assert TELEGRAM_TOKEN not in str(info.value) and DISCORD_TOKEN not in str(info.value)
