"""A Telegram pile-on against the rate-limited fake Bot API (issue 11 figures), with the real PTB client and text model.

Run: python benchmarks/bench_pileon_telegram.py [--messages 300] [--harassing 60] [--rate 100] [--no-limit] [--stops 3]
The fake enforces Telegram's limits (about 1 message/s per chat, 20/min per group; 429 with retry_after).
Measures, per harassing message, the time from the bot receiving it (getUpdates handing it out) to its
flag being in the store; the same for one harassing message in another group sent mid-flood; the time
after the flood ends until the incident alert in the moderators' chat shows every harassing message; how long a
moderator's /stats, sent in that chat a third of the way in, waits for its reply; that a clean restart halfway
through loses no flag and no alert; and, with `triagebot run` as a subprocess, the time from SIGTERM mid-flood to exit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import parse_settings  # noqa: E402
from bot.detectors import build_pipeline  # noqa: E402
from bot.platforms.telegram_bot import build_application, start_polling, stop  # noqa: E402
from bot.store import Store  # noqa: E402
from tests.fake_telegram import FakeTelegram, supergroup, user  # noqa: E402
from tests.run_process import config_text, kill, start_run, telegram_env, time_exit  # noqa: E402
from tests.test_telegram_stop import HARASSING, flood  # noqa: E402

GROUP, GROUP2, MODS, MODS2 = -1001234567890, -1005555555555, -1009999999999, -1008888888888
SERVER, SERVER2 = f"telegram:{GROUP}", f"telegram:{GROUP2}"
INCIDENT = re.compile(r"Incident: (\d+) flags")


def incident_shown(fake: FakeTelegram) -> int:
    """Flags shown by the newest alert text the moderators' chat accepted."""
    best = 0
    for c in fake.calls:
        if c.result is None or c.method not in ("sendMessage", "editMessageText") or int(c.params.get("chat_id", 0)) != MODS:
            continue
        hit = INCIDENT.search(c.params.get("text", ""))
        if hit:
            best = int(hit.group(1))
    return best


async def start_bot(settings, db: Path):
    """The bot as `triagebot run` wires it (store, pipeline with the shipped model, PTB app), polling."""
    store = Store.open(db)
    pipeline = build_pipeline(settings, store)
    app = build_application(pipeline, settings)
    await app.initialize()
    pipeline.start()
    await start_polling(app, timeout=1)
    return store, pipeline, app


