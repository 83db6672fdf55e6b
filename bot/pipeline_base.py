"""What the Pipeline's mixins may use of each other: declared once here, so each mixin type-checks alone.

The pattern is Red-DiscordBot's `MixinMeta`: `Pipeline` inherits every mixin and this base, and fills in
the attributes in its `__init__`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Mapping, Sequence

from bot.config import ServerSettings, Settings
from bot.models import Decision, Message
from bot.protocols import Adapter, ImageScanner
from bot.store import Store
from classifiers.base import Verdict

if TYPE_CHECKING:
    from bot.action_runner import ActionRunner
    from bot.delivery import AlertDelivery


class PipelineBase(ABC):
    settings: Settings
    store: Store
    image_scanner: ImageScanner | None
    executor: Executor
    image_waits: Executor
    base_thresholds: dict[str, float]
    adapters: dict[str, Adapter]
    delivery: "AlertDelivery"
    actions: "ActionRunner"
    _server_cache: dict[str, ServerSettings]

    @abstractmethod
    def server_settings(self, server: str) -> ServerSettings: ...

    @abstractmethod
    def destination(self, server: str) -> str | None: ...

    @abstractmethod
    def refresh_alert(self, server: str, flag_id: int) -> None: ...

    @abstractmethod
    async def classify(self, message: Message) -> list[Verdict]: ...

    @abstractmethod
    def decide(self, message: Message, verdicts: Sequence[Verdict], settings: ServerSettings, allowed: Mapping[str, str] | None = None) -> Decision: ...

    @abstractmethod
    def bank_scope(self, server: str) -> str: ...

    @abstractmethod
    def carry_over_rules(self, old: str, new: str) -> int: ...

    @abstractmethod
    def update_server_settings(self, server: str, overrides: Mapping[str, object]) -> ServerSettings: ...
