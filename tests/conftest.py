"""Shared fixtures: a real temporary SQLite store, a message factory, stand-in detectors and adapters."""

from __future__ import annotations

import hashlib
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, SimpleNamespace

import pytest

from bot.config import ServerSettings, Settings
from bot.models import Action, ActionResult, Attachment, Decision, Message
from bot.pipeline import Pipeline
from bot.store import Store
from classifiers.base import Verdict

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")

REPO = Path(__file__).resolve().parents[1]
DEV_DATA = REPO.parent / "shared" / "data" / "dev"
needs_dev_data = pytest.mark.skipif(not DEV_DATA.exists(), reason="needs ../shared/data/dev (dev datasets are not in the repo)")
needs_model = pytest.mark.skipif(
    not (REPO / "classifiers" / "resources" / "model.skops").exists(), reason="classifiers/resources/model.skops not built (triagebot train --data DIR)"
)


class KeywordDetector:
    """Stand-in text detector, so tests don't depend on the trained model.

    `words` maps a keyword to its label, or to (label, score); the default score is 0.99.
    """

    name = "keyword"

    def __init__(self, words: dict[str, str | tuple[str, float]] | None = None) -> None:
        words = words or {"lewd": "sexual", "slur": "racial"}
        self.words = {w: (v, 0.99) if isinstance(v, str) else v for w, v in words.items()}

    def classify(self, text: str) -> list[Verdict]:
        low = text.lower()
        return [Verdict(label=label, score=score, reason=f'keyword "{word}"', detector=self.name) for word, (label, score) in self.words.items() if word in low]


class StandInImageScanner:
    """The pipeline's ImageScanner protocol without models, for the bot tests.

    Bytes starting with NSFW or NUDE are "nudity"; files starting with NSFW/NUDE/SAFE/PRIV or a
    PNG signature count as images; a banked image matches again only with identical bytes.
    """

    IMAGE_PREFIXES = (b"NSFW", b"NUDE", b"SAFE", b"PRIV", b"\x89PNG")

    def __init__(self) -> None:
        self.index: dict[bytes, int] = {}

    def scopes(self, server: str, shared: bool) -> list[str]:
        return [server]

    def prepare(self, scopes: list[str]) -> None:
        pass

    def fingerprint_records(self, data: bytes) -> list[tuple[str, bytes]]:
        if not data.startswith(self.IMAGE_PREFIXES):
            raise ValueError("not an image")
        return [("sha256", hashlib.sha256(data).digest())]

    def add_to_index(self, scope: str, entry_id: int, records: list[tuple[str, bytes]]) -> None:
        self.index[records[0][1]] = entry_id

    def remove_from_index(self, scope: str, entry_id: int) -> None:
        self.index = {k: v for k, v in self.index.items() if v != entry_id}

    def duplicate_of(self, scope: str, records: list[tuple[str, bytes]], registered_by: str | None) -> int | None:
        """Never: every registration is a new entry here (the real scanner's reuse is tested in test_image_pipeline.py)."""
        return None

    def status(self) -> str:
        return f"stand-in image scanner: {len(self.index)} banked"

    def scan(self, data: bytes, scopes: list[str]) -> SimpleNamespace:
        verdicts, matched = [], []
        entry = self.index.get(hashlib.sha256(data).digest())
        if entry is not None:
            verdicts.append(Verdict("reshare", 1.0, "matches a protected image", "stand-in bank"))
            matched.append(entry)
        if data.startswith((b"NSFW", b"NUDE")):
            verdicts.append(Verdict("sexual", 0.95, f"stand-in nudity detector on {len(data)} bytes", "stand-in nsfw"))
        records = self.fingerprint_records(data) if data.startswith(self.IMAGE_PREFIXES) else None
        return SimpleNamespace(verdicts=verdicts, records=records, matched_entries=matched)


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


def make_message(
    text: str = "hello", *, server_id: str = "s1", platform: str = "discord", author: str = "a1", channel: str = "c1", targets: tuple[str, ...] = (), **kw
) -> Message:
    return Message(
        platform=platform,
        server_id=server_id,
        channel_id=channel,
        message_id=kw.pop("message_id", f"m{next(_ids)}"),
        author_id=author,
        text=text,
        targets=targets,
        **kw,
    )


def record_lewd_flag(store: Store, text: str = "lewd", server_id: str = "s1", **kw):
    """A message flagged `sexual` straight into the store (no pipeline): (message, RecordResult)."""
    m = make_message(text, server_id=server_id, **kw)
    return m, store.record_flag(m, Decision(flagged=True, labels=("sexual",), verdicts=(Verdict("sexual", 0.9, "matched lewd", "kw"),)))


@pytest.fixture
def msg():
    return make_message


def make_settings(db_path: Path, **server_overrides) -> Settings:
    """Settings for pipeline tests: keyword thresholds 0.5, and a mod channel so alerts have somewhere to go."""
    server_overrides.setdefault("mod_channel", "900")
    if server_overrides["mod_channel"] is None:
        del server_overrides["mod_channel"]
    defaults = ServerSettings().with_overrides(server_overrides)
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
