"""Moderators' own rules per server (terms, allow-listed phrases, exemptions): rows only.

bot/server_rules.py validates and compiles them; adding and removing one is written to the server's audit
chain, because a rule explains the flags it causes (and its removal the ones that stop).
"""

from __future__ import annotations

import sqlite3

from bot.models import utcnow
from bot.store.audit import AuditStore
from bot.store.base import StoreError, inserted_id, iso, safe_text
from bot.store.servers import ServersStore


class RulesStore(AuditStore, ServersStore):
    """The `server_rules` table (migration 13)."""

    def server_rules(self, server: str) -> list[dict]:
        """A server's stored rules, oldest first."""
        cur = self.db.conn.execute(
            "SELECT id, kind, label, pattern, score, added_by, added_at FROM server_rules WHERE server = ? ORDER BY id",
            (server,),
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def add_server_rule(self, server: str, kind: str, label: str, pattern: str, score: float, added_by: str) -> int:
        """Store a rule and write it to the server's audit chain, in one transaction."""
        now = iso(utcnow())
        pattern = safe_text(pattern)
        with self._tx():
            self.ensure_server(server)
            try:
                cur = self.db.conn.execute(
                    "INSERT INTO server_rules (server, kind, label, pattern, score, added_by, added_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (server, kind, label, pattern, float(score), added_by, now),
                )
            except sqlite3.IntegrityError:
                raise StoreError("that rule exists already") from None
            rule_id = inserted_id(cur)
            self._audit(
                server,
                "rule_add",
                rule_id,
                {"server": server, "kind": kind, "label": label, "pattern": pattern, "score": float(score), "by": added_by, "created_at": now},
                now,
            )
        return rule_id

    def remove_server_rule(self, server: str, rule_id: int, removed_by: str) -> bool:
        """Delete a rule; the removal (and what the rule was) goes to the audit chain. False if there was none."""
        now = iso(utcnow())
        with self._tx():
            row = self.db.conn.execute("SELECT kind, label, pattern, score FROM server_rules WHERE server = ? AND id = ?", (server, rule_id)).fetchone()
            if row is None:
                return False
            self.db.conn.execute("DELETE FROM server_rules WHERE id = ?", (rule_id,))
            self._audit(
                server,
                "rule_remove",
                rule_id,
                {"server": server, "kind": row[0], "label": row[1], "pattern": row[2], "score": row[3], "by": removed_by, "created_at": now},
                now,
            )
        return True
