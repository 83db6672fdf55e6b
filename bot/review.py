"""Moderator review outside the platforms (the CLI), through the same store API the bots use."""
from __future__ import annotations

import logging

from bot.models import REVIEW_DECISIONS, Review
from bot.store import FlagView, Store, StoreError

log = logging.getLogger(__name__)


def review_flag(store: Store, flag_id: int, decision: str, reviewer: str, note: str = "", server: str | None = None) -> FlagView:
    """Record a decision on one flag; `server`, when given, must own the flag."""
    if decision not in REVIEW_DECISIONS:
        raise StoreError(f"unknown decision {decision!r} (expected one of {', '.join(REVIEW_DECISIONS)})")
    owner = store.flag_server(flag_id)
    if owner is None or (server is not None and owner != server):
        raise StoreError(f"no flag #{flag_id}" + (f" in {server}" if server else ""))
    store.record_review(Review(flag_id=flag_id, server=owner, decision=decision, reviewer=reviewer, note=note))
    return store.flag(owner, flag_id)
