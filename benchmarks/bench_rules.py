"""Cost of a server's own rules per message (classifiers/rules.py), on top of the text model.

Usage: python benchmarks/bench_rules.py [--n 20000]
The same random chat-style messages as bench_text.py (no dev data). Rule sets mix whole words, `*` globs at the
start, middle and end of a word, and phrases with a one-word wildcard, like a moderator's list; a few of them
match the messages' harassment phrases. Reported: median and p99 per message, pinned to one core, for the
matcher on text the model already normalised (what the pipeline adds) and including normalisation; then a
5,000-character message and pathological patterns (`*a*a*a*a*`) against a 5,000-letter word.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from bench_text import latency, messages, pin_one_core

from classifiers.normalize import normalize
from classifiers.rules import Rule, compile_rules


def rule_set(n: int, seed: int = 3) -> list[Rule]:
    """`n` rules: 40% whole words, 30% globs, 30% phrases; a handful real (they match the triggers)."""
    rng = random.Random(seed)
    real = [Rule("term", "racial", "ching*"), Rule("term", "sexual", "*bugil*"), Rule("term", "sexual", "send * nudes"), Rule("allow", "all", "imlek meriah")]
    out = list(real)
    letters = "abcdefghijklmnopqrstuvwxyz"
    while len(out) < n:
        word = "".join(rng.choice(letters) for _ in range(rng.randint(4, 8)))
        kind = rng.random()
        if kind < 0.4:
            pattern = word
        elif kind < 0.7:
            pattern = rng.choice((f"{word}*", f"*{word}", f"*{word}*", f"{word[:2]}*{word[2:]}"))
        else:
            pattern = f"{word} * {''.join(rng.choice(letters) for _ in range(5))}"
        out.append(Rule("term", rng.choice(("sexual", "racial")), pattern))
    return out[:n]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    args = ap.parse_args()
    pin_one_core()
    msgs = messages(args.n)
    normed = [normalize(m) for m in msgs]  # warms the normaliser's token caches, as a running bot's are
    t = time.perf_counter()
    for m in msgs:
        normalize(m)
    print(f"normalise alone (the model does it anyway): {(time.perf_counter() - t) / len(msgs) * 1e6:.1f} µs/message mean")
    for n_rules in (0, 20, 200, 1000):
        matcher = compile_rules(rule_set(n_rules))
        t = time.perf_counter()
        compile_rules(rule_set(n_rules))
        build_ms = (time.perf_counter() - t) * 1e3
        it = iter(normed)
        med, p99 = latency(lambda _m: matcher.match(next(it)), msgs)
        med_raw, p99_raw = latency(matcher.match, msgs)
        hits = sum(bool(matcher.match(n).verdicts) for n in normed[:2000])
        print(
            f"{n_rules:>5} rules: matcher {med * 1e3:6.1f} µs median, {p99 * 1e3:6.1f} µs p99 | with normalising "
            f"{med_raw * 1e3:6.1f} / {p99_raw * 1e3:6.1f} µs | compile {build_ms:5.1f} ms | "
            f"{hits / 20:.1f}% of messages match"
        )
    matcher = compile_rules(rule_set(200))
    try:  # what a message costs in the bot: the shipped model, then the server's 200 rules on the same text
        from classifiers.text import TextClassifier

        model = TextClassifier.load()
        for m in msgs[:2000]:
            model.classify(m)

        def model_only(m: str) -> float:
            t = time.perf_counter()
            model.classify(m)
            return time.perf_counter() - t

        def with_rules(m: str) -> float:
            t = time.perf_counter()
            model.classify(m)
            matcher.match(m)
            return time.perf_counter() - t

        alone, both = [], []
        for i, m in enumerate(msgs):  # interleaved, each going first half the time: load and warm caches even out
            if i % 2:
                alone.append(model_only(m))
                both.append(with_rules(m))
            else:
                both.append(with_rules(m))
                alone.append(model_only(m))
        print(f"shipped model alone: {statistics.median(alone) * 1e6:.0f} µs median; model + 200 rules: {statistics.median(both) * 1e6:.0f} µs median")
    except Exception as exc:  # no model file: the matcher figures above still stand
        print(f"(model not measured: {exc})")
    long_text = " ".join(messages(400, seed=11))[:5000]
    long_norm = normalize(long_text)
    med, _ = latency(lambda _m: matcher.match(long_norm), [long_text] * 200)
    print(f"a 5,000-character message, 200 rules: {med:.2f} ms median")
    # Worst case for the matcher: every pattern's longest piece is in the word, another piece is not, so each
    # glob check scans the whole word once (a backtracking regex would take exponential time on some of these).
    word = "ab" * 2500
    shapes = ("*{}*c*", "*{}a*c*", "*b{}*c*", "*a*{}*a*a*c", "*{}b*c*")
    bad = compile_rules([Rule("term", "sexual", shape.format("ab" * k)) for shape in shapes for k in range(1, 46)][:200])
    word_norm = normalize(word)
    med, _ = latency(lambda _m: bad.match(word_norm), [word] * 50)
    found = len(bad.match(word_norm).verdicts)
    print(f"pathological: {len(bad)} patterns like *abab*c* against a 5,000-letter word: {med:.2f} ms median ({found} matches)")


if __name__ == "__main__":
    main()
