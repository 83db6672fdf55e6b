"""Retention: purge message content past each server's `retention_days`, keeping hashes, labels and decisions."""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from bot.config import Settings
from bot.models import utcnow
from bot.store import Store

log = logging.getLogger(__name__)

DAY_S = 24 * 3600


def apply(store: Store, settings: Settings, server: str | None = None) -> int:
    """Purge content older than each server's retention; returns how many flags were purged."""
    total = 0
    for key in ([server] if server else store.servers()):
        days = settings.effective(key, store.server_overrides(key)).retention_days
        n = store.purge_content(key, before=utcnow() - timedelta(days=days))
        if n:
            log.info("retention: purged content of %d flag(s) in %s (older than %d days)", n, key, days)
        total += n
    return total


async def run_daily(store: Store, settings: Settings, stop: asyncio.Event, every_s: float = DAY_S) -> None:
    """The running bot applies retention at start and then once a day."""
    while not stop.is_set():
        try:
            apply(store, settings)
        except Exception:
            log.exception("retention pass failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        except asyncio.TimeoutError:
            pass
