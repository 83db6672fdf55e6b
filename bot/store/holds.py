"""Legal holds on flags and incidents, which purge and retention respect."""

from __future__ import annotations

from typing import Any

from bot import audit_chain as chain
from bot.models import utcnow
from bot.store.base import StoreError, iso, safe_text, inserted_id
from bot.store.flags import FlagsStore


class HoldsStore(FlagsStore):
    """Placing, lifting and listing legal holds."""

    HOLD_TARGETS = ("flag", "incident")

    def add_hold(self, server: str, target: str, target_id: int, by: str, reason: str = "") -> int:
        """Place a legal hold on a flag or an incident (all its flags); returns the hold id (the existing one if held)."""
        if target not in self.HOLD_TARGETS:
            raise StoreError(f"a hold is on a flag or an incident, not {target!r}")
        table = "flags" if target == "flag" else "incidents"
        now = iso(utcnow())
        with self._tx():
            if self.db.conn.execute(f"SELECT 1 FROM {table} WHERE id = ? AND server = ?", (target_id, server)).fetchone() is None:
                raise StoreError(f"no {target} #{target_id} in {server}")
            row = self.db.conn.execute(
                "SELECT id FROM holds WHERE server = ? AND target = ? AND target_id = ? AND released_at IS NULL", (server, target, target_id)
            ).fetchone()
            if row:
                return row[0]
            reason = safe_text(reason)[:500]
            cur = self.db.conn.execute(
                "INSERT INTO holds (server, target, target_id, reason, placed_by, placed_at) VALUES (?, ?, ?, ?, ?, ?)",
                (server, target, target_id, reason, by, now),
            )
            self._audit(server, "hold", inserted_id(cur), chain.hold_evidence(target=target, target_id=target_id, by=by, reason=reason, active=True), now)
        return inserted_id(cur)

    def release_hold(self, server: str, target: str, target_id: int, by: str) -> int:
        """Lift the active hold on a flag or incident; returns how many were lifted (0 or 1)."""
        now = iso(utcnow())
        with self._tx():
            rows = self.db.conn.execute(
                "SELECT id, reason FROM holds WHERE server = ? AND target = ? AND target_id = ? AND released_at IS NULL", (server, target, target_id)
            ).fetchall()
            for hold_id, reason in rows:
                self.db.conn.execute("UPDATE holds SET released_by = ?, released_at = ? WHERE id = ?", (by, now, hold_id))
                self._audit(server, "hold_release", hold_id, chain.hold_evidence(target=target, target_id=target_id, by=by, reason=reason, active=False), now)
        return len(rows)

    def holds(self, server: str | None, active_only: bool = True) -> list[dict[str, Any]]:
        q = "SELECT id, server, target, target_id, reason, placed_by, placed_at, released_by, released_at FROM holds"
        clauses, args = [], []
        if server is not None:
            clauses.append("server = ?")
            args.append(server)
        if active_only:
            clauses.append("released_at IS NULL")
        cur = self.db.conn.execute(q + (" WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY id", args)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur]

    def held_flag_ids(self, server: str | None) -> set[int]:
        """Flags under an active hold, directly or through their incident."""
        where, args = ("AND h.server = ?", (server, server)) if server else ("", ())
        q = (
            f"SELECT h.target_id FROM holds h WHERE h.target = 'flag' AND h.released_at IS NULL {where} "
            f"UNION SELECT f.id FROM holds h JOIN flags f ON f.incident_id = h.target_id AND f.server = h.server "
            f"WHERE h.target = 'incident' AND h.released_at IS NULL {where}"
        )
        return {r[0] for r in self.db.conn.execute(q, args)}
