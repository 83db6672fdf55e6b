"""Metrics and the optional /healthz + /metrics endpoint: counters move with the pipeline, checks decide the status."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import health, metrics
from bot.config import ConfigError, parse_settings
from tests.conftest import make_message, needs_model
from tests.fake_telegram import FakeTelegram
from tests.run_process import config_text, start_run, telegram_env


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    "text, flagged_labels",
    [
        ("", ()),
        ("hello there", ()),
        ("halo semuanya, selamat pagi", ()),
        ("so lewd", ("sexual",)),
        ("lewd slur", ("sexual", "racial")),
        ("l e w d " * 10_000, ()),  # huge, obfuscated past the stand-in detector
    ],
)
async def test_pipeline_counts_messages_and_flags_by_label(pipeline, text: str, flagged_labels: tuple[str, ...]) -> None:
    seen = sample("triagebot_messages_seen_total", platform="discord")
    before = {lab: sample("triagebot_flags_total", platform="discord", label=lab) for lab in ("sexual", "racial")}
    await pipeline.handle(make_message(text))
    assert sample("triagebot_messages_seen_total", platform="discord") == seen + 1
    for lab in ("sexual", "racial"):
        assert sample("triagebot_flags_total", platform="discord", label=lab) == before[lab] + (lab in flagged_labels)


@pytest.mark.parametrize(
    "reason, counted_as",
    [
        (None, None),
        ("", None),
        ("too_many_pixels", "too_many_pixels"),
        ("x" * 500, "x" * 40),
    ],
)
def test_decode_refusals_are_counted_by_reason(reason: str | None, counted_as: str | None) -> None:
    before = sample("triagebot_image_decode_refusals_total", reason=counted_as) if counted_as else 0.0
    total = sum(s.value for m in metrics.REGISTRY.collect() for s in m.samples if s.name == "triagebot_image_decode_refusals_total")
    metrics.image_refused(reason)
    after_total = sum(s.value for m in metrics.REGISTRY.collect() for s in m.samples if s.name == "triagebot_image_decode_refusals_total")
    if counted_as is None:
        assert after_total == total
    else:
        assert sample("triagebot_image_decode_refusals_total", reason=counted_as) == before + 1


def test_live_gauges_read_callbacks_and_survive_broken_ones() -> None:
    metrics.watch_queue("discord", lambda: 7)
    metrics.watch_connection("discord", lambda: True)
    metrics.watch_queue("telegram", lambda: 1 // 0)
    metrics.watch_connection("telegram", lambda: 1 // 0)
    try:
        text = metrics.exposition().decode()
        assert 'triagebot_intake_queue_depth{platform="discord"} 7.0' in text
        assert 'triagebot_intake_queue_depth{platform="telegram"} 0.0' in text
        assert 'triagebot_platform_connected{platform="discord"} 1.0' in text
        assert 'triagebot_platform_connected{platform="telegram"} 0.0' in text
        assert metrics.is_connected("discord") and not metrics.is_connected("telegram") and not metrics.is_connected("nope")
    finally:
        metrics.forget("discord")
        metrics.forget("telegram")
    assert 'platform="discord"' not in metrics.exposition().decode().split("triagebot_intake_queue_depth", 1)[1][:400]


def _boom() -> health.Check:
    raise RuntimeError("secret detail")


@pytest.mark.parametrize(
    "checks, status",
    [
        ({}, 200),
        ({"store": lambda: health.Check(True, "bot.db")}, 200),
        ({"store": lambda: health.Check(True), "discord": lambda: health.Check(False)}, 503),
        ({"outbox": _boom}, 503),
    ],
)
async def test_healthz_status_follows_the_checks(checks: dict, status: int) -> None:
    for name, fn in checks.items():
        health.add_check(name, fn)
    try:
        async with TestClient(TestServer(health.build_app())) as client:
            resp = await client.get("/healthz")
            body = await resp.json()
            metrics_text = await (await client.get("/metrics")).text()
    finally:
        for name in checks:
            health.remove_check(name)
    assert resp.status == status and body["ok"] is (status == 200)
    assert set(body["checks"]) == set(checks)
    assert "secret detail" not in json.dumps(body)
    assert "triagebot_messages_seen" in metrics_text


@pytest.mark.parametrize(
    "section, expected",
    [
        ({}, (False, "127.0.0.1", 9464)),
        ({"enabled": True}, (True, "127.0.0.1", 9464)),
        ({"enabled": True, "port": 8080, "host": "0.0.0.0"}, (True, "0.0.0.0", 8080)),
        ({"enabled": "yes"}, ConfigError),
        ({"port": 0}, ConfigError),
        ({"port": 70000}, ConfigError),
        ({"port": "9464"}, ConfigError),
        ({"bind": "x"}, ConfigError),
    ],
)
def test_health_config(section: dict, expected) -> None:
    if expected is ConfigError:
        with pytest.raises(ConfigError, match="health"):
            parse_settings({"health": section}, env={})
    else:
        h = parse_settings({"health": section} if section else {}, env={}).health
        assert (h.enabled, h.host, h.port) == expected


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_model
@pytest.mark.slow
async def test_running_bot_serves_healthz_and_metrics(tmp_path: Path) -> None:
    fake = await FakeTelegram().start()
    port = _free_port()
    config = config_text(tmp_path / "bot.db", extra=f"\n[health]\nenabled = true\nport = {port}\n")
    proc = await start_run(tmp_path, config, telegram_env(fake), stderr=asyncio.subprocess.STDOUT)
    try:
        await fake.wait_for(lambda: fake.calls_of("getUpdates") or proc.returncode is not None, timeout=120, what="first getUpdates")
        body, text = None, ""
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # the endpoint and the poller start concurrently; a hang guard, not a timing assertion
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                        body = await r.json()
                    if body["ok"]:
                        break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                text = await r.text()
    finally:
        if proc.returncode is None:
            proc.terminate()
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
        await fake.stop()
    assert body is not None and body["ok"], (body, out.decode(errors="replace")[-2000:])
    assert body["checks"]["telegram"]["ok"] and body["checks"]["store"]["ok"]
    assert 'triagebot_platform_connected{platform="telegram"} 1.0' in text
    assert proc.returncode == 0
