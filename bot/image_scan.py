"""Image side of the pipeline: each upload goes to a killable worker process (decode, nudity,
fingerprints, text in the image when OCR is on); only verdicts, hashes and text come back. Bank matching stays here.

Runs in the pipeline's image-wait threads, which wait on the worker with a wall-clock timeout
(classifiers/images/worker.py): an image over time has its worker killed and is refused.
Bank indexes are kept in memory per scope and loaded from the store on the event-loop
thread (`prepare`), so neither the executor thread nor the worker touches SQLite. A scope
is a server key, or `shared` for entries from servers that opted into a shared bank.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace

from bot import bank_registry
from bot.config import Settings
from bot.store import Store
from classifiers.base import Verdict
from classifiers.images import worker
from classifiers.images.bank import BankIndex, index_from_entries, match_verdict
from classifiers.images.decode import DEFAULT_LIMITS, ImageRejected, Limits
from classifiers.images.nsfw import nudity_available, nudity_status
from classifiers.images.ocr import STATUS_OFF as OCR_OFF
from classifiers.images.ocr import ocr_available

log = logging.getLogger(__name__)

SHARED_SCOPE = "shared"
#: results kept for identical bytes (a popular sticker or GIF is posted again and again); ~15 KB each
RESULT_CACHE_SIZE = 512
#: refusals that depend on the moment (load, a dying worker), not on the bytes: never cached
_TRANSIENT = frozenset({"timeout", "worker_died", "worker_failed"})


@dataclass
class ImageResult:
    verdicts: list[Verdict] = field(default_factory=list)
    #: bank records (hashes + keypoints) of the first frame, made in the worker: stored with
    #: the flag if the message is flagged, so a moderator's confirm can bank the image
    records: list[tuple[str, bytes]] | None = None
    matched_entries: list[int] = field(default_factory=list)
    error: str | None = None
    text: str = ""  # text read in the image (OCR on), for the pipeline's text model


class ImageScan:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        nudity: bool | None = None,
        pool: worker.ImageWorkerPool | None = None,
        limits: Limits = DEFAULT_LIMITS,
        workers: int = 2,
        ocr: bool | None = None,
    ) -> None:
        """`nudity=None` turns NudeNet on when it is installed; `ocr=None` reads text in images when the
        config asks for it (`[images] ocr`) and the extra is installed. Workers start on the first image."""
        self.store = store
        self.settings = settings
        self.nudity = nudity_available() if nudity is None else nudity
        wanted = settings.image_ocr if ocr is None else ocr
        self.ocr = wanted and ocr_available()
        if wanted and not self.ocr:
            log.warning("[images] ocr is on but the OCR engine is not installed: %s", OCR_OFF)
        self.pool = pool if pool is not None else worker.ImageWorkerPool(workers, nudity=self.nudity, ocr=self.ocr)
        self.limits = limits
        self._indexes: dict[str, BankIndex] = {}
        self._lock = threading.Lock()
        # identical bytes scanned against an unchanged bank give the same result: kept, keyed by
        # (sha256, scopes, bank generation); the generation moves whenever an index changes
        self._results: OrderedDict[tuple[bytes, tuple[str, ...], int], ImageResult] = OrderedDict()
        self._generation = 0
        self.cache_hits = 0

    def status(self) -> str:
        n = self.store.bank_size()
        nudity = nudity_status() if self.nudity else "nudity detection off"
        ocr = "text in images read (OCR)" if self.ocr else "text in images not read"
        return f"{nudity}; {ocr}; re-share bank: {n} entr{'y' if n == 1 else 'ies'}"

    def scopes(self, server: str, shared: bool) -> list[str]:
        return [server, SHARED_SCOPE] if shared else [server]

    def prepare(self, scopes: list[str]) -> None:
        """Load (or refresh, when another process added entries) the scopes' indexes. Event-loop thread."""
        for scope in scopes:
            idx = self._indexes.get(scope)
            if idx is None or len(idx) != self.store.bank_size([scope]):
                self._indexes[scope] = index_from_entries(self.store.bank_entries([scope]))
                self._bank_changed()

    def _bank_changed(self) -> None:
        with self._lock:
            self._generation += 1
            self._results.clear()

    def scan(self, data: bytes, scopes: list[str]) -> ImageResult:
        """Nudity + bank + records, in a worker with a timeout. Never raises for bad images.
        Bytes seen before, against the same bank, get the earlier result without a worker."""
        key = (hashlib.sha256(data).digest(), tuple(scopes), self._generation)
        with self._lock:
            hit = self._results.get(key)
            if hit is not None:
                self._results.move_to_end(key)
                self.cache_hits += 1
                return _copy(hit)
        indexes = [self._indexes[s] for s in scopes if s in self._indexes and len(self._indexes[s])]
        try:
            out = worker.scan(self.pool, data, indexes, nudity=self.nudity, records=True, limits=self.limits, ocr=self.ocr)
        except ImageRejected as exc:
            log.info("image rejected: %s", exc.reason)
            result = ImageResult(error=exc.reason)
            if exc.code not in _TRANSIENT:
                self._remember(key, result)
            return result
        result = ImageResult(verdicts=list(out.verdicts), records=out.records, text=out.text)
        if out.match is not None:
            result.verdicts.append(match_verdict(out.match))
            result.matched_entries.append(out.match.entry_id)
        self._remember(key, result)
        return _copy(result)

    def _remember(self, key: tuple[bytes, tuple[str, ...], int], result: ImageResult) -> None:
        with self._lock:
            if key[2] != self._generation:  # the bank changed while this scan ran
                return
            self._results[key] = result
            while len(self._results) > RESULT_CACHE_SIZE:
                self._results.popitem(last=False)

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
        self._bank_changed()

    def duplicate_of(self, scope: str, records: list[tuple[str, bytes]], registered_by: str | None) -> int | None:
        """This person's entry for a near-identical image in this scope (bot/bank_registry.py), if any.
        Event-loop thread (reads the store)."""
        self.prepare([scope])
        return bank_registry.existing_entry(self.store, self._indexes[scope], records, registered_by)

    def remove_from_index(self, scope: str, entry_id: int) -> None:
        """An entry was removed from the store: drop the scope's cached index, rebuilt from the store on next use."""
        with self._lock:
            self._indexes.pop(scope, None)
        self._bank_changed()


def _copy(r: ImageResult) -> ImageResult:
    """A cached result handed out: its lists are the caller's to extend."""
    return replace(r, verdicts=list(r.verdicts), matched_entries=list(r.matched_entries), records=list(r.records) if r.records is not None else None)
