"""Prometheus metric objects for the running bot, in one registry served by `bot/health.py` at /metrics.

Why a module of plain objects: the pipeline, intake and (later) the outbox increment them with one line
each, and nothing here knows about HTTP. Live values that already exist elsewhere (queue depth, platform
connection state, outbox lag) are read at scrape time through small callbacks instead of being copied.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES_SEEN = Counter("triagebot_messages_seen", "Messages the pipeline classified.", ["platform"], registry=REGISTRY)
FLAGS = Counter("triagebot_flags", "Messages flagged, by label (a message with two labels counts under both).", ["platform", "label"], registry=REGISTRY)
DECODE_REFUSALS = Counter("triagebot_image_decode_refusals", "Images the safe decoder refused, by reason.", ["reason"], registry=REGISTRY)
#: Wired by the outbox/delivery module (issue 11): alerts waiting to be posted, and how late the oldest is.
ALERTS_PENDING = Gauge("triagebot_alerts_pending", "Alerts stored but not yet delivered to moderators.", registry=REGISTRY)
DELIVERY_LAG = Gauge("triagebot_delivery_lag_seconds", "Age of the oldest undelivered alert, in seconds.", registry=REGISTRY)

#: Reasons are a short fixed vocabulary from classifiers/images/decode.py; anything else is folded here.
_MAX_REASON = 40


def message_seen(platform: str) -> None:
    MESSAGES_SEEN.labels(platform=platform).inc()


def flagged(platform: str, labels: Iterable[str]) -> None:
    for label in labels:
        FLAGS.labels(platform=platform, label=label).inc()


def image_refused(reason: str | None) -> None:
    """Count a decoder refusal; `None` (the image was fine) counts nothing."""
    if reason:
        DECODE_REFUSALS.labels(reason=reason[:_MAX_REASON]).inc()


class _Live(Collector):
    """Gauges whose value is read from a callback at scrape time (queue depth, connection state)."""

    def __init__(self) -> None:
        self.queues: dict[str, Callable[[], int]] = {}
        self.connected: dict[str, Callable[[], bool]] = {}

    def collect(self) -> Iterable[GaugeMetricFamily]:
        depth = GaugeMetricFamily("triagebot_intake_queue_depth", "Messages waiting in a platform's intake queue.", labels=["platform"])
        for name, fn in sorted(self.queues.items()):
            depth.add_metric([name], float(_safe(fn, 0)))
        up = GaugeMetricFamily("triagebot_platform_connected", "1 when the platform is connected.", labels=["platform"])
        for name, ok in sorted(self.connected.items()):
            up.add_metric([name], 1.0 if _safe(ok, False) else 0.0)
        return [depth, up]


def _safe(fn: Callable, default):
    try:
        return fn()
    except Exception:  # noqa: BLE001 - a scrape must never fail because one source did
        log.debug("metric callback failed", exc_info=True)
        return default


LIVE = _Live()
REGISTRY.register(LIVE)


def watch_queue(platform: str, depth: Callable[[], int]) -> None:
    """Report `depth()` as this platform's intake queue depth."""
    LIVE.queues[platform] = depth


def watch_connection(platform: str, connected: Callable[[], bool]) -> None:
    """Report `connected()` as this platform's state (also used by /healthz)."""
    LIVE.connected[platform] = connected


def is_connected(platform: str) -> bool:
    """The platform's reported state; False when it never reported one (not started, or stopped)."""
    fn = LIVE.connected.get(platform)
    return bool(_safe(fn, False)) if fn is not None else False


def forget(platform: str) -> None:
    """Stop reporting a platform (it shut down)."""
    LIVE.queues.pop(platform, None)
    LIVE.connected.pop(platform, None)


def exposition() -> bytes:
    """The registry in Prometheus text format."""
    return generate_latest(REGISTRY)
