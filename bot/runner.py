"""`triagebot run`: wires settings, store, pipeline and whichever platforms have tokens, and supervises them.

Why a supervisor: a platform that dies must never be silently gone while the other one runs. A fatal
problem (rejected token, missing intent, API unreachable at start-up, unusable database, missing
model) stops the whole process with one line and a non-zero code, so systemd or Docker notice. A
platform that crashes after it was up is restarted with backoff; if it keeps crashing, the process stops.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable

from bot.config import ConfigError, Settings
from bot.errors import TriagebotError

if TYPE_CHECKING:
    from bot import health
    from bot.delivery import AlertDelivery

log = logging.getLogger(__name__)


NO_TOKEN = "no platform token set: export DISCORD_TOKEN and/or TELEGRAM_TOKEN, then run again (README: 'Running the bots')"
#: A platform whose run() fails sooner than this after it started counts as failing at start-up.
STARTUP_GRACE_S = 60.0
#: Restarts after a crash: first delay, cap, and how many quick crashes in a row before giving up.
RESTART_DELAY_S = 2.0
RESTART_DELAY_MAX_S = 120.0
MAX_QUICK_RESTARTS = 5
#: How long platforms get to close cleanly after a fatal error elsewhere.
SHUTDOWN_GRACE_S = 15.0


class NoPlatformConfigured(TriagebotError):
    """No platform token in the environment: nothing to run."""


class FatalError(TriagebotError):
    """The bot cannot run; the message is one line, names what to fix, and never holds a secret."""


@dataclass(frozen=True)
class Supervision:
    """Restart policy for a platform (tests shorten it)."""

    startup_grace_s: float = STARTUP_GRACE_S
    delay_s: float = RESTART_DELAY_S
    delay_max_s: float = RESTART_DELAY_MAX_S
    max_quick_restarts: int = MAX_QUICK_RESTARTS


def enabled_platforms(settings: Settings) -> list[str]:
    out = []
    if settings.discord.token:
        out.append("discord")
    if settings.telegram.token:
        out.append("telegram")
    return out


def redact(text: str, settings: Settings) -> str:
    """`text` with every configured token replaced (libraries put tokens into their error messages)."""
    for secret in (settings.discord.token, settings.telegram.token):
        if secret:
            text = text.replace(secret, "<token>")
            if ":" in secret:  # Telegram tokens are "<bot id>:<secret>"; the secret half alone is still secret
                text = text.replace(secret.split(":", 1)[1], "<token>")
    return " ".join(text.split())  # one line


def describe(exc: BaseException) -> str:
    """A short, readable name for an exception (its message, or its type when it has none)."""
    msg = " ".join(str(exc).split())
    if isinstance(exc, ConfigError) and msg:
        return msg
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


async def supervise(name: str, start: Callable[[], Awaitable[None]], stop: asyncio.Event, policy: Supervision = Supervision()) -> None:
    """Run `start()` until `stop`; restart it after a crash, raise :class:`FatalError` when it cannot run.

    Fatal at once: a :class:`ConfigError` (the platforms raise it for a rejected token or missing intent),
    or any failure of the first attempt within the start-up grace (the platform's own retries are spent).
    Returning while `stop` is not set counts as a crash: a platform is never silently gone.
    """
    delay, quick, first = policy.delay_s, 0, True
    while not stop.is_set():
        started = time.monotonic()
        try:
            await start()
            problem: BaseException | None = None if stop.is_set() else RuntimeError("stopped by itself")
        except asyncio.CancelledError:
            raise
        except ConfigError as exc:
            msg = describe(exc)
            raise FatalError(msg if msg.lower().startswith(name) else f"{name}: {msg}") from exc
        except Exception as exc:  # noqa: BLE001 - any crash is either restarted or fatal, never swallowed
            problem = exc
        if stop.is_set():
            if problem is not None:
                log.warning("%s stopped with an error while shutting down: %s", name, describe(problem))
            return
        assert problem is not None
        ran = time.monotonic() - started
        if first and ran < policy.startup_grace_s:
            raise FatalError(f"{name}: could not start: {describe(problem)}") from problem
        first = False
        quick = quick + 1 if ran < policy.startup_grace_s else 0
        if ran >= policy.startup_grace_s:
            delay = policy.delay_s
        if quick > policy.max_quick_restarts:
            raise FatalError(f"{name}: crashed {quick} times in a row, giving up: {describe(problem)}") from problem
        log.error("%s stopped (%s); restarting in %.0f s", name, describe(problem), delay)
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
        except asyncio.TimeoutError:
            pass
        delay = min(delay * 2, policy.delay_max_s)


def _open_store(settings: Settings):
    from bot.store import Store, StoreError

    try:
        return Store.open(settings.db_path)
    except StoreError as exc:  # already one line naming the file and what to do
        raise FatalError(f"database: {exc}") from exc
    except (sqlite3.Error, OSError) as exc:
        raise FatalError(f"database {settings.db_path} is unusable: {describe(exc)}") from exc


def _platform_runner(name: str, pipeline, settings: Settings, stop: asyncio.Event, sync_commands: bool = False) -> Callable[[], Awaitable[None]]:
    if name == "discord":
        from bot.platforms import discord_bot

        return lambda: discord_bot.run(pipeline, settings, stop, force_sync=sync_commands)
    from bot.platforms import telegram_bot

    return lambda: telegram_bot.run(pipeline, settings, stop)


async def serve(settings: Settings, stop: asyncio.Event, policy: Supervision = Supervision(), sync_commands: bool = False) -> None:
    """Run every platform with a token until `stop` is set; raise :class:`FatalError` if one cannot run.

    `sync_commands` re-registers Discord's slash commands even if they did not change since the last start.
    """
    from bot import anchors, health, metrics, retention
    from bot.detectors import build_pipeline
    from classifiers.text import ModelCardError, ModelNotFoundError

    platforms = enabled_platforms(settings)
    if not platforms:
        raise NoPlatformConfigured(NO_TOKEN)
    store = _open_store(settings)
    try:
        try:
            pipeline = build_pipeline(settings, store)
        except (ModelNotFoundError, ModelCardError) as exc:
            raise FatalError(f"text model: {exc}") from exc
        tasks = {asyncio.create_task(retention.run_daily(store, settings, stop), name="retention"): "retention"}
        health.add_check("store", lambda: health.Check(store.writable(), str(settings.db_path)))
        health.add_check("outbox", lambda: _outbox_check(pipeline.delivery))
        metrics.ALERTS_PENDING.set_function(lambda: pipeline.delivery.backlog()[0])
        metrics.DELIVERY_LAG.set_function(lambda: pipeline.delivery.backlog()[1])
        for name in platforms:
            health.add_check(name, lambda n=name: health.Check(metrics.is_connected(n)))  # type: ignore[misc]
        if settings.health.enabled:
            tasks[asyncio.create_task(health.serve(settings.health, stop), name="health")] = "health endpoint"
        for name in platforms:
            task = asyncio.create_task(supervise(name, _platform_runner(name, pipeline, settings, stop, sync_commands), stop, policy), name=f"supervise-{name}")
            tasks[task] = name
        log.info("triagebot running: %s (database %s)", ", ".join(platforms), settings.db_path)
        pipeline.start()  # alerts and protective actions the last run left undone
        daily = anchors.run_daily(store, pipeline.server_settings, pipeline.delivery.wake, stop)
        tasks[asyncio.create_task(daily, name="daily-anchor")] = "daily anchor"
        try:
            await _until_stopped_or_fatal(tasks, stop)
        finally:
            for name in ("store", "outbox", *platforms):
                health.remove_check(name)
            for gauge in (metrics.ALERTS_PENDING, metrics.DELIVERY_LAG):  # their callbacks read a store about to close
                gauge.set_function(lambda: 0.0)
            await pipeline.stop()  # undelivered alerts stay in the outbox for the next start
            pipeline.executor.shutdown(wait=False, cancel_futures=True)
    finally:
        store.close()


def _outbox_check(delivery: AlertDelivery) -> health.Check:
    """Failing while the oldest undelivered alert has waited past HEALTHY_LAG_S (moderators are not being told)."""
    from bot import health
    from bot.delivery import HEALTHY_LAG_S

    pending, lag = delivery.backlog()
    return health.Check(lag <= HEALTHY_LAG_S, {"pending": pending, "oldest_s": round(lag)})


async def _until_stopped_or_fatal(tasks: dict[asyncio.Task, str], stop: asyncio.Event) -> None:
    """Wait for every task; on the first fatal error set `stop`, give the rest a grace period, re-raise it."""
    pending = set(tasks)
    fatal: BaseException | None = None
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            exc = task.exception()
            if exc is not None and fatal is None:
                fatal = exc if isinstance(exc, FatalError) else FatalError(f"{tasks[task]}: {describe(exc)}")
                stop.set()
        if fatal is not None and pending:
            _, pending = await asyncio.wait(pending, timeout=SHUTDOWN_GRACE_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            pending = set()
    if fatal is not None:
        raise fatal


def run(settings: Settings, sync_commands: bool = False) -> None:
    """Blocking entry point; SIGINT/SIGTERM stop cleanly. Raises :class:`FatalError` (token-free) if the bot cannot run."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop, sync_commands=sync_commands)

    try:
        asyncio.run(main())
    except FatalError as exc:
        raise FatalError(redact(str(exc), settings)) from None
