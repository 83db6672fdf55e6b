"""A Discord pile-on against the rate-limited fake (issue 11 figures), with the real client and text model.

Run: python benchmarks/bench_pileon_discord.py [--messages 300] [--harassing 60] [--rate 100] [--no-limit] [--stops 3]
The fake enforces Discord's 5 message posts/edits per 5 s per channel. Measures, per harassing
message, the time from its arrival (gateway dispatch) to its flag being in the store; the same for
one harassing message in another server sent mid-flood; the time after the flood ends until the
incident alert shows every harassing message; and, with `triagebot run` as a subprocess, the time
from SIGTERM mid-flood to exit.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import MappingProxyType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import DiscordSettings, ServerSettings, Settings  # noqa: E402
from bot.detectors import build_pipeline  # noqa: E402
from bot.platforms import discord_bot  # noqa: E402
from bot.store import Store  # noqa: E402
from tests.fake_discord import (
    ALICE,
    GENERAL2,
    GUILD,
    GUILD2,
    MALLORY,
    MODQ,
    MODQ2,
    FakeDiscord,  # noqa: E402
    pile_on_plan,
    send_pile_on,
)
from tests.run_process import config_text, discord_env, kill, start_run, time_exit  # noqa: E402

SERVER, SERVER2 = f"discord:{GUILD}", f"discord:{GUILD2}"
INCIDENT = re.compile(r"^(\d+) flags")


def incident_sizes(fake: FakeDiscord) -> list[int]:
    """Flag counts shown by the incident alerts currently in the mod channel."""
    out = []
    for m in fake.messages.values():
        if m.get("channel_id") != str(MODQ):
            continue
        for e in m.get("embeds") or []:
            for f in e.get("fields", []):
                hit = INCIDENT.match(f.get("value", "")) if f.get("name") == "Incident" else None
                if hit:
                    out.append(int(hit.group(1)))
    return out


async def pile_on(total: int, harassing: int, rate: float, limit: bool, db: Path, wait_s: float = 180.0) -> dict:
    fake = await FakeDiscord(guilds=2).start()
    if limit:
        fake.limit_messages(5, 5.0)
    settings = Settings(
        db_path=db,
        discord=DiscordSettings(token="fake", api_base=fake.api_base, gateway=fake.gateway),
        servers=MappingProxyType({SERVER: ServerSettings(mod_channel=str(MODQ)), SERVER2: ServerSettings(mod_channel=str(MODQ2))}),
    )
    store = Store.open(db)
    pipeline = build_pipeline(settings, store)
    discord_bot.point_at(settings)
    client = discord_bot.build_bot(pipeline, settings, sync_commands=False, guild_ready_timeout=0.05)
    task = asyncio.create_task(client.start("fake"))
    await asyncio.wait_for(client.wait_until_ready(), 30)
    arrived: dict[tuple[str, str], float] = {}
    stored: dict[tuple[str, str], float] = {}
    other: list[tuple[str, str]] = []

    shown_all: list[float] = []

    async def poll() -> None:
        while True:
            now = time.perf_counter()
            if not shown_all and max(incident_sizes(fake), default=0) >= harassing:
                shown_all.append(now)
            for key in [k for k in arrived if k not in stored]:
                server = SERVER2 if key in other else SERVER
                if store.find_flag(server, key[0], key[1]) is not None:
                    stored[key] = now
            await asyncio.sleep(0.01)

    poller = asyncio.create_task(poll())
    plan = pile_on_plan(total, harassing)
    gap = 1.0 / rate if rate > 0 else 0.0
    t_start = time.perf_counter()
    for i, step in enumerate(plan):
        ((payload, is_harassing),) = await send_pile_on(fake, [step])
        if is_harassing:
            arrived[(payload["channel_id"], payload["id"])] = time.perf_counter()
        if i == total // 2:
            p2 = await fake.send_message(MALLORY, "kirim foto telanjang kamu sekarang lonte", channel_id=GENERAL2, mentions=(ALICE,))
            key = (p2["channel_id"], p2["id"])
            other.append(key)
            arrived[key] = time.perf_counter()
        if gap:
            await asyncio.sleep(max(0.0, t_start + (i + 1) * gap - time.perf_counter()))
    t_end = time.perf_counter()
    deadline = t_end + wait_s
    while (len(stored) < len(arrived) or not shown_all) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    t_alert = shown_all[0] if shown_all else None
    poller.cancel()
    lat = sorted(stored[k] - arrived[k] for k in arrived if k in stored and k not in other)
    result = {
        "flood_s": t_end - t_start,
        "stored": f"{len([k for k in stored if k not in other])}/{len(arrived) - len(other)}",
        "p50_s": statistics.median(lat) if lat else None,
        "max_s": lat[-1] if lat else None,
        "other_server_s": (stored[other[0]] - arrived[other[0]]) if other and other[0] in stored else None,
        "alert_all_after_flood_s": (t_alert - t_end) if t_alert else None,
        "largest_incident_shown": max(incident_sizes(fake), default=0),
        "mod_channel_429s": len(fake.rate_limited),
        "mod_channel_writes": len([c for c in fake.calls if c.path.startswith(f"/channels/{MODQ}/messages") and c.method in ("POST", "PATCH")]),
    }
    await client.close()
    await asyncio.wait_for(task, 30)
    pipeline.executor.shutdown(wait=False)
    store.close()
    await fake.stop()
    return result


async def stop_mid_flood(tmp: Path, total: int, harassing: int, sig: signal.Signals) -> float:
    """`triagebot run` in a subprocess: seconds from the signal, sent halfway through the pile-on, to exit."""
    fake = await FakeDiscord().start()
    fake.limit_messages(5, 5.0)
    config = config_text(tmp / "stop.db", SERVER, ("mod_channel", MODQ))
    proc = await start_run(tmp, config, discord_env(fake), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        await asyncio.wait_for(fake.identified.wait(), 60)
        await fake.wait_call("PUT", r"^/applications/\d+/commands$", timeout=30)
        plan = pile_on_plan(total, harassing)
        await send_pile_on(fake, plan[: total // 2])
        return await time_exit(proc, sig, send_pile_on(fake, plan[total // 2 :]))  # mid-flood: the rest keep coming
    finally:
        await kill(proc)
        await fake.stop()


def fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f} s"


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--harassing", type=int, default=60)
    ap.add_argument("--rate", type=float, default=100.0, help="messages per second during the flood (0: as fast as possible)")
    ap.add_argument("--no-limit", action="store_true", help="the fake without Discord's rate limit, for comparison")
    ap.add_argument("--stops", type=int, default=3, help="SIGTERM-mid-flood runs of `triagebot run` (0 to skip)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        r = await pile_on(args.messages, args.harassing, args.rate, not args.no_limit, Path(d) / "bench.db")
        print(
            f"pile-on: {args.messages} messages ({args.harassing} harassing one member) in {fmt(r['flood_s'])}, "
            f"rate limit {'off' if args.no_limit else '5 per 5 s per channel'}"
        )
        print(f"  harassing messages stored: {r['stored']}; arrival -> stored p50 {fmt(r['p50_s'])}, max {fmt(r['max_s'])}")
        print(f"  harassing message in another server mid-flood: arrival -> stored {fmt(r['other_server_s'])}")
        print(
            f"  incident alert shows all {args.harassing}: {fmt(r['alert_all_after_flood_s'])} after the flood ended "
            f"(largest count shown: {r['largest_incident_shown']})"
        )
        print(f"  mod channel: {r['mod_channel_writes']} posts/edits, {r['mod_channel_429s']} answered 429")
        times = []
        for i in range(args.stops):
            sub = Path(d) / f"stop{i}"
            sub.mkdir()
            times.append(await stop_mid_flood(sub, args.messages, args.harassing, signal.SIGTERM))
        if times:
            print(f"SIGTERM mid-flood -> exit: {', '.join(fmt(t) for t in times)} ({args.stops} runs of `triagebot run`)")


if __name__ == "__main__":
    asyncio.run(main())
