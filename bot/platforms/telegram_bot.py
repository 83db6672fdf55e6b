"""Telegram client wiring: a PTB Application with our rate limiter, adapter and handlers; polling until stopped.

The jobs live next door: `telegram_events` (updates -> Messages), `telegram_adapter` (Actions ->
Bot API), `telegram_handlers` (commands, buttons, intake), `telegram_render` (alert HTML).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram.error import InvalidToken, NetworkError
from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest

from bot import metrics
from bot.config import ConfigError, Settings
from bot.platforms.telegram_adapter import TelegramAdapter
from bot.platforms.telegram_events import PLATFORM, Seen
from bot.platforms.telegram_handlers import TelegramHandlers
from bot.platforms.telegram_limits import FloodLimiter

log = logging.getLogger(__name__)

#: Update kinds we ask Telegram for; chat_member/my_chat_member keep the admin-rights cache current.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "chat_member", "my_chat_member"]
#: Long-poll length. Stopping cancels a poll in flight, so this does not delay a stop.
POLL_TIMEOUT_S = 10
#: Each stop step is bounded so SIGTERM/SIGINT ends the Telegram side within seconds, even mid-flood.
STOP_STEP_S = 2.0
#: getMe attempts at start-up (waits 1+2+4+8 s between them) before the runner is told Telegram is unreachable.
STARTUP_ATTEMPTS = 5


def build_application(
    pipeline, settings: Settings, *, media_group_delay: float = 1.0, admin_ttl: float = 60.0, limiter: FloodLimiter | None = None
) -> Application:
    """A PTB Application wired to the pipeline; the adapter is registered as pipeline.adapters['telegram'].

    Connection failures are retried by the HTTP transport and briefly by the adapter; flood limits
    are kept by `FloodLimiter` (PTB's AIORateLimiter, shaped for the alert outbox).
    """
    import httpx

    tg = settings.telegram
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(max(logging.getLogger("httpx").getEffectiveLevel(), logging.WARNING))
    if not tg.token:
        raise ConfigError("TELEGRAM_TOKEN: not set (get a token from @BotFather)")

    def request(read_timeout: float) -> HTTPXRequest:
        return HTTPXRequest(
            connection_pool_size=16, read_timeout=read_timeout, connect_timeout=10.0, httpx_kwargs={"transport": httpx.AsyncHTTPTransport(retries=3)}
        )

    app = (
        ApplicationBuilder()
        .token(tg.token)
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .request(request(15.0))
        .get_updates_request(request(POLL_TIMEOUT_S + 5.0))
        .rate_limiter(limiter or FloodLimiter())
        .build()
    )
    seen = Seen()
    adapter = TelegramAdapter(app.bot, seen, max_download_bytes=tg.max_download_bytes)
    pipeline.adapters[PLATFORM] = adapter
    handlers = TelegramHandlers(app, pipeline, adapter, media_group_delay=media_group_delay, admin_ttl=admin_ttl)
    handlers.register()
    app.bot_data["triagebot"] = handlers
    return app


async def start_polling(app: Application, *, poll_interval: float = 0.0, timeout: int = POLL_TIMEOUT_S) -> None:
    """Start fetching updates (with the member updates the rights cache needs) and handling them."""
    assert app.updater is not None  # build_application always gives the application one
    await app.updater.start_polling(poll_interval=poll_interval, timeout=timeout, allowed_updates=ALLOWED_UPDATES, bootstrap_retries=3)
    await app.start()


async def stop(app: Application) -> None:
    """Stop fast and lose nothing accepted: end the long poll, stop waiting on flood limits, handle the
    updates already fetched (each only goes into the intake), store what the intake holds.

    Undelivered alerts stay in the core's outbox. Each step is bounded by STOP_STEP_S.
    """
    handlers: TelegramHandlers = app.bot_data["triagebot"]
    limiter = app.bot.rate_limiter
    if isinstance(limiter, FloodLimiter):
        limiter.close()  # queued sends now fail at once with RetryAfter: the outbox keeps them
    if app.updater is not None and app.updater.running:
        await _bounded("stop polling", app.updater.stop())
    if app.running:
        await _bounded("handle fetched updates", app.stop())
    await handlers.aclose()  # stores what the intake accepted
    await _bounded("shut down", app.shutdown())


async def _bounded(what: str, step) -> None:
    try:
        await asyncio.wait_for(step, timeout=STOP_STEP_S)
    except asyncio.TimeoutError:
        log.warning("telegram: %s took over %.0f s; going on with the stop", what, STOP_STEP_S)
    except Exception:
        log.exception("telegram: %s failed; going on with the stop", what)


async def run(pipeline, settings: Settings, stop_event: asyncio.Event) -> None:
    """Poll Telegram until `stop_event` is set, then stop within seconds (see `stop`).

    A network failure at start-up is retried with backoff, :data:`STARTUP_ATTEMPTS` times; a bad token is not.
    """
    app = build_application(pipeline, settings)
    handlers = app.bot_data["triagebot"]
    try:
        started = await _initialize(app, stop_event)
    except BaseException:
        await handlers.aclose()
        raise
    if not started:
        await handlers.aclose()
        return
    try:
        await start_polling(app)
        await handlers.publish_commands()
        metrics.watch_connection("telegram", lambda: app.updater is not None and app.updater.running)
        metrics.watch_queue("telegram", handlers.intake.queue.qsize)
        log.info("telegram bot @%s polling", app.bot.username)
        await stop_event.wait()
    finally:
        metrics.forget("telegram")
        log.info("telegram bot stopping")
        with contextlib.suppress(Exception):
            await stop(app)
        log.info("telegram bot stopped")


async def _initialize(app: Application, stop_event: asyncio.Event) -> bool:
    """app.initialize() (getMe) with backoff on network errors; False if `stop_event` was set meanwhile."""
    delay = 1.0
    for attempt in range(1, STARTUP_ATTEMPTS + 1):
        if stop_event.is_set():
            break
        try:
            await app.initialize()
            return True
        except InvalidToken:  # its message holds the token: never pass it on
            raise ConfigError("TELEGRAM_TOKEN: Telegram rejected the token (get a new one from @BotFather)") from None
        except NetworkError as exc:
            if attempt == STARTUP_ATTEMPTS:
                raise ConnectionError(f"cannot reach Telegram after {attempt} attempts") from None
            log.warning("cannot reach Telegram (%s); retrying in %.0f s", exc, delay)
            try:
                await asyncio.wait_for(stop_event.wait(), timeout=delay)
            except asyncio.TimeoutError:
                pass
            delay = min(delay * 2, 60.0)
    return False
