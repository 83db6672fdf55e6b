"""`triagebot review`: one keystroke per item, filters, "N more", message time, earlier notes, hostile text shown safely."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.models import Decision, Review
from bot.store import Store
from classifiers.base import Verdict
from tests.conftest import make_message

SENT = datetime(2026, 3, 4, 5, 6, tzinfo=timezone.utc)


def flag(store: Store, text: str, label: str = "sexual", author: str = "a1", targets: tuple[str, ...] = (), **kw) -> int:
    m = make_message(text, server_id="s1", author=author, targets=targets, time=SENT, **kw)
    d = Decision(flagged=True, labels=(label,), verdicts=(Verdict(label, 0.9, f'"{text[:20]}"', "text_model"),))
    return store.record_flag(m, d, incident_window_minutes=60).flag_id


@pytest.fixture
def queue_db(db_path):
    with Store.open(db_path) as s:
        flag(s, "kirim foto bugil dong", author="u1")
        flag(s, "dasar aseng pulang", label="racial", author="u2")
        flag(s, "lewd three", author="u1")
    return db_path


def review(db, *args, input: str | bytes = ""):
    r = CliRunner().invoke(main, ["review", "--db", str(db), "--reviewer", "mod1", *map(str, args)], input=input, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r


def statuses(db) -> list[str]:
    with Store.open(db) as s:
        return [s.flag("discord:s1", i).status for i in (1, 2, 3)]


#: (keys typed, statuses of flags 1-3 after, fragment of the output)
KEYS = [
    ("cde", ["confirmed", "dismissed", "escalated"], "Reviewed 3 item(s); 1 still open."),  # escalated stays open
    ("CDE", ["confirmed", "dismissed", "escalated"], "-> escalated"),
    ("sc", ["pending", "confirmed", "pending"], "skipped"),
    ("cq", ["confirmed", "pending", "pending"], "Reviewed 1 item(s); 2 still open."),
    ("c", ["confirmed", "pending", "pending"], "quit"),  # end of input quits
    ("", ["pending", "pending", "pending"], "Reviewed 0 item(s)"),
    ("c\x03", ["confirmed", "pending", "pending"], "quit"),  # Ctrl-C
    ("c\x04d", ["confirmed", "pending", "pending"], "quit"),  # Ctrl-D
    ("\n\r \tc", ["confirmed", "pending", "pending"], "-> confirmed"),  # Enter and blanks are ignored
    ("xyc", ["confirmed", "pending", "pending"], "'x' is not a key here"),
    ("\x1b[2Jc", ["confirmed", "pending", "pending"], "is not a key here"),  # an escape sequence is not echoed raw
]


@pytest.mark.parametrize("keys, after, fragment", KEYS)
def test_single_keystrokes(queue_db, keys, after, fragment):
    r = review(queue_db, input=keys)
    assert statuses(queue_db) == after
    assert fragment in r.output
    assert "\x1b" not in r.output


@pytest.mark.parametrize(
    "keys, note",
    [
        ("nsudah diperingatkan\nc", "sudah diperingatkan"),
        ("n\nc", ""),
        ("nfirst\nnsecond\nc", "second"),
        (b"n\xff\xfe bukan utf-8\nc", "\ufffd\ufffd bukan utf-8"),
        ("n" + "panjang " * 500 + "\nc", ("panjang " * 500).strip()),
    ],
)
def test_note_key_then_decision(queue_db, keys, note):
    review(queue_db, "--limit", 1, input=keys)
    with Store.open(queue_db) as s:
        last = s.flag("discord:s1", 1).last_review
    assert last["decision"] == "confirm" and last["note"] == note[:2000]


@pytest.mark.parametrize(
    "args, shown, fragment",
    [
        ([], [1, 2, 3], "3 open item(s)."),
        (["--label", "racial"], [2], "1 open item(s)."),
        (["--label", "reshare"], [], "No open items match the filters."),
        (["--author", "u1"], [1, 3], "2 open item(s)."),
        (["--author", "nobody"], [], "No open items match the filters."),
        (["--limit", 1], [1], "3 open item(s); showing the oldest 1, 2 more (raise --limit)"),
        (["--label", "sexual", "--limit", 1], [1], "2 open item(s); showing the oldest 1, 1 more"),
        (["--server", "discord:other"], [], "The review queue is empty."),
    ],
)
def test_filters_and_more(queue_db, args, shown, fragment):
    r = review(queue_db, *args, input="s" * 3)  # skip through everything listed
    assert fragment in r.output
    assert [i for i in (1, 2, 3) if f"Flag #{i} in" in r.output] == shown
    assert statuses(queue_db) == ["pending"] * 3


def test_incident_filter(db_path):
    with Store.open(db_path) as s:
        flag(s, "lewd one", targets=("victim",), author="x1")
        flag(s, "lewd two", targets=("victim",), author="x2")
        flag(s, "lewd alone")
        inc = s.flag("discord:s1", 1).incident_id
    assert inc is not None
    r = review(db_path, "--incident", inc, input="cc")
    assert "2 open item(s)." in r.output and "Reviewed 2 item(s); 1 still open." in r.output
    assert "No open items match" in review(db_path, "--incident", inc + 100).output


def test_shows_message_time_and_earlier_notes(queue_db):
    with Store.open(queue_db) as s:
        s.record_review(Review(1, "discord:s1", "escalate", "mod0", "needs a second look: \x1b[31mred\u202e"))
        s.record_review(Review(1, "discord:s1", "escalate", "mod9", "still unsure"))
        s.add_note("discord:s1", "flag", "1", "mod2", "pelaku sudah pernah diperingatkan")
    r = review(queue_db, input="q")
    assert "when:     sent 2026-03-04 05:06 UTC" in r.output
    assert "earlier review: " in r.output and "escalate by mod0: needs a second look" in r.output
    assert "last review: escalate by mod9" in r.output and "still unsure" in r.output
    assert "note:     " in r.output and "mod2: pelaku sudah pernah diperingatkan" in r.output
    assert "\x1b" not in r.output and "\u202e" not in r.output


@pytest.mark.parametrize(
    "text, absent, present",
    [
        ("\x1b]0;owned\x07 \x1b[2J kirim foto", ["\x1b", "\x07"], "kirim foto"),
        ("\u202egnp.exe bugil", ["\u202e"], "gnp.exe bugil"),
        ("z\u0301\u0301\u0301\u0301\u0301\u0301algo lewd", ["\u0301\u0301\u0301"], "algo lewd"),
        ("baris satu\nbaris dua\r\nlewd", ["baris satu\nbaris"], "baris satu baris dua lewd"),
        ("lewd " * 5000, ["lewd " * 100], "…"),
        ("", [], "message:  "),
    ],
)
def test_hostile_text_is_shown_safely(db_path, text, absent, present):
    with Store.open(db_path) as s:
        flag(s, text, author_name="\x1b[31mevil\u202e")
    r = review(db_path, input="q")
    for a in absent:
        assert a not in r.output
    assert present in r.output


@pytest.mark.parametrize(
    "raised, stdin, key",
    [
        (OSError("no tty"), "confirm this\n", "c"),
        (OSError("no tty"), "  \n", "\n"),  # a blank line is no key (the prompt asks again)
        (OSError("no tty"), "", ""),  # end of input: quit
        (KeyboardInterrupt(), "", "q"),
        (EOFError(), "", "q"),
        (None, "", "d"),  # a terminal: the key itself, lower-cased
    ],
)
def test_key_source(monkeypatch, raised, stdin, key):
    import io

    import click

    from bot.cli import queue_commands

    def getchar(echo: bool = False) -> str:
        if raised is not None:
            raise raised
        return "D"

    monkeypatch.setattr(click, "getchar", getchar)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert queue_commands._key() == key
