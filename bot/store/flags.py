"""Flags as moderators see them: look-ups, the queue and views with their verdicts, reports and last review."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Sequence

from bot.models import OPEN_STATUSES
from bot.store.base import StoreError, iso, parse_time, _chunks
from bot.store.views import VerdictRow, FlagView
from bot.store.servers import ServersStore
from bot.store.audit import AuditStore


class FlagsStore(AuditStore, ServersStore):
    """Reading flags and the small updates to them."""

    def find_flag(self, server: str, channel_id: str, message_id: str) -> int | None:
        row = self.db.conn.execute("SELECT id FROM flags WHERE server = ? AND channel_id = ? AND message_id = ?", (server, channel_id, message_id)).fetchone()
        return row[0] if row else None

    def flag(self, server: str, flag_id: int) -> FlagView:
        row = self.db.conn.execute("SELECT * FROM flags WHERE id = ? AND server = ?", (flag_id, server)).fetchone()
        if row is None:
            raise StoreError(f"no flag #{flag_id} in {server}")
        return self._views([row])[0]

    def flag_server(self, flag_id: int) -> str | None:
        """Which server a flag belongs to (admin CLI use: it then scopes every other call)."""
        row = self.db.conn.execute("SELECT server FROM flags WHERE id = ?", (flag_id,)).fetchone()
        return row[0] if row else None

    def _require_flag(self, server: str, flag_id: int) -> None:
        if self.db.conn.execute("SELECT 1 FROM flags WHERE id = ? AND server = ?", (flag_id, server)).fetchone() is None:
            raise StoreError(f"no flag #{flag_id} in {server}")

    def _views(self, rows: Sequence[sqlite3.Row | tuple]) -> list[FlagView]:
        if self._flag_cols is None:
            self._flag_cols = [d[0] for d in self.db.conn.execute("SELECT * FROM flags LIMIT 0").description]
        cols = self._flag_cols
        dicts = [dict(zip(cols, r)) for r in rows]
        ids = [d["id"] for d in dicts]
        verdicts: dict[int, list[VerdictRow]] = {i: [] for i in ids}
        reasons: dict[int, list[str]] = {i: [] for i in ids}
        reviews: dict[int, dict] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for fid, label, score, reason, det in self.db.conn.execute(
                f"SELECT flag_id, label, score, reason, detector FROM verdicts WHERE flag_id IN ({marks}) ORDER BY id", chunk
            ):
                verdicts[fid].append(VerdictRow(label, score, reason, det))
            for fid, reason in self.db.conn.execute(f"SELECT flag_id, reason FROM reports WHERE flag_id IN ({marks}) ORDER BY id", chunk):
                if reason:
                    reasons[fid].append(reason)
            for fid, decision, reviewer, note, at in self.db.conn.execute(
                f"SELECT flag_id, decision, reviewer_id, note, created_at FROM reviews WHERE flag_id IN ({marks}) ORDER BY id", chunk
            ):
                reviews[fid] = {"decision": decision, "reviewer": reviewer, "note": note, "at": at}
        return [
            FlagView(
                id=d["id"],
                server=d["server"],
                platform=d["platform"],
                channel_id=d["channel_id"],
                message_id=d["message_id"],
                author_id=d["author_id"],
                author_name=d["author_name"],
                excerpt=d["excerpt"],
                link=d["link"],
                labels=tuple(x for x in d["labels"].split(",") if x),
                max_score=d["max_score"],
                source=d["source"],
                status=d["status"],
                report_count=d["report_count"],
                created_at=parse_time(d["created_at"]),
                message_time=parse_time(d["message_time"]),
                targets=tuple(json.loads(d["targets"])),
                attachments=tuple(json.loads(d["attachments"])),
                verdicts=tuple(verdicts[d["id"]]),
                report_reasons=tuple(reasons[d["id"]]),
                incident_id=d["incident_id"],
                alert_ref=d["alert_ref"],
                dry_run=bool(d["dry_run"]),
                last_review=reviews.get(d["id"]),
            )
            for d in dicts
        ]

    def queue(self, server: str | None, statuses: Sequence[str] = OPEN_STATUSES, limit: int = 50) -> list[FlagView]:
        """Open items, oldest first. `server=None` reads every server (admin CLI only)."""
        marks = ",".join("?" * len(statuses))
        if server is None:
            rows = self.db.conn.execute(f"SELECT * FROM flags WHERE status IN ({marks}) ORDER BY created_at, id LIMIT ?", (*statuses, limit))
        else:
            rows = self.db.conn.execute(
                f"SELECT * FROM flags WHERE server = ? AND status IN ({marks}) ORDER BY created_at, id LIMIT ?", (server, *statuses, limit)
            )
        return self._views(rows.fetchall())

    def pending_count(self, server: str | None) -> int:
        marks = ",".join("?" * len(OPEN_STATUSES))
        if server is None:
            return self.db.conn.execute(f"SELECT COUNT(*) FROM flags WHERE status IN ({marks})", OPEN_STATUSES).fetchone()[0]
        return self.db.conn.execute(f"SELECT COUNT(*) FROM flags WHERE server = ? AND status IN ({marks})", (server, *OPEN_STATUSES)).fetchone()[0]

    def recent_flag_count(self, server: str, author_id: str, since: datetime) -> int:
        return self.db.conn.execute(
            "SELECT COUNT(*) FROM flags WHERE server = ? AND author_id = ? AND created_at >= ? AND status != 'dismissed'", (server, author_id, iso(since))
        ).fetchone()[0]

    def set_alert_ref(self, server: str, flag_id: int, ref: str | None) -> None:
        self.db.conn.execute("UPDATE flags SET alert_ref = ? WHERE id = ? AND server = ?", (ref, flag_id, server))
