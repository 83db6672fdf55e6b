"""Child process for the kill test: handles a stream of messages and prints `ack <id>` once each is stored."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Settings  # noqa: E402
from bot.models import Message  # noqa: E402
from bot.pipeline import Intake, Pipeline  # noqa: E402
from bot.store import Store  # noqa: E402
from tests.conftest import KeywordDetector, RecordingAdapter  # noqa: E402


async def main(db: Path, start: int, count: int) -> None:
    store = Store.open(db)
    p = Pipeline(Settings(db_path=db), store, [KeywordDetector()], base_thresholds={"sexual": 0.5, "racial": 0.5})
    p.adapters["discord"] = RecordingAdapter()

    def ack(message: Message, decision) -> None:
        if decision is not None and decision.flag_id is not None:
            sys.stdout.write(f"ack {message.message_id}\n")
            sys.stdout.flush()

    intake = Intake(p, maxsize=100, workers=4, on_done=ack)
    intake.start()
    for i in range(start, start + count):
        await intake.submit(Message("discord", "kill", "c1", f"m{i}", f"a{i % 37}", text=f"lewd burst {i}", targets=(f"v{i % 5}",)))
    await intake.stop()
    store.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
