"""Text model speed: single-message latency, batched throughput, load time, file size.

Runs `alt-profanity-check` on the same messages as a reference point (if installed).
Usage: python benchmarks/bench_text.py [--n 20000] [--model PATH]
Messages are random chat-style strings from a hand-written word list, 5% with a harassment phrase
(no dev data needed); single-message and 1-core figures are pinned to one core.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

WORDS = (
    "hai semua apa kabar aku lagi makan siang nih kamu dimana besok kita main game yuk mantap "
    "hello everyone how are you doing today the stream was great lol send me the link please "
    "nice pics mod please remove spam selamat pagi jangan lupa sarapan imlek meriah "
    "breast cancer screening free this week chinese new year photos from the trip"
).split()
#: About 1 in 20 chat messages carries something the model should flag (a pessimistic rate for chat).
TRIGGERS = ("kirim foto bugil dong", "b0k3p", "dasar cina lonte", "ching chong go home", "send nudes", "show me your tits", "s e n d  n u d e s")


def messages(n: int, seed: int = 7, flagged_rate: float = 0.05) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, 25))]
        if rng.random() < flagged_rate:
            words.insert(rng.randint(0, len(words)), rng.choice(TRIGGERS))
        out.append(" ".join(words))
    return out


def pin_one_core() -> set[int] | None:
    """Pin to one core (returns the previous affinity so it can be restored)."""
    try:
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {sorted(before)[0]})
        return before
    except (AttributeError, OSError):
        return None


def latency(fn, msgs: list[str]) -> tuple[float, float]:
    times = []
    for m in msgs:
        t = time.perf_counter()
        fn(m)
        times.append(time.perf_counter() - t)
    times.sort()
    return statistics.median(times) * 1e3, times[int(0.99 * (len(times) - 1))] * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--model", type=Path, default=None)
    args = ap.parse_args()
    cores = pin_one_core()
    msgs = messages(args.n)
    warm = messages(2000, seed=1)

    t = time.perf_counter()
    import sklearn.calibration  # noqa: F401  (modules the pipeline needs: import cost, not load cost)
    import sklearn.feature_extraction.text  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import sklearn.pipeline  # noqa: F401
    import skops.io  # noqa: F401

    from classifiers.text import POOL_MIN_TEXTS, TextClassifier, default_model_path

    import_s = time.perf_counter() - t

    t = time.perf_counter()
    model = TextClassifier.load(args.model)
    load_s = time.perf_counter() - t
    path = args.model or default_model_path()
    for m in warm:
        model.classify(m)
    med, p99 = latency(model.classify, msgs)
    t = time.perf_counter()
    model.classify_batch(msgs)
    batch = len(msgs) / (time.perf_counter() - t)
    t = time.perf_counter()
    model.scores_batch(msgs)
    batch_scores = len(msgs) / (time.perf_counter() - t)
    print(
        f"triagebot text_model   single (1 core): median {med:.3f} ms  p99 {p99:.3f} ms | batched (1 core) "
        f"classify {batch:,.0f} msg/s, scores {batch_scores:,.0f} msg/s | load {load_s:.2f} s "
        f"(+ {import_s:.2f} s imports) | file {path.stat().st_size / 1e6:.1f} MB"
    )
    if cores and len(cores) > 1 and len(msgs) < POOL_MIN_TEXTS:
        print(f"(no multi-process figure: batches under {POOL_MIN_TEXTS} messages are not forked; use --n {POOL_MIN_TEXTS} or more)")
    elif cores and len(cores) > 1:
        os.sched_setaffinity(0, cores)
        n = len(cores)
        t = time.perf_counter()
        model.classify_batch(msgs, n_jobs=n)
        pooled = len(msgs) / (time.perf_counter() - t)
        t = time.perf_counter()
        model.scores_batch(msgs, n_jobs=n)
        pooled_scores = len(msgs) / (time.perf_counter() - t)
        print(f"triagebot text_model   batched ({n} processes, pool start-up included): classify {pooled:,.0f} msg/s, scores {pooled_scores:,.0f} msg/s")
        pin_one_core()

    try:
        from profanity_check import predict_prob
    except ImportError:
        print("alt-profanity-check not installed (pip install 'triagebot[bench]')")
        return
    predict_prob(warm[:10])
    med, p99 = latency(lambda m: predict_prob([m]), msgs[:2000])
    t = time.perf_counter()
    predict_prob(msgs)
    batch = len(msgs) / (time.perf_counter() - t)
    print(f"alt-profanity-check    single: median {med:.3f} ms  p99 {p99:.3f} ms | batched {batch:,.0f} msg/s")


if __name__ == "__main__":
    main()
