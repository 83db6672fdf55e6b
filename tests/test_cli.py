import json

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.models import Decision
from bot.store import Store
from classifiers.base import Verdict
from tests.conftest import make_message


@pytest.fixture
def filled_db(db_path):
    with Store.open(db_path) as s:
        for i, text in enumerate(["=cmd hostile", "lewd two", "lewd three"]):
            m = make_message(text, server_id="a" if i < 2 else "b", author_name=f"user{i}")
            s.record_flag(m, Decision(flagged=True, labels=("sexual",), verdicts=(Verdict("sexual", 0.9, "matched", "kw"),)))
    return db_path


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


def test_help_lists_commands():
    r = run("--help")
    for cmd in ("demo", "review", "export", "stats", "run", "db", "verify", "purge"):
        assert cmd in r.output


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["export", "--format", "xlsx"], "xlsx"),
        (["export", "--format", "csv", "--since", "yesterday"], "not a date"),
        (["export", "--format", "csv", "--server", "slack:1"], "not a server key"),
        (["export", "--format", "csv", "--label", "violence"], "violence"),
        (["review", "--flag", "1"], "--flag and --decision go together"),
        (["review", "--decision", "nuke"], "nuke"),
        (["review", "--flag", str(10**30), "--decision", "confirm"], "not in the range"),
        (["review", "--flag", "0", "--decision", "confirm"], "not in the range"),
        (["purge"], "exactly one of"),
        (["stats", "--nope"], "No such option"),
        (["run"], "Missing option"),
    ],
)
def test_bad_arguments_exit_2(filled_db, args, fragment):
    r = CliRunner().invoke(main, args + (["--db", str(filled_db)] if args[0] not in ("run",) else []))
    assert r.exit_code == 2, r.output
    assert fragment in r.output


def test_missing_db_is_a_usage_error(tmp_path):
    r = CliRunner().invoke(main, ["stats", "--db", str(tmp_path / "nope.db")])
    assert r.exit_code == 2 and "does not exist" in r.output


def test_db_migrate(tmp_path):
    p = tmp_path / "new.db"
    r = run("db", "migrate", "--db", p)
    assert r.exit_code == 0 and "applied 1" in r.output
    assert "up to date" in run("db", "migrate", "--db", p).output


def test_stats(filled_db):
    r = run("stats", "--db", filled_db)
    assert "flags: 3" in r.output
    data = json.loads(run("stats", "--db", filled_db, "--server", "discord:a", "--json").output)
    assert data["flags"] == 2


def test_review_interactive(filled_db):
    r = run("review", "--db", filled_db, "--server", "discord:a", "--reviewer", "mod1", input="nconfirmed abuse\ncd")
    assert r.exit_code == 0
    assert "Reviewed 2 item(s); 0 still open" in r.output
    with Store.open(filled_db) as s:
        assert [f.status for f in s.queue("discord:a", statuses=("confirmed", "dismissed"))] == ["confirmed", "dismissed"]
        assert s.flag("discord:a", 1).last_review["note"] == "confirmed abuse"


def test_review_quit_and_escalate(filled_db):
    r = run("review", "--db", filled_db, input="e\n\nq\n")
    assert "escalated" in r.output and "Reviewed 1 item(s)" in r.output


def test_review_one_flag_scoped(filled_db):
    assert "flag #3: confirmed" in run("review", "--db", filled_db, "--flag", 3, "--decision", "confirm").output
    r = CliRunner().invoke(main, ["review", "--db", str(filled_db), "--flag", "3", "--decision", "dismiss", "--server", "discord:a"])
    assert r.exit_code == 1 and "no flag #3 in discord:a" in r.output


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_export_to_file_with_manifest(filled_db, tmp_path, fmt):
    out = tmp_path / f"e.{fmt}"
    r = run("export", "--db", filled_db, "--format", fmt, "--server", "discord:a", "-o", out)
    assert r.exit_code == 0 and "wrote 2 rows" in r.output
    manifest = json.loads((tmp_path / f"e.{fmt}.manifest.json").read_text())
    assert manifest["rows"] == 2
    assert b"lewd three" not in out.read_bytes()


