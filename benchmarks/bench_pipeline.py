"""Pipeline throughput and latency with a trivial detector and the real SQLite store (issue 2 / 7 figures).

Run: python benchmarks/bench_pipeline.py [--messages N] [--flag-rate R]
     python benchmarks/bench_pipeline.py --shipped [--messages N]   (the whole message path as the bot runs it:
     the shipped text model, a server with 200 of its own rules, the real store; bench_text.py's chat messages)
Pins itself to one core. Prints messages/s, p50/p99 latency per message and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import MappingProxyType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import ServerSettings, Settings  # noqa: E402
from bot.models import Action, ActionResult, Attachment, Message  # noqa: E402
from bot.pipeline import Intake, Pipeline  # noqa: E402
from bot.store import Store  # noqa: E402
from classifiers.base import Verdict  # noqa: E402


class Trivial:
    name = "trivial"

    def classify(self, text: str) -> list[Verdict]:
        return [Verdict("sexual", 0.99 if "lewd" in text else 0.01, "matched lewd" if "lewd" in text else "", self.name)]


class NullAdapter:
    platform = "discord"

    async def execute(self, action: Action) -> ActionResult:
        return ActionResult(ok=True, ref=action.ref or "alert")

    async def fetch(self, attachment: Attachment, max_bytes: int) -> bytes:
        return b""


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def shipped_pipeline(settings: Settings, store: Store, rules: int) -> Pipeline:
    """The bot's text path: the shipped model and its thresholds, and `rules` rules of the server's own."""
    from bench_rules import rule_set

    from bot.detectors import load_text_detectors

    detectors, thresholds, action_thresholds = load_text_detectors(settings)
    p = Pipeline(settings, store, detectors, base_thresholds=thresholds, action_thresholds=action_thresholds)
    for rule in rule_set(rules):
        p.add_rule("discord:bench", rule.kind, None if rule.label == "all" else rule.label, rule.pattern, "bench")
    return p


async def run(n: int, flag_rate: float, db: Path, mode: str, shipped: bool = False) -> dict:
    store = Store.open(db)
    settings = Settings(db_path=db, defaults=ServerSettings(mod_channel="1"))
    if shipped:
        from bench_text import messages

        p = shipped_pipeline(settings, store, rules=200)
        texts = messages(n)
    else:
        p = Pipeline(settings, store, [Trivial()], base_thresholds=MappingProxyType({"sexual": 0.5}))
        every = int(1 / flag_rate) if flag_rate > 0 else 0
        texts = [("lewd " if every and i % every == 0 else "") + f"message number {i} about lunch" for i in range(n)]
    p.adapters["discord"] = NullAdapter()
    msgs = [Message("discord", "bench", "c1", f"m{i}", f"a{i % 500}", text=t) for i, t in enumerate(texts)]
    lat: list[float] = []
    t0 = time.perf_counter()
    if mode == "direct":
        for m in msgs:
            s = time.perf_counter()
            await p.handle(m)
            lat.append(time.perf_counter() - s)
    else:
        # time each message's handling inside the workers (not its wait in the full queue)
        handle = p.handle

        async def timed(message):
            s = time.perf_counter()
            try:
                return await handle(message)
            finally:
                lat.append(time.perf_counter() - s)

        p.handle = timed  # type: ignore[method-assign]
        intake = Intake(p, maxsize=1000, workers=4)
        intake.start()
        for m in msgs:
            await intake.submit(m)
        await intake.stop()
    elapsed = time.perf_counter() - t0
    await p.settle()  # alerts are posted by the delivery worker, which shares the event loop
    drained = time.perf_counter() - t0
    await p.stop()
    flags = store.stats(None)["flags"]
    store.close()
    p.executor.shutdown()
    lat.sort()
    return {
        "mode": mode,
        "messages": n,
        "flagged": flags,
        "msg_per_s": n / elapsed,
        "drained_s": drained,
        "p50_ms": statistics.median(lat) * 1000,
        "p99_ms": lat[int(len(lat) * 0.99) - 1] * 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--flag-rate", type=float, nargs="*", default=[0.05, 1.0])
    ap.add_argument("--shipped", action="store_true", help="the shipped model + 200 server rules instead of the trivial detector")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print("direct = one message at a time; intake = a flood through the bounded queue with 4 workers")
    print("(latency = handling time per message, excluding time spent waiting in the queue)")
    print("(alerts done = seconds until every alert was also posted by the background delivery worker)")
    print(f"{'mode':8} {'flag rate':>9} {'messages':>9} {'flagged':>8} {'msg/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'alerts done':>12}")
    rates = [-1.0] if args.shipped else args.flag_rate  # shipped: the messages' own mix decides what is flagged
    for rate in rates:
        for mode in ("direct", "intake"):
            with tempfile.TemporaryDirectory() as d:
                r = asyncio.run(run(args.messages, rate, Path(d) / "bench.db", mode, args.shipped))
            print(
                f"{r['mode']:8} {'chat mix' if rate < 0 else f'{rate:.2f}':>9} {r['messages']:9d} {r['flagged']:8d} {r['msg_per_s']:9.0f} {r['p50_ms']:8.3f} {r['p99_ms']:8.3f} {r['drained_s']:11.1f}s"
            )
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
