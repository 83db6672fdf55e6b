"""Anchor text: a server's audit-chain head, to be witnessed outside the database.

Posted by the bots (`/triage anchor`, Telegram `/anchor`, and daily), printed by `triagebot anchor`, and
written into every export manifest. Whoever keeps a copy can later run
`triagebot verify --expect-head HASH:ROWS` and catch a log that was cut short or rewritten.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta
from typing import Callable

from bot import i18n
from bot.config import ServerSettings
from bot.delivery import destination
from bot.models import utcnow
from bot.store import Store

log = logging.getLogger(__name__)

DAY = timedelta(days=1)
#: how often the daily poster looks whether a server is due (a day passes across restarts, not per process)
CHECK_EVERY_S = 600.0
STATE_KEY = "anchor:{server}"


def anchor_text(store: Store, server: str, lang: str = "en") -> str:
    """One plain line (no mentions, no markup beyond what any renderer escapes) with hash, row count and time."""
    head, rows, at = store.chain_anchor(server)
    if rows == 0:
        return i18n.text("anchor.empty", lang, server=server)
    return i18n.text("anchor.head", lang, server=server, head=head, rows=rows, at=at)


def queue_daily(store: Store, settings_for: Callable[[str], ServerSettings], now: datetime | None = None) -> list[str]:
    """Queue the anchor notice of every server that is due: a moderators' destination is set, its log is not
    empty, the head moved since the last posted anchor, and that was at least a day ago. Returns the servers.

    The notice goes through the outbox-like notices table, so a platform that is down delays it and a restart
    never loses it; the time of the last one is kept in the database, so restarts do not post more often."""
    now = now or utcnow()
    queued = []
    for server in store.servers():
        settings = settings_for(server)
        if not settings.daily_anchor or not destination(server, settings):
            continue
        head, rows, _ = store.chain_anchor(server)
        if rows == 0:
            continue
        raw = store.get_state(STATE_KEY.format(server=server))
        last = json.loads(raw) if raw else {}
        if last.get("head") == head or (last.get("at") and now - datetime.fromisoformat(last["at"]) < DAY):
            continue
        store.enqueue_notice(server, "anchor", anchor_text(store, server, settings.language))
        store.set_state(STATE_KEY.format(server=server), json.dumps({"head": head, "rows": rows, "at": now.isoformat()}))
        queued.append(server)
    return queued


async def run_daily(
    store: Store, settings_for: Callable[[str], ServerSettings], wake: Callable[[str], None], stop: asyncio.Event, every_s: float = CHECK_EVERY_S
) -> None:
    """The running bot's daily anchor: looks every `every_s` which servers are due and hands them to delivery."""
    while not stop.is_set():
        try:
            for server in queue_daily(store, settings_for):
                wake(server)
        except Exception:
            log.exception("daily anchor pass failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        except asyncio.TimeoutError:
            pass
