"""Child process for the erasure test: holds the database open like a running bot, writing a flag every 20 ms.

Prints `ready` after its first write and stops when its standard input closes.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.models import Decision  # noqa: E402
from bot.store import Store  # noqa: E402
from classifiers.base import Verdict  # noqa: E402
from tests.conftest import make_message  # noqa: E402


def main(db: Path) -> None:
    store = Store.open(db)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    i = 0
    while not done.is_set():
        m = make_message(f"lewd background {i}", server_id="bg", author="someone", message_id=f"bg{i}")
        store.record_flag(m, Decision(flagged=True, labels=("sexual",), verdicts=(Verdict("sexual", 0.9, "kw", "kw"),)))
        if i == 0:
            print("ready", flush=True)
        i += 1
        time.sleep(0.02)
    store.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
