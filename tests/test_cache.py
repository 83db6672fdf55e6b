"""The byte-bounded LRU cache behind the text caches: bounded whatever the input, LRU order kept."""

from __future__ import annotations

import pytest

from classifiers.cache import ENTRY_OVERHEAD, ByteLRU, size_of


@pytest.mark.parametrize("n, length", [(0, 0), (1, 1), (100, 10), (5000, 2000), (50, 200_000)])
def test_bytes_never_exceed_budget(n: int, length: int) -> None:
    cache: ByteLRU[str, tuple[str, ...]] = ByteLRU(64 * 1024)
    for i in range(n):
        key = f"{i}" + "x" * length
        assert cache.get_or_compute(key, lambda k: (k.upper(),)) == (key.upper(),)
        assert cache.bytes <= cache.max_bytes
    assert cache.bytes == sum(size_of(k) + size_of(v) + ENTRY_OVERHEAD for k, (v, _) in cache._d.items())


@pytest.mark.parametrize("key", ["", "kata", "kata2", "ѕеnd", "🍆"])
def test_hit_does_not_recompute(key: str) -> None:
    calls: list[str] = []
    cache: ByteLRU[str, str] = ByteLRU(10_000)
    for _ in range(3):
        cache.get_or_compute(key, lambda k: calls.append(k) or k * 2)
    assert calls == [key] and cache.hits == 2


def test_least_recently_used_goes_first() -> None:
    cache: ByteLRU[str, str] = ByteLRU(3 * (size_of("a") * 2 + ENTRY_OVERHEAD))
    for k in "abc":
        cache.get_or_compute(k, str)
    cache.get_or_compute("a", str)  # refresh a
    cache.get_or_compute("d", str)  # evicts b
    assert list(cache._d) == ["c", "a", "d"]


def test_negative_budget_is_refused() -> None:
    with pytest.raises(ValueError):
        ByteLRU(-1)


def test_threads_keep_the_byte_count_exact() -> None:
    import threading

    cache: ByteLRU[str, str] = ByteLRU(20_000)
    keys = [f"k{i % 700}" for i in range(20_000)]

    def work(offset: int) -> None:
        for k in keys[offset:] + keys[:offset]:
            cache.get_or_compute(k, str.upper)

    threads = [threading.Thread(target=work, args=(i * 997,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.bytes == sum(c for _, c in cache._d.values()) <= cache.max_bytes
