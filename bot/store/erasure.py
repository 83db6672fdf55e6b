"""Erasing message content for privacy or retention, so it leaves every byte on disk."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.models import utcnow
from bot.store.base import PURGED, iso
from bot.store.views import PurgePlan
from bot.store.holds import HoldsStore

log = logging.getLogger(__name__)


class ErasureStore(HoldsStore):
    """Purges that keep hashes, labels and decisions."""

    def purge_plan(self, server: str | None, *, user_id: str | None = None, before: datetime | None = None) -> PurgePlan:
        """The flags whose content a purge would erase now, and those a legal hold keeps (counted, never erased)."""
        clauses, args = ["content_purged_at IS NULL"], []
        if server is not None:
            clauses.append("server = ?")
            args.append(server)
        if user_id is not None:
            clauses.append("author_id = ?")
            args.append(user_id)
        if before is not None:
            clauses.append("created_at < ?")
            args.append(iso(before))
        rows = self.db.conn.execute(f"SELECT id, server FROM flags WHERE {' AND '.join(clauses)} ORDER BY id", args).fetchall()
        held = self.held_flag_ids(server)
        return PurgePlan(
            tuple(i for i, _ in rows if i not in held), tuple(i for i, _ in rows if i in held), tuple(sorted({s for i, s in rows if i not in held}))
        )

    def purge_content(self, server: str | None, *, user_id: str | None = None, before: datetime | None = None, plan: PurgePlan | None = None) -> int:
        """Erase message content (excerpt, name, reasons, report reasons, appeal texts) but keep hashes, labels and decisions.

        Flags under a legal hold are left alone. The chain stays verifiable because audited payloads hold
        only hashes of content; the WAL is then truncated so the erased text leaves the disk as well.
        """
        plan = plan or self.purge_plan(server, user_id=user_id, before=before)
        now = iso(utcnow())
        why = "user request" if user_id else "retention"
        erased = 0
        with self._tx():
            held = self.held_flag_ids(server)
            for flag_id in plan.flag_ids:
                row = self.db.conn.execute("SELECT server FROM flags WHERE id = ? AND content_purged_at IS NULL", (flag_id,)).fetchone()
                if row is None or flag_id in held:
                    continue
                self.db.conn.execute(
                    "UPDATE flags SET excerpt = ?, author_name = NULL, link = NULL, attachments = '[]', content_purged_at = ? WHERE id = ?",
                    (PURGED, now, flag_id),
                )
                self.db.conn.execute("UPDATE verdicts SET reason = ? WHERE flag_id = ? AND reason != ''", (PURGED, flag_id))
                self.db.conn.execute("UPDATE reports SET reason = ? WHERE flag_id = ? AND reason != ''", (PURGED, flag_id))
                self.db.conn.execute("UPDATE appeals SET text = ? WHERE flag_id = ?", (PURGED, flag_id))  # the member's own words
                self._audit(row[0], "purge", flag_id, {"why": why}, now)
                erased += 1
        if erased:
            self.checkpoint_truncate()
        if plan.held_ids:
            log.info("purge kept %d flag(s) under legal hold", len(plan.held_ids))
        return erased
