"""Moderator review outside the platforms (the CLI), through the same store API the bots use."""

from __future__ import annotations

import logging

from bot.models import REVIEW_DECISIONS, Review
from bot.store import FlagView, Store, StoreError

log = logging.getLogger(__name__)


def bank_confirmed_images(store: Store, server: str, flag_id: int, reviewer: str, scope: str) -> list[tuple[int, list]]:
    """A confirmed flag's image hashes become re-share bank entries (once); returns (entry id, records)."""
    if store.bank_entries_from_flag(flag_id):
        return []
    flag = store.flag(server, flag_id)
    protects = flag.targets[0] if flag.targets else None
    out = []
    for records in store.flag_images(server, flag_id):
        entry = store.add_bank_entry(
            scope, records, f"confirmed by a moderator from flag #{flag_id}", "moderator", reviewer, protects=protects, flag_id=flag_id
        )
        out.append((entry, records))
    return out


def review_flag(store: Store, flag_id: int, decision: str, reviewer: str, note: str = "", server: str | None = None) -> FlagView:
    """Record a decision on one flag; `server`, when given, must own the flag.

    Confirming banks the flag's image hashes in the server's own bank, as a confirm in the bots does.
    """
    if decision not in REVIEW_DECISIONS:
        raise StoreError(f"unknown decision {decision!r} (expected one of {', '.join(REVIEW_DECISIONS)})")
    owner = store.flag_server(flag_id)
    if owner is None or (server is not None and owner != server):
        raise StoreError(f"no flag #{flag_id}" + (f" in {server}" if server else ""))
    store.record_review(Review(flag_id=flag_id, server=owner, decision=decision, reviewer=reviewer, note=note))
    if decision == "confirm":
        bank_confirmed_images(store, owner, flag_id, reviewer, owner)
    return store.flag(owner, flag_id)
