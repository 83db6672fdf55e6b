"""Image side of the pipeline: decode once, check nudity and the re-share bank, keep only hashes.

Runs in the classify executor. Bank indexes are kept in memory per scope and loaded from
the store on the event-loop thread (`prepare`), so the worker thread never touches SQLite.
A scope is a server key, or `shared` for entries from servers that opted into a shared bank.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from bot.config import Settings
from bot.store import Store
from classifiers.base import Verdict
from classifiers.images.bank import BankIndex, fingerprint, index_from_entries, match_verdict
from classifiers.images.decode import DEFAULT_LIMITS, DecodedImage, ImageRejected, decode
from classifiers.images.nsfw import NsfwDetector, nudity_available, nudity_status

log = logging.getLogger(__name__)

SHARED_SCOPE = "shared"


@dataclass
class ImageResult:
    verdicts: list[Verdict] = field(default_factory=list)
    pixels: Any = None  # the decoded (<= 1024 px) first frame, in memory only: fingerprinted if the message is flagged
    matched_entries: list[int] = field(default_factory=list)
    error: str | None = None


class ImageScan:
    def __init__(self, store: Store, settings: Settings, nsfw: NsfwDetector | None = None) -> None:
        self.store = store
        self.settings = settings
        self.nsfw = nsfw if nsfw is not None else (NsfwDetector() if nudity_available() else None)
        self._indexes: dict[str, BankIndex] = {}
        self._lock = threading.Lock()

    def status(self) -> str:
        n = self.store.bank_size()
        return f"{nudity_status()}; re-share bank: {n} entr{'y' if n == 1 else 'ies'}"

    def scopes(self, server: str, shared: bool) -> list[str]:
        return [server, SHARED_SCOPE] if shared else [server]

    def prepare(self, scopes: list[str]) -> None:
        """Load (or refresh, when another process added entries) the scopes' indexes. Event-loop thread."""
        for scope in scopes:
            idx = self._indexes.get(scope)
            if idx is None or len(idx) != self.store.bank_size([scope]):
                self._indexes[scope] = index_from_entries(self.store.bank_entries([scope]))

    def scan(self, data: bytes, scopes: list[str]) -> ImageResult:
        """Decode with the safety limits, then nudity + bank. Never raises for bad images."""
        try:
            img = decode(data, DEFAULT_LIMITS)
        except ImageRejected as exc:
            log.info("image rejected: %s", exc.reason)
            return ImageResult(error=exc.reason)
        result = ImageResult()
        if self.nsfw is not None:
            try:
                result.verdicts += self.nsfw.classify_decoded(img)
            except Exception:
                log.exception("nudity detector failed")
        result.pixels = img.image
        try:
            m = self._match(img, scopes)
            if m is not None:
                result.verdicts.append(match_verdict(m))
                result.matched_entries.append(m.entry_id)
        except Exception:
            log.exception("bank matching failed")
        return result

    def _match(self, img: DecodedImage, scopes: list[str]):
        """Every sampled frame of an animation is tried: a GIF can hide the picture in a later frame."""
        for frame in img.frames:
            query = fingerprint(frame, bank_variants=False)
            for scope in scopes:
                idx = self._indexes.get(scope)
                m = idx.match(query) if idx is not None else None
                if m is not None:
                    return m
        return None

    def records_for(self, pixels: Any) -> list[tuple[str, bytes]]:
        """Bank fingerprint of a decoded image (~30 ms), computed only once a message is flagged."""
        return fingerprint(pixels).to_records()

    def fingerprint_records(self, data: bytes) -> list[tuple[str, bytes]]:
        """Bank records for an image someone registers; raises ImageRejected for bad input."""
        return fingerprint(decode(data, DEFAULT_LIMITS).image).to_records()

    def add_to_index(self, scope: str, entry_id: int, records: list[tuple[str, bytes]]) -> None:
        idx = self._indexes.get(scope)
        if idx is not None:
            idx.add_records(entry_id, records)

    def remove_from_index(self, scope: str, entry_id: int) -> None:
        """An entry was removed from the store: drop the scope's cached index, rebuilt from the store on next use."""
        with self._lock:
            self._indexes.pop(scope, None)
