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


@pytest.mark.parametrize("args, fragment", [
    (["export", "--format", "xlsx"], "xlsx"),
    (["export", "--format", "csv", "--since", "yesterday"], "not a date"),
    (["export", "--format", "csv", "--server", "slack:1"], "not a server key"),
    (["export", "--format", "csv", "--label", "violence"], "violence"),
    (["review", "--flag", "1"], "--flag and --decision go together"),
    (["review", "--decision", "nuke"], "nuke"),
    (["purge"], "exactly one of"),
    (["stats", "--nope"], "No such option"),
    (["run"], "Missing option"),
])
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
    r = run("review", "--db", filled_db, "--server", "discord:a", "--reviewer", "mod1", input="c\nconfirmed abuse\nd\n\n")
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
