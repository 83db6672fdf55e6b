"""Purged content must be gone from the bytes on disk (.db, -wal, -shm) while a bot process holds the database."""

import subprocess
import sys
from pathlib import Path

import pytest

from bot.models import Decision
from bot.store import Store
from classifiers.base import Verdict
from tests.conftest import make_message

HERE = Path(__file__).resolve().parent

SECRETS = [
    ("indonesian", "kirim foto bugil kamu sekarang zq71", "dia kirim pesan cabul zq72", "pengguna-rahasia-zq73"),
    ("english", "send me your nudes zq81", "he keeps sending these zq82", "secret-name-zq83"),
    ("obfuscated", "s3nd n00dz zq91 ｂｕｇｉｌ", "ｒｅａｓｏｎ zq92", "n4me-zq93"),
    ("huge", "zq01 " + "panjang " * 400, "zq02 " + "alasan " * 140, "zq03" + "n" * 60),
]


def _disk_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists())


@pytest.mark.parametrize("name, text, reason, author_name", SECRETS, ids=[s[0] for s in SECRETS])
def test_purged_text_leaves_every_file_while_a_bot_holds_the_database(tmp_path, name, text, reason, author_name):
    db = tmp_path / "erase.db"
    Store.open(db).close()
    bot = subprocess.Popen([sys.executable, str(HERE / "holder_child.py"), str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=HERE.parent)
    try:
        assert bot.stdout.readline().strip() == "ready"
        with Store.open(db) as store:
            for i in range(30):  # many page versions in the WAL, as in a busy server
                m = make_message(f"{text} #{i}", server_id="s", author="target", author_name=author_name)
                r = store.record_flag(m, Decision(flagged=True, labels=("sexual",), verdicts=(Verdict("sexual", 0.9, f"why {reason}", "kw"),)))
                store.record_report("discord:s", r.flag_id, f"rep{i}", reason)
            keep = make_message("lewd but kept zq55", server_id="s", author="other")
            store.record_flag(keep, Decision(flagged=True, labels=("sexual",), verdicts=(Verdict("sexual", 0.9, "kw", "kw"),)))
            assert text.split()[0].encode() in _disk_bytes(db)  # the check can see content at all
            assert store.purge_content("discord:s", user_id="target") == 30
            raw = _disk_bytes(db)
            for secret in (text, reason, author_name):
                needle = secret.split()[-1].encode("utf-8") if len(secret) < 100 else secret[:20].encode("utf-8")
                assert needle not in raw, f"{needle!r} still on disk"
            assert b"zq55" in raw
            assert store.verify_chain("discord:s")[0].ok
    finally:
        bot.stdin.close()
        bot.wait(timeout=30)
    assert bot.returncode == 0


def test_secure_delete_is_on(store):
    assert store.db.conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert store.db.conn.execute("PRAGMA journal_size_limit").fetchone()[0] > 0


@pytest.mark.slow
def test_the_wal_stays_bounded_through_a_flood(tmp_path):
    """3,000 flags with an action each, back to back: the checkpointer keeps the -wal file under 64 MB."""
    from bot.models import Action

    db = tmp_path / "flood.db"
    wal = Path(f"{db}-wal")
    peak = 0
    with Store.open(db) as store:
        for i in range(3000):
            m = make_message(f"lewd flood {i} " + "kata " * 40, server_id="flood", author=f"a{i % 50}", targets=(f"v{i % 7}",))
            r = store.record_flag(m, Decision(flagged=True, labels=("sexual",), verdicts=(Verdict("sexual", 0.9, "kw", "kw"),)))
            aid = store.record_action(Action(kind="delete", server=m.server, flag_id=r.flag_id, actor="auto"))
            store.complete_action(m.server, aid, "ok")
            if wal.exists():
                peak = max(peak, wal.stat().st_size)
        assert store.verify_chain("discord:flood")[0].ok
    assert 0 < peak < 64 * 2**20, f"WAL peaked at {peak / 2**20:.1f} MB"


def test_a_reader_holding_an_old_snapshot_delays_the_wal_truncate_but_does_not_defeat_it(tmp_path):
    """An export reading on its own connection (bot/chat_export.py) holds a snapshot: the purge cannot empty the
    -wal file while it does, must not wait it out on the bot's event loop, and the checkpointer finishes the job."""
    import time

    db = tmp_path / "reader.db"
    with Store.open(db) as store:
        for i in range(30):
            m = make_message(f"kirim foto bugil zq61 #{i}", server_id="s", author="target")
            store.record_flag(m, Decision(flagged=True, labels=("sexual",), verdicts=(Verdict("sexual", 0.9, "why zq62", "kw"),)))
        reader = Store.open_reader(db)
        try:
            reader.db.conn.execute("BEGIN")
            assert reader.count_flags("discord:s") == 30  # the reader's snapshot now pins the old WAL frames
            assert store.purge_content("discord:s", user_id="target") == 30
            assert b"zq61" in _disk_bytes(db)  # the reader really blocked the truncate
        finally:
            reader.db.conn.execute("COMMIT")
            reader.close()
        deadline = time.monotonic() + 30  # a hang guard, not a timing assertion
        while b"zq61" in _disk_bytes(db) and time.monotonic() < deadline:
            time.sleep(0.1)
        raw = _disk_bytes(db)
        assert b"zq61" not in raw and b"zq62" not in raw
        assert store.verify_chain("discord:s")[0].ok
