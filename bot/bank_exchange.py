"""Bank entries to and from PDQ hash lists (classifiers/images/pdq_lists.py), through the store.

Why here: the CSV form is the classifiers' business, which entries leave and where imported
ones go is the bot's. Exports carry opaque labels only; imports become entries of their own
(source `import`) that match on PDQ distance alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.store import Store
from classifiers.images import pdq_lists

log = logging.getLogger(__name__)


def export_pdq(store: Store, scope: str | None, entry_ids: Sequence[int] = (), dihedral: bool = False) -> tuple[list[str], int]:
    """(CSV lines, entries skipped because they predate PDQ) for a scope (None: all) or some entries."""
    scopes = [scope] if scope is not None else sorted({r["scope"] for r in store.bank_list()})
    wanted = set(entry_ids)
    rows = []
    skipped = 0
    for entry_id, records in store.bank_entries(scopes):
        if wanted and entry_id not in wanted:
            continue
        hashes, quality = pdq_lists.entry_pdq(records)
        if not len(hashes):
            skipped += 1
            continue
        rows.append((entry_id, hashes, quality))
    return pdq_lists.export_rows(rows, dihedral), skipped


def import_pdq(store: Store, scope: str, text: str, min_quality: int, note: str, registered_by: str) -> tuple[list[int], int]:
    """Add each picture of a hash list as an entry; returns (new entry ids, rows below `min_quality`).
    Raises `pdq_lists.HashListError` before adding anything if a line is malformed."""
    groups, low = pdq_lists.parse(text, min_quality)
    added = [store.add_bank_entry(scope, pdq_lists.records(g), f"{note}: {g.label}", "import", registered_by) for g in groups]
    log.info("imported %d PDQ picture(s) into %s (%d low-quality rows skipped)", len(added), scope, low)
    return added, low
