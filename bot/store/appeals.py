"""Members' appeals against an action on a flag, and the moderators' decisions (issue 16 item 5)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from bot import audit_chain as chain
from bot.models import Review, utcnow
from bot.store.base import StoreError, inserted_id, iso, parse_time, safe_text
from bot.store.moderation import ModerationStore

log = logging.getLogger(__name__)

APPEAL_STATUSES: tuple[str, ...] = ("open", "upheld", "reversed")


@dataclass(frozen=True)
class AppealView:
    """One appeal as moderators see it (the appellant's words are hostile data: escape them)."""

    id: int
    server: str
    flag_id: int
    incident_id: int | None
    appellant_id: str
    text: str
    lang: str
    status: str
    decided_by: str | None
    decided_at: datetime | None
    note: str
    alert_ref: str | None
    created_at: datetime

    @property
    def open(self) -> bool:
        return self.status == "open"


_APPEAL_COLS = "id, server, flag_id, incident_id, appellant_id, text, lang, status, decided_by, decided_at, note, alert_ref, created_at"


def _appeal_view(r: Sequence[Any]) -> AppealView:
    return AppealView(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], parse_time(r[9]) if r[9] else None, r[10], r[11], parse_time(r[12]))


class AppealsStore(ModerationStore):
    """The appeals table. Opening and deciding are audited like reviews, and each writes the outbox row
    (subject `appeal:<id>`) that posts or refreshes the moderators' entry, in the same transaction."""

    def add_appeal(self, server: str, flag_id: int, appellant_id: str, text: str, lang: str, max_open_per_day: int, now: datetime | None = None) -> int:
        """Store a new open appeal and queue its alert. Raises StoreError when the member already has an open
        appeal on this flag, or has opened `max_open_per_day` appeals in this server in the last 24 h."""
        at = now or utcnow()
        stamp = iso(at)
        body = safe_text(text)
        with self._tx():
            self._require_flag(server, flag_id)
            c = self.db.conn
            if c.execute("SELECT 1 FROM appeals WHERE flag_id = ? AND appellant_id = ? AND status = 'open'", (flag_id, appellant_id)).fetchone():
                raise StoreError(f"an appeal against flag #{flag_id} by {appellant_id} is already open")
            recent = c.execute(
                "SELECT COUNT(*) FROM appeals WHERE server = ? AND appellant_id = ? AND created_at >= ?", (server, appellant_id, iso(at - timedelta(days=1)))
            ).fetchone()[0]
            if recent >= max_open_per_day:
                raise StoreError(f"{appellant_id} has opened {recent} appeals in {server} in the last 24 h")
            incident_id = c.execute("SELECT incident_id FROM flags WHERE id = ?", (flag_id,)).fetchone()[0]
            cur = c.execute(
                "INSERT INTO appeals (server, flag_id, incident_id, appellant_id, text, lang, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (server, flag_id, incident_id, appellant_id, body, lang, stamp),
            )
            appeal_id = inserted_id(cur)
            self._audit(
                server,
                "appeal",
                appeal_id,
                chain.appeal_evidence(
                    server=server, flag_id=flag_id, incident_id=incident_id, appellant_id=appellant_id, text=body, lang=lang, created_at=stamp
                ),
                stamp,
            )
            self._enqueue_appeal_alert(server, appeal_id, flag_id, incident_id, stamp)
        return appeal_id

    def decide_appeal(self, server: str, appeal_id: int, status: str, decided_by: str, note: str = "", review: Review | None = None) -> AppealView:
        """Close an open appeal as upheld or reversed (with `review`, e.g. the reversal's dismiss, in the same
        transaction) and queue the refresh of its alert. StoreError if it is not open."""
        if status not in ("upheld", "reversed"):
            raise StoreError(f"an appeal is decided as upheld or reversed, not {status!r}")
        stamp = iso(utcnow())
        text = safe_text(note).strip()[:2000]
        with self._tx():
            appeal = self.appeal(server, appeal_id)
            if not appeal.open:
                raise StoreError(f"appeal #{appeal_id} was already decided ({appeal.status} by {appeal.decided_by})")
            self.db.conn.execute(
                "UPDATE appeals SET status = ?, decided_by = ?, decided_at = ?, note = ? WHERE id = ?", (status, decided_by, stamp, text, appeal_id)
            )
            self._audit(
                server, "appeal_decision", appeal_id, chain.appeal_decision_evidence(status=status, decided_by=decided_by, decided_at=stamp, note=text), stamp
            )
            if review is not None:
                self.record_review(review)  # nested: joins this transaction
            self._enqueue_appeal_alert(server, appeal_id, appeal.flag_id, appeal.incident_id, stamp)
        return self.appeal(server, appeal_id)

    def appeal(self, server: str, appeal_id: int) -> AppealView:
        row = self.db.conn.execute(f"SELECT {_APPEAL_COLS} FROM appeals WHERE id = ? AND server = ?", (appeal_id, server)).fetchone()
        if row is None:
            raise StoreError(f"no appeal #{appeal_id} in {server}")
        return _appeal_view(row)

    def appeal_server(self, appeal_id: int) -> str | None:
        row = self.db.conn.execute("SELECT server FROM appeals WHERE id = ?", (appeal_id,)).fetchone()
        return row[0] if row else None

    def appeals(self, server: str | None, statuses: Sequence[str] = ("open",), flag_id: int | None = None, limit: int = 50) -> list[AppealView]:
        """Appeals, oldest first (the order they should be decided in)."""
        where = ["status IN (%s)" % ",".join("?" * len(statuses))]
        args: list[object] = list(statuses)
        if server is not None:
            where.append("server = ?")
            args.append(server)
        if flag_id is not None:
            where.append("flag_id = ?")
            args.append(flag_id)
        rows = self.db.conn.execute(f"SELECT {_APPEAL_COLS} FROM appeals WHERE {' AND '.join(where)} ORDER BY id LIMIT ?", (*args, limit)).fetchall()
        return [_appeal_view(r) for r in rows]

    def appeals_by_flag(self, server: str, flag_ids: Sequence[int]) -> dict[int, list[AppealView]]:
        """Every appeal against each flag, oldest first (for exports: appeals are part of a case's record)."""
        out: dict[int, list[AppealView]] = {}
        ids = list(flag_ids)
        for i in range(0, len(ids), 400):
            chunk = ids[i : i + 400]
            marks = ",".join("?" * len(chunk))
            q = f"SELECT {_APPEAL_COLS} FROM appeals WHERE server = ? AND flag_id IN ({marks}) ORDER BY id"
            for r in self.db.conn.execute(q, (server, *chunk)):
                view = _appeal_view(r)
                out.setdefault(view.flag_id, []).append(view)
        return out

    def appeals_opened_since(self, server: str, appellant_id: str, since: datetime) -> int:
        return self.db.conn.execute(
            "SELECT COUNT(*) FROM appeals WHERE server = ? AND appellant_id = ? AND created_at >= ?", (server, appellant_id, iso(since))
        ).fetchone()[0]

    def set_appeal_alert_ref(self, server: str, appeal_id: int, ref: str | None) -> None:
        self.db.conn.execute("UPDATE appeals SET alert_ref = ? WHERE id = ? AND server = ?", (ref, appeal_id, server))

    def _enqueue_appeal_alert(self, server: str, appeal_id: int, flag_id: int, incident_id: int | None, now: str) -> None:
        self.db.conn.execute(
            "INSERT INTO outbox (server, subject, flag_id, incident_id, next_attempt_at, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(server, subject) DO UPDATE SET version = version + 1, "
            "updated_at = excluded.updated_at, "
            "next_attempt_at = CASE WHEN attempts = 0 THEN excluded.next_attempt_at ELSE next_attempt_at END",
            (server, f"appeal:{appeal_id}", flag_id, incident_id, now, now, now),
        )
