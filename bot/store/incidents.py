"""Incidents: flags aimed at one member grouped into one case, with counts kept incrementally."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from bot.models import OPEN_STATUSES, utcnow
from bot.store.base import StoreError, iso, parse_time, safe_text, inserted_id
from bot.store.views import FlagView, IncidentView
from bot.store.flags import FlagsStore


class IncidentsStore(FlagsStore):
    """Incidents and their flags."""

    def incident_server(self, incident_id: int) -> str | None:
        row = self.db.conn.execute("SELECT server FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return row[0] if row else None

    def open_incident_for(self, server: str, target_id: str, since: datetime) -> int | None:
        row = self.db.conn.execute(
            "SELECT id FROM incidents WHERE server = ? AND target_id = ? AND status = 'open' AND last_at >= ? ORDER BY last_at DESC LIMIT 1",
            (server, target_id, iso(since)),
        ).fetchone()
        return row[0] if row else None

    def attach_to_incident(self, server: str, flag_id: int, target_id: str, incident_id: int | None, at: datetime, target_name: str | None = None) -> int:
        """Put a flag into an incident (a new one when `incident_id` is None) and refresh its counts."""
        t = iso(at)
        with self._tx():
            if incident_id is None:
                cur = self.db.conn.execute(
                    "INSERT INTO incidents (server, target_id, target_name, first_at, last_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (server, target_id, safe_text(target_name)[:100] if target_name else None, t, t, iso(utcnow())),
                )
                incident_id = inserted_id(cur)
            elif target_name:
                self.db.conn.execute("UPDATE incidents SET target_name = ? WHERE id = ? AND target_name IS NULL", (safe_text(target_name)[:100], incident_id))
            # Counts move by this one flag, never by re-reading the incident: a pile-on of thousands of flags
            # would otherwise cost O(flags) per new flag on the message path.
            author_id, flag_labels, message_time = self.db.conn.execute(
                "SELECT author_id, labels, message_time FROM flags WHERE id = ? AND server = ?", (flag_id, server)
            ).fetchone()
            seen_author = (
                self.db.conn.execute(
                    "SELECT 1 FROM flags WHERE server = ? AND author_id = ? AND incident_id = ? LIMIT 1", (server, author_id, incident_id)
                ).fetchone()
                is not None
            )
            self.db.conn.execute("UPDATE flags SET incident_id = ? WHERE id = ? AND server = ?", (incident_id, flag_id, server))
            old_labels = self.db.conn.execute("SELECT labels FROM incidents WHERE id = ?", (incident_id,)).fetchone()[0]
            labels = [x for x in old_labels.split(",") if x]
            labels += [x for x in flag_labels.split(",") if x and x not in labels]
            self.db.conn.execute(
                "UPDATE incidents SET flag_count = flag_count + 1, author_count = author_count + ?, "
                "first_at = MIN(first_at, ?), last_at = MAX(last_at, ?, ?), labels = ? WHERE id = ?",
                (0 if seen_author else 1, message_time, message_time, t, ",".join(labels), incident_id),
            )
        return incident_id

    def incident(self, server: str, incident_id: int, with_flags: bool = False) -> IncidentView:
        """One incident; aggregates only, so building an alert stays cheap however big the pile-on."""
        row = self.db.conn.execute(
            "SELECT id, server, target_id, status, first_at, last_at, flag_count, author_count, labels, alert_ref, target_name FROM incidents WHERE id = ? AND server = ?",
            (incident_id, server),
        ).fetchone()
        if row is None:
            raise StoreError(f"no incident #{incident_id} in {server}")
        marks = ",".join("?" * len(OPEN_STATUSES))
        first, n_open = self.db.conn.execute(
            f"SELECT MIN(id), SUM(status IN ({marks})) FROM flags WHERE incident_id = ?", (*OPEN_STATUSES, incident_id)
        ).fetchone()
        ids: tuple[int, ...] = ()
        if with_flags:
            ids = tuple(r[0] for r in self.db.conn.execute("SELECT id FROM flags WHERE incident_id = ? ORDER BY id", (incident_id,)))
        status = "open" if n_open else "reviewed"
        return IncidentView(
            row[0],
            row[1],
            row[2],
            status,
            parse_time(row[4]),
            parse_time(row[5]),
            row[6],
            row[7],
            tuple(x for x in row[8].split(",") if x),
            row[9],
            ids,
            row[10],
            first,
        )

    def incidents(self, server: str | None, min_flags: int = 2, open_only: bool = True, limit: int = 50, with_flags: bool = False) -> list[IncidentView]:
        """Incidents with at least `min_flags` flags, newest first; `open_only` = some flag still awaits review."""
        q = "SELECT i.id, i.server FROM incidents i WHERE i.flag_count >= ?"
        args: list[Any] = [min_flags]
        if server is not None:
            q += " AND i.server = ?"
            args.append(server)
        if open_only:
            marks = ",".join("?" * len(OPEN_STATUSES))
            q += f" AND EXISTS (SELECT 1 FROM flags f WHERE f.incident_id = i.id AND f.status IN ({marks}))"
            args += OPEN_STATUSES
        q += " ORDER BY i.last_at DESC LIMIT ?"
        args.append(limit)
        return [self.incident(s, i, with_flags) for i, s in self.db.conn.execute(q, args).fetchall()]

    def set_incident_alert_ref(self, server: str, incident_id: int, ref: str | None) -> None:
        self.db.conn.execute("UPDATE incidents SET alert_ref = ? WHERE id = ? AND server = ?", (ref, incident_id, server))

    def incident_flags(self, server: str, incident_id: int, offset: int = 0, limit: int = 50, statuses: Sequence[str] | None = None) -> list[FlagView]:
        """The incident's flags, oldest first, a page at a time (pile-ons can hold thousands)."""
        q = "SELECT * FROM flags WHERE server = ? AND incident_id = ?"
        args: list[Any] = [server, incident_id]
        if statuses is not None:
            q += f" AND status IN ({','.join('?' * len(statuses))})"
            args += list(statuses)
        rows = self.db.conn.execute(q + " ORDER BY id LIMIT ? OFFSET ?", (*args, limit, offset)).fetchall()
        return self._views(rows)

    def incident_targets(self, server: str, incident_id: int) -> list[tuple[int, str, str, str, str | None]]:
        """(flag id, channel id, message id, author id, link) of every flag in an incident, oldest first: what
        incident-level actions act on, without building full views."""
        return [
            tuple(r)
            for r in self.db.conn.execute(
                "SELECT id, channel_id, message_id, author_id, link FROM flags WHERE server = ? AND incident_id = ? ORDER BY id", (server, incident_id)
            )
        ]

    def incident_open_flag_ids(self, server: str, incident_id: int) -> list[int]:
        marks = ",".join("?" * len(OPEN_STATUSES))
        return [
            r[0]
            for r in self.db.conn.execute(
                f"SELECT id FROM flags WHERE server = ? AND incident_id = ? AND status IN ({marks}) ORDER BY id", (server, incident_id, *OPEN_STATUSES)
            )
        ]
