"""Notices to the moderators that belong to no flag (the daily evidence anchor): queued, then delivered like alerts.

Their text is fixed when queued and is the bot's own (never a member's), so a restart posts exactly what
was meant to be witnessed at that time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.models import utcnow
from bot.store.base import inserted_id, iso, parse_time, safe_text
from bot.store.connection import Connection

NOTICE_CHARS = 1500


@dataclass(frozen=True)
class Notice:
    id: int
    server: str
    kind: str
    text: str
    attempts: int
    created_at: datetime


class NoticesStore(Connection):
    """Queued notices and their delivery state."""

    def enqueue_notice(self, server: str, kind: str, text: str) -> int:
        now = iso(utcnow())
        with self._tx():
            cur = self.db.conn.execute(
                "INSERT INTO notices (server, kind, text, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?)",
                (server, kind, safe_text(text)[:NOTICE_CHARS], now, now),
            )
        return inserted_id(cur)

    def due_notices(self, server: str, now: datetime, limit: int = 20) -> list[Notice]:
        rows = self.db.conn.execute(
            "SELECT id, server, kind, text, attempts, created_at FROM notices "
            "WHERE server = ? AND delivered_at IS NULL AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
            (server, iso(now), limit),
        ).fetchall()
        return [Notice(r[0], r[1], r[2], r[3], r[4], parse_time(r[5])) for r in rows]

    def next_notice_due(self, server: str) -> datetime | None:
        row = self.db.conn.execute("SELECT MIN(next_attempt_at) FROM notices WHERE server = ? AND delivered_at IS NULL", (server,)).fetchone()
        return parse_time(row[0]) if row and row[0] else None

    def servers_with_undelivered_notices(self) -> list[str]:
        return [r[0] for r in self.db.conn.execute("SELECT DISTINCT server FROM notices WHERE delivered_at IS NULL ORDER BY server")]

    def notice_delivered(self, notice_id: int, ref: str | None) -> None:
        self.db.conn.execute("UPDATE notices SET delivered_at = ?, ref = ?, last_error = NULL WHERE id = ?", (iso(utcnow()), ref, notice_id))

    def notice_failed(self, notice_id: int, error: str, retry_at: datetime) -> None:
        self.db.conn.execute(
            "UPDATE notices SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
            (safe_text(error)[:500], iso(retry_at), notice_id),
        )

    def retry_notices_now(self, server: str) -> int:
        return self.db.conn.execute("UPDATE notices SET next_attempt_at = ? WHERE server = ? AND delivered_at IS NULL", (iso(utcnow()), server)).rowcount

    def undelivered_notices(self, server: str | None = None) -> tuple[int, datetime | None]:
        q = "SELECT COUNT(*), MIN(created_at) FROM notices WHERE delivered_at IS NULL"
        row = self.db.conn.execute(q + (" AND server = ?" if server else ""), (server,) if server else ()).fetchone()
        return row[0], parse_time(row[1]) if row[1] else None
