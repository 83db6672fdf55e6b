"""Candidate search over the bank's ORB descriptors: which entries share many local features
with a query, without comparing the query to every entry.

Why: a crop of 25% per side (or 40% off one side) moves every coefficient of a global hash,
so the hash scan never puts the right entry among its nearest. Local features survive crops:
`TABLES` disjoint 20-bit pieces of each 256-bit ORB descriptor are keys into inverted lists
(a multi-index hash: a true pair of descriptors a few bits apart agrees on at least one whole
piece with good odds). Each query descriptor votes for the entries in
its buckets when the two full descriptors are close; the best-voted entries go on to
geometric verification (classifiers/images/geometry.py). Cost grows with bucket sizes, not
with a scan of the bank (figures in benchmarks/bench_images.py and the README).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import numpy as np

log = logging.getLogger(__name__)

TABLES = 4  # 32-bit words of the descriptor whose low KEY_BITS bits are keys (of 8)
KEY_BITS = 20
MAX_DISTANCE = 40  # bits of 256: a descriptor pair further apart than this casts no vote
_TIE = 2  # entries this close to a query descriptor's nearest share its vote
_BUCKETS = 1 << KEY_BITS
_BUCKET_CAP = 64  # times the mean bucket size


def _keys(desc8: np.ndarray, tables: int) -> np.ndarray:
    """(n, tables) bucket keys: the low KEY_BITS bits of the first `tables` 32-bit words."""
    return (desc8.view(np.uint32)[:, :tables] & np.uint32(_BUCKETS - 1)).astype(np.int64)


class FeatureIndex:
    """Inverted lists from descriptor words to bank descriptors; rebuilt after changes.

    Positions are the caller's (BankIndex's) entry positions, passed in `build`. A vote
    counts only when the full descriptors are within `max_distance` bits, and only for the
    entries nearest to that query descriptor."""

    def __init__(self, tables: int = TABLES, max_distance: int = MAX_DISTANCE) -> None:
        if not 1 <= tables <= 8:
            raise ValueError("tables must be between 1 and 8")
        self.tables = tables
        self.max_distance = max_distance
        self._desc: np.ndarray | None = None  # (n_desc, 4) uint64, every bank descriptor
        self._desc8: np.ndarray = np.zeros((0, 32), np.uint8)  # the same memory as (n_desc, 32) uint8
        self._starts: np.ndarray = np.zeros(1, np.int64)  # first descriptor of each entry position
        self._rows: np.ndarray | None = None  # (tables, n_desc) descriptor rows, sorted by bucket
        self._offsets: np.ndarray | None = None  # (tables, 65537) start of each bucket in _rows
        self._cap = 0  # buckets fuller than this (flat areas, text strokes) are not looked at
        self._n_entries = 0
        self._lock = threading.Lock()

    def build(self, descriptors: Sequence[np.ndarray]) -> None:
        """Index one (n_i x 32 uint8) descriptor array per entry position."""
        counts = np.array([len(d) for d in descriptors], np.int64)
        n_entries = len(descriptors)
        parts = [np.ascontiguousarray(d, np.uint8).reshape(-1, 32) for d in descriptors if len(d)]
        alld = np.concatenate(parts) if parts else np.zeros((0, 32), np.uint8)
        rows = np.empty((self.tables, len(alld)), np.int32)
        offsets = np.zeros((self.tables, _BUCKETS + 1), np.int32)
        words32 = alld.view(np.uint32)
        for t in range(self.tables):  # one table at a time: the temporaries stay small
            key = words32[:, t] & np.uint32(_BUCKETS - 1)
            rows[t] = np.argsort(key, kind="stable")
            np.cumsum(np.bincount(key, minlength=_BUCKETS), out=offsets[t, 1:])
        starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        with self._lock:
            self._desc8 = alld
            self._starts = starts
            self._desc = alld.view(np.uint64).reshape(-1, 4)
            self._rows, self._offsets, self._n_entries = rows, offsets, n_entries
            self._cap = max(16, int(_BUCKET_CAP * len(alld) / _BUCKETS))

    def descriptors(self, position: int) -> np.ndarray:
        """Entry `position`'s descriptors as a view into the index's one copy (so the bank need
        not keep a second one: at 10,000 entries that is ~120 MB)."""
        return self._desc8[self._starts[position] : self._starts[position + 1]]

    def votes(self, q_desc: np.ndarray) -> np.ndarray:
        """Per entry position: the query descriptors whose nearest bank descriptors are in it
        (each query descriptor's one vote shared among the entries tied for nearest)."""
        with self._lock:
            desc, starts, rows, offsets, n, cap = self._desc, self._starts, self._rows, self._offsets, self._n_entries, self._cap
        if desc is None or rows is None or offsets is None or n == 0 or len(q_desc) == 0 or len(desc) == 0:
            return np.zeros(n, np.float64)
        q8 = np.ascontiguousarray(q_desc, np.uint8).reshape(-1, 32)
        q64 = q8.view(np.uint64).reshape(-1, 4)
        words = _keys(q8, self.tables)
        found: list[np.ndarray] = []  # (3, k): query descriptor, entry position, distance
        for t in range(self.tables):
            keys = words[:, t].astype(np.int64)
            lo, hi = offsets[t, keys].astype(np.int64), offsets[t, keys + 1].astype(np.int64)
            lens = hi - lo
            lens[lens > cap] = 0
            total = int(lens.sum())
            if total == 0:
                continue
            # positions lo[i]..hi[i]-1 for every query descriptor i, without a Python loop
            qi = np.repeat(np.arange(len(keys)), lens)
            pos = np.repeat(lo - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) + np.arange(total)
            r = rows[t, pos]
            dist = np.bitwise_count(desc[r] ^ q64[qi]).sum(axis=1, dtype=np.int64)
            close = dist <= self.max_distance
            owner = np.searchsorted(starts, r[close], side="right") - 1  # the entry each descriptor row belongs to
            found.append(np.stack([qi[close].astype(np.int64), owner.astype(np.int64), dist[close]]))
        if not found:
            return np.zeros(n, np.float64)
        qi, own, dist = np.concatenate(found, axis=1)
        # Only the bank's nearest entries for each query descriptor get its vote (a ratio test
        # across the bank): a generic descriptor (a smooth patch, a text stroke) is near many
        # entries and spreads its one vote thin; a true pair puts it all on the right entry.
        best = np.full(len(q8), np.iinfo(np.int64).max, np.int64)
        np.minimum.at(best, qi, dist)
        keep = dist <= best[qi] + _TIE
        pairs = np.unique(qi[keep] * n + own[keep])  # a (query descriptor, entry) pair votes once
        pq = pairs // n
        share = np.bincount(pq, minlength=len(q8)).astype(np.float64)
        return np.bincount(pairs % n, weights=1.0 / share[pq], minlength=n)

    def candidates(self, q_desc: np.ndarray, k: int, exclude: Sequence[int] = (), min_votes: float = 1.0) -> list[int]:
        """Up to `k` entry positions with the most votes (at least `min_votes`), best first, skipping `exclude`."""
        return top_candidates(self.votes(q_desc), k, exclude, min_votes)


def top_candidates(v: np.ndarray, k: int, exclude: Sequence[int] = (), min_votes: float | np.ndarray = 1.0) -> list[int]:
    """The `k` best-voted positions of a vote array (at least `min_votes`, one bar for all or one
    per position), best first."""
    if len(v) == 0 or k <= 0:
        return []
    v = v.copy()
    if len(exclude):
        v[np.asarray(list(exclude), np.int64)] = -1
    k = min(k, len(v))
    top = np.argpartition(-v, k - 1)[:k]
    top = top[np.argsort(-v[top], kind="stable")]
    bar = np.broadcast_to(np.asarray(min_votes, np.float64), v.shape)
    return [int(i) for i in top if v[i] >= bar[i]]


__all__ = ["FeatureIndex", "TABLES", "top_candidates"]
