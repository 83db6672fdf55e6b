"""Text caches' memory: RSS growth over N unique long messages (issue 13: caches bounded by bytes).

Usage: python benchmarks/bench_text_memory.py [--n 10000] [--chars 2000] [--no-model]
Messages are random 3-12-letter words (every word new, the worst case for per-word caches). With
the model, each goes through TextClassifier.classify; with --no-model, through the normaliser and
the lexicon only. Prints RSS growth and the caches' own byte counts.
"""

from __future__ import annotations

import argparse
import random
import string


def message(rng: random.Random, chars: int) -> str:
    out, n = [], 0
    while n < chars:
        w = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 12)))
        out.append(w)
        n += len(w) + 1
    return " ".join(out)[:chars]


def main() -> None:
    import psutil

    from classifiers import normalize as nz
    from classifiers.lexicon import default_lexicon

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--chars", type=int, default=2000)
    ap.add_argument("--no-model", action="store_true")
    args = ap.parse_args()
    rng = random.Random(1)
    lex = default_lexicon()
    if args.no_model:

        def run(text: str) -> object:
            return lex.match(nz.normalize(text).words)

        caches = {"fold": nz._FOLD_CACHE, "norm": nz._NORM_CACHE, "lexicon": lex._canon_cache}
    else:
        from classifiers.text import TextClassifier

        model = TextClassifier.load()
        run = model.classify
        caches = {"fold": nz._FOLD_CACHE, "norm": nz._NORM_CACHE, "lexicon": lex._canon_cache, **{f"block:{name}": b._cache for name, b in model._blocks}}
    for _ in range(50):
        run(message(rng, args.chars))
    proc = psutil.Process()
    before = proc.memory_info().rss
    for _ in range(args.n):
        run(message(rng, args.chars))
    grew = proc.memory_info().rss - before
    print(f"{args.n} unique {args.chars}-char messages ({'normaliser + lexicon' if args.no_model else 'classify'}): RSS grew {grew / 1e6:.0f} MB")
    for name, c in caches.items():
        print(f"  cache {name}: {len(c)} entries, {c.bytes / 1e6:.1f} MB of {c.max_bytes / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