def test_export_to_stdout(filled_db):
    r = CliRunner().invoke(main, ["export", "--db", str(filled_db), "--format", "ndjson"])
    assert r.exit_code == 0
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    assert len(lines) == 3


def test_verify_ok_and_broken(filled_db):
    r = run("verify", "--db", filled_db)
    assert r.exit_code == 0 and "discord:a: OK" in r.output
    with Store.open(filled_db) as s:
        s.db.conn.execute("UPDATE flags SET author_id = 'x' WHERE id = 2")
    r = CliRunner().invoke(main, ["verify", "--db", str(filled_db)])
    assert r.exit_code == 1 and "BROKEN" in r.output and "flags row #2" in r.output


def test_purge_user(filled_db):
    assert "purged content of 3" in run("purge", "--db", filled_db, "--user", "a1", "--yes").output
    assert run("verify", "--db", filled_db).exit_code == 0


def test_purge_retention(filled_db):
    assert "nothing to erase" in run("purge", "--db", filled_db, "--retention").output


def test_run_without_tokens_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("TELEGRAM_TOKEN", raising=False)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[storage]\npath = 'x.db'\n")
    r = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert r.exit_code == 1 and "DISCORD_TOKEN" in r.output and "TELEGRAM_TOKEN" in r.output


def test_run_with_bad_config_is_one_line(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[defaults]\ndry_run = 'yes'\n")
    r = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert r.exit_code == 1 and "defaults.dry_run" in r.output and "Traceback" not in r.output


# -- one error root: every TriagebotError is one line and exit 1, anything else keeps its traceback --


def _user_errors():
    from bot.config import ConfigError
    from bot.demo import DemoError
    from bot.download import DownloadRefused
    from bot.errors import BatchFailed, InputError
    from bot.runner import NoPlatformConfigured
    from bot.store import StoreError
    from classifiers.data import DataError
    from classifiers.text import ModelCardError, ModelNotFoundError

    return [
        ConfigError("defaults.dry_run: expected true or false"),
        DemoError("x.db holds real servers"),
        DownloadRefused("file exceeds the 10 byte cap"),
        BatchFailed(2, 3, "images"),
        InputError("in.csv: cannot read"),
        NoPlatformConfigured("no platform token set"),
        StoreError("no flag #3 in discord:a"),
        DataError("no *.csv files in d"),
        ModelCardError("model card labels"),
        ModelNotFoundError("text model not found"),
    ]


def test_every_user_error_class_has_the_one_root():
    from bot.errors import TriagebotError
    from classifiers.errors import TriagebotError as Root

    assert TriagebotError is Root
    assert [type(e).__name__ for e in _user_errors() if not isinstance(e, Root)] == []


@pytest.mark.parametrize("exc", _user_errors(), ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("command", [["purge", "--retention"], ["db", "migrate"]])
def test_user_error_is_one_line_exit_1(filled_db, monkeypatch, exc, command):
    def boom(*a, **k):
        raise exc

    monkeypatch.setattr("bot.cli.queue_commands.load_settings", boom)
    monkeypatch.setattr("bot.cli.queue_commands.Store.open", boom)
    r = CliRunner().invoke(main, [*command, "--db", str(filled_db)], catch_exceptions=False)
    assert r.exit_code == 1
    assert r.stderr == f"Error: {exc}\n" and r.stdout == ""


@pytest.mark.parametrize(
    "message, shown",
    [
        ("line one\nline two\r\n\tthree", "line one line two three"),
        ("bad \udcff byte", "bad \ufffd byte"),
        ("", "ConfigError"),
    ],
)
def test_user_error_message_is_made_one_valid_line(filled_db, monkeypatch, message, shown):
    from bot.config import ConfigError

    def boom(*a, **k):
        raise ConfigError(message)

    monkeypatch.setattr("bot.cli.queue_commands.load_settings", boom)
    r = CliRunner().invoke(main, ["purge", "--retention", "--db", str(filled_db)], catch_exceptions=False)
    assert r.exit_code == 1 and r.stderr_bytes.decode("utf-8") == f"Error: {shown}\n"


@pytest.mark.parametrize("exc", [RuntimeError("bug"), KeyError("k"), RecursionError(), UnicodeEncodeError("utf-8", "x", 0, 1, "r")])
def test_unknown_exception_keeps_its_traceback(filled_db, monkeypatch, exc):
    def boom(*a, **k):
        raise exc

    monkeypatch.setattr("bot.cli.queue_commands.load_settings", boom)
    with pytest.raises(type(exc)):
        CliRunner().invoke(main, ["purge", "--retention", "--db", str(filled_db)], catch_exceptions=False)


# -- arguments real users type -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "when",
    [
        "0001-01-01T00:00+14:00",
        "9999-12-31T23:59-12:00",
        "9999-12-31T23:59:59.999999-00:01",
        "0001-01-01T00:00:00+23:59",
    ],
)
@pytest.mark.parametrize("option", ["--since", "--until"])
def test_out_of_range_times_are_bad_arguments(filled_db, when, option):
    r = CliRunner().invoke(main, ["export", "--db", str(filled_db), "--format", "ndjson", option, when], catch_exceptions=False)
    assert r.exit_code == 2 and "out of range" in r.output


@pytest.mark.parametrize(
    "when, rows",
    [
        ("0001-01-01", 3),
        ("0001-01-01T00:00-14:00", 3),
        ("9999-12-31T23:59:59", 0),
        ("2000-01-01T07:00+07:00", 3),
    ],
)
def test_extreme_but_valid_times_work(filled_db, when, rows):
    r = CliRunner().invoke(main, ["export", "--db", str(filled_db), "--format", "ndjson", "--since", when], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert len([x for x in r.stdout.splitlines() if x.startswith("{")]) == rows


@pytest.mark.parametrize("value", ["mod\udcff", "\udce9\udce9", "Budi \u202e\u0000", "x" * 10_000])
def test_undecodable_reviewer_user_and_server_arguments(filled_db, value):
    """Bytes that are not UTF-8 reach Python as lone surrogates; they become U+FFFD, never a UnicodeEncodeError."""
    r = run("review", "--db", filled_db, "--flag", "1", "--decision", "confirm", "--reviewer", value, "--note", value)
    assert r.exit_code == 0 and "flag #1: confirmed" in r.output
    r = run("purge", "--db", filled_db, "--user", value)
    assert r.exit_code == 0
    r.stdout_bytes.decode("utf-8")
    r = CliRunner().invoke(main, ["stats", "--db", str(filled_db), "--server", "discord:" + value], catch_exceptions=False)
    assert r.exit_code == 0
    r.stdout_bytes.decode("utf-8")
    r = run("export", "--db", filled_db, "--format", "ndjson")
    rows = [json.loads(x) for x in r.stdout_bytes.decode("utf-8").splitlines() if x.startswith("{")]
    assert len(rows) == 3 and run("verify", "--db", filled_db).exit_code == 0


@pytest.mark.parametrize(
    "line, deep",
    [
        ('{"text": "hi"}', False),
        ("[" * 64 + "]" * 64, False),
        ("[" * 65 + "]" * 65, True),
        ('{"a": ' + "[" * 64 + "]" * 64 + "}", True),  # the object itself counts
        ("[" * 1_000_000, True),
        ('{"text": "' + "[" * 500 + '"}', False),  # brackets inside a string do not nest
        ('{"text": "\\" ' + "{" * 500 + '"}', False),  # nor after an escaped quote
        ('{"text": "kamu \\\\"}' + "]" * 500, False),
        ("", False),
    ],
)
def test_json_depth_is_checked_without_recursion(line, deep):
    from bot.cli.text_input import json_too_deep

    assert json_too_deep(line) is deep


@pytest.mark.parametrize("note", [b"\xff\xfe bukan utf-8", b"catatan \xc3", "kasar sekali \u2014 ok".encode()])
def test_review_prompt_answers_in_another_encoding(filled_db, note):
    r = CliRunner().invoke(main, ["review", "--db", str(filled_db), "--server", "discord:a"], input=b"n" + note + b"\ncq", catch_exceptions=False)
    assert r.exit_code == 0 and "Reviewed 1 item(s)" in r.output
    r = run("export", "--db", filled_db, "--format", "ndjson")
    notes = [rv["note"] for row in map(json.loads, r.stdout_bytes.decode("utf-8").splitlines()) for rv in row.get("reviews", [])]
    assert notes == [note.decode("utf-8", "replace")]
