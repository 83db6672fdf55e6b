"""WAL checkpointing off the message path, so the -wal file stays bounded through a flood."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path


log = logging.getLogger(__name__)


JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024


WAL_RESTART_BYTES = 16 * 1024 * 1024

#: How long a TRUNCATE may wait for readers (it holds the writer lock meanwhile, so writers wait too).
TRUNCATE_WAIT_MS = 200


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
        self._truncate = threading.Event()  # a purge's TRUNCATE was blocked by a reader: retry until it succeeds

    def request_truncate(self) -> None:
        """Empty the -wal file as soon as no reader holds an old snapshot (erased text must leave the disk)."""
        self._truncate.set()

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
                    size = wal.stat().st_size if wal.exists() else 0
                    now = time.monotonic()
                    if self._truncate.is_set() and now - last >= self.interval:
                        # a short wait for readers: holding the writer lock longer would stall this bot's writes
                        conn.execute(f"PRAGMA busy_timeout={TRUNCATE_WAIT_MS}")
                        try:
                            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                        finally:
                            conn.execute("PRAGMA busy_timeout=2000")
                        if not busy:
                            self._truncate.clear()
                            log.info("WAL truncated after a purge, once the reader that blocked it was done")
                        last = now
                    elif size > WAL_RESTART_BYTES:
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
