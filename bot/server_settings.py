"""Per-server settings as the pipeline uses them: config plus the moderators' runtime (/setup) overrides."""

from __future__ import annotations

import logging
from typing import Mapping

from bot.config import ServerSettings
from bot.delivery import destination
from bot.pipeline_base import PipelineBase

log = logging.getLogger(__name__)


class ServerSettingsMixin(PipelineBase):
    """Part of `Pipeline`: cached effective settings, updates from /setup, and group id changes."""

    def server_settings(self, server: str) -> ServerSettings:
        """Config for the server, with its runtime (/setup) overrides on top; cached."""
        cached = self._server_cache.get(server)
        if cached is None:
            cached = self._server_cache[server] = self.settings.effective(server, self.store.server_overrides(server))
        return cached

    def update_server_settings(self, server: str, overrides: Mapping[str, object]) -> ServerSettings:
        """Validate, persist and apply runtime settings (raises ConfigError naming the bad key).

        A new mod channel or moderators' chat gets the server's undelivered alerts at once."""
        before = self.destination(server)
        self.settings.for_server(server).with_overrides(overrides, "setup")
        self.store.set_server_overrides(server, overrides)
        self._server_cache.pop(server, None)
        settings = self.server_settings(server)
        if self.destination(server) != before:
            self.delivery.destination_changed(server)
        return settings

    def destination(self, server: str) -> str | None:
        """The moderators' channel or chat that this server's alerts and notices go to."""
        return destination(server, self.server_settings(server))

    def carry_over_server(self, old: str, new: str) -> dict[str, object]:
        """A server that got a new id (a Telegram group upgraded to a supergroup) keeps its settings and
        its protected-image bank. Its flags stay under the old id: their audit chain is per server and
        is never rewritten, and they stay reviewable from the same moderators' chat. Idempotent:
        returns what moved, empty when nothing did."""
        moved: dict[str, object] = {}
        if not self.store.server_overrides(new):
            diff = self.server_settings(old).differences(self.settings.for_server(new))
            if diff:
                self.update_server_settings(new, diff)
                moved["settings"] = sorted(diff)
        entries = self.store.move_bank_entries(old, new)
        if entries:
            moved["bank_entries"] = entries
        rules = self.carry_over_rules(old, new)  # the moderators' own rules (bot/server_rules.py)
        if rules:
            moved["rules"] = rules
        if moved:
            log.info("carried %s over from %s to %s", moved, old, new)
        return moved

    def thresholds(self, server: str) -> dict[str, float]:
        s = self.server_settings(server)
        labels = set(self.base_thresholds) | set(s.thresholds)
        return {label: s.threshold(label, self.base_thresholds) for label in sorted(labels)}
