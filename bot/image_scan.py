"""Image side of the pipeline: each upload goes to a killable worker process (decode, nudity,
fingerprints); only verdicts and hashes come back. Bank matching stays here.

Runs in the pipeline's image-wait threads, which wait on the worker with a wall-clock timeout
(classifiers/images/worker.py): an image over time has its worker killed and is refused.
Bank indexes are kept in memory per scope and loaded from the store on the event-loop
thread (`prepare`), so neither the executor thread nor the worker touches SQLite. A scope
is a server key, or `shared` for entries from servers that opted into a shared bank.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from bot import bank_registry
from bot.config import Settings
from bot.store import Store
from classifiers.base import Verdict
from classifiers.images import worker
from classifiers.images.bank import BankIndex, index_from_entries, match_verdict
from classifiers.images.decode import DEFAULT_LIMITS, ImageRejected, Limits
from classifiers.images.nsfw import nudity_available, nudity_status

log = logging.getLogger(__name__)

SHARED_SCOPE = "shared"


@dataclass
class ImageResult:
    verdicts: list[Verdict] = field(default_factory=list)
    #: bank records (hashes + keypoints) of the first frame, made in the worker: stored with
    #: the flag if the message is flagged, so a moderator's confirm can bank the image
    records: list[tuple[str, bytes]] | None = None
    matched_entries: list[int] = field(default_factory=list)
    error: str | None = None


class ImageScan:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        nudity: bool | None = None,
        pool: worker.ImageWorkerPool | None = None,
        limits: Limits = DEFAULT_LIMITS,
        workers: int = 2,
    ) -> None:
        """`nudity=None` turns NudeNet on when it is installed. Workers start on the first image."""
        self.store = store
        self.settings = settings
        self.nudity = nudity_available() if nudity is None else nudity
        self.pool = pool if pool is not None else worker.ImageWorkerPool(workers, nudity=self.nudity)
        self.limits = limits
        self._indexes: dict[str, BankIndex] = {}
        self._lock = threading.Lock()

    def status(self) -> str:
        n = self.store.bank_size()
        nudity = nudity_status() if self.nudity else "nudity detection off"
        return f"{nudity}; re-share bank: {n} entr{'y' if n == 1 else 'ies'}"

    def scopes(self, server: str, shared: bool) -> list[str]:
        return [server, SHARED_SCOPE] if shared else [server]

    def prepare(self, scopes: list[str]) -> None:
        """Load (or refresh, when another process added entries) the scopes' indexes. Event-loop thread."""
        for scope in scopes:
            idx = self._indexes.get(scope)
            if idx is None or len(idx) != self.store.bank_size([scope]):
                self._indexes[scope] = index_from_entries(self.store.bank_entries([scope]))

    def scan(self, data: bytes, scopes: list[str]) -> ImageResult:
        """Nudity + bank + records, in a worker with a timeout. Never raises for bad images."""
        indexes = [self._indexes[s] for s in scopes if s in self._indexes and len(self._indexes[s])]
        try:
            out = worker.scan(self.pool, data, indexes, nudity=self.nudity, records=True, limits=self.limits)
        except ImageRejected as exc:
            log.info("image rejected: %s", exc.reason)
            return ImageResult(error=exc.reason)
        result = ImageResult(verdicts=list(out.verdicts), records=out.records)
        if out.match is not None:
            result.verdicts.append(match_verdict(out.match))
            result.matched_entries.append(out.match.entry_id)
        return result

    def fingerprint_records(self, data: bytes) -> list[tuple[str, bytes]]:
        """Bank records for an image someone registers; raises ImageRejected for bad input."""
        return worker.fingerprint_records(self.pool, data, self.limits)

    def close(self) -> None:
        """Stop the worker processes (they are daemons, so they also end with the bot)."""
        self.pool.close()

    def add_to_index(self, scope: str, entry_id: int, records: list[tuple[str, bytes]]) -> None:
        idx = self._indexes.get(scope)
        if idx is not None:
            idx.add_records(entry_id, records)

    def duplicate_of(self, scope: str, records: list[tuple[str, bytes]], registered_by: str | None) -> int | None:
        """This person's entry for a near-identical image in this scope (bot/bank_registry.py), if any.
        Event-loop thread (reads the store)."""
        self.prepare([scope])
        return bank_registry.existing_entry(self.store, self._indexes[scope], records, registered_by)

    def remove_from_index(self, scope: str, entry_id: int) -> None:
        """An entry was removed from the store: drop the scope's cached index, rebuilt from the store on next use."""
        with self._lock:
            self._indexes.pop(scope, None)
