"""Reading moderators' decisions back: reviewed flags (precision, training rows) and the filtered review queue."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterator

from bot.models import OPEN_STATUSES
from bot.store.base import _chunks
from bot.store.flags import FlagsStore
from bot.store.views import FlagView, VerdictRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecidedFlag:
    """A reviewed flag as precision and training read it: its labels, text, verdicts and latest review only
    (no reports, targets or attachments, so a server's whole history reads quickly)."""

    id: int
    server: str
    labels: tuple[str, ...]
    excerpt: str | None
    verdicts: tuple[VerdictRow, ...]
    last_review: dict

    @property
    def scores(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for v in self.verdicts:
            out[v.label] = max(out.get(v.label, 0.0), v.score)
        return out


class LearningStore(FlagsStore):
    """What the CLI review, `stats --precision` and `export --training` read."""

    def decided_flags(self, server: str, newest: int | None = None, batch: int = 2000) -> Iterator[DecidedFlag]:
        """A server's reviewed flags with their latest review (by review id), in flag id order and in batches;
        with `newest`, only the most recent that many reviewed flags (a bounded read for the bots)."""
        last = 0
        if newest is not None:
            row = self.db.conn.execute(
                "SELECT MIN(id) FROM (SELECT id FROM flags WHERE server = ? AND EXISTS (SELECT 1 FROM reviews r WHERE r.flag_id = flags.id) "
                "ORDER BY id DESC LIMIT ?)",
                (server, newest),
            ).fetchone()
            if row[0] is None:
                return
            last = row[0] - 1
        while True:
            rows = self.db.conn.execute(
                "SELECT f.id, f.labels, f.excerpt, r.decision, r.reviewer_id, r.note, r.created_at FROM flags f "
                "JOIN reviews r ON r.id = (SELECT MAX(id) FROM reviews WHERE flag_id = f.id) "
                "WHERE f.server = ? AND f.id > ? ORDER BY f.id LIMIT ?",
                (server, last, batch),
            ).fetchall()
            if not rows:
                return
            verdicts: dict[int, list[VerdictRow]] = {r[0]: [] for r in rows}
            for chunk in _chunks([r[0] for r in rows], 500):
                marks = ",".join("?" * len(chunk))
                for fid, label, score, reason, det in self.db.conn.execute(
                    f"SELECT flag_id, label, score, reason, detector FROM verdicts WHERE flag_id IN ({marks}) ORDER BY id", chunk
                ):
                    verdicts[fid].append(VerdictRow(label, score, reason, det))
            for fid, labels, excerpt, decision, reviewer, note, at in rows:
                yield DecidedFlag(
                    fid,
                    server,
                    tuple(x for x in labels.split(",") if x),
                    excerpt,
                    tuple(verdicts[fid]),
                    {"decision": decision, "reviewer": reviewer, "note": note, "at": at},
                )
            last = rows[-1][0]

    def review_queue(
        self, server: str | None, limit: int = 50, label: str | None = None, author: str | None = None, incident: int | None = None
    ) -> tuple[list[FlagView], int]:
        """Open items matching the filters, oldest first, and how many match in all (so a cut queue says "N more")."""
        marks = ",".join("?" * len(OPEN_STATUSES))
        clauses: list[str] = [f"status IN ({marks})"]
        args: list[object] = list(OPEN_STATUSES)
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
