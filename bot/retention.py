"""Retention: purge message content past each server's `retention_days`, keeping hashes, labels and decisions.

`retention_days = 0` means keep forever. Flags under a legal hold are never purged; each run reports them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from bot.config import Settings
from bot.models import utcnow
from bot.store import PurgePlan, Store

log = logging.getLogger(__name__)

DAY_S = 24 * 3600
KEEP_FOREVER = 0


@dataclass(frozen=True)
class RetentionStep:
    server: str
    days: int
    plan: PurgePlan | None  # None: kept forever


def plan(store: Store, settings: Settings, server: str | None = None) -> list[RetentionStep]:
    """What retention would erase in each server now (nothing is erased)."""
    steps = []
    for key in [server] if server else store.servers():
        days = settings.effective(key, store.server_overrides(key)).retention_days
        if days <= KEEP_FOREVER:
            steps.append(RetentionStep(key, days, None))
            continue
        steps.append(RetentionStep(key, days, store.purge_plan(key, before=utcnow() - timedelta(days=days))))
    return steps


def apply(store: Store, settings: Settings, server: str | None = None) -> int:
    """Purge content older than each server's retention; returns how many flags were purged."""
    total = 0
    for step in plan(store, settings, server):
        if step.plan is None:
            continue
        n = store.purge_content(step.server, plan=step.plan) if step.plan.count else 0
        if n:
            log.info("retention: purged content of %d flag(s) in %s (older than %d days)", n, step.server, step.days)
        if step.plan.held_ids:
            log.info("retention: kept %d flag(s) in %s under legal hold", len(step.plan.held_ids), step.server)
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
