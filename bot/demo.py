"""`triagebot demo`: the whole pipeline over the built-in chat in bot/resources/demo/, with no tokens or network."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Callable

from bot import demo_images
from bot.config import ServerSettings, Settings
from bot.detectors import build_pipeline
from bot.errors import TriagebotError
from bot.models import Action, ActionResult, Attachment, Message, Report
from bot.pipeline import Pipeline
from bot.store import Store

log = logging.getLogger(__name__)

DEMO_DIR = Path(str(files("bot") / "resources" / "demo"))
SERVER_ID = "fanserver"
SERVER = f"demo:{SERVER_ID}"
VICTIM = "u1001"


class DemoError(TriagebotError):
    """The demo cannot run here (bad data file, or a --db that holds real servers)."""


@dataclass
class DemoAdapter:
    """Stands in for a platform: records what would be posted, serves the synthetic images."""

    platform: str = "demo"
    posted: list[Action] = field(default_factory=list)
    _next_ref: int = 1

    async def execute(self, action: Action) -> ActionResult:
        self.posted.append(action)
        if action.kind == "notify":
            ref = action.ref or f"alert-{self._next_ref}"
            if action.ref is None:
                self._next_ref += 1
            return ActionResult(ok=True, detail="edited #mod-queue" if action.ref else "posted to #mod-queue", ref=ref)
        return ActionResult(ok=True, detail=f"demo: {action.kind} done")

    async def fetch(self, attachment: Attachment, max_bytes: int) -> bytes:
        data = demo_images.variant(attachment.url.removeprefix("demo://"))
        if len(data) > max_bytes:
            raise ValueError("attachment over the size cap")
        return data


@dataclass(frozen=True)
class DemoResult:
    db_path: Path
    messages: int
    flagged: int
    reports: int
    alerts_posted: int
    alerts_edited: int
    bank_entries: int
    image_note: str


def _load_jsonl(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DemoError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
    return rows


def _message(row: dict, start: datetime, by_id: dict[str, dict], names: dict[str, str]) -> Message:
    targets: list[str] = []
    if row.get("reply_to") and row["reply_to"] in by_id:
        targets.append(by_id[row["reply_to"]]["author"])
    targets += [m for m in row.get("mentions", []) if m not in targets]
    atts = tuple(Attachment(kind="image", url=f"demo://{a['image']}", mime="image/jpeg", filename=f"{a['image']}.jpg") for a in row.get("attachments", []))
    return Message(
        platform="demo",
        server_id=SERVER_ID,
        channel_id=row["channel"],
        message_id=row["id"],
        author_id=row["author"],
        author_name=row.get("name"),
        text=row.get("text", ""),
        targets=tuple(targets),
        attachments=atts,
        time=start + timedelta(seconds=row.get("t", 0)),
        link=f"demo://{row['channel']}/{row['id']}",
        target_names=tuple((t, names[t]) for t in targets if t in names),
    )


def prepare_db(db_path: Path) -> None:
    """The demo always starts from an empty database; it never touches a real one."""
    if db_path.exists():
        with Store.open(db_path) as s:
            foreign = [k for k in s.servers() if not k.startswith("demo:")]
        if foreign:
            raise DemoError(f"{db_path} holds real servers ({', '.join(foreign[:3])}); pick another --db for the demo")
        for suffix in ("", "-wal", "-shm"):
            Path(str(db_path) + suffix).unlink(missing_ok=True)


def _quiet(line: str) -> None:
    """No progress output (the default for library callers and tests)."""


async def replay(pipeline: Pipeline, adapter: DemoAdapter, demo_dir: Path = DEMO_DIR, progress: Callable[[str], None] = _quiet) -> tuple[int, int, int]:
    chat = _load_jsonl(demo_dir / "chat.jsonl")
    reports = _load_jsonl(demo_dir / "reports.jsonl")
    by_id = {r["id"]: r for r in chat}
    start = datetime.now(timezone.utc) - timedelta(minutes=15)
    events = [(r.get("t", 0), 0, r) for r in chat] + [(r.get("t", 0), 1, r) for r in reports]
    flagged = 0
    names = {r["author"]: r["name"] for r in chat if r.get("name")}
    messages = {r["id"]: _message(r, start, by_id, names) for r in chat}
    for i, (_, kind, row) in enumerate(sorted(events, key=lambda e: (e[0], e[1])), 1):
        if i % 10 == 0 or i == len(events):
            progress(f"  replayed {i}/{len(events)} messages and reports")
        if kind == 0:
            decision = await pipeline.handle(messages[row["id"]])
            flagged += decision.flagged
        else:
            target = messages[row["message"]]
            await pipeline.report(
                Report(
                    platform="demo",
                    server_id=SERVER_ID,
                    reporter_id=row["reporter"],
                    reason=row.get("reason", ""),
                    message=target,
                    time=start + timedelta(seconds=row.get("t", 0)),
                )
            )
    return len(chat), flagged, len(reports)


async def _run(pipeline: Pipeline, adapter: DemoAdapter, demo_dir: Path, progress: Callable[[str], None]) -> tuple[int, int, int, str]:
    image_note = "image matching unavailable (install triagebot[images])"
    if pipeline.image_scanner is not None:
        progress("Registering Sari's photo in the image bank...")
        # Sari registers her own photo privately first, as she would with /protect.
        out = await pipeline.protect(SERVER, demo_images.variant("original"), VICTIM, "Sari's photo, registered by her with /protect")
        image_note = f"Sari registered 1 photo privately (bank entry #{out.entry_id}); {pipeline.image_scanner.status()}"
    progress("Replaying the chat...")
    n, flagged, reports = await replay(pipeline, adapter, demo_dir, progress)
    await pipeline.settle()  # alerts are delivered by a background worker; let it post them
    return n, flagged, reports, image_note


def run_demo(db_path: Path, demo_dir: Path = DEMO_DIR, progress: Callable[[str], None] = _quiet) -> DemoResult:
    """Replay the demo chat into a fresh `db_path`; `progress` gets a line per step (the CLI prints them)."""
    prepare_db(db_path)
    settings = Settings(db_path=db_path, servers=MappingProxyType({SERVER: ServerSettings(mod_channel="mod-queue")}))
    with Store.open(db_path) as store:
        store.ensure_server(SERVER, "Sari's fan server (demo)")
        progress("Loading the text model...")
        pipeline = build_pipeline(settings, store)
        adapter = DemoAdapter()
        pipeline.adapters["demo"] = adapter
        try:
            n, flagged, reports, image_note = asyncio.run(_run(pipeline, adapter, demo_dir, progress))
        finally:
            pipeline.executor.shutdown(wait=False)
        notes = [a for a in adapter.posted if a.kind == "notify"]
        return DemoResult(
            db_path=db_path,
            messages=n,
            flagged=flagged,
            reports=reports,
            alerts_posted=sum(1 for a in notes if a.ref is None),
            alerts_edited=sum(1 for a in notes if a.ref),
            bank_entries=store.bank_size(),
            image_note=image_note,
        )
