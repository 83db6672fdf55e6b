"""Optional HTTP endpoint for supervisors and Prometheus: /healthz and /metrics (off by default, localhost only).

Why here and not in the adapters: health is "is every platform connected, can the store take a write, is
delivery keeping up", which only the runner sees whole. Other modules add a check with :func:`add_check`
(the outbox adds its lag there) instead of this module importing them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Callable

from aiohttp import web

from bot import metrics
from bot.config import HealthSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    """One /healthz line: `ok` decides the status code, `detail` is shown as is (numbers, short text)."""

    ok: bool
    detail: object = None


#: name -> callback; the runner registers "store" and each platform, the outbox (issue 11) its lag.
_CHECKS: dict[str, Callable[[], Check]] = {}


def add_check(name: str, check: Callable[[], Check]) -> None:
    """Make /healthz report `check()` under `name` (replaces an earlier check of that name)."""
    _CHECKS[name] = check


def remove_check(name: str) -> None:
    _CHECKS.pop(name, None)


def report() -> tuple[bool, dict[str, dict]]:
    """(all ok, {name: {"ok": bool, "detail": ...}}); a check that raises counts as failing."""
    out: dict[str, dict] = {}
    for name, check in sorted(_CHECKS.items()):
        try:
            c = check()
        except Exception as exc:  # noqa: BLE001 - a broken check is an unhealthy check, not a crashed endpoint
            c = Check(False, f"check failed: {type(exc).__name__}")
        out[name] = {"ok": bool(c.ok), "detail": c.detail}
    return all(v["ok"] for v in out.values()), out


async def _healthz(request: web.Request) -> web.Response:
    ok, checks = await asyncio.get_running_loop().run_in_executor(None, report)  # checks may block briefly (store probe)
    return web.Response(status=200 if ok else 503, content_type="application/json", text=json.dumps({"ok": ok, "checks": checks}, default=str))


async def _metrics(request: web.Request) -> web.Response:
    body = await asyncio.get_running_loop().run_in_executor(None, metrics.exposition)
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def build_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    return app


async def serve(settings: HealthSettings, stop: asyncio.Event) -> None:
    """Serve until `stop` is set. A port already in use raises OSError (the runner treats that as fatal)."""
    runner = web.AppRunner(build_app(), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        log.info("health endpoint on http://%s:%d/healthz and /metrics", settings.host, settings.port)
        await stop.wait()
    finally:
        await runner.cleanup()
