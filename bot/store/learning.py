"""Reading moderators' decisions back: reviewed flags (precision, training rows) and the filtered review queue."""

from __future__ import annotations

import logging
from typing import Iterator

from bot.models import OPEN_STATUSES
from bot.store.flags import FlagsStore
from bot.store.views import FlagView

log = logging.getLogger(__name__)


class LearningStore(FlagsStore):
    """What the CLI review, `stats --precision` and `export --training` read."""

    def reviewed_flags(self, server: str, batch: int = 500) -> Iterator[FlagView]:
        """A server's flags that have at least one review, in id order and in batches (each view carries its
        latest review as `last_review`), for precision figures and training rows."""
        last = 0
        while True:
            rows = self.db.conn.execute(
                "SELECT * FROM flags WHERE server = ? AND id > ? AND EXISTS (SELECT 1 FROM reviews r WHERE r.flag_id = flags.id) "
                "ORDER BY id LIMIT ?", (server, last, batch)).fetchall()
            if not rows:
                return
            yield from self._views(rows)
            last = rows[-1][0]

    def review_queue(self, server: str | None, limit: int = 50, label: str | None = None, author: str | None = None,
                     incident: int | None = None) -> tuple[list[FlagView], int]:
        """Open items matching the filters, oldest first, and how many match in all (so a cut queue says "N more")."""
        marks = ",".join("?" * len(OPEN_STATUSES))
        clauses, args = [f"status IN ({marks})"], list(OPEN_STATUSES)
        if server is not None:
            clauses.append("server = ?")
            args.append(server)
        if label is not None:
            clauses.append("(',' || labels || ',') LIKE ?")
            args.append(f"%,{label},%")
        if author is not None:
            clauses.append("author_id = ?")
            args.append(author)
        if incident is not None:
            clauses.append("incident_id = ?")
            args.append(incident)
        where = " AND ".join(clauses)
        total = self.db.conn.execute(f"SELECT COUNT(*) FROM flags WHERE {where}", args).fetchone()[0]
        rows = self.db.conn.execute(f"SELECT * FROM flags WHERE {where} ORDER BY created_at, id LIMIT ?", (*args, limit)).fetchall()
        return self._views(rows), total
