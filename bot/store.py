"""The only SQL in triagebot: one SQLite file (WAL) behind typed, server-scoped functions.

Bots and the CLI share this API. Every audited write (flag, report, review, action,
action result, purge) appends a row to a per-server hash chain in the same transaction,
so evidence can later be shown to be unaltered.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

if TYPE_CHECKING:  # imported in Store.open: it pulls numpy (and pandas when installed) into every CLI start
    import sqlite_utils

from bot import audit_chain as chain
from bot.audit_chain import GENESIS, ChainProblem, ChainReport, canonical, chain_hash  # noqa: F401 (re-exported)
from bot.migrations import MIGRATIONS
from classifiers.errors import TriagebotError
from classifiers.base import max_scores
from bot.models import OPEN_STATUSES, REVIEW_DECISIONS, Action, Decision, Message, Review, utcnow

log = logging.getLogger(__name__)

EXCERPT_CHARS = 1000
#: how long a statement waits for another connection's write lock before giving up
BUSY_TIMEOUT_S = 30.0
#: bytes a reset WAL is truncated back to (PRAGMA journal_size_limit)
JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024
#: above this the background checkpointer waits for a gap between writers and restarts the WAL
WAL_RESTART_BYTES = 16 * 1024 * 1024
PURGED = "[purged]"


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
        return StoreError(f"{path} is locked by another process for more than {BUSY_TIMEOUT_S:g} s "
                          "(another triagebot, a backup or an open sqlite3 shell?); try again when it is done")
    if "unable to open" in low:
        return StoreError(f"cannot open {path}: check the path and that its folder is writable")
    return StoreError(f"{path}: database error: {msg}")


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


@dataclass(frozen=True)
class VerdictRow:
    label: str
    score: float
    reason: str
    detector: str


@dataclass(frozen=True)
class FlagView:
    """One queue item as moderators see it (no reporter identities)."""

    id: int
    server: str
    platform: str
    channel_id: str
    message_id: str
    author_id: str
    author_name: str | None
    excerpt: str | None
    link: str | None
    labels: tuple[str, ...]
    max_score: float
    source: str
    status: str
    report_count: int
    created_at: datetime
    message_time: datetime
    targets: tuple[str, ...]
    attachments: tuple[dict, ...]
    verdicts: tuple[VerdictRow, ...] = ()
    report_reasons: tuple[str, ...] = ()
    incident_id: int | None = None
    alert_ref: str | None = None
    dry_run: bool = False
    last_review: dict | None = None

    @property
    def scores(self) -> dict[str, float]:
        return max_scores(self.verdicts)

    @property
    def reasons(self) -> tuple[str, ...]:
        seen: list[str] = []
        for v in sorted(self.verdicts, key=lambda v: -v.score):
            if v.reason and v.label in self.labels and v.reason not in seen:
                seen.append(v.reason)
        return tuple(seen)


@dataclass(frozen=True)
class IncidentView:
    id: int
    server: str
    target_id: str
    status: str
    first_at: datetime
    last_at: datetime
    flag_count: int
    author_count: int
    labels: tuple[str, ...]
    alert_ref: str | None
    flag_ids: tuple[int, ...] = ()  # filled only when asked for (`with_flags`): a pile-on can hold thousands
    target_name: str | None = None
    first_flag_id: int | None = None


@dataclass(frozen=True)
class PurgePlan:
    """What a purge would erase, and what a legal hold keeps: shown before anything is erased."""

    flag_ids: tuple[int, ...]
    held_ids: tuple[int, ...]
    servers: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.flag_ids)


@dataclass
class FlagResult:
    flag_id: int
    created: bool
    incident_id: int | None = None
    actions: tuple[tuple[int, Action], ...] = ()  # protective actions logged as pending, with their ids


@dataclass(frozen=True)
class MemberHistory:
    """What the record holds about one member of one server, newest first (moderators only)."""

    server: str
    user_id: str
    flags: tuple[FlagView, ...]  # their flagged messages, newest first, up to the limit asked for
    flag_total: int
    by_status: Mapping[str, int]
    actions: tuple[dict, ...]  # finished actions on them (kind, status, actor, duration_s, created_at, flag_id)
    action_counts: Mapping[str, int]  # carried-out actions by kind
    reports_against: int
    notes: tuple[dict, ...] = ()  # moderators' notes on the member, oldest first


@dataclass(frozen=True)
class OutboxItem:
    """An alert waiting to be posted or edited: the newest flag of its subject (an incident or a lone flag)."""

    id: int
    server: str
    subject: str
    flag_id: int
    incident_id: int | None
    version: int
    attempts: int
    created_at: datetime


class Store:
    """Open with `Store.open(path)`; migrations run on open."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None) -> None:
        self.db = db
        self.path = path
        self._known_servers: set[str] = set()
        self._flag_cols: list[str] | None = None
        self._gate = threading.Lock()  # outer write transactions vs the checkpointer's WAL restart

    # ---- lifecycle -----------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, migrate: bool = True) -> "Store":
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
    def _setup(cls, conn: sqlite3.Connection, p: Path, migrate: bool) -> "Store":
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
        if getattr(self, "_checkpointer", None) is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.db.conn.close()

    def __enter__(self) -> "Store":
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
            raise StoreError(f"{self.path} has schema version {newest}, newer than this triagebot knows ({known}); "
                             "upgrade triagebot to use it (refusing to touch it)")

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

    # ---- app state (migration 10) ------------------------------------------------------
    def get_state(self, key: str) -> str | None:
        """A value the running bot keeps between starts (e.g. the registered command-set hash)."""
        row = self.db.conn.execute("SELECT value FROM app_state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_state(self, key: str, value: str) -> None:
        with self._tx():
            self.db.conn.execute("INSERT INTO app_state (key, value, updated_at) VALUES (?, ?, ?) "
                                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                                 (key, value, iso(utcnow())))

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

    # ---- servers -------------------------------------------------------------------
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

    # ---- audit chain ---------------------------------------------------------------
    def _audit(self, server: str, kind: str, ref_id: int, payload: Mapping[str, Any], created_at: str) -> str:
        conn = self.db.conn
        row = conn.execute("SELECT seq, row_hash FROM audit WHERE server = ? ORDER BY seq DESC LIMIT 1", (server,)).fetchone()
        seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
        body = canonical(payload)
        h = chain_hash(prev, server, seq, kind, ref_id, body, created_at)
        conn.execute(
            "INSERT INTO audit (server, seq, kind, ref_id, payload, prev_hash, row_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (server, seq, kind, ref_id, body, prev, h, created_at),
        )
        return h

    def chain_head(self, server: str) -> str:
        row = self.db.conn.execute("SELECT row_hash FROM audit WHERE server = ? ORDER BY seq DESC LIMIT 1", (server,)).fetchone()
        return row[0] if row else GENESIS

    def audit_hashes(self, server: str, kind: str, ref_ids: Sequence[int]) -> dict[int, str]:
        """Latest chain hash per referenced row, for exports."""
        out: dict[int, str] = {}
        for chunk in _chunks(list(ref_ids), 500):
            q = f"SELECT ref_id, row_hash FROM audit WHERE server = ? AND kind = ? AND ref_id IN ({','.join('?' * len(chunk))}) ORDER BY seq"
            for ref, h in self.db.conn.execute(q, (server, kind, *chunk)):
                out[ref] = h
        return out

    def verify_chain(self, server: str | None = None, expect_head: tuple[str, int | None] | None = None) -> list[ChainReport]:
        """Recompute every server's chain and compare every audited field with the live rows.

        `expect_head` (hash, count) is a head witnessed outside the database; with it a cut-off tail or a
        rewritten chain is caught. Without `server` it must be found in one of the chains.
        """
        servers = [server] if server else [r[0] for r in self.db.conn.execute("SELECT DISTINCT server FROM audit ORDER BY server")]
        reports = [chain.verify(s, self._audit_rows(s), self._live_rows(s), expect_head if server else None) for s in servers]
        if expect_head and not server:
            holder = self.head_server(expect_head[0])
            if holder is None:
                reports.append(chain.verify("(any server)", [], chain.LiveRows(), expect_head))
            else:
                i = servers.index(holder)
                reports[i] = chain.verify(holder, self._audit_rows(holder), self._live_rows(holder), expect_head)
        return reports

    def head_server(self, row_hash: str) -> str | None:
        row = self.db.conn.execute("SELECT server FROM audit WHERE row_hash = ? LIMIT 1", (row_hash,)).fetchone()
        return row[0] if row else None

    def chain_anchor(self, server: str) -> tuple[str, int, str | None]:
        """The head to witness outside the database: (hash, row count, time of the last row)."""
        row = self.db.conn.execute("SELECT row_hash, seq, created_at FROM audit WHERE server = ? ORDER BY seq DESC LIMIT 1", (server,)).fetchone()
        return (row[0], row[1], row[2]) if row else (GENESIS, 0, None)

    def _audit_rows(self, server: str) -> Iterator[chain.AuditRow]:
        return self.db.conn.execute(
            "SELECT seq, kind, ref_id, payload, prev_hash, row_hash, created_at FROM audit WHERE server = ? ORDER BY id", (server,))

    def _live_rows(self, server: str) -> chain.LiveRows:
        """One server's evidence rows, loaded whole for the replay (about 1 KB per flag)."""
        c = self.db.conn
        live = chain.LiveRows()

        def load(table: str, cols: str) -> dict[int, dict[str, Any]]:
            cur = c.execute(f"SELECT id, {cols} FROM {table} WHERE server = ?", (server,))
            names = [d[0] for d in cur.description]
            return {r[0]: dict(zip(names, r)) for r in cur}
        live.flags = load("flags", "server, platform, channel_id, message_id, author_id, content_sha256, excerpt, targets, labels, "
                                   "max_score, source, status, report_count, dry_run, message_time, created_at, content_purged_at")
        live.reports = load("reports", "server, flag_id, reporter_id, reason, created_at")
        live.reviews = load("reviews", "server, flag_id, decision, reviewer_id, note, created_at")
        live.holds = load("holds", "target, target_id, reason, placed_by, released_by")
        live.actions = load("actions", "server, flag_id, kind, actor, automatic, dry_run, target_user, duration_s, reason, status, detail, "
                                       "created_at, completed_at")
        for fid, label, score, reason, det in c.execute(
                "SELECT v.flag_id, v.label, v.score, v.reason, v.detector FROM verdicts v JOIN flags f ON f.id = v.flag_id "
                "WHERE f.server = ? ORDER BY v.id", (server,)):
            live.verdicts.setdefault(fid, []).append((label, score, reason, det))
        return live

    # ---- flags ---------------------------------------------------------------------
    def record_flag(self, message: Message, decision: Decision, source: str = "detector",
                    incident_window_minutes: int | None = None, alert: bool = True,
                    ping_at: int | None = None) -> FlagResult:
        """Store (or extend) the flag for a message before any action is attempted.

        One transaction holds everything a flag needs to survive a crash: the flag, its verdicts, its audit
        row, its incident (a new flag aimed at someone joins the open incident for that member within
        `incident_window_minutes`), the outbox row that will post or update its alert, and the protective
        actions of `decision` logged as pending. Nothing here waits on a platform.

        With `ping_at`, an escalation ping is queued too when this flag makes its incident reach `ping_at`
        flags, or when it is a re-share of a protected picture.
        """
        server = message.server
        now = iso(utcnow())
        text = safe_text(message.text)
        labels = ",".join(decision.labels)
        scores = decision.scores
        top = max((scores.get(label, 0.0) for label in decision.labels), default=0.0)
        atts = [{"kind": a.kind, "mime": a.mime, "size": a.size, "width": a.width, "height": a.height, "url": a.url, "filename": a.filename}
                for a in message.attachments]
        with self._tx():
            self.ensure_server(server)
            existing = self.db.conn.execute(
                "SELECT id, labels, max_score FROM flags WHERE server = ? AND channel_id = ? AND message_id = ?",
                (server, message.channel_id, message.message_id)).fetchone()
            if existing:
                flag_id = existing[0]
                merged = [x for x in existing[1].split(",") if x]
                merged += [x for x in decision.labels if x not in merged]
                self.db.conn.execute(
                    "UPDATE flags SET labels = ?, max_score = MAX(max_score, ?), updated_at = ?, excerpt = COALESCE(?, excerpt) WHERE id = ?",
                    (",".join(merged), top, now, text[:EXCERPT_CHARS] if message.edited else None, flag_id))
                created = False
                labels, top = ",".join(merged), max(existing[2], top)
            else:
                cur = self.db.conn.execute(
                    "INSERT INTO flags (server, platform, channel_id, message_id, author_id, author_name, excerpt, content_sha256, link, "
                    "targets, attachments, labels, max_score, source, dry_run, message_time, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (server, message.platform, message.channel_id, message.message_id, message.author_id,
                     safe_text(message.author_name) if message.author_name else None, text[:EXCERPT_CHARS],
                     content_sha256(text), message.link, json.dumps(list(message.targets)), json.dumps(atts), labels, top,
                     source, int(decision.dry_run), iso(message.time), now, now))
                flag_id = cur.lastrowid
                created = True
            vrows = _verdict_rows(decision, labels_of=decision.labels)
            self.db.conn.executemany(
                "INSERT INTO verdicts (flag_id, label, score, reason, detector) VALUES (?, ?, ?, ?, ?)",
                [(flag_id, *v) for v in vrows])
            if created:
                self._audit(server, "flag", flag_id, _flag_evidence(message, text, labels, top, source, decision.dry_run, vrows, now), now)
            else:
                self._audit(server, "flag_update", flag_id, chain.flag_update_evidence(
                    labels=labels, max_score=top, excerpt=text[:EXCERPT_CHARS], edited=message.edited, verdicts=vrows), now)
            incident_id = None
            if created and incident_window_minutes is not None and message.targets:
                target = message.targets[0]
                since = message.time - timedelta(minutes=incident_window_minutes)
                incident_id = self.attach_to_incident(server, flag_id, target, self.open_incident_for(server, target, since),
                                                      message.time, message.target_name(target))
            elif not created:
                incident_id = self.db.conn.execute("SELECT incident_id FROM flags WHERE id = ?", (flag_id,)).fetchone()[0]
            if alert:
                self._enqueue_alert(server, flag_id, incident_id, now)
            if ping_at is not None and created:
                self._enqueue_ping(server, flag_id, incident_id, ping_at, "reshare" in decision.labels, now)
            logged = tuple((self.record_action(replace(a, flag_id=flag_id, incident_id=incident_id)),
                            replace(a, flag_id=flag_id, incident_id=incident_id, link=message.link))
                           for a in decision.actions)
        return FlagResult(flag_id, created, incident_id, logged)

    def find_flag(self, server: str, channel_id: str, message_id: str) -> int | None:
        row = self.db.conn.execute("SELECT id FROM flags WHERE server = ? AND channel_id = ? AND message_id = ?",
                                   (server, channel_id, message_id)).fetchone()
        return row[0] if row else None

    def flag(self, server: str, flag_id: int) -> FlagView:
        row = self.db.conn.execute("SELECT * FROM flags WHERE id = ? AND server = ?", (flag_id, server)).fetchone()
        if row is None:
            raise StoreError(f"no flag #{flag_id} in {server}")
        return self._views([row])[0]

    def incident_server(self, incident_id: int) -> str | None:
        row = self.db.conn.execute("SELECT server FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return row[0] if row else None

    def flag_server(self, flag_id: int) -> str | None:
        """Which server a flag belongs to (admin CLI use: it then scopes every other call)."""
        row = self.db.conn.execute("SELECT server FROM flags WHERE id = ?", (flag_id,)).fetchone()
        return row[0] if row else None

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
                    f"SELECT flag_id, label, score, reason, detector FROM verdicts WHERE flag_id IN ({marks}) ORDER BY id", chunk):
                verdicts[fid].append(VerdictRow(label, score, reason, det))
            for fid, reason in self.db.conn.execute(
                    f"SELECT flag_id, reason FROM reports WHERE flag_id IN ({marks}) ORDER BY id", chunk):
                if reason:
                    reasons[fid].append(reason)
            for fid, decision, reviewer, note, at in self.db.conn.execute(
                    f"SELECT flag_id, decision, reviewer_id, note, created_at FROM reviews WHERE flag_id IN ({marks}) ORDER BY id", chunk):
                reviews[fid] = {"decision": decision, "reviewer": reviewer, "note": note, "at": at}
        return [FlagView(
            id=d["id"], server=d["server"], platform=d["platform"], channel_id=d["channel_id"], message_id=d["message_id"],
            author_id=d["author_id"], author_name=d["author_name"], excerpt=d["excerpt"], link=d["link"],
            labels=tuple(x for x in d["labels"].split(",") if x), max_score=d["max_score"], source=d["source"],
            status=d["status"], report_count=d["report_count"], created_at=parse_time(d["created_at"]),
            message_time=parse_time(d["message_time"]), targets=tuple(json.loads(d["targets"])),
            attachments=tuple(json.loads(d["attachments"])), verdicts=tuple(verdicts[d["id"]]),
            report_reasons=tuple(reasons[d["id"]]), incident_id=d["incident_id"], alert_ref=d["alert_ref"],
            dry_run=bool(d["dry_run"]), last_review=reviews.get(d["id"])) for d in dicts]

    def queue(self, server: str | None, statuses: Sequence[str] = OPEN_STATUSES, limit: int = 50) -> list[FlagView]:
        """Open items, oldest first. `server=None` reads every server (admin CLI only)."""
        marks = ",".join("?" * len(statuses))
        if server is None:
            rows = self.db.conn.execute(f"SELECT * FROM flags WHERE status IN ({marks}) ORDER BY created_at, id LIMIT ?", (*statuses, limit))
        else:
            rows = self.db.conn.execute(f"SELECT * FROM flags WHERE server = ? AND status IN ({marks}) ORDER BY created_at, id LIMIT ?",
                                        (server, *statuses, limit))
        return self._views(rows.fetchall())

    def pending_count(self, server: str | None) -> int:
        marks = ",".join("?" * len(OPEN_STATUSES))
        if server is None:
            return self.db.conn.execute(f"SELECT COUNT(*) FROM flags WHERE status IN ({marks})", OPEN_STATUSES).fetchone()[0]
        return self.db.conn.execute(f"SELECT COUNT(*) FROM flags WHERE server = ? AND status IN ({marks})", (server, *OPEN_STATUSES)).fetchone()[0]

    def recent_flag_count(self, server: str, author_id: str, since: datetime) -> int:
        return self.db.conn.execute(
            "SELECT COUNT(*) FROM flags WHERE server = ? AND author_id = ? AND created_at >= ? AND status != 'dismissed'",
            (server, author_id, iso(since))).fetchone()[0]

    def set_alert_ref(self, server: str, flag_id: int, ref: str | None) -> None:
        self.db.conn.execute("UPDATE flags SET alert_ref = ? WHERE id = ? AND server = ?", (ref, flag_id, server))

    # ---- reports -------------------------------------------------------------------
    def reports_since(self, server: str, reporter_id: str, since: datetime) -> int:
        return self.db.conn.execute("SELECT COUNT(*) FROM reports WHERE server = ? AND reporter_id = ? AND created_at >= ?",
                                    (server, reporter_id, iso(since))).fetchone()[0]

    def has_reported(self, server: str, flag_id: int, reporter_id: str) -> bool:
        return self.db.conn.execute("SELECT 1 FROM reports WHERE server = ? AND flag_id = ? AND reporter_id = ?",
                                    (server, flag_id, reporter_id)).fetchone() is not None

    def record_report(self, server: str, flag_id: int, reporter_id: str, reason: str) -> int:
        """Add a report to an existing flag; the flag's count goes up and it re-opens if dismissed."""
        now = iso(utcnow())
        with self._tx():
            self._require_flag(server, flag_id)
            cur = self.db.conn.execute("INSERT INTO reports (server, flag_id, reporter_id, reason, created_at) VALUES (?, ?, ?, ?, ?)",
                                       (server, flag_id, reporter_id, safe_text(reason)[:1000], now))
            self.db.conn.execute("UPDATE flags SET report_count = report_count + 1, updated_at = ? WHERE id = ?", (now, flag_id))
            self._audit(server, "report", cur.lastrowid, chain.report_evidence(
                server=server, flag_id=flag_id, reporter_id=reporter_id, reason=safe_text(reason)[:1000], created_at=now), now)
        return cur.lastrowid

    def reporters(self, server: str, flag_id: int) -> list[str]:
        """Reporter ids, for moderators only (never shown to the reported member, not exported by default)."""
        return [r[0] for r in self.db.conn.execute("SELECT reporter_id FROM reports WHERE server = ? AND flag_id = ? ORDER BY id", (server, flag_id))]

    def _require_flag(self, server: str, flag_id: int) -> None:
        if self.db.conn.execute("SELECT 1 FROM flags WHERE id = ? AND server = ?", (flag_id, server)).fetchone() is None:
            raise StoreError(f"no flag #{flag_id} in {server}")

    # ---- reviews -------------------------------------------------------------------
    def record_review(self, review: Review) -> int:
        if review.decision not in REVIEW_DECISIONS:
            raise StoreError(f"unknown decision {review.decision!r} (expected one of {', '.join(REVIEW_DECISIONS)})")
        status = {"confirm": "confirmed", "dismiss": "dismissed", "escalate": "escalated"}[review.decision]
        now = iso(review.time)
        with self._tx():
            self._require_flag(review.server, review.flag_id)
            cur = self.db.conn.execute(
                "INSERT INTO reviews (server, flag_id, decision, reviewer_id, note, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (review.server, review.flag_id, review.decision, review.reviewer, safe_text(review.note)[:2000], now))
            self.db.conn.execute("UPDATE flags SET status = ?, updated_at = ? WHERE id = ?", (status, now, review.flag_id))
            self._audit(review.server, "review", cur.lastrowid, chain.review_evidence(
                server=review.server, flag_id=review.flag_id, decision=review.decision, reviewer_id=review.reviewer,
                note=safe_text(review.note)[:2000], status=status, created_at=now), now)
        return cur.lastrowid

    # ---- actions -------------------------------------------------------------------
    def record_action(self, action: Action) -> int:
        """Log an action as pending before the adapter tries it."""
        now = iso(utcnow())
        with self._tx():
            self.ensure_server(action.server)
            cur = self.db.conn.execute(
                "INSERT INTO actions (server, flag_id, kind, actor, automatic, dry_run, target_user, duration_s, reason, status, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                (action.server, action.flag_id, action.kind, action.actor, int(action.automatic), int(action.dry_run),
                 action.user_id, action.duration_s, safe_text(action.reason)[:500], now))
            self._audit(action.server, "action", cur.lastrowid, chain.action_evidence(
                server=action.server, flag_id=action.flag_id, kind=action.kind, actor=action.actor, automatic=int(action.automatic),
                dry_run=int(action.dry_run), target_user=action.user_id, duration_s=action.duration_s,
                reason=safe_text(action.reason)[:500], created_at=now), now)
        return cur.lastrowid

    def complete_action(self, server: str, action_id: int, status: str, detail: str = "") -> None:
        """Record the outcome: ok, error (with the platform's message) or dry-run."""
        now = iso(utcnow())
        with self._tx():
            self.db.conn.execute("UPDATE actions SET status = ?, detail = ?, completed_at = ? WHERE id = ? AND server = ?",
                                 (status, safe_text(detail)[:1000], now, action_id, server))
            self._audit(server, "action_result", action_id, chain.action_result_evidence(
                status=status, detail=safe_text(detail)[:1000], completed_at=now), now)

    def actions_for(self, server: str, flag_id: int) -> list[dict]:
        cur = self.db.conn.execute("SELECT * FROM actions WHERE server = ? AND flag_id = ? ORDER BY id", (server, flag_id))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur]

    # ---- alert outbox --------------------------------------------------------------
    def _enqueue_alert(self, server: str, flag_id: int, incident_id: int | None, now: str) -> None:
        """Ask for the alert of this flag's subject to be posted or refreshed (inside the caller's transaction).

        One row per subject: a burst of flags in one incident only bumps its version, so the delivery worker
        coalesces them into a few edits. A row in back-off after failures keeps its retry time."""
        subject = f"incident:{incident_id}" if incident_id is not None else f"flag:{flag_id}"
        self.db.conn.execute(
            "INSERT INTO outbox (server, subject, flag_id, incident_id, next_attempt_at, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(server, subject) DO UPDATE SET "
            "flag_id = MAX(flag_id, excluded.flag_id), version = version + 1, updated_at = excluded.updated_at, "
            "next_attempt_at = CASE WHEN attempts = 0 THEN excluded.next_attempt_at ELSE next_attempt_at END",
            (server, subject, flag_id, incident_id, now, now, now))

    def _enqueue_ping(self, server: str, flag_id: int, incident_id: int | None, ping_at: int, reshare: bool, now: str) -> None:
        """Queue one escalation ping: when the incident reaches `ping_at` flags, or for a protected picture's re-share."""
        subject = None
        if incident_id is not None:
            count = self.db.conn.execute("SELECT flag_count FROM incidents WHERE id = ?", (incident_id,)).fetchone()[0]
            if count == ping_at or reshare:
                subject = f"ping:incident:{incident_id}"
        elif reshare:
            subject = f"ping:flag:{flag_id}"
        if subject is not None:
            self.db.conn.execute(
                "INSERT OR IGNORE INTO outbox (server, subject, flag_id, incident_id, next_attempt_at, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", (server, subject, flag_id, incident_id, now, now, now))

    def enqueue_alert(self, server: str, flag_id: int) -> None:
        """Refresh the alert showing a flag (after a report, review or moderator action)."""
        with self._tx():
            row = self.db.conn.execute("SELECT incident_id FROM flags WHERE id = ? AND server = ?", (flag_id, server)).fetchone()
            if row is None:
                raise StoreError(f"no flag #{flag_id} in {server}")
            self._enqueue_alert(server, flag_id, row[0], iso(utcnow()))

    def due_alerts(self, server: str, now: datetime, limit: int = 20) -> list[OutboxItem]:
        """Undelivered alerts whose retry time has come, oldest first."""
        rows = self.db.conn.execute(
            "SELECT id, server, subject, flag_id, incident_id, version, attempts, created_at FROM outbox "
            "WHERE server = ? AND delivered_version < version AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
            (server, iso(now), limit)).fetchall()
        return [OutboxItem(r[0], r[1], r[2], r[3], r[4], r[5], r[6], parse_time(r[7])) for r in rows]

    def next_alert_due(self, server: str) -> datetime | None:
        row = self.db.conn.execute("SELECT MIN(next_attempt_at) FROM outbox WHERE server = ? AND delivered_version < version",
                                   (server,)).fetchone()
        return parse_time(row[0]) if row and row[0] else None

    def servers_with_undelivered_alerts(self) -> list[str]:
        return [r[0] for r in self.db.conn.execute("SELECT DISTINCT server FROM outbox WHERE delivered_version < version ORDER BY server")]

    def undelivered_alerts(self, server: str | None = None) -> tuple[int, datetime | None]:
        """How many alerts wait, and since when the oldest has waited (for health checks and /stats)."""
        q = "SELECT COUNT(*), MIN(updated_at) FROM outbox WHERE delivered_version < version"
        row = self.db.conn.execute(q + (" AND server = ?" if server else ""), (server,) if server else ()).fetchone()
        return row[0], parse_time(row[1]) if row[1] else None

    def alert_delivered(self, item: OutboxItem, ref: str | None) -> None:
        """Record a delivered version and where the alert lives, so later updates edit it in place."""
        now = iso(utcnow())
        with self._tx():
            self.db.conn.execute(
                "UPDATE outbox SET delivered_version = MAX(delivered_version, ?), attempts = 0, last_error = NULL, "
                "delivered_at = ?, next_attempt_at = ? WHERE id = ?", (item.version, now, now, item.id))
            if ref is not None:
                self.db.conn.execute("UPDATE flags SET alert_ref = ? WHERE id = ? AND server = ?", (ref, item.flag_id, item.server))
                if item.incident_id is not None:
                    self.db.conn.execute("UPDATE incidents SET alert_ref = ? WHERE id = ? AND server = ?",
                                         (ref, item.incident_id, item.server))

    def alert_failed(self, item: OutboxItem, error: str, retry_at: datetime) -> None:
        self.db.conn.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
                             (safe_text(error)[:500], iso(retry_at), item.id))

    def retry_alerts_now(self, server: str) -> int:
        """Make every undelivered alert of a server due now (its destination was just set or came back)."""
        return self.db.conn.execute("UPDATE outbox SET next_attempt_at = ? WHERE server = ? AND delivered_version < version",
                                    (iso(utcnow()), server)).rowcount

    def outcome_counts(self, server: str, *, flag_id: int | None = None, incident_id: int | None = None) -> list[tuple]:
        """What moderators and automatic actions did to a flag or a whole incident, as aggregates:
        rows of (what, actor, status, duration_s, count), `what` being an action kind or a review decision."""
        if (flag_id is None) == (incident_id is None):
            raise StoreError("outcome_counts needs a flag or an incident")
        scope = ("f.id = ?", flag_id) if flag_id is not None else ("f.incident_id = ?", incident_id)
        acts = self.db.conn.execute(
            "SELECT a.kind, a.actor, a.status, a.duration_s, COUNT(*) FROM actions a JOIN flags f ON f.id = a.flag_id "
            f"WHERE f.server = ? AND {scope[0]} AND a.kind != 'notify' AND a.status != 'pending' "
            "GROUP BY a.kind, a.actor, a.status, a.duration_s ORDER BY MIN(a.id)", (server, scope[1])).fetchall()
        revs = self.db.conn.execute(
            "SELECT r.decision, r.reviewer_id, 'ok', NULL, COUNT(*) FROM reviews r JOIN flags f ON f.id = r.flag_id "
            f"WHERE f.server = ? AND {scope[0]} GROUP BY r.decision, r.reviewer_id ORDER BY MIN(r.id)", (server, scope[1])).fetchall()
        return [tuple(r) for r in revs + acts]

    def pending_actions(self, since: datetime) -> list[tuple[int, Action]]:
        """Protective actions logged but never finished (the process stopped first), newest window only."""
        rows = self.db.conn.execute(
            "SELECT a.id, a.server, a.flag_id, a.kind, a.actor, a.dry_run, a.target_user, a.duration_s, a.reason, "
            "f.channel_id, f.message_id, f.incident_id, f.link FROM actions a LEFT JOIN flags f ON f.id = a.flag_id "
            "WHERE a.status = 'pending' AND a.kind != 'notify' AND a.created_at >= ? ORDER BY a.id", (iso(since),)).fetchall()
        return [(r[0], Action(kind=r[3], server=r[1], flag_id=r[2], channel_id=r[9], message_id=r[10], user_id=r[6],
                              duration_s=r[7], reason=r[8], actor=r[4], dry_run=bool(r[5]), incident_id=r[11], link=r[12]))
                for r in rows]

    def abandon_actions(self, before: datetime) -> int:
        """Pending actions too old to carry out now are closed as errors, so nothing stays pending forever."""
        rows = self.db.conn.execute("SELECT id, server FROM actions WHERE status = 'pending' AND created_at < ?",
                                    (iso(before),)).fetchall()
        for action_id, server in rows:
            self.complete_action(server, action_id, "error", "not carried out: the bot stopped before it could")
        return len(rows)

    # ---- member history --------------------------------------------------------------
    def member_history(self, server: str, user_id: str, limit: int = 20, exclude_flag: int | None = None) -> MemberHistory:
        """A member's flags, decisions and the actions taken on them in one server (never across servers)."""
        skip = exclude_flag if exclude_flag is not None else -1
        by_status = dict(self.db.conn.execute(
            "SELECT status, COUNT(*) FROM flags WHERE server = ? AND author_id = ? AND id != ? GROUP BY status",
            (server, user_id, skip)).fetchall())
        rows = self.db.conn.execute(
            "SELECT * FROM flags WHERE server = ? AND author_id = ? AND id != ? ORDER BY id DESC LIMIT ?",
            (server, user_id, skip, limit)).fetchall()
        cur = self.db.conn.execute(
            "SELECT kind, status, actor, duration_s, created_at, flag_id FROM actions WHERE server = ? AND target_user = ? "
            "AND kind != 'notify' AND status != 'pending' ORDER BY id DESC LIMIT ?", (server, user_id, limit))
        cols = [d[0] for d in cur.description]
        actions = tuple(dict(zip(cols, r)) for r in cur.fetchall())
        action_counts = dict(self.db.conn.execute(
            "SELECT kind, COUNT(*) FROM actions WHERE server = ? AND target_user = ? AND kind != 'notify' AND status = 'ok' "
            "GROUP BY kind", (server, user_id)).fetchall())
        reports = self.db.conn.execute(
            "SELECT COUNT(*) FROM reports r JOIN flags f ON f.id = r.flag_id WHERE f.server = ? AND f.author_id = ?",
            (server, user_id)).fetchone()[0]
        return MemberHistory(server, user_id, tuple(self._views(rows)), sum(by_status.values()), by_status,
                             actions, action_counts, reports, tuple(self.notes(server, "member", user_id)) if limit else ())

    # ---- moderators' own rules (bot/server_rules.py validates; this only keeps rows) -----------------
    def server_rules(self, server: str) -> list[dict]:
        """A server's stored rules, oldest first."""
        cur = self.db.conn.execute(
            "SELECT id, kind, label, pattern, score, added_by, added_at FROM server_rules WHERE server = ? ORDER BY id",
            (server,))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def add_server_rule(self, server: str, kind: str, label: str, pattern: str, score: float, added_by: str) -> int:
        """Store a rule and write it to the server's audit chain (a rule explains the flags it causes)."""
        now = iso(utcnow())
        pattern = safe_text(pattern)
        with self._tx():
            self.ensure_server(server)
            try:
                cur = self.db.conn.execute(
                    "INSERT INTO server_rules (server, kind, label, pattern, score, added_by, added_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (server, kind, label, pattern, float(score), added_by, now))
            except sqlite3.IntegrityError:
                raise StoreError("that rule exists already") from None
            self._audit(server, "rule_add", cur.lastrowid, {
                "server": server, "kind": kind, "label": label, "pattern": pattern, "score": float(score),
                "by": added_by, "created_at": now}, now)
        return cur.lastrowid

    def remove_server_rule(self, server: str, rule_id: int, removed_by: str) -> bool:
        """Delete a rule; the removal (and what the rule was) goes to the audit chain. False if there was none."""
        now = iso(utcnow())
        with self._tx():
            row = self.db.conn.execute("SELECT kind, label, pattern, score FROM server_rules WHERE server = ? AND id = ?",
                                       (server, rule_id)).fetchone()
            if row is None:
                return False
            self.db.conn.execute("DELETE FROM server_rules WHERE id = ?", (rule_id,))
            self._audit(server, "rule_remove", rule_id, {
                "server": server, "kind": row[0], "label": row[1], "pattern": row[2], "score": row[3],
                "by": removed_by, "created_at": now}, now)
        return True

    # ---- notes ---------------------------------------------------------------------------
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
                (server, subject_kind, str(subject_id), author_id, body, now))
            self._audit(server, "note", cur.lastrowid, {
                "server": server, "subject_kind": subject_kind, "subject_id": str(subject_id), "author_id": author_id,
                "text_sha256": content_sha256(body), "created_at": now}, now)
        return cur.lastrowid

    def notes(self, server: str, subject_kind: str, subject_id: str) -> list[dict]:
        """Notes on one subject, oldest first."""
        cur = self.db.conn.execute(
            "SELECT id, author_id, text, created_at FROM notes WHERE server = ? AND subject_kind = ? AND subject_id = ? ORDER BY id",
            (server, subject_kind, str(subject_id)))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def recent_warnings(self, server: str, user_id: str, since: datetime) -> int:
        """Warnings carried out on a member since `since` (they may count toward an automatic timeout)."""
        return self.db.conn.execute(
            "SELECT COUNT(*) FROM actions WHERE server = ? AND target_user = ? AND kind = 'warn' AND status = 'ok' AND created_at >= ?",
            (server, user_id, iso(since))).fetchone()[0]

    # ---- incident moderation -------------------------------------------------------
    def incident_flags(self, server: str, incident_id: int, offset: int = 0, limit: int = 50,
                       statuses: Sequence[str] | None = None) -> list[FlagView]:
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
        return [tuple(r) for r in self.db.conn.execute(
            "SELECT id, channel_id, message_id, author_id, link FROM flags WHERE server = ? AND incident_id = ? ORDER BY id",
            (server, incident_id))]

    def incident_open_flag_ids(self, server: str, incident_id: int) -> list[int]:
        marks = ",".join("?" * len(OPEN_STATUSES))
        return [r[0] for r in self.db.conn.execute(
            f"SELECT id FROM flags WHERE server = ? AND incident_id = ? AND status IN ({marks}) ORDER BY id",
            (server, incident_id, *OPEN_STATUSES))]

    # ---- incidents -----------------------------------------------------------------
    def open_incident_for(self, server: str, target_id: str, since: datetime) -> int | None:
        row = self.db.conn.execute(
            "SELECT id FROM incidents WHERE server = ? AND target_id = ? AND status = 'open' AND last_at >= ? ORDER BY last_at DESC LIMIT 1",
            (server, target_id, iso(since))).fetchone()
        return row[0] if row else None

    def attach_to_incident(self, server: str, flag_id: int, target_id: str, incident_id: int | None, at: datetime,
                           target_name: str | None = None) -> int:
        """Put a flag into an incident (a new one when `incident_id` is None) and refresh its counts."""
        t = iso(at)
        with self._tx():
            if incident_id is None:
                cur = self.db.conn.execute(
                    "INSERT INTO incidents (server, target_id, target_name, first_at, last_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (server, target_id, safe_text(target_name)[:100] if target_name else None, t, t, iso(utcnow())))
                incident_id = cur.lastrowid
            elif target_name:
                self.db.conn.execute("UPDATE incidents SET target_name = ? WHERE id = ? AND target_name IS NULL",
                                     (safe_text(target_name)[:100], incident_id))
            # Counts move by this one flag, never by re-reading the incident: a pile-on of thousands of flags
            # would otherwise cost O(flags) per new flag on the message path.
            author_id, flag_labels, message_time = self.db.conn.execute(
                "SELECT author_id, labels, message_time FROM flags WHERE id = ? AND server = ?", (flag_id, server)).fetchone()
            seen_author = self.db.conn.execute(
                "SELECT 1 FROM flags WHERE server = ? AND author_id = ? AND incident_id = ? LIMIT 1",
                (server, author_id, incident_id)).fetchone() is not None
            self.db.conn.execute("UPDATE flags SET incident_id = ? WHERE id = ? AND server = ?", (incident_id, flag_id, server))
            old_labels = self.db.conn.execute("SELECT labels FROM incidents WHERE id = ?", (incident_id,)).fetchone()[0]
            labels = [x for x in old_labels.split(",") if x]
            labels += [x for x in flag_labels.split(",") if x and x not in labels]
            self.db.conn.execute(
                "UPDATE incidents SET flag_count = flag_count + 1, author_count = author_count + ?, "
                "first_at = MIN(first_at, ?), last_at = MAX(last_at, ?, ?), labels = ? WHERE id = ?",
                (0 if seen_author else 1, message_time, message_time, t, ",".join(labels), incident_id))
        return incident_id

    def incident(self, server: str, incident_id: int, with_flags: bool = False) -> IncidentView:
        """One incident; aggregates only, so building an alert stays cheap however big the pile-on."""
        row = self.db.conn.execute(
            "SELECT id, server, target_id, status, first_at, last_at, flag_count, author_count, labels, alert_ref, target_name FROM incidents WHERE id = ? AND server = ?",
            (incident_id, server)).fetchone()
        if row is None:
            raise StoreError(f"no incident #{incident_id} in {server}")
        marks = ",".join("?" * len(OPEN_STATUSES))
        first, n_open = self.db.conn.execute(
            f"SELECT MIN(id), SUM(status IN ({marks})) FROM flags WHERE incident_id = ?", (*OPEN_STATUSES, incident_id)).fetchone()
        ids: tuple[int, ...] = ()
        if with_flags:
            ids = tuple(r[0] for r in self.db.conn.execute("SELECT id FROM flags WHERE incident_id = ? ORDER BY id", (incident_id,)))
        status = "open" if n_open else "reviewed"
        return IncidentView(row[0], row[1], row[2], status, parse_time(row[4]), parse_time(row[5]), row[6], row[7],
                            tuple(x for x in row[8].split(",") if x), row[9], ids, row[10], first)

    def incidents(self, server: str | None, min_flags: int = 2, open_only: bool = True, limit: int = 50,
                  with_flags: bool = False) -> list[IncidentView]:
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

    # ---- Telegram link codes -------------------------------------------------------
    def put_link_code(self, code: str, server: str, chat_id: int, issued_by: int, expires_at: float, now: float) -> None:
        """A new one-time code for `server`; the server's older codes and every expired code go."""
        with self._tx():
            self.db.conn.execute("DELETE FROM link_codes WHERE server = ? OR expires_at <= ?", (server, now))
            self.db.conn.execute("INSERT OR REPLACE INTO link_codes (code, server, chat_id, issued_by, expires_at) VALUES (?, ?, ?, ?, ?)",
                                 (code, server, chat_id, issued_by, expires_at))

    def set_link_code_notice(self, code: str, message_id: int) -> None:
        self.db.conn.execute("UPDATE link_codes SET notice_message_id = ? WHERE code = ?", (message_id, code))

    def link_code(self, code: str, now: float, take: bool = False) -> dict | None:
        """The unexpired code's row (server, chat_id, issued_by, expires_at, notice_message_id), or None;
        `take` uses it up."""
        with self._tx():
            self.db.conn.execute("DELETE FROM link_codes WHERE expires_at <= ?", (now,))
            cur = self.db.conn.execute("SELECT server, chat_id, issued_by, expires_at, notice_message_id FROM link_codes WHERE code = ?", (code,))
            row = cur.fetchone()
            if row is not None and take:
                self.db.conn.execute("DELETE FROM link_codes WHERE code = ?", (code,))
        return dict(zip([d[0] for d in cur.description], row)) if row else None

    # ---- Discord channel cursors (raid-discord, migration 11) ----------------------------
    # The newest message handled per channel, flushed in batches by the Discord client (never a
    # write per message); after downtime it re-reads each recently active channel from here.
    def save_channel_cursors(self, rows: Sequence[tuple[str, str, int, datetime]]) -> None:
        """Upsert (server, channel, last message id, seen at); a cursor never moves backwards."""
        if not rows:
            return
        with self._tx():
            self.db.conn.executemany(
                "INSERT INTO channel_cursors (server, channel_id, last_message_id, last_seen_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(server, channel_id) DO UPDATE SET "
                "last_message_id = MAX(last_message_id, excluded.last_message_id), "
                "last_seen_at = MAX(last_seen_at, excluded.last_seen_at)",
                [(server, channel, int(mid), iso(seen)) for server, channel, mid, seen in rows])

    def channel_cursors(self, platform: str, since: datetime, limit: int) -> list[dict]:
        """Cursors of channels with a message handled since `since`, most recently active first."""
        rows = self.db.conn.execute(
            "SELECT server, channel_id, last_message_id, last_seen_at FROM channel_cursors "
            "WHERE server LIKE ? AND last_seen_at >= ? ORDER BY last_seen_at DESC LIMIT ?",
            (f"{platform}:%", iso(since), int(limit))).fetchall()
        return [{"server": r[0], "channel_id": r[1], "last_message_id": int(r[2]), "last_seen_at": r[3]} for r in rows]

    # ---- image bank ----------------------------------------------------------------
    def add_bank_entry(self, scope: str, records: Sequence[tuple[str, bytes]], note: str | None, source: str,
                       registered_by: str | None, protects: str | None = None, flag_id: int | None = None) -> int:
        """Keep only hashes/features of an image; the image itself never reaches the store."""
        with self._tx():
            cur = self.db.conn.execute(
                "INSERT INTO bank_entries (scope, note, source, registered_by, protects, created_at, flag_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (scope, safe_text(note or "")[:500], source, registered_by, protects, iso(utcnow()), flag_id))
            self.db.conn.executemany("INSERT INTO image_hashes (entry_id, kind, data) VALUES (?, ?, ?)",
                                     [(cur.lastrowid, kind, sqlite3.Binary(data)) for kind, data in records])
        return cur.lastrowid

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
            clauses.append("scope = ?"); args.append(scope)
        if registered_by is not None:
            clauses.append("registered_by = ?"); args.append(registered_by)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        cur = self.db.conn.execute(
            f"SELECT id, scope, note, source, registered_by, protects, created_at, flag_id FROM bank_entries {where} ORDER BY id DESC",
            tuple(args))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def remove_bank_entry(self, entry_id: int, scope: str | None = None, registered_by: str | None = None) -> bool:
        """Delete an entry and every hash of it. With `scope`/`registered_by`, only when it matches them (a member
        can remove only what she registered, in her server). Returns whether anything was removed."""
        q, args = "DELETE FROM bank_entries WHERE id = ?", [entry_id]  # type: str, list[object]
        if scope is not None:
            q += " AND scope = ?"; args.append(scope)
        if registered_by is not None:
            q += " AND registered_by = ?"; args.append(registered_by)
        with self._tx():  # image_hashes go with it (ON DELETE CASCADE, foreign keys on)
            removed = self.db.conn.execute(q, tuple(args)).rowcount
        return bool(removed)

    def bank_entries(self, scopes: Sequence[str]) -> list[tuple[int, list[tuple[str, bytes]]]]:
        if not scopes:
            return []
        marks = ",".join("?" * len(scopes))
        out: dict[int, list[tuple[str, bytes]]] = {}
        for entry_id, kind, data in self.db.conn.execute(
                f"SELECT h.entry_id, h.kind, h.data FROM image_hashes h JOIN bank_entries e ON e.id = h.entry_id "
                f"WHERE e.scope IN ({marks}) ORDER BY h.entry_id, h.id", tuple(scopes)):
            out.setdefault(entry_id, []).append((kind, bytes(data)))
        return list(out.items())

    def save_flag_images(self, server: str, flag_id: int, images: Sequence[Sequence[tuple[str, bytes]]]) -> None:
        """Fingerprints (never pixels) of a flagged message's images, so a confirm can bank them."""
        with self._tx():
            self._require_flag(server, flag_id)
            self.db.conn.executemany(
                "INSERT INTO flag_image_hashes (flag_id, image_no, kind, data) VALUES (?, ?, ?, ?)",
                [(flag_id, n, kind, sqlite3.Binary(data)) for n, records in enumerate(images) for kind, data in records])

    def flag_images(self, server: str, flag_id: int) -> list[list[tuple[str, bytes]]]:
        self._require_flag(server, flag_id)
        out: dict[int, list[tuple[str, bytes]]] = {}
        for n, kind, data in self.db.conn.execute(
                "SELECT image_no, kind, data FROM flag_image_hashes WHERE flag_id = ? ORDER BY image_no, id", (flag_id,)):
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

    # ---- stats & export ------------------------------------------------------------
    def stats(self, server: str | None) -> dict[str, Any]:
        where, args = ("WHERE server = ?", (server,)) if server else ("", ())
        c = self.db.conn
        by_status = dict(c.execute(f"SELECT status, COUNT(*) FROM flags {where} GROUP BY status", args).fetchall())
        by_source = dict(c.execute(f"SELECT source, COUNT(*) FROM flags {where} GROUP BY source", args).fetchall())
        labels: dict[str, int] = {}
        for (ls,) in c.execute(f"SELECT labels FROM flags {where}", args):
            for label in filter(None, ls.split(",")):
                labels[label] = labels.get(label, 0) + 1
        actions = dict(c.execute(f"SELECT kind || ':' || status, COUNT(*) FROM actions {where} GROUP BY kind, status", args).fetchall())
        inc_where = "WHERE flag_count >= 2" + (" AND server = ?" if server else "")
        return {
            "flags": sum(by_status.values()), "by_status": by_status, "by_source": by_source, "by_label": labels,
            "reports": c.execute(f"SELECT COUNT(*) FROM reports {where}", args).fetchone()[0],
            "reviews": c.execute(f"SELECT COUNT(*) FROM reviews {where}", args).fetchone()[0],
            "actions": actions,
            "incidents": c.execute(f"SELECT COUNT(*) FROM incidents {inc_where}", args).fetchone()[0],
            "bank_entries": self.bank_size(),
        }

    def count_flags(self, server: str | None, since: datetime | None = None, until: datetime | None = None,
                    label: str | None = None, status: str | None = None) -> int:
        where, args = _flag_filter(server, since, until, label, status)
        return self.db.conn.execute(f"SELECT COUNT(*) FROM flags {where}", args).fetchone()[0]

    def iter_flags(self, server: str | None, since: datetime | None = None, until: datetime | None = None,
                   label: str | None = None, status: str | None = None, batch: int = 500) -> Iterator[FlagView]:
        """Flags in id order, in batches so exports of any size use bounded memory."""
        where, args = _flag_filter(server, since, until, label, status)
        last = 0
        while True:
            joiner = " AND " if where else "WHERE "
            rows = self.db.conn.execute(f"SELECT * FROM flags {where}{joiner}id > ? ORDER BY id LIMIT ?", (*args, last, batch)).fetchall()
            if not rows:
                return
            yield from self._views(rows)
            last = rows[-1][0]

    def flag_content_hashes(self, server: str, flag_ids: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for chunk in _chunks(list(flag_ids), 500):
            marks = ",".join("?" * len(chunk))
            out.update(self.db.conn.execute(f"SELECT id, content_sha256 FROM flags WHERE server = ? AND id IN ({marks})", (server, *chunk)).fetchall())
        return out

    def reviews_for(self, server: str, flag_ids: Sequence[int]) -> dict[int, list[dict]]:
        out: dict[int, list[dict]] = {}
        for chunk in _chunks(list(flag_ids), 500):
            marks = ",".join("?" * len(chunk))
            cur = self.db.conn.execute(f"SELECT id, flag_id, decision, reviewer_id, note, created_at FROM reviews WHERE server = ? AND flag_id IN ({marks}) ORDER BY id", (server, *chunk))
            for rid, fid, dec, rev, note, at in cur:
                out.setdefault(fid, []).append({"id": rid, "decision": dec, "reviewer": rev, "note": note, "at": at})
        return out

    def actions_by_flag(self, server: str, flag_ids: Sequence[int]) -> dict[int, list[dict]]:
        out: dict[int, list[dict]] = {}
        for chunk in _chunks(list(flag_ids), 500):
            marks = ",".join("?" * len(chunk))
            cur = self.db.conn.execute(
                f"SELECT id, flag_id, kind, actor, automatic, dry_run, duration_s, status, detail, created_at FROM actions WHERE server = ? AND flag_id IN ({marks}) ORDER BY id",
                (server, *chunk))
            cols = [d[0] for d in cur.description]
            for r in cur:
                d = dict(zip(cols, r))
                out.setdefault(d["flag_id"], []).append(d)
        return out

    def reports_by_flag(self, server: str, flag_ids: Sequence[int]) -> dict[int, list[dict]]:
        out: dict[int, list[dict]] = {}
        for chunk in _chunks(list(flag_ids), 500):
            marks = ",".join("?" * len(chunk))
            cur = self.db.conn.execute(f"SELECT id, flag_id, reporter_id, reason, created_at FROM reports WHERE server = ? AND flag_id IN ({marks}) ORDER BY id", (server, *chunk))
            for rid, fid, rep, reason, at in cur:
                out.setdefault(fid, []).append({"id": rid, "reporter": rep, "reason": reason, "at": at})
        return out

    def audit_rows_for_flags(self, server: str, flag_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """Every audit row about each flag (its own, its reports', reviews', actions' and holds'), in chain order,
        so an export carries what is needed to recompute its rows' hashes without the database."""
        out: dict[int, list[dict[str, Any]]] = {}
        for chunk in _chunks(list(flag_ids), 400):
            marks = ",".join("?" * len(chunk))
            cols = "a.seq, a.kind, a.ref_id, a.payload, a.prev_hash, a.row_hash, a.created_at"
            q = (f"SELECT {cols}, a.ref_id FROM audit a WHERE a.server = ? AND a.kind IN ('flag', 'flag_update', 'purge') "
                 f"AND a.ref_id IN ({marks}) "
                 f"UNION ALL SELECT {cols}, r.flag_id FROM audit a JOIN reports r ON r.id = a.ref_id "
                 f"WHERE a.server = ? AND a.kind = 'report' AND r.flag_id IN ({marks}) "
                 f"UNION ALL SELECT {cols}, r.flag_id FROM audit a JOIN reviews r ON r.id = a.ref_id "
                 f"WHERE a.server = ? AND a.kind = 'review' AND r.flag_id IN ({marks}) "
                 f"UNION ALL SELECT {cols}, x.flag_id FROM audit a JOIN actions x ON x.id = a.ref_id "
                 f"WHERE a.server = ? AND a.kind IN ('action', 'action_result') AND x.flag_id IN ({marks}) ORDER BY 1")
            for seq, kind, ref, payload, prev, h, at, fid in self.db.conn.execute(q, (server, *chunk) * 4):
                out.setdefault(fid, []).append({"seq": seq, "kind": kind, "ref_id": ref, "payload": payload,
                                                "prev_hash": prev, "row_hash": h, "created_at": at})
        return out

    # ---- retention & erasure -------------------------------------------------------
    def purge_plan(self, server: str | None, *, user_id: str | None = None, before: datetime | None = None) -> PurgePlan:
        """The flags whose content a purge would erase now, and those a legal hold keeps (counted, never erased)."""
        clauses, args = ["content_purged_at IS NULL"], []
        if server is not None:
            clauses.append("server = ?"); args.append(server)
        if user_id is not None:
            clauses.append("author_id = ?"); args.append(user_id)
        if before is not None:
            clauses.append("created_at < ?"); args.append(iso(before))
        rows = self.db.conn.execute(f"SELECT id, server FROM flags WHERE {' AND '.join(clauses)} ORDER BY id", args).fetchall()
        held = self.held_flag_ids(server)
        return PurgePlan(tuple(i for i, _ in rows if i not in held), tuple(i for i, _ in rows if i in held),
                         tuple(sorted({s for i, s in rows if i not in held})))

    def purge_content(self, server: str | None, *, user_id: str | None = None, before: datetime | None = None,
                      plan: PurgePlan | None = None) -> int:
        """Erase message content (excerpt, name, reasons, report reasons) but keep hashes, labels and decisions.

        Flags under a legal hold are left alone. The chain stays verifiable because audited payloads hold
        only hashes of content; the WAL is then truncated so the erased text leaves the disk as well.
        """
        plan = plan or self.purge_plan(server, user_id=user_id, before=before)
        now = iso(utcnow())
        why = "user request" if user_id else "retention"
        erased = 0
        with self._tx():
            held = self.held_flag_ids(server)
            for flag_id in plan.flag_ids:
                row = self.db.conn.execute("SELECT server FROM flags WHERE id = ? AND content_purged_at IS NULL", (flag_id,)).fetchone()
                if row is None or flag_id in held:
                    continue
                self.db.conn.execute(
                    "UPDATE flags SET excerpt = ?, author_name = NULL, link = NULL, attachments = '[]', content_purged_at = ? WHERE id = ?",
                    (PURGED, now, flag_id))
                self.db.conn.execute("UPDATE verdicts SET reason = ? WHERE flag_id = ? AND reason != ''", (PURGED, flag_id))
                self.db.conn.execute("UPDATE reports SET reason = ? WHERE flag_id = ? AND reason != ''", (PURGED, flag_id))
                self._audit(row[0], "purge", flag_id, {"why": why}, now)
                erased += 1
        if erased:
            self.checkpoint_truncate()
        if plan.held_ids:
            log.info("purge kept %d flag(s) under legal hold", len(plan.held_ids))
        return erased

    # ---- legal holds ---------------------------------------------------------------
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
            row = self.db.conn.execute("SELECT id FROM holds WHERE server = ? AND target = ? AND target_id = ? AND released_at IS NULL",
                                       (server, target, target_id)).fetchone()
            if row:
                return row[0]
            reason = safe_text(reason)[:500]
            cur = self.db.conn.execute("INSERT INTO holds (server, target, target_id, reason, placed_by, placed_at) VALUES (?, ?, ?, ?, ?, ?)",
                                       (server, target, target_id, reason, by, now))
            self._audit(server, "hold", cur.lastrowid, chain.hold_evidence(target=target, target_id=target_id, by=by, reason=reason,
                                                                            active=True), now)
        return cur.lastrowid

    def release_hold(self, server: str, target: str, target_id: int, by: str) -> int:
        """Lift the active hold on a flag or incident; returns how many were lifted (0 or 1)."""
        now = iso(utcnow())
        with self._tx():
            rows = self.db.conn.execute("SELECT id, reason FROM holds WHERE server = ? AND target = ? AND target_id = ? AND released_at IS NULL",
                                        (server, target, target_id)).fetchall()
            for hold_id, reason in rows:
                self.db.conn.execute("UPDATE holds SET released_by = ?, released_at = ? WHERE id = ?", (by, now, hold_id))
                self._audit(server, "hold_release", hold_id, chain.hold_evidence(target=target, target_id=target_id, by=by,
                                                                                  reason=reason, active=False), now)
        return len(rows)

    def holds(self, server: str | None, active_only: bool = True) -> list[dict[str, Any]]:
        q = "SELECT id, server, target, target_id, reason, placed_by, placed_at, released_by, released_at FROM holds"
        clauses, args = [], []
        if server is not None:
            clauses.append("server = ?"); args.append(server)
        if active_only:
            clauses.append("released_at IS NULL")
        cur = self.db.conn.execute(q + (" WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY id", args)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur]

    def held_flag_ids(self, server: str | None) -> set[int]:
        """Flags under an active hold, directly or through their incident."""
        where, args = ("AND h.server = ?", (server, server)) if server else ("", ())
        q = (f"SELECT h.target_id FROM holds h WHERE h.target = 'flag' AND h.released_at IS NULL {where} "
             f"UNION SELECT f.id FROM holds h JOIN flags f ON f.incident_id = h.target_id AND f.server = h.server "
             f"WHERE h.target = 'incident' AND h.released_at IS NULL {where}")
        return {r[0] for r in self.db.conn.execute(q, args)}

    def checkpoint_truncate(self) -> bool:
        """Copy the WAL into the database and empty it, so erased content leaves the -wal file too.

        Waits (busy timeout) for other connections' transactions to end; returns False if one still
        blocked it, in which case the background checkpointer's next restart finishes the job.
        """
        busy, _log_frames, _done = self.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            log.warning("WAL truncate after purge was blocked by another connection; it will be retried")
        return not busy


class _Checkpointer(threading.Thread):
    """Copies the WAL back into the database every `interval` seconds, off the message path.

    Normally PASSIVE every `interval` (never blocks writers). The WAL size is looked at every `poll`;
    past WAL_RESTART_BYTES a PASSIVE pass copies what it can, then RESTART runs under the store's
    write gate, holding this process's new transactions back for the short remainder so the WAL restarts.
    """

    def __init__(self, path: Path, gate: threading.Lock, interval: float = 1.0, poll: float = 0.05) -> None:
        super().__init__(name="sqlite-checkpoint", daemon=True)
        self.path = path
        self.gate = gate
        self.interval = interval
        self.poll = poll
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            conn = sqlite3.connect(str(self.path), timeout=1)
        except sqlite3.Error:
            log.exception("checkpointer could not open %s", self.path)
            return
        try:
            conn.execute("PRAGMA busy_timeout=2000")
            conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
            wal = Path(str(self.path) + "-wal")
            last = time.monotonic()
            while not self._stop_event.wait(self.poll):
                try:
                    # PASSIVE never waits, but under a steady flood it never catches up either, and a WAL
                    # that is never fully copied back is never reset: it grew to 1.2 GB in 10,000 flags.
                    # Past WAL_RESTART_BYTES, RESTART makes a gap between write transactions instead; the
                    # next writer then starts the WAL from the beginning (cut to journal_size_limit).
                    big = wal.exists() and wal.stat().st_size > WAL_RESTART_BYTES
                    size = wal.stat().st_size if wal.exists() else 0
                    now = time.monotonic()
                    if size > WAL_RESTART_BYTES:
                        # copy most frames without holding anyone up, then hold this process's writers back
                        # for the short remainder so the WAL can be reset (a flood otherwise never leaves a gap)
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                        with self.gate:
                            conn.execute("PRAGMA wal_checkpoint(RESTART)")
                        last = now
                    elif now - last >= self.interval:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                        last = now
                except (sqlite3.Error, OSError) as exc:  # busy or closed: try again next round
                    log.debug("checkpoint skipped: %s", exc)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                pass
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


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


def _verdict_rows(decision: Decision, labels_of: Sequence[str]) -> list[tuple[str, float, str, str]]:
    """The verdict rows a flag keeps: those for its labels and any with a score."""
    return [(v.label, float(v.score), safe_text(v.reason), v.detector) for v in decision.verdicts if v.label in labels_of or v.score > 0]


def _flag_evidence(message: Message, text: str, labels: str, top: float, source: str, dry_run: bool,
                   vrows: Sequence[tuple[str, float, str, str]], now: str) -> dict[str, Any]:
    """What a new flag's audit row commits to: the values just inserted (see audit_chain.flag_evidence)."""
    return chain.flag_evidence(
        server=message.server, platform=message.platform, channel_id=message.channel_id, message_id=message.message_id,
        author_id=message.author_id, content_sha256=content_sha256(text), excerpt=text[:EXCERPT_CHARS],
        targets=json.dumps(list(message.targets)), labels=labels, max_score=top, source=source, dry_run=int(dry_run),
        message_time=iso(message.time), created_at=now, verdicts=vrows)


def _flag_filter(server, since, until, label, status) -> tuple[str, tuple]:
    clauses, args = [], []
    if server is not None:
        clauses.append("server = ?"); args.append(server)
    if since is not None:
        clauses.append("created_at >= ?"); args.append(iso(since))
    if until is not None:
        clauses.append("created_at < ?"); args.append(iso(until))
    if label is not None:
        clauses.append("(',' || labels || ',') LIKE ?"); args.append(f"%,{label},%")
    if status is not None:
        clauses.append("status = ?"); args.append(status)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", tuple(args)


def _statements(sql: str) -> Iterable[str]:
    for stmt in sql.split(";"):
        if stmt.strip():
            yield stmt


def _chunks(items: list, n: int) -> Iterator[list]:
    for i in range(0, len(items), n):
        yield items[i:i + n]
