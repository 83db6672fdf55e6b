"""`triagebot run`: wires settings, store, pipeline and whichever platforms have tokens; nothing else."""
from __future__ import annotations

import asyncio
import logging
import signal

from bot.config import Settings
from bot.detectors import build_pipeline
from bot.errors import TriagebotError
from bot import retention
from bot.store import Store

log = logging.getLogger(__name__)


NO_TOKEN = "no platform token set: export DISCORD_TOKEN and/or TELEGRAM_TOKEN, then run again (README: 'Running the bots')"


class NoPlatformConfigured(TriagebotError):
    """No platform token in the environment: nothing to run."""


def enabled_platforms(settings: Settings) -> list[str]:
    out = []
    if settings.discord.token:
        out.append("discord")
    if settings.telegram.token:
        out.append("telegram")
    return out


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run every platform with a token until `stop` is set."""
    platforms = enabled_platforms(settings)
    if not platforms:
        raise NoPlatformConfigured(NO_TOKEN)
    store = Store.open(settings.db_path)
    pipeline = build_pipeline(settings, store)
    runners = [retention.run_daily(store, settings, stop)]
    names = ["retention", *platforms]
    if "discord" in platforms:
        from bot.platforms import discord_bot

        runners.append(discord_bot.run(pipeline, settings, stop))
    if "telegram" in platforms:
        from bot.platforms import telegram_bot

        runners.append(telegram_bot.run(pipeline, settings, stop))
    log.info("triagebot running: %s (database %s)", ", ".join(platforms), settings.db_path)
    pipeline.start()  # alerts and protective actions the last run left undone
    try:
        results = await asyncio.gather(*runners, return_exceptions=True)
        for platform, result in zip(names, results):
            if isinstance(result, BaseException):
                log.error("%s stopped with an error: %s", platform, result, exc_info=result)
    finally:
        await pipeline.stop()  # undelivered alerts stay in the outbox for the next start
        pipeline.executor.shutdown(wait=False, cancel_futures=True)
        store.close()


def run(settings: Settings) -> None:
    """Blocking entry point; SIGINT/SIGTERM stop cleanly."""
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    asyncio.run(main())
