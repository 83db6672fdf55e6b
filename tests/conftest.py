"""Shared fixtures: a real temporary SQLite store, a message factory, stand-in detectors and adapters."""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import pytest

from bot.config import ServerSettings, Settings
from bot.models import Action, ActionResult, Attachment, Message
from bot.pipeline import Pipeline
from bot.store import Store
from classifiers.base import Verdict

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")

REPO = Path(__file__).resolve().parents[1]
DEV_DATA = REPO.parent / "shared" / "data" / "dev"
needs_dev_data = pytest.mark.skipif(not DEV_DATA.exists(), reason="needs ../shared/data/dev (dev datasets are not in the repo)")


class KeywordDetector:
    """Stand-in text detector: scores a label 0.99 when its keyword appears (case-insensitive)."""

    name = "keyword"

    def __init__(self, words: dict[str, str] | None = None) -> None:
        self.words = words or {"lewd": "sexual", "slur": "racial"}

    def classify(self, text: str) -> list[Verdict]:
        low = text.lower()
        out = []
        for word, label in self.words.items():
            if word in low:
                out.append(Verdict(label=label, score=0.99, reason=f'matched "{word}"', detector=self.name))
        return out


class ExplodingDetector:
    name = "exploding"

    def classify(self, text: str) -> list[Verdict]:
        raise RuntimeError("boom")


@dataclass
class RecordingAdapter:
    platform: str = "discord"
    executed: list[Action] = field(default_factory=list)
    fail_kinds: set[str] = field(default_factory=set)
    files: dict[str, bytes] = field(default_factory=dict)
    _refs: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def execute(self, action: Action) -> ActionResult:
        self.executed.append(action)
        if action.kind in self.fail_kinds:
            raise PermissionError(f"missing permission for {action.kind}")
        if action.kind == "notify":
            return ActionResult(ok=True, ref=action.ref or f"alert-{next(self._refs)}")
        return ActionResult(ok=True, detail="done")

    async def fetch(self, attachment: Attachment, max_bytes: int) -> bytes:
        data = self.files[attachment.url]
        if len(data) > max_bytes:
            raise ValueError("too big")
        return data


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "triage.db"


@pytest.fixture
def store(db_path: Path):
    s = Store.open(db_path)
    yield s
    s.close()


_ids = itertools.count(1)


def make_message(text: str = "hello", *, server_id: str = "s1", platform: str = "discord", author: str = "a1",
                 channel: str = "c1", targets: tuple[str, ...] = (), **kw) -> Message:
    return Message(platform=platform, server_id=server_id, channel_id=channel, message_id=kw.pop("message_id", f"m{next(_ids)}"),
                   author_id=author, text=text, targets=targets, **kw)


@pytest.fixture
def msg():
    return make_message


def make_settings(db_path: Path, **server_overrides) -> Settings:
    defaults = ServerSettings().with_overrides(server_overrides) if server_overrides else ServerSettings()
    return Settings(db_path=db_path, defaults=defaults, thresholds=MappingProxyType({"sexual": 0.5, "racial": 0.5}))


@pytest.fixture
def adapter() -> RecordingAdapter:
    return RecordingAdapter()


@pytest.fixture
def pipeline(store: Store, db_path: Path, adapter: RecordingAdapter):
    p = Pipeline(make_settings(db_path), store, [KeywordDetector()])
    p.adapters["discord"] = adapter
    yield p
    p.executor.shutdown(wait=False)
