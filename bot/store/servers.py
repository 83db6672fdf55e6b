"""Servers and their runtime (/setup) settings."""

from __future__ import annotations

import json
from typing import Any, Mapping

from bot.audit_chain import canonical
from bot.models import utcnow
from bot.store.base import iso
from bot.store.connection import Connection


class ServersStore(Connection):
    """Servers and their runtime settings."""

    def ensure_server(self, key: str, name: str | None = None) -> None:
        if name is None and key in self._known_servers:
            return
        self._known_servers.add(key)
        now = iso(utcnow())
        self.db.conn.execute(
            "INSERT INTO servers (key, platform, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET name = COALESCE(excluded.name, servers.name)",
            (key, key.split(":", 1)[0], name, now, now),
        )

    def server_overrides(self, key: str) -> dict[str, Any]:
        row = self.db.conn.execute("SELECT settings FROM servers WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else {}

    def set_server_overrides(self, key: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """Merge runtime settings (from /setup); the caller validates them first."""
        self.ensure_server(key)
        merged = self.server_overrides(key)
        for k, v in overrides.items():
            if k == "thresholds":
                merged.setdefault("thresholds", {}).update(v)
            else:
                merged[k] = v
        self.db.conn.execute("UPDATE servers SET settings = ?, updated_at = ? WHERE key = ?", (canonical(merged), iso(utcnow()), key))
        return merged

    def servers(self) -> list[str]:
        return [r[0] for r in self.db.conn.execute("SELECT key FROM servers ORDER BY key")]
