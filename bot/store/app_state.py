"""Small key/value state the running bot keeps between starts, and Telegram link codes and Discord cursors."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from bot.models import utcnow
from bot.store.base import iso
from bot.store.connection import Connection


class AppStateStore(Connection):
    """Bot state between starts: key/values, one-time link codes, channel cursors."""

    def get_state(self, key: str) -> str | None:
        """A value the running bot keeps between starts (e.g. the registered command-set hash)."""
        row = self.db.conn.execute("SELECT value FROM app_state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_state(self, key: str, value: str) -> None:
        with self._tx():
            self.db.conn.execute(
                "INSERT INTO app_state (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (key, value, iso(utcnow())),
            )

    def put_link_code(self, code: str, server: str, chat_id: int, issued_by: int, expires_at: float, now: float) -> None:
        """A new one-time code for `server`; the server's older codes and every expired code go."""
        with self._tx():
            self.db.conn.execute("DELETE FROM link_codes WHERE server = ? OR expires_at <= ?", (server, now))
            self.db.conn.execute(
                "INSERT OR REPLACE INTO link_codes (code, server, chat_id, issued_by, expires_at) VALUES (?, ?, ?, ?, ?)",
                (code, server, chat_id, issued_by, expires_at),
            )

    def set_link_code_notice(self, code: str, message_id: int) -> None:
        self.db.conn.execute("UPDATE link_codes SET notice_message_id = ? WHERE code = ?", (message_id, code))

    def link_code(self, code: str, now: float, take: bool = False) -> dict | None:
        """The unexpired code's row (server, chat_id, issued_by, expires_at, notice_message_id), or None;
        `take` uses it up."""
        with self._tx():
            self.db.conn.execute("DELETE FROM link_codes WHERE expires_at <= ?", (now,))
            cur = self.db.conn.execute("SELECT server, chat_id, issued_by, expires_at, notice_message_id FROM link_codes WHERE code = ?", (code,))
            row = cur.fetchone()
            if row is not None and take:
                self.db.conn.execute("DELETE FROM link_codes WHERE code = ?", (code,))
        return dict(zip([d[0] for d in cur.description], row)) if row else None

    def save_channel_cursors(self, rows: Sequence[tuple[str, str, int, datetime]]) -> None:
        """Upsert (server, channel, last message id, seen at); a cursor never moves backwards."""
        if not rows:
            return
        with self._tx():
            self.db.conn.executemany(
                "INSERT INTO channel_cursors (server, channel_id, last_message_id, last_seen_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(server, channel_id) DO UPDATE SET "
                "last_message_id = MAX(last_message_id, excluded.last_message_id), "
                "last_seen_at = MAX(last_seen_at, excluded.last_seen_at)",
                [(server, channel, int(mid), iso(seen)) for server, channel, mid, seen in rows],
            )

    def channel_cursors(self, platform: str, since: datetime, limit: int) -> list[dict]:
        """Cursors of channels with a message handled since `since`, most recently active first."""
        rows = self.db.conn.execute(
            "SELECT server, channel_id, last_message_id, last_seen_at FROM channel_cursors "
            "WHERE server LIKE ? AND last_seen_at >= ? ORDER BY last_seen_at DESC LIMIT ?",
            (f"{platform}:%", iso(since), int(limit)),
        ).fetchall()
        return [{"server": r[0], "channel_id": r[1], "last_message_id": int(r[2]), "last_seen_at": r[3]} for r in rows]