async def pile_on(total: int, harassing: int, rate: float, limit: bool, db: Path) -> dict:
    fake = await FakeTelegram(limits=limit).start()
    settings = parse_settings({"storage": {"path": str(db)}, "servers": {SERVER: {"mod_chat": MODS}, SERVER2: {"mod_chat": MODS2}}}, telegram_env(fake))
    store, pipeline, app = await start_bot(settings, db)
    group, group2 = supergroup(GROUP, "Sari's fans"), supergroup(GROUP2, "Other group")
    target = fake.new_message(group, user(400, "Sari", "sari"), "my new video", message_id=10)
    sent: dict[int, tuple[str, int]] = {}  # message id -> (server, update id)
    stored: dict[int, float] = {}
    shown_all: list[float] = []
    asked: list[float] = []  # when a moderator sent /stats in the moderators' chat, mid-flood
    answered: list[float] = []

    def stats_reply() -> bool:
        return any(
            c.result is not None and int(c.params.get("chat_id", 0)) == MODS and "Flags:" in c.params.get("text", "") for c in fake.calls_of("sendMessage")
        )

    async def poll() -> None:
        while True:
            now = time.monotonic()
            if asked and not answered and stats_reply():
                answered.append(now)
            if not shown_all and incident_shown(fake) >= harassing:
                shown_all.append(now)
            for mid, (server, _) in sent.items():
                if mid not in stored and store.find_flag(server, str(server.split(":")[1]), str(mid)) is not None:
                    stored[mid] = now
            await asyncio.sleep(0.01)

    poller = asyncio.create_task(poll())
    plan = flood(total, max(1, total // harassing))
    gap = 1.0 / rate if rate > 0 else 0.0
    other = None
    t_start = time.monotonic()
    for i, (author, text, is_harassing) in enumerate(plan):
        m = await fake.send(group, author, text, reply_to=target)
        if is_harassing:
            sent[m["message_id"]] = (SERVER, fake.updates[-1]["update_id"])
        if i == total // 3:  # a moderator asks for the numbers while the alert is being edited
            await fake.send(supergroup(MODS, "Mods"), user(900, "Mod"), "/stats", entities=[{"type": "bot_command", "offset": 0, "length": 6}])
            asked.append(time.monotonic())
        if i == total // 2:
            m2 = await fake.send(group2, user(701, "Troll1"), HARASSING[0], reply_to=fake.new_message(group2, user(401, "Dewi"), "hi", message_id=11))
            other = m2["message_id"]
            sent[other] = (SERVER2, fake.updates[-1]["update_id"])
        if gap:
            await asyncio.sleep(max(0.0, t_start + (i + 1) * gap - time.monotonic()))
    t_end = time.monotonic()
    n_main = len(sent) - 1
    deadline = t_end + 180
    while (len(stored) < len(sent) or not shown_all or not answered) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    poller.cancel()
    lat = sorted(stored[mid] - fake.handed_out[u] for mid, (_, u) in sent.items() if mid in stored and mid != other)
    result = {
        "flood_s": round(t_end - t_start, 2),
        "stored": f"{len([m for m in stored if m != other])}/{n_main}",
        "p50_s": round(statistics.median(lat), 3) if lat else None,
        "max_s": round(lat[-1], 3) if lat else None,
        "other_group_s": round(stored[other] - fake.handed_out[sent[other][1]], 3) if other in stored else None,
        "alert_all_after_flood_s": round(shown_all[0] - t_end, 2) if shown_all else None,
        "stats_reply_mid_flood_s": round(answered[0] - asked[0], 2) if answered else None,
        "largest_incident_shown": incident_shown(fake),
        "mod_chat_429s": len([c for c in fake.rejected if int(c.params.get("chat_id", 0)) == MODS]),
        "mod_chat_writes": len([c for c in fake.calls if c.method in ("sendMessage", "editMessageText") and int(c.params.get("chat_id", 0)) == MODS]),
    }
    await stop(app)
    await pipeline.stop()
    pipeline.executor.shutdown(wait=False)
    store.close()
    await fake.stop()
    return result


async def restart_mid_flood(total: int, harassing: int, db: Path) -> dict:
    """Stop the bot cleanly halfway through the pile-on and start a new one on the same database: every
    harassing message ends up stored, and the one incident alert (edited, not re-posted) shows them all."""
    fake = await FakeTelegram(limits=True).start()
    settings = parse_settings({"storage": {"path": str(db)}, "servers": {SERVER: {"mod_chat": MODS}}}, telegram_env(fake))
    group = supergroup(GROUP, "Sari's fans")
    target = fake.new_message(group, user(400, "Sari", "sari"), "my new video", message_id=10)
    plan = flood(total, max(1, total // harassing))
    harassing_ids: list[int] = []
    for half in (plan[: total // 2], plan[total // 2 :]):
        store, pipeline, app = await start_bot(settings, db)
        for author, text, is_harassing in half:
            m = await fake.send(group, author, text, reply_to=target)
            if is_harassing:
                harassing_ids.append(m["message_id"])
        if half is plan[: total // 2]:
            await asyncio.sleep(0.3)  # mid-flood: part taken from Telegram, part not yet
        else:
            deadline = time.monotonic() + 120
            while incident_shown(fake) < len(harassing_ids) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        await stop(app)
        await pipeline.stop()
        pipeline.executor.shutdown(wait=False)
        stored = sum(store.find_flag(SERVER, str(GROUP), str(mid)) is not None for mid in harassing_ids)
        store.close()
    result = {
        "stored": f"{stored}/{len(harassing_ids)}",
        "alert_shows": incident_shown(fake),
        "alert_posts": len(
            [c for c in fake.calls_of("sendMessage") if c.result is not None and int(c.params["chat_id"]) == MODS and "Incident" in c.params["text"]]
        ),
    }
    await fake.stop()
    return result


async def stop_mid_flood(tmp: Path, total: int, sig: signal.Signals) -> float:
    """`triagebot run` in a subprocess: seconds from the signal, sent mid pile-on, to exit."""
    fake = await FakeTelegram(limits=True).start()
    config = config_text(tmp / f"stop-{time.monotonic_ns()}.db", SERVER, ("mod_chat", MODS))
    proc = await start_run(tmp, config, telegram_env(fake), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    group = supergroup(GROUP, "Sari's fans")
    target = fake.new_message(group, user(400, "Sari", "sari"), "my new video", message_id=10)
    try:
        await fake.wait_for(lambda: fake.calls_of("getUpdates"), timeout=120, what="polling")
        for author, text, _ in flood(total):
            await fake.send(group, author, text, reply_to=target)
        await fake.wait_call("sendMessage", timeout=60, where=lambda c: int(c.params["chat_id"]) == MODS)
        await asyncio.sleep(1.0)  # well inside the flood: edits are queued on the chat's limit
        return await time_exit(proc, sig)
    finally:
        await kill(proc)
        await fake.stop()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--harassing", type=int, default=60)
    ap.add_argument("--rate", type=float, default=100.0, help="messages per second sent by the fake (0 = as fast as possible)")
    ap.add_argument("--no-limit", action="store_true", help="turn the fake's flood limits off, for comparison")
    ap.add_argument("--stops", type=int, default=3, help="SIGTERM-mid-flood runs of `triagebot run` (0 to skip)")
    args = ap.parse_args()
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    os.environ.setdefault("no_proxy", "127.0.0.1,localhost")
    with tempfile.TemporaryDirectory() as tmp:
        r = await pile_on(args.messages, args.harassing, args.rate, not args.no_limit, Path(tmp) / "pile.db")
        print(f"pile-on: {args.messages} messages ({args.harassing} harassing) at {args.rate:g}/s, limits {'off' if args.no_limit else 'on'}")
        for k, v in r.items():
            print(f"  {k}: {v}")
        rr = await restart_mid_flood(args.messages, args.harassing, Path(tmp) / "restart.db")
        print(f"restart mid-flood: harassing stored {rr['stored']}, alert shows {rr['alert_shows']}, incident alert posted {rr['alert_posts']} time(s)")
        times = [await stop_mid_flood(Path(tmp), args.messages, signal.SIGTERM) for _ in range(args.stops)]
        if times:
            print("SIGTERM mid-flood -> exit: " + ", ".join(f"{t:.2f} s" for t in times))


if __name__ == "__main__":
    asyncio.run(main())
