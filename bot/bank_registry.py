"""Registering a picture in the re-share bank: one entry per picture and person.

Why: a victim who sends the same photo twice (or a moderator who banks it again) should find
one entry to withdraw, not two (issue 16). A near-identical image that the same person
already registered in the same scope reuses that entry; someone else's entry is never reused,
so each person stays able to withdraw what they registered. Used by /protect (through
`ImageScan`) and `triagebot bank add`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.store import Store
from classifiers.images.bank import BankIndex, Fingerprint

log = logging.getLogger(__name__)


def existing_entry(store: Store, index: BankIndex, records: Sequence[tuple[str, bytes]], registered_by: str | None) -> int | None:
    """The id of this person's entry for a near-identical image in `index`'s scope, or None."""
    for entry_id in index.duplicates(Fingerprint.from_records(records)):
        entry = store.bank_entry(entry_id)
        if entry is not None and entry["registered_by"] == registered_by:
            return entry_id
    return None


def register(
    store: Store,
    index: BankIndex,
    scope: str,
    records: Sequence[tuple[str, bytes]],
    note: str | None,
    source: str,
    registered_by: str | None,
    protects: str | None = None,
) -> tuple[int, bool]:
    """Store a new entry (and add it to `index`), or return the person's existing one: (entry id, reused)."""
    found = existing_entry(store, index, records, registered_by)
    if found is not None:
        log.info("bank: near-identical image already registered as #%d in %s; reused", found, scope)
        return found, True
    entry = store.add_bank_entry(scope, records, note, source, registered_by, protects=protects)
    index.add_records(entry, records)
    return entry, False
