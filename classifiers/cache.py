"""A least-recently-used cache bounded by bytes, for per-token text caches.

Why not ``functools.lru_cache(maxsize=N)``: an entry bound lets a few long tokens cost gigabytes
(30,000 unique 2,000-character messages added 873 MB). Here every entry is charged its measured
``sys.getsizeof`` (key, value, and the strings inside a tuple value) plus a fixed dict overhead, and
the oldest entries go once the total passes ``max_bytes``; so a cache never holds much more than
``max_bytes`` plus one entry, whatever the input.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: Per-entry cost of the OrderedDict slot and its linked-list node (measured on CPython 3.11: ~100 bytes).
ENTRY_OVERHEAD = 112


def size_of(obj: object) -> int:
    """Bytes charged for a key or value: the object, plus its items if it is a tuple (one level)."""
    n = sys.getsizeof(obj)
    if isinstance(obj, tuple):
        n += sum(sys.getsizeof(x) for x in obj)
    return n


class ByteLRU(Generic[K, V]):
    """``get_or_compute(key, fn)``: memoises ``fn(key)`` within a byte budget.

    Safe from the bot's classify threads: inserts and evictions hold a lock, so the byte count stays
    exact; hits take no lock (a hit on an entry evicted meanwhile still returns its value)."""

    __slots__ = ("max_bytes", "bytes", "_d", "hits", "misses", "_lock")

    def __init__(self, max_bytes: int):
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = max_bytes
        self.bytes = 0
        self._d: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._d)

    def get_or_compute(self, key: K, fn: Callable[[K], V]) -> V:
        d = self._d
        got = d.get(key)
        if got is not None:
            self.hits += 1
            try:
                d.move_to_end(key)
            except KeyError:  # evicted by another thread meanwhile
                pass
            return got[0]
        self.misses += 1
        value = fn(key)
        cost = size_of(key) + size_of(value) + ENTRY_OVERHEAD
        if cost > self.max_bytes:
            return value  # too large to keep at all
        with self._lock:
            if key not in d:
                d[key] = (value, cost)
                self.bytes += cost
            while self.bytes > self.max_bytes and d:
                _, (_, c) = d.popitem(last=False)
                self.bytes -= c
        return value

    def clear(self) -> None:
        with self._lock:
            self._d.clear()
            self.bytes = 0
