"""What the core needs from the outside: a platform adapter and an image scanner (implemented elsewhere)."""

from __future__ import annotations

from typing import Any, Protocol

from bot.models import Action, ActionResult, Attachment


class ImageScanner(Protocol):
    """Image detection for the pipeline (bot/image_scan.py; tests may stand in)."""

    def scopes(self, server: str, shared: bool) -> list[str]: ...

    def prepare(self, scopes: list[str]) -> None: ...

    def scan(self, data: bytes, scopes: list[str]) -> Any: ...

    def fingerprint_records(self, data: bytes) -> list[tuple[str, bytes]]: ...

    def status(self) -> str: ...

    def add_to_index(self, scope: str, entry_id: int, records: list[tuple[str, bytes]]) -> None: ...

    def remove_from_index(self, scope: str, entry_id: int) -> None: ...

    def duplicate_of(self, scope: str, records: list[tuple[str, bytes]], registered_by: str | None) -> int | None: ...


class Adapter(Protocol):
    """What a platform must provide. Implemented in bot/platforms/ and by the demo.

    `execute` carries out one Action with what the Action carries (destination, link, alert) and never
    calls back into the core; API failures come back as `ActionResult(ok=False, ...)`."""

    platform: str

    async def execute(self, action: Action) -> ActionResult: ...

    async def fetch(self, attachment: Attachment, max_bytes: int) -> bytes: ...
