"""`triagebot rules add|remove|list|test` with CliRunner, against a real store."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.store import Store

SERVER = "discord:1"


@pytest.fixture
def db(db_path):
    Store.open(db_path).close()
    return db_path


def run(db, *args: str, ok: bool = True):
    r = CliRunner().invoke(main, ["rules", *args, "--db", str(db), "--server", SERVER])
    assert (r.exit_code == 0) is ok, r.output
    return r.output


def test_add_list_test_remove(db, tmp_path):
    assert run(db, "list") == f"No rules for {SERVER}.\n"
    out = run(db, "add", "--label", "racial", "--by", "mod1", "ching*")
    assert out.startswith('added #1 term racial "ching*" score 1.00 — mod1 ')
    run(db, "add", "--kind", "allow", "anak ayam")
    run(db, "add", "--kind", "exempt_role", "<@&555>")
    run(db, "add", "--label", "sexual", "--score", "0.7", "k0nt0l")
    config = tmp_path / "c.toml"
    config.write_text(f'[servers."{SERVER}"]\nrules_sexual = ["colmek*"]\n', encoding="utf-8")
    lines = run(db, "list", "--config", str(config)).splitlines()
    assert lines[0] == 'config term sexual "colmek*" score 1.00'
    assert [line.split(" —")[0] for line in lines[1:]] == [
        '#1 term racial "ching*" score 1.00',
        '#2 allow all "anak ayam"',
        '#3 exempt_role "555"',
        '#4 term sexual "k0nt0l" score 0.70',
    ]
    rows = [json.loads(line) for line in run(db, "list", "--json").splitlines()]
    assert [r["id"] for r in rows] == [1, 2, 3, 4]
    assert run(db, "test", "dasar CH1NGCH0NG, anak ayam") == (
        'racial 1.00: server rule "ching*": "CH1NGCH0NG," → chingchong\n'
        'sexual allow-listed: allow-listed phrase "anak ayam": "anak ayam"\n'
        'racial allow-listed: allow-listed phrase "anak ayam": "anak ayam"\n'
    )
    assert run(db, "test", "halo") == "No rule matches.\n"
    assert run(db, "remove", "#1").startswith('removed #1 term racial "ching*"')
    assert run(db, "remove", "k0nt0l").startswith('removed #4 term sexual "k0nt0l"')
    assert all(r.ok for r in Store.open(db).verify_chain())


@pytest.mark.parametrize(
    "args,message",
    [
        (["add", "--label", "racial", "*"], "at least 2 letters"),
        (["add", "ching*"], "needs a label"),
        (["add", "--label", "racial", "x" * 101], "at most 100 characters"),
        (["add", "--label", "racial", "--score", "0", "ching*"], "0<x<=1"),
        (["add", "--kind", "exempt_channel", "two words"], "expected an id"),
        (["remove", "#99"], "no such rule"),
        (["add", "--label", "racial", "<@everyone> \u202e"], "control or invisible"),
    ],
)
def test_bad_input_is_one_line(db, args, message):
    out = run(db, *args, ok=False)
    assert message in out and "Traceback" not in out


def test_hostile_pattern_is_listed_as_inert_text(db):
    run(db, "add", "--label", "racial", "=cmd **bold** ||spoiler||")
    (line,) = run(db, "list").splitlines()
    assert line.startswith('#1 term racial "=cmd **bold** ||spoiler||"')
    assert run(db, "test", "=CMD BOLDLY ||spoiler||").startswith('racial 1.00: server rule "=cmd **bold** ||spoiler||"')
