"""Store figures for issue 12: WAL size and flagged messages/s through a flood, SQL statements per flagged
message, and `verify` time for a long audit chain.

Run: python benchmarks/bench_store.py [--flags 10000] [--audit-rows 100000]
Pins itself to one core. The flood goes through the pipeline's bounded intake (4 workers), as a raid would.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import MappingProxyType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import ServerSettings, Settings  # noqa: E402
from bot.models import Action, Decision, Message, Review  # noqa: E402
from bot.pipeline import Intake, Pipeline  # noqa: E402
from bot.store import Store  # noqa: E402
from classifiers.base import Verdict  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import NullAdapter, Trivial  # noqa: E402


class WalWatcher(threading.Thread):
    """Samples the -wal file's size every 20 ms and keeps the peak."""

    def __init__(self, db: Path) -> None:
        super().__init__(daemon=True)
        self.wal = Path(f"{db}-wal")
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.02):
            try:
                self.peak = max(self.peak, self.wal.stat().st_size)
            except OSError:
                pass


async def flood(db: Path, n: int, targeted: bool = True) -> dict:
    """`targeted`: a pile-on at 20 members (replies/mentions); otherwise a raid aimed at no one, whose flags
    join the channel's incident through the raid window (one extra indexed look-up per flag)."""
    store = Store.open(db)
    settings = Settings(db_path=db, defaults=ServerSettings(mod_channel="1"))
    p = Pipeline(settings, store, [Trivial()], base_thresholds=MappingProxyType({"sexual": 0.5}))
    p.adapters["discord"] = NullAdapter()
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    await p.handle(Message("discord", "raid", "c1", "warm", "a0", text="lewd warm-up"))
    await p.settle()
    statements.clear()
    await p.handle(Message("discord", "raid", "c1", "one", "a1", text="lewd just one", targets=("v1",) if targeted else ()))
    per_flag = len(statements)
    tx = sum(1 for s in statements if s.startswith("BEGIN"))
    statements.clear()
    await p.settle()  # the delivery worker posts the alert and records it: its own, separate statements
    delivery = len(statements)
    store.db.conn.set_trace_callback(None)
    watcher = WalWatcher(db)
    watcher.start()
    intake = Intake(p, maxsize=1000, workers=4)
    intake.start()
    t0 = time.perf_counter()
    for i in range(n):
        await intake.submit(
            Message("discord", "raid", "c1", f"m{i}", f"a{i % 500}", text=f"lewd raid message {i}", targets=(f"v{i % 20}",) if targeted else ())
        )
    await intake.stop()
    elapsed = time.perf_counter() - t0
    await p.settle()
    await p.stop()
    watcher.stop.set()
    watcher.join()
    flags = store.stats("discord:raid")["flags"]
    store.close()
    p.executor.shutdown()
    return {
        "flags": flags,
        "per_s": n / elapsed,
        "wal_peak_mb": watcher.peak / 2**20,
        "db_mb": db.stat().st_size / 2**20,
        "statements": per_flag,
        "transactions": tx,
        "delivery_statements": delivery,
    }


def verify_time(db: Path, rows: int) -> dict:
    """Builds a chain of `rows` audit rows (5 per flag: flag, report, review, action, result) in one transaction."""
    with Store.open(db) as store:
        with store._tx():
            for i in range(rows // 5):
                m = Message("discord", "long", "c1", f"m{i}", f"a{i % 500}", text=f"lewd message {i}")
                r = store.record_flag(m, Decision(flagged=True, labels=("sexual",), verdicts=(Verdict("sexual", 0.9, "kw lewd", "kw"),)))
                store.record_report(m.server, r.flag_id, f"r{i}", "kirim foto")
                store.record_review(Review(flag_id=r.flag_id, server=m.server, decision="confirm", reviewer="mod"))
                aid = store.record_action(Action(kind="delete", server=m.server, flag_id=r.flag_id, actor="mod"))
                store.complete_action(m.server, aid, "ok")
        t0 = time.perf_counter()
        (report,) = store.verify_chain("discord:long")
        elapsed = time.perf_counter() - t0
    assert report.ok, report.problem
    return {"rows": report.rows, "seconds": elapsed}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--flags", type=int, default=10000)
    ap.add_argument("--audit-rows", type=int, default=100000)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    for targeted in (True, False):
        what = "aimed at 20 members" if targeted else "aimed at no one (a raid on the channel)"
        with tempfile.TemporaryDirectory() as d:
            r = asyncio.run(flood(Path(d) / "flood.db", args.flags, targeted))
        print(f"flood {what}: {r['flags']} flags, {r['per_s']:.0f} flagged msg/s, WAL peak {r['wal_peak_mb']:.1f} MB, database {r['db_mb']:.1f} MB")
        print(
            f"  one flagged message ({'new incident target' if targeted else 'joins the channel incident'}): {r['statements']} SQL statements"
            f" in {r['transactions']} transactions on the message path; its alert delivery then ran {r['delivery_statements']} more, off it"
        )
    with tempfile.TemporaryDirectory() as d:
        v = verify_time(Path(d) / "chain.db", args.audit_rows)
    print(f"verify: {v['rows']} audit rows in {v['seconds']:.2f} s")


if __name__ == "__main__":
    main()
