"""Figures for learning from decisions: `stats --precision` (the bots' /stats runs the same report),
`export --training` and the filtered review queue, on one server with many reviewed flags.

Run: python benchmarks/bench_decisions.py [--flags 20000]
Pins itself to one core. Flags carry text-model verdicts with reasons naming 50 different terms; 80% are
reviewed (60% confirmed, 30% dismissed, 10% escalated), a tenth of those twice.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot import training_export  # noqa: E402
from bot.models import Decision, Message, Review  # noqa: E402
from bot.precision import precision_reports, precision_summary  # noqa: E402
from bot.store import Store  # noqa: E402
from classifiers.base import Verdict  # noqa: E402

SERVER = "discord:1"


def fill(store: Store, n: int) -> int:
    rng = random.Random(7)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    reviewed = 0
    for i in range(n):
        label = "sexual" if i % 3 else "racial"
        term = f"term{i % 50}"
        m = Message("discord", "1", f"c{i % 20}", f"m{i}", f"u{i % 500}", f"pesan {i} {term} " + "x" * rng.randint(0, 200), time=t0 + timedelta(seconds=i))
        score = round(rng.uniform(0.6, 1.0), 3)
        d = Decision(flagged=True, labels=(label,), verdicts=(Verdict(label, score, f'"{term}"', "text_model"),))
        fid = store.record_flag(m, d).flag_id
        if rng.random() < 0.8:
            reviewed += 1
            r = rng.random()
            decision = "confirm" if r < 0.6 else ("dismiss" if r < 0.9 else "escalate")
            store.record_review(Review(fid, SERVER, decision, "mod"))
            if rng.random() < 0.1:
                store.record_review(Review(fid, SERVER, "dismiss", "mod", "appeal reversed"))
    return reviewed


def timed(what: str, fn, repeat: int = 3):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    print(f"{what:<58} {best * 1000:9.1f} ms (best of {repeat})")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--flags", type=int, default=20000)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with tempfile.TemporaryDirectory() as tmp:
        with Store.open(Path(tmp) / "bench.db") as store:
            t = time.perf_counter()
            reviewed = fill(store, args.flags)
            print(f"filled {args.flags} flags ({reviewed} reviewed) in {time.perf_counter() - t:.1f} s")
            (r,) = timed(f"precision report, {reviewed} reviewed flags", lambda: precision_reports(store, SERVER))
            print(f"  -> precision {r.by_label[0].key} {r.by_label[0].precision:.3f}, {len(r.by_term)} terms")
            timed("bots' /stats precision lines (newest 5,000 reviewed)", lambda: precision_summary(store, SERVER))

            def export() -> int:
                rows, _ = training_export.decision_rows(store, SERVER)
                return training_export.write_training_csv(rows, io.StringIO())

            n = timed("export --training (rows + CSV in memory)", export)
            print(f"  -> {n} rows")
            timed("review queue, 50 items + total, no filter", lambda: store.review_queue(SERVER, 50))
            timed("review queue, --author (indexed)", lambda: store.review_queue(SERVER, 50, author="u7"))
            timed("review queue, --label racial", lambda: store.review_queue(SERVER, 50, label="racial"))


if __name__ == "__main__":
    main()
