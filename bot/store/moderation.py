"""What people do about a flag: reports, reviews and actions, each audited."""

from __future__ import annotations

from datetime import datetime

from bot import audit_chain as chain
from bot.models import REVIEW_DECISIONS, Action, Review, utcnow
from bot.store.base import NOT_SHOWN, StoreError, iso, safe_text, inserted_id
from bot.store.flags import FlagsStore


class ModerationStore(FlagsStore):
    """Reports, reviews and actions on flags."""

    def reports_since(self, server: str, reporter_id: str, since: datetime) -> int:
        return self.db.conn.execute(
            "SELECT COUNT(*) FROM reports WHERE server = ? AND reporter_id = ? AND created_at >= ?", (server, reporter_id, iso(since))
        ).fetchone()[0]

    def has_reported(self, server: str, flag_id: int, reporter_id: str) -> bool:
        return (
            self.db.conn.execute("SELECT 1 FROM reports WHERE server = ? AND flag_id = ? AND reporter_id = ?", (server, flag_id, reporter_id)).fetchone()
            is not None
        )

    def record_report(self, server: str, flag_id: int, reporter_id: str, reason: str) -> int:
        """Add a report to an existing flag; the flag's count goes up and it re-opens if dismissed."""
        now = iso(utcnow())
        with self._tx():
            self._require_flag(server, flag_id)
            cur = self.db.conn.execute(
                "INSERT INTO reports (server, flag_id, reporter_id, reason, created_at) VALUES (?, ?, ?, ?, ?)",
                (server, flag_id, reporter_id, safe_text(reason)[:1000], now),
            )
            self.db.conn.execute("UPDATE flags SET report_count = report_count + 1, updated_at = ? WHERE id = ?", (now, flag_id))
            self._audit(
                server,
                "report",
                inserted_id(cur),
                chain.report_evidence(server=server, flag_id=flag_id, reporter_id=reporter_id, reason=safe_text(reason)[:1000], created_at=now),
                now,
            )
        return inserted_id(cur)

    def reporters(self, server: str, flag_id: int) -> list[str]:
        """Reporter ids, for moderators only (never shown to the reported member, not exported by default)."""
        return [r[0] for r in self.db.conn.execute("SELECT reporter_id FROM reports WHERE server = ? AND flag_id = ? ORDER BY id", (server, flag_id))]

    def record_review(self, review: Review) -> int:
        if review.decision not in REVIEW_DECISIONS:
            raise StoreError(f"unknown decision {review.decision!r} (expected one of {', '.join(REVIEW_DECISIONS)})")
        status = {"confirm": "confirmed", "dismiss": "dismissed", "escalate": "escalated"}[review.decision]
        now = iso(review.time)
        with self._tx():
            self._require_flag(review.server, review.flag_id)
            cur = self.db.conn.execute(
                "INSERT INTO reviews (server, flag_id, decision, reviewer_id, note, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (review.server, review.flag_id, review.decision, review.reviewer, safe_text(review.note)[:2000], now),
            )
            self.db.conn.execute("UPDATE flags SET status = ?, updated_at = ? WHERE id = ?", (status, now, review.flag_id))
            self._audit(
                review.server,
                "review",
                inserted_id(cur),
                chain.review_evidence(
                    server=review.server,
                    flag_id=review.flag_id,
                    decision=review.decision,
                    reviewer_id=review.reviewer,
                    note=safe_text(review.note)[:2000],
                    status=status,
                    created_at=now,
                ),
                now,
            )
        return inserted_id(cur)

    def record_action(self, action: Action) -> int:
        """Log an action as pending before the adapter tries it."""
        now = iso(utcnow())
        with self._tx():
            self.ensure_server(action.server)
            cur = self.db.conn.execute(
                "INSERT INTO actions (server, flag_id, kind, actor, automatic, dry_run, target_user, duration_s, reason, status, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                (
                    action.server,
                    action.flag_id,
                    action.kind,
                    action.actor,
                    int(action.automatic),
                    int(action.dry_run),
                    action.user_id,
                    action.duration_s,
                    safe_text(action.reason)[:500],
                    now,
                ),
            )
            self._audit(
                action.server,
                "action",
                inserted_id(cur),
                chain.action_evidence(
                    server=action.server,
                    flag_id=action.flag_id,
                    kind=action.kind,
                    actor=action.actor,
                    automatic=int(action.automatic),
                    dry_run=int(action.dry_run),
                    target_user=action.user_id,
                    duration_s=action.duration_s,
                    reason=safe_text(action.reason)[:500],
                    created_at=now,
                ),
                now,
            )
        return inserted_id(cur)

    def complete_action(self, server: str, action_id: int, status: str, detail: str = "") -> None:
        """Record the outcome: ok, error (with the platform's message) or dry-run."""
        now = iso(utcnow())
        with self._tx():
            self.db.conn.execute(
                "UPDATE actions SET status = ?, detail = ?, completed_at = ? WHERE id = ? AND server = ?",
                (status, safe_text(detail)[:1000], now, action_id, server),
            )
            self._audit(server, "action_result", action_id, chain.action_result_evidence(status=status, detail=safe_text(detail)[:1000], completed_at=now), now)

    def actions_for(self, server: str, flag_id: int) -> list[dict]:
        cur = self.db.conn.execute("SELECT * FROM actions WHERE server = ? AND flag_id = ? ORDER BY id", (server, flag_id))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur]

    def outcome_counts(self, server: str, *, flag_id: int | None = None, incident_id: int | None = None) -> list[tuple]:
        """What moderators and automatic actions did to a flag or a whole incident, as aggregates:
        rows of (what, actor, status, duration_s, count), `what` being an action kind or a review decision."""
        if (flag_id is None) == (incident_id is None):
            raise StoreError("outcome_counts needs a flag or an incident")
        scope = ("f.id = ?", flag_id) if flag_id is not None else ("f.incident_id = ?", incident_id)
        acts = self.db.conn.execute(
            "SELECT a.kind, a.actor, a.status, a.duration_s, COUNT(*) FROM actions a JOIN flags f ON f.id = a.flag_id "
            f"WHERE f.server = ? AND {scope[0]} AND a.kind NOT IN {NOT_SHOWN} AND a.status != 'pending' "
            "GROUP BY a.kind, a.actor, a.status, a.duration_s ORDER BY MIN(a.id)",
            (server, scope[1]),
        ).fetchall()
        revs = self.db.conn.execute(
            "SELECT r.decision, r.reviewer_id, 'ok', NULL, COUNT(*) FROM reviews r JOIN flags f ON f.id = r.flag_id "
            f"WHERE f.server = ? AND {scope[0]} GROUP BY r.decision, r.reviewer_id ORDER BY MIN(r.id)",
            (server, scope[1]),
        ).fetchall()
        return [tuple(r) for r in revs + acts]

    def pending_actions(self, since: datetime) -> list[tuple[int, Action]]:
        """Protective actions logged but never finished (the process stopped first), newest window only."""
        rows = self.db.conn.execute(
            "SELECT a.id, a.server, a.flag_id, a.kind, a.actor, a.dry_run, a.target_user, a.duration_s, a.reason, "
            "f.channel_id, f.message_id, f.incident_id, f.link FROM actions a LEFT JOIN flags f ON f.id = a.flag_id "
            "WHERE a.status = 'pending' AND a.kind != 'notify' AND a.created_at >= ? ORDER BY a.id",
            (iso(since),),
        ).fetchall()
        return [
            (
                r[0],
                Action(
                    kind=r[3],
                    server=r[1],
                    flag_id=r[2],
                    channel_id=r[9],
                    message_id=r[10],
                    user_id=r[6],
                    duration_s=r[7],
                    reason=r[8],
                    actor=r[4],
                    dry_run=bool(r[5]),
                    incident_id=r[11],
                    link=r[12],
                ),
            )
            for r in rows
        ]

    def abandon_actions(self, before: datetime) -> int:
        """Pending actions too old to carry out now are closed as errors, so nothing stays pending forever."""
        rows = self.db.conn.execute("SELECT id, server FROM actions WHERE status = 'pending' AND created_at < ?", (iso(before),)).fetchall()
        for action_id, server in rows:
            self.complete_action(server, action_id, "error", "not carried out: the bot stopped before it could")
        return len(rows)
