"""The alert outbox: rows written with the flag that a delivery worker posts or edits, with back-off."""

from __future__ import annotations

from datetime import datetime

from bot.models import utcnow
from bot.store.base import StoreError, iso, parse_time, safe_text
from bot.store.views import OutboxItem
from bot.store.connection import Connection


class OutboxStore(Connection):
    """Alerts and escalation pings waiting for delivery."""

    def _enqueue_alert(self, server: str, flag_id: int, incident_id: int | None, now: str) -> None:
        """Ask for the alert of this flag's subject to be posted or refreshed (inside the caller's transaction).

        One row per subject: a burst of flags in one incident only bumps its version, so the delivery worker
        coalesces them into a few edits. A row in back-off after failures keeps its retry time."""
        subject = f"incident:{incident_id}" if incident_id is not None else f"flag:{flag_id}"
        self.db.conn.execute(
            "INSERT INTO outbox (server, subject, flag_id, incident_id, next_attempt_at, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(server, subject) DO UPDATE SET "
            "flag_id = MAX(flag_id, excluded.flag_id), version = version + 1, updated_at = excluded.updated_at, "
            "next_attempt_at = CASE WHEN attempts = 0 THEN excluded.next_attempt_at ELSE next_attempt_at END",
            (server, subject, flag_id, incident_id, now, now, now),
        )

    def _enqueue_ping(self, server: str, flag_id: int, incident_id: int | None, ping_at: int, reshare: bool, now: str) -> None:
        """Queue one escalation ping: when the incident reaches `ping_at` flags, or for a protected picture's re-share."""
        subject = None
        if incident_id is not None:
            count = self.db.conn.execute("SELECT flag_count FROM incidents WHERE id = ?", (incident_id,)).fetchone()[0]
            if count == ping_at or reshare:
                subject = f"ping:incident:{incident_id}"
        elif reshare:
            subject = f"ping:flag:{flag_id}"
        if subject is not None:
            self.db.conn.execute(
                "INSERT OR IGNORE INTO outbox (server, subject, flag_id, incident_id, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (server, subject, flag_id, incident_id, now, now, now),
            )

    def enqueue_alert(self, server: str, flag_id: int) -> None:
        """Refresh the alert showing a flag (after a report, review or moderator action)."""
        with self._tx():
            row = self.db.conn.execute("SELECT incident_id FROM flags WHERE id = ? AND server = ?", (flag_id, server)).fetchone()
            if row is None:
                raise StoreError(f"no flag #{flag_id} in {server}")
            self._enqueue_alert(server, flag_id, row[0], iso(utcnow()))

    def due_alerts(self, server: str, now: datetime, limit: int = 20) -> list[OutboxItem]:
        """Undelivered alerts whose retry time has come, oldest first."""
        rows = self.db.conn.execute(
            "SELECT id, server, subject, flag_id, incident_id, version, attempts, created_at FROM outbox "
            "WHERE server = ? AND delivered_version < version AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
            (server, iso(now), limit),
        ).fetchall()
        return [OutboxItem(r[0], r[1], r[2], r[3], r[4], r[5], r[6], parse_time(r[7])) for r in rows]

    def next_alert_due(self, server: str) -> datetime | None:
        row = self.db.conn.execute("SELECT MIN(next_attempt_at) FROM outbox WHERE server = ? AND delivered_version < version", (server,)).fetchone()
        return parse_time(row[0]) if row and row[0] else None

    def servers_with_undelivered_alerts(self) -> list[str]:
        return [r[0] for r in self.db.conn.execute("SELECT DISTINCT server FROM outbox WHERE delivered_version < version ORDER BY server")]

    def undelivered_alerts(self, server: str | None = None) -> tuple[int, datetime | None]:
        """How many alerts wait, and since when the oldest has waited (for health checks and /stats)."""
        q = "SELECT COUNT(*), MIN(updated_at) FROM outbox WHERE delivered_version < version"
        row = self.db.conn.execute(q + (" AND server = ?" if server else ""), (server,) if server else ()).fetchone()
        return row[0], parse_time(row[1]) if row[1] else None

    def alert_delivered(self, item: OutboxItem, ref: str | None) -> None:
        """Record a delivered version and where the alert lives, so later updates edit it in place."""
        now = iso(utcnow())
        with self._tx():
            self.db.conn.execute(
                "UPDATE outbox SET delivered_version = MAX(delivered_version, ?), attempts = 0, last_error = NULL, "
                "delivered_at = ?, next_attempt_at = ? WHERE id = ?",
                (item.version, now, now, item.id),
            )
            if ref is not None:
                self.db.conn.execute("UPDATE flags SET alert_ref = ? WHERE id = ? AND server = ?", (ref, item.flag_id, item.server))
                if item.incident_id is not None:
                    self.db.conn.execute("UPDATE incidents SET alert_ref = ? WHERE id = ? AND server = ?", (ref, item.incident_id, item.server))

    def alert_failed(self, item: OutboxItem, error: str, retry_at: datetime) -> None:
        self.db.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?", (safe_text(error)[:500], iso(retry_at), item.id)
        )

    def retry_alerts_now(self, server: str) -> int:
        """Make every undelivered alert of a server due now (its destination was just set or came back)."""
        return self.db.conn.execute("UPDATE outbox SET next_attempt_at = ? WHERE server = ? AND delivered_version < version", (iso(utcnow()), server)).rowcount
