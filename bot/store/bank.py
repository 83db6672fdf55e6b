"""The protected-image bank: fingerprints only, never pixels."""

from __future__ import annotations

import sqlite3
from typing import Sequence

from bot.models import utcnow
from bot.store.base import iso, safe_text, inserted_id
from bot.store.flags import FlagsStore


class BankStore(FlagsStore):
    """Bank entries and the fingerprints of flagged images."""

    def add_bank_entry(
        self,
        scope: str,
        records: Sequence[tuple[str, bytes]],
        note: str | None,
        source: str,
        registered_by: str | None,
        protects: str | None = None,
        flag_id: int | None = None,
    ) -> int:
        """Keep only hashes/features of an image; the image itself never reaches the store."""
        with self._tx():
            cur = self.db.conn.execute(
                "INSERT INTO bank_entries (scope, note, source, registered_by, protects, created_at, flag_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (scope, safe_text(note or "")[:500], source, registered_by, protects, iso(utcnow()), flag_id),
            )
            self.db.conn.executemany(
                "INSERT INTO image_hashes (entry_id, kind, data) VALUES (?, ?, ?)", [(inserted_id(cur), kind, sqlite3.Binary(data)) for kind, data in records]
            )
        return inserted_id(cur)

    def move_bank_entries(self, old_scope: str, new_scope: str) -> int:
        """Re-scope a server's bank entries (a Telegram group's new id after an upgrade); returns how many."""
        with self._tx():
            cur = self.db.conn.execute("UPDATE bank_entries SET scope = ? WHERE scope = ?", (new_scope, old_scope))
        return cur.rowcount

    def bank_list(self, scope: str | None = None, registered_by: str | None = None) -> list[dict]:
        """Bank entries without their hashes, newest first: for a victim's /unprotect and `bank list`.
        `scope=None` lists every scope (admin CLI only)."""
        clauses, args = [], []
        if scope is not None:
            clauses.append("scope = ?")
            args.append(scope)
        if registered_by is not None:
            clauses.append("registered_by = ?")
            args.append(registered_by)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        cur = self.db.conn.execute(
            f"SELECT id, scope, note, source, registered_by, protects, created_at, flag_id FROM bank_entries {where} ORDER BY id DESC", tuple(args)
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def remove_bank_entry(self, entry_id: int, scope: str | None = None, registered_by: str | None = None) -> bool:
        """Delete an entry and every hash of it. With `scope`/`registered_by`, only when it matches them (a member
        can remove only what she registered, in her server). Returns whether anything was removed."""
        q, args = "DELETE FROM bank_entries WHERE id = ?", [entry_id]  # type: str, list[object]
        if scope is not None:
            q += " AND scope = ?"
            args.append(scope)
        if registered_by is not None:
            q += " AND registered_by = ?"
            args.append(registered_by)
        with self._tx():  # image_hashes go with it (ON DELETE CASCADE, foreign keys on)
            removed = self.db.conn.execute(q, tuple(args)).rowcount
        return bool(removed)

    def remove_bank_entries_of(self, registered_by: str, scope: str | None = None) -> list[int]:
        """Delete every entry this person registered (in one scope, or all): `purge --user ID --bank`,
        a privacy request that covers the pictures she registered too. Returns the removed ids."""
        q, args = "SELECT id FROM bank_entries WHERE registered_by = ?", [registered_by]  # type: str, list[object]
        if scope is not None:
            q += " AND scope = ?"
            args.append(scope)
        with self._tx():
            ids = [r[0] for r in self.db.conn.execute(q, tuple(args))]
            self.db.conn.executemany("DELETE FROM bank_entries WHERE id = ?", [(i,) for i in ids])
        return ids

    def bank_entries(self, scopes: Sequence[str]) -> list[tuple[int, list[tuple[str, bytes]]]]:
        if not scopes:
            return []
        marks = ",".join("?" * len(scopes))
        out: dict[int, list[tuple[str, bytes]]] = {}
        for entry_id, kind, data in self.db.conn.execute(
            f"SELECT h.entry_id, h.kind, h.data FROM image_hashes h JOIN bank_entries e ON e.id = h.entry_id "
            f"WHERE e.scope IN ({marks}) ORDER BY h.entry_id, h.id",
            tuple(scopes),
        ):
            out.setdefault(entry_id, []).append((kind, bytes(data)))
        return list(out.items())

    def save_flag_images(self, server: str, flag_id: int, images: Sequence[Sequence[tuple[str, bytes]]]) -> None:
        """Fingerprints (never pixels) of a flagged message's images, so a confirm can bank them."""
        with self._tx():
            self._require_flag(server, flag_id)
            self.db.conn.executemany(
                "INSERT INTO flag_image_hashes (flag_id, image_no, kind, data) VALUES (?, ?, ?, ?)",
                [(flag_id, n, kind, sqlite3.Binary(data)) for n, records in enumerate(images) for kind, data in records],
            )

    def flag_images(self, server: str, flag_id: int) -> list[list[tuple[str, bytes]]]:
        self._require_flag(server, flag_id)
        out: dict[int, list[tuple[str, bytes]]] = {}
        for n, kind, data in self.db.conn.execute("SELECT image_no, kind, data FROM flag_image_hashes WHERE flag_id = ? ORDER BY image_no, id", (flag_id,)):
            out.setdefault(n, []).append((kind, bytes(data)))
        return [out[k] for k in sorted(out)]

    def bank_entries_from_flag(self, flag_id: int) -> list[int]:
        return [r[0] for r in self.db.conn.execute("SELECT id FROM bank_entries WHERE flag_id = ?", (flag_id,))]

    def bank_entry(self, entry_id: int) -> dict | None:
        cur = self.db.conn.execute("SELECT id, scope, note, source, registered_by, protects, created_at, flag_id FROM bank_entries WHERE id = ?", (entry_id,))
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row)) if row else None

    def bank_size(self, scopes: Sequence[str] | None = None) -> int:
        if scopes is None:
            return self.db.conn.execute("SELECT COUNT(*) FROM bank_entries").fetchone()[0]
        marks = ",".join("?" * len(scopes))
        return self.db.conn.execute(f"SELECT COUNT(*) FROM bank_entries WHERE scope IN ({marks})", tuple(scopes)).fetchone()[0]
