"""A member's record in one server: history, moderators' notes and warnings."""

from __future__ import annotations

from datetime import datetime

from bot.models import utcnow
from bot.store.base import NOT_SHOWN, StoreError, iso, content_sha256, safe_text, inserted_id
from bot.store.views import MemberHistory
from bot.store.incidents import IncidentsStore


class MembersStore(IncidentsStore):
    """Member history and notes."""

    def member_history(self, server: str, user_id: str, limit: int = 20, exclude_flag: int | None = None) -> MemberHistory:
        """A member's flags, decisions and the actions taken on them in one server (never across servers)."""
        skip = exclude_flag if exclude_flag is not None else -1
        by_status = dict(
            self.db.conn.execute(
                "SELECT status, COUNT(*) FROM flags WHERE server = ? AND author_id = ? AND id != ? GROUP BY status", (server, user_id, skip)
            ).fetchall()
        )
        rows = self.db.conn.execute(
            "SELECT * FROM flags WHERE server = ? AND author_id = ? AND id != ? ORDER BY id DESC LIMIT ?", (server, user_id, skip, limit)
        ).fetchall()
        cur = self.db.conn.execute(
            "SELECT kind, status, actor, duration_s, created_at, flag_id FROM actions WHERE server = ? AND target_user = ? "
            f"AND kind NOT IN {NOT_SHOWN} AND status != 'pending' ORDER BY id DESC LIMIT ?",
            (server, user_id, limit),
        )
        cols = [d[0] for d in cur.description]
        actions = tuple(dict(zip(cols, r)) for r in cur.fetchall())
        action_counts = dict(
            self.db.conn.execute(
                f"SELECT kind, COUNT(*) FROM actions WHERE server = ? AND target_user = ? AND kind NOT IN {NOT_SHOWN} AND status = 'ok' GROUP BY kind",
                (server, user_id),
            ).fetchall()
        )
        reports = self.db.conn.execute(
            "SELECT COUNT(*) FROM reports r JOIN flags f ON f.id = r.flag_id WHERE f.server = ? AND f.author_id = ?", (server, user_id)
        ).fetchone()[0]
        return MemberHistory(
            server,
            user_id,
            tuple(self._views(rows)),
            sum(by_status.values()),
            by_status,
            actions,
            action_counts,
            reports,
            tuple(self.notes(server, "member", user_id)) if limit else (),
        )

    NOTE_SUBJECTS = ("flag", "incident", "member")

    def add_note(self, server: str, subject_kind: str, subject_id: str, author_id: str, text: str) -> int:
        """A moderator's note on a flag, an incident or a member; audited like every other decision."""
        if subject_kind not in self.NOTE_SUBJECTS:
            raise StoreError(f"a note is about a flag, an incident or a member, not {subject_kind!r}")
        body = safe_text(text).strip()[:2000]
        if not body:
            raise StoreError("a note needs some text")
        now = iso(utcnow())
        with self._tx():
            if subject_kind == "flag":
                self._require_flag(server, int(subject_id))
            elif subject_kind == "incident":
                self.incident(server, int(subject_id))
            self.ensure_server(server)
            cur = self.db.conn.execute(
                "INSERT INTO notes (server, subject_kind, subject_id, author_id, text, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (server, subject_kind, str(subject_id), author_id, body, now),
            )
            self._audit(
                server,
                "note",
                inserted_id(cur),
                {
                    "server": server,
                    "subject_kind": subject_kind,
                    "subject_id": str(subject_id),
                    "author_id": author_id,
                    "text_sha256": content_sha256(body),
                    "created_at": now,
                },
                now,
            )
        return inserted_id(cur)

    def notes(self, server: str, subject_kind: str, subject_id: str) -> list[dict]:
        """Notes on one subject, oldest first."""
        cur = self.db.conn.execute(
            "SELECT id, author_id, text, created_at FROM notes WHERE server = ? AND subject_kind = ? AND subject_id = ? ORDER BY id",
            (server, subject_kind, str(subject_id)),
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def recent_warnings(self, server: str, user_id: str, since: datetime) -> int:
        """Warnings carried out on a member since `since` (they may count toward an automatic timeout)."""
        return self.db.conn.execute(
            "SELECT COUNT(*) FROM actions WHERE server = ? AND target_user = ? AND kind = 'warn' AND status = 'ok' AND created_at >= ?",
            (server, user_id, iso(since)),
        ).fetchone()[0]
