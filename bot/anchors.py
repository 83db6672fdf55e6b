"""Anchor text: a server's audit-chain head, to be witnessed outside the database.

Posted by the bots (`/triage anchor`, Telegram `/anchor`, and daily), printed by `triagebot anchor`, and
written into every export manifest. Whoever keeps a copy can later run
`triagebot verify --expect-head HASH:ROWS` and catch a log that was cut short or rewritten.
"""
from __future__ import annotations

import logging

from bot.store import Store

log = logging.getLogger(__name__)


def anchor_text(store: Store, server: str) -> str:
    """One plain line (no mentions, no markup beyond what any renderer escapes) with hash, row count and time."""
    head, rows, at = store.chain_anchor(server)
    if rows == 0:
        return f"Evidence anchor for {server}: the log is empty so far."
    return (f"Evidence anchor for {server}: head {head}:{rows} at {at}. Keep this message; "
            f"`triagebot verify --server {server} --expect-head {head}:{rows}` proves later that no record was cut or rewritten.")
