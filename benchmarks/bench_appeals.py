"""Appeals: cost of opening and deciding an appeal, and what appeals add to `verify` (issue 16 item 5 figures).

Run: python benchmarks/bench_appeals.py [--members N]
Each of N members posts one flagged message and is banned by a moderator (the adapter is a no-op, so the
figures are the core and the SQLite store). Then every member appeals, half are reversed (dismiss review,
unban, member told) and half upheld. Prints p50/p99 per step and the chain check's time before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import MappingProxyType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import ServerSettings, Settings  # noqa: E402
from bot.models import Action, ActionResult, Attachment, Message  # noqa: E402
from bot.pipeline import Pipeline  # noqa: E402
from bot.store import Store  # noqa: E402
from classifiers.base import Verdict  # noqa: E402

SERVER = "discord:1"


class Lewd:
    name = "lewd"

    def classify(self, text: str) -> list[Verdict]:
        return [Verdict("sexual", 0.99, "matched lewd", self.name)]


class NullAdapter:
    platform = "discord"

    async def execute(self, action: Action) -> ActionResult:
        return ActionResult(ok=True, ref=action.ref or "1")

    async def fetch(self, attachment: Attachment, max_bytes: int) -> bytes:
        return b""


def ms(samples: list[float]) -> str:
    samples = sorted(samples)
    return f"p50 {statistics.median(samples) * 1000:.2f} ms, p99 {samples[int(len(samples) * 0.99) - 1] * 1000:.2f} ms"


async def run(members: int, db: Path) -> None:
    store = Store.open(db)
    settings = Settings(db_path=db, defaults=ServerSettings(mod_channel="9", appeals_per_day=5), thresholds=MappingProxyType({"sexual": 0.5}))
    p = Pipeline(settings, store, [Lewd()])
    p.adapters["discord"] = NullAdapter()
    flags = []
    for i in range(members):
        d = await p.handle(Message(platform="discord", server_id="1", channel_id="2", message_id=str(100 + i), author_id=str(1000 + i), text="lewd"))
        await p.moderate(Action(kind="ban", server=SERVER, flag_id=d.flag_id, user_id=str(1000 + i), actor="mod"))
        flags.append(d.flag_id)
    await p.settle()
    t = time.perf_counter()
    assert all(r.ok for r in store.verify_chain())
    verify_before = time.perf_counter() - t
    opened, decided = [], []
    ids = []
    for i, fid in enumerate(flags):
        t = time.perf_counter()
        ids.append(p.open_appeal("discord", fid, str(1000 + i), "it was a quote, not abuse").id)
        opened.append(time.perf_counter() - t)
    for i, appeal_id in enumerate(ids):
        t = time.perf_counter()
        await p.decide_appeal(SERVER, appeal_id, "reverse" if i % 2 else "uphold", "mod")
        decided.append(time.perf_counter() - t)
    await p.settle()
    t = time.perf_counter()
    assert all(r.ok for r in store.verify_chain())
    verify_after = time.perf_counter() - t
    await p.stop()
    store.close()
    print(f"{members} members banned, each appealing; half reversed (unban + review + message), half upheld")
    print(f"open_appeal:   {ms(opened)}")
    print(f"decide_appeal: {ms(decided)}  (includes the awaited unban through a no-op adapter)")
    print(f"verify_chain:  {verify_before * 1000:.0f} ms before the appeals, {verify_after * 1000:.0f} ms after")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.members, Path(tmp) / "bench.db"))


if __name__ == "__main__":
    main()
