"""Shared pieces of the store: its error, time and text helpers, and nested write transactions."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

from classifiers.errors import TriagebotError

EXCERPT_CHARS = 1000


BUSY_TIMEOUT_S = 30.0


PURGED = "[purged]"
#: Action kinds that are messages to moderators or to the member, not moderation: left out of outcomes and histories.
NOT_SHOWN = "('notify', 'appeal_notice', 'appeal_outcome')"


class StoreError(TriagebotError, RuntimeError):
    """A store call that cannot be satisfied (unknown flag, wrong server, bad decision) or a database problem."""


def db_error(path: Path, exc: sqlite3.Error) -> StoreError:
    """One line a person can act on, for whatever SQLite said about the database file."""
    msg = str(exc)
    low = msg.lower()
    if "file is not a database" in low:
        return StoreError(f"{path} is not a SQLite database (wrong file?)")
    if "malformed" in low or "corrupt" in low:
        return StoreError(f"{path} is corrupt ({msg}); restore your latest backup (triagebot db backup) or try: sqlite3 {path} .recover")
    if "readonly" in low or "read-only" in low:
        return StoreError(f"{path} is read-only: triagebot needs write access to it (and to its folder, for the -wal and -shm files)")
    if "locked" in low or "busy" in low:
        return StoreError(
            f"{path} is locked by another process for more than {BUSY_TIMEOUT_S:g} s "
            "(another triagebot, a backup or an open sqlite3 shell?); try again when it is done"
        )
    if "unable to open" in low:
        return StoreError(f"cannot open {path}: check the path and that its folder is writable")
    return StoreError(f"{path}: database error: {msg}")


def inserted_id(cur: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just made (sqlite3 types it as optional; after an INSERT it never is)."""
    rowid = cur.lastrowid
    if rowid is None:
        raise StoreError("the database did not return the id of a new row")
    return rowid


def iso(t: datetime) -> str:
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse_time(s: str) -> datetime:
    return datetime.fromisoformat(s)


def content_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def safe_text(text: str) -> str:
    """Text that SQLite and JSON can hold: lone surrogates and NULs replaced, nothing dropped silently."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, nestable (inner levels are no-ops)."""

    def __init__(self, conn: sqlite3.Connection, gate: threading.Lock | None = None) -> None:
        self.conn = conn
        self.gate = gate
        self.outer = False

    def __enter__(self) -> "_Transaction":
        if not self.conn.in_transaction:
            if self.gate is not None:
                self.gate.acquire()
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                if self.gate is not None:
                    self.gate.release()
                raise
            self.outer = True
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.outer:
            return
        try:
            if exc_type is None:
                self.conn.execute("COMMIT")
            else:
                self.conn.execute("ROLLBACK")
        finally:
            if self.gate is not None:
                self.gate.release()


def _statements(sql: str) -> Iterable[str]:
    for stmt in sql.split(";"):
        if stmt.strip():
            yield stmt


def _chunks(items: list, n: int) -> Iterator[list]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
