"""Opening the database file: pragmas, schema checks, migrations, backups and the write gate."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Self, Iterator

from bot.models import utcnow
from bot.store.base import BUSY_TIMEOUT_S, StoreError, db_error, iso, _Transaction, _statements
from bot.store.checkpoint import JOURNAL_SIZE_LIMIT, _Checkpointer
from bot.store.migrations import MIGRATIONS

if TYPE_CHECKING:
    import sqlite_utils

log = logging.getLogger(__name__)


#: How long a purge's TRUNCATE may wait for readers before handing the job to the checkpointer.
TRUNCATE_WAIT_S = 1.0


class Connection:
    """The database connection and its lifecycle; every table family builds on it."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None) -> None:
        self.db = db
        self.path = path
        self._known_servers: set[str] = set()
        self._flag_cols: list[str] | None = None
        self._gate = threading.Lock()  # outer write transactions vs the checkpointer's WAL restart
        self._checkpointer: _Checkpointer | None = None

    @classmethod
    def open(cls, path: str | Path, migrate: bool = True) -> Self:
        """Open (creating if needed) and migrate; every database problem becomes one StoreError line."""
        p = Path(path)
        if p.parent and not p.parent.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
        if p.exists() and not os.access(p, os.W_OK):
            raise StoreError(f"{p} is read-only: triagebot needs write access to it (and to its folder, for the -wal and -shm files)")
        try:
            conn = sqlite3.connect(str(p), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise db_error(p, exc) from None
        try:
            return cls._setup(conn, p, migrate)
        except sqlite3.Error as exc:
            conn.close()
            raise db_error(p, exc) from None
        except StoreError:
            conn.close()
            raise

    @classmethod
    def open_reader(cls, path: str | Path) -> Self:
        """A second, read-only connection to a database the bot already opened (and migrated): for a long read,
        such as an export, in a worker thread while the bot keeps writing through its own connection (WAL lets
        readers and the writer go on together). No migration, no checkpointer; writes raise."""
        p = Path(path)
        try:
            conn = sqlite3.connect(str(p), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
            conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA query_only=ON")
        except sqlite3.Error as exc:
            raise db_error(p, exc) from None
        import sqlite_utils

        return cls(sqlite_utils.Database(conn), p)

    @classmethod
    def _setup(cls, conn: sqlite3.Connection, p: Path, migrate: bool) -> Self:
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a committed transaction survives a process crash (SIGKILL);
        # only an OS crash/power cut can lose the last few. See README "Crash safety".
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        # Checkpoints run on a background connection instead of inside whichever write
        # crosses the WAL size limit; that write used to take 10+ ms (the p99 in the benchmark).
        conn.execute("PRAGMA wal_autocheckpoint=0")
        # Erasure must reach the disk: freed cells and pages are zeroed, not just unlinked (the upstream
        # default keeps them), and a WAL reset shrinks the file back to this size instead of keeping its peak.
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
        import sqlite_utils

        store = cls(sqlite_utils.Database(conn), p)
        store._refuse_newer_schema()
        if migrate:
            store.migrate()
        # a writer lock held by someone else for longer than the busy timeout shows up here, as one line,
        # rather than as a traceback in the middle of a command
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        store._checkpointer = _Checkpointer(p, store._gate)
        store._checkpointer.start()
        return store

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.db.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self):
        return _Transaction(self.db.conn, self._gate)

    @contextlib.contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """One consistent view for a multi-query read (an export): rows, audit rows and heads agree.

        Only for a connection nobody else writes through meanwhile (the CLI's, or a bot's event-loop
        thread during a synchronous export).
        """
        if self.db.conn.in_transaction:
            yield
            return
        self.db.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.db.conn.execute("COMMIT")

    def _refuse_newer_schema(self) -> None:
        """A database written by a newer triagebot is refused: this version would misread or damage it."""
        conn = self.db.conn
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'").fetchone() is None:
            return
        newest = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] or 0
        known = max(v for v, _, _ in MIGRATIONS)
        if newest > known:
            raise StoreError(
                f"{self.path} has schema version {newest}, newer than this triagebot knows ({known}); upgrade triagebot to use it (refusing to touch it)"
            )

    def migrate(self) -> list[int]:
        """Apply pending numbered migrations; returns the versions applied now."""
        self._refuse_newer_schema()
        conn = self.db.conn
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
        done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        applied = []
        for version, name, sql in MIGRATIONS:
            if version in done:
                continue
            with self._tx():
                for stmt in _statements(sql):
                    conn.execute(stmt)
                conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", (version, name, iso(utcnow())))
            log.info("applied migration %d: %s", version, name)
            applied.append(version)
        return applied

    def backup(self, dest: str | Path) -> None:
        """A consistent copy of the live database (SQLite online backup API) while writers carry on."""
        d = Path(dest)
        if d.exists():
            raise StoreError(f"{d} already exists; choose a new file name for the backup")
        if not d.parent.is_dir():
            raise StoreError(f"the backup folder {d.parent} does not exist")
        try:
            target = sqlite3.connect(str(d))
            try:
                self.db.conn.backup(target)
            finally:
                target.close()
        except sqlite3.Error as exc:
            raise db_error(d, exc) from None

    def schema_version(self) -> int:
        row = self.db.conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return row[0] or 0

    def integrity_ok(self) -> bool:
        return self.db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def journal_mode(self) -> str:
        return self.db.conn.execute("PRAGMA journal_mode").fetchone()[0]

    def writable(self) -> bool:
        """Can the database take a write right now (health check)? Probed on a short-lived connection of its
        own, so it never touches a transaction in progress; blocks up to 2 s when another writer holds the lock."""
        if self.path is None:
            return True
        try:
            conn = sqlite3.connect(str(self.path), timeout=2)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
            finally:
                conn.close()
            return True
        except sqlite3.Error:
            return False

    def checkpoint_truncate(self) -> bool:
        """Copy the WAL into the database and empty it, so erased content leaves the -wal file too.

        Waits at most TRUNCATE_WAIT_S for other connections (a reader holding an old snapshot, such as an
        export, blocks it): it holds the writer lock meanwhile, and this may run on the bot's event loop.
        Returns False if it was blocked; the background checkpointer then retries until it succeeds.
        """
        conn = self.db.conn
        conn.execute(f"PRAGMA busy_timeout={int(TRUNCATE_WAIT_S * 1000)}")
        try:
            busy, _log_frames, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        if busy:
            log.warning("WAL truncate after a purge was blocked by a reader; the checkpointer retries until it succeeds")
            if self._checkpointer is not None:
                self._checkpointer.request_truncate()
        return not busy
