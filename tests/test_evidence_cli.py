"""verify-export, key show, anchor, verify --expect-head: the evidence commands end to end."""

import hashlib
import json
import os
import stat

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.models import Action, Decision, Review
from bot.signing import default_key_path
from bot.store import Store
from classifiers.base import Verdict
from tests.conftest import make_message


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def evidence_db(db_path, monkeypatch):
    monkeypatch.delenv("TRIAGEBOT_SIGNING_KEY", raising=False)
    with Store.open(db_path) as s:
        for i, text in enumerate(["=cmd|' /C calc'!A0 lewd", "lewd kirim foto bugil", "lewd ｓｌｕｔ", "lewd " + "panjang " * 200]):
            m = make_message(text, server_id="a", author=f"u{i}", author_name=f"@everyone{i}")
            r = s.record_flag(m, Decision(flagged=True, labels=("sexual",), verdicts=(Verdict("sexual", 0.9, "kw", "kw"),)))
            s.record_report(m.server, r.flag_id, f"reporter{i}", "dia kirim foto")
            if i % 2 == 0:
                s.record_review(Review(flag_id=r.flag_id, server=m.server, decision="confirm", reviewer="mod", note="-1"))
                aid = s.record_action(Action(kind="delete", server=m.server, flag_id=r.flag_id, actor="mod"))
                s.complete_action(m.server, aid, "ok")
    return db_path


def export(db, tmp_path, fmt, *extra):
    out = tmp_path / f"ex.{fmt}"
    r = run("export", "--db", db, "--format", fmt, "--server", "discord:a", "-o", out, *extra)
    assert r.exit_code == 0, r.output
    return out, out.with_name(out.name + ".manifest.json")


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
@pytest.mark.parametrize("reporters", [False, True])
def test_good_export_verifies_on_its_own(evidence_db, tmp_path, fmt, reporters):
    out, man = export(evidence_db, tmp_path, fmt, *(["--include-reporters"] if reporters else []))
    key = run("key", "show", "--db", evidence_db).stdout.strip()
    os.remove(evidence_db)  # the database is not needed
    r = run("verify-export", out, "--public-key", key)
    assert r.exit_code == 0, r.output
    assert "OK: 4 rows" in r.output and key in r.output
    assert ("(0 redacted)" in r.output) is reporters


def _edit_file(out, man):
    data = out.read_bytes()
    out.write_bytes(data.replace("panjang".encode(), "pendek!".encode(), 1))


def _edit_file_and_manifest_hash(out, man):
    _edit_file(out, man)
    m = json.loads(man.read_text())
    m["sha256"] = hashlib.sha256(out.read_bytes()).hexdigest()
    man.write_text(json.dumps(m))


def _edit_status_and_manifest_hash(out, man):
    data = out.read_bytes().replace(b"confirmed", b"dismissed", 1)
    out.write_bytes(data)
    m = json.loads(man.read_text())
    m["sha256"] = hashlib.sha256(data).hexdigest()
    man.write_text(json.dumps(m))


def _edit_manifest(out, man):
    m = json.loads(man.read_text())
    m["rows"] = 3
    man.write_text(json.dumps(m))


def _edit_head(out, man):
    m = json.loads(man.read_text())
    m["anchors"]["discord:a"]["head"] = "0" * 64
    man.write_text(json.dumps(m))


def _resign_with_other_key(out, man, tmp_path):
    from bot.signing import load_or_create_key, sign_manifest

    m = json.loads(man.read_text())
    m.pop("signature")
    man.write_text(json.dumps(sign_manifest(m, load_or_create_key(tmp_path / "forger.key"))))


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
@pytest.mark.parametrize(
    "tamper, fragment",
    [
        (_edit_file, "SHA-256 does not match"),
        (_edit_file_and_manifest_hash, "signature does not match"),
        (_edit_file_and_manifest_hash, "excerpt differs"),
        (_edit_status_and_manifest_hash, "status differs"),
        (_edit_manifest, "signature does not match"),
        (_edit_head, "signature does not match"),
        (_resign_with_other_key, "not by the expected key"),
    ],
    ids=[
        "edited row",
        "edited row, manifest hash updated",
        "edited row found by its audit hash",
        "edited status",
        "edited manifest",
        "edited head",
        "wrong key",
    ],
)
def test_tampered_export_fails(evidence_db, tmp_path, fmt, tamper, fragment):
    out, man = export(evidence_db, tmp_path, fmt)
    key = run("key", "show", "--db", evidence_db).stdout.strip()
    if tamper is _resign_with_other_key:
        tamper(out, man, tmp_path)
    else:
        tamper(out, man)
    r = run("verify-export", out, "--public-key", key)
    assert r.exit_code == 1, r.output
    assert fragment in r.output


def test_missing_manifest_is_one_line(evidence_db, tmp_path):
    out, man = export(evidence_db, tmp_path, "json")
    man.unlink()
    r = run("verify-export", out)
    assert r.exit_code == 1 and "no manifest" in r.output and "Traceback" not in r.output


def test_key_is_made_once_outside_the_database_private_to_its_owner(evidence_db):
    first = run("key", "show", "--db", evidence_db).stdout
    assert first.startswith("ed25519:") and run("key", "show", "--db", evidence_db).stdout == first
    path = default_key_path(evidence_db)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    r = run("key", "show", "--db", evidence_db)
    assert r.exit_code == 1 and "chmod 600" in r.output


def test_key_path_from_the_environment(evidence_db, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIAGEBOT_SIGNING_KEY", str(tmp_path / "elsewhere.key"))
    assert run("key", "show", "--db", evidence_db).exit_code == 0
    assert (tmp_path / "elsewhere.key").exists() and not default_key_path(evidence_db).exists()


def test_anchor_then_expect_head(evidence_db):
    line = run("anchor", "--db", evidence_db, "--server", "discord:a").stdout
    head = line.split("head ")[1].split(" ")[0]
    assert run("verify", "--db", evidence_db, "--expect-head", head).exit_code == 0
    assert run("verify", "--db", evidence_db, "--server", "discord:a", "--expect-head", head).exit_code == 0
    with Store.open(evidence_db) as s:
        s.db.conn.execute("DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)")
        s.db.conn.execute("PRAGMA foreign_keys=OFF")
        s.db.conn.execute("DELETE FROM reports WHERE id = 4")
        s.db.conn.execute("UPDATE flags SET report_count = 0 WHERE id = 4")
    assert run("verify", "--db", evidence_db).exit_code == 0  # a consistent cut, invisible without the witness
    r = run("verify", "--db", evidence_db, "--server", "discord:a", "--expect-head", head)
    assert r.exit_code == 1 and "witnessed head" in r.output
    bad = run("verify", "--db", evidence_db, "--expect-head", "nothex")
    assert bad.exit_code == 2 and "not a chain head" in bad.output


def test_purge_shows_what_it_erases_and_needs_yes(evidence_db):
    r = run("purge", "--db", evidence_db, "--user", "u1", "--dry-run")
    assert r.exit_code == 0 and "1 flag(s) by user u1 to erase (flags #2)" in r.output and "dry run" in r.output
    r = run("purge", "--db", evidence_db, "--user", "u1")
    assert r.exit_code == 1 and "add --yes" in r.output
    with Store.open(evidence_db) as s:
        assert s.flag("discord:a", 2).excerpt != "[purged]"
    r = run("purge", "--db", evidence_db, "--user", "u1", "--yes")
    assert r.exit_code == 0 and "purged content of 1 flag(s)" in r.output
    assert "nothing to erase" in run("purge", "--db", evidence_db, "--user", "u1", "--yes").output


def test_hold_commands_and_exports_show_holds(evidence_db, tmp_path):
    r = run("hold", "add", "--db", evidence_db, "--flag", 2, "--reason", "case 7\n\x1b[31mfake line\u202e")
    assert "hold #1 on flag #2 in discord:a" in r.output
    listing = run("hold", "list", "--db", evidence_db).output
    assert "flag #2: active" in listing and "case 7 \ufffd[31mfake line" in listing and len(listing.splitlines()) == 1
    r = run("purge", "--db", evidence_db, "--user", "u1", "--yes")
    assert "0 flag(s) by user u1 to erase" in r.output and "1 under legal hold kept (flags #2)" in r.output
    out, _ = export(evidence_db, tmp_path, "json")
    assert [row["legal_hold"] for row in json.loads(out.read_text())] == [False, True, False, False]
    assert run("verify-export", out).exit_code == 0
    assert "lifted the hold" in run("hold", "remove", "--db", evidence_db, "--flag", 2).output
    assert "no holds" in run("hold", "list", "--db", evidence_db).output
    assert "lifted" in run("hold", "list", "--db", evidence_db, "--all").output
    assert run("verify", "--db", evidence_db).exit_code == 0


@pytest.mark.parametrize(
    "args, code, fragment",
    [
        (["--flag", "99"], 1, "no flag #99"),
        (["--incident", "99"], 1, "no incident #99"),
        ([], 2, "exactly one of"),
        (["--flag", "1", "--incident", "1"], 2, "exactly one of"),
    ],
)
def test_hold_add_errors_are_one_line(evidence_db, args, code, fragment):
    r = run("hold", "add", "--db", evidence_db, *args)
    assert r.exit_code == code and fragment in r.output and "Traceback" not in r.output


def test_backup_during_concurrent_writes_is_consistent(evidence_db, tmp_path):
    import threading

    stop = threading.Event()
    written = []

    def writer():
        with Store.open(evidence_db) as s:
            i = 0
            while not stop.is_set() and i < 2000:
                m = make_message(f"lewd during backup {i}", server_id="a", author="w")
                r = s.record_flag(m, Decision(flagged=True, labels=("sexual",), verdicts=(Verdict("sexual", 0.9, "kw", "kw"),)))
                s.record_report(m.server, r.flag_id, "r", "alasan")
                written.append(r.flag_id)
                i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        while len(written) < 50:
            t.join(0.01)
        r = run("db", "backup", "--db", evidence_db, tmp_path / "copy.db")
        before_end = len(written)
    finally:
        stop.set()
        t.join()
    assert r.exit_code == 0, r.output
    assert "discord:a: OK" in r.output and "backup written" in r.output
    rows = int(r.output.split("head ")[1].split(":")[1].split()[0])
    assert 4 + 2 * 50 <= rows  # the copy holds what was written before it started, as a consistent chain
    with Store.open(tmp_path / "copy.db") as copy:
        assert copy.integrity_ok() and copy.count_flags("discord:a") <= 4 + before_end + 1
    again = run("db", "backup", "--db", evidence_db, tmp_path / "copy.db")
    assert again.exit_code == 1 and "already exists" in again.output


DB_PROBLEMS = [
    ("not sqlite", lambda p: p.write_bytes(b"just a text file, not a database\n" * 100), "is not a SQLite database"),
    ("garbage header", lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000), "is not a SQLite database"),
    ("corrupt pages", lambda p: _corrupt(p), "is corrupt"),
    ("read-only", lambda p: (Store.open(p).close(), p.chmod(0o444)), "is read-only"),
    ("newer schema", lambda p: _newer_schema(p), "schema version 99, newer than this triagebot knows"),
]


def _corrupt(p):
    with Store.open(p) as s:
        for i in range(200):
            s.record_flag(make_message(f"lewd {i}", server_id="a"), Decision(flagged=True, labels=("sexual",), verdicts=(Verdict("sexual", 0.9, "kw", "kw"),)))
    data = bytearray(p.read_bytes())
    data[4096 : len(data) - 4096] = b"\xa5" * (len(data) - 8192)
    p.write_bytes(bytes(data))


def test_a_read_only_database_message_from_sqlite_itself(evidence_db):
    import sqlite3

    from bot.store import db_error

    ro = sqlite3.connect(f"file:{evidence_db}?mode=ro", uri=True)
    with pytest.raises(sqlite3.Error) as info:
        ro.execute("DELETE FROM flags")
    ro.close()
    assert "is read-only" in str(db_error(evidence_db, info.value))


def _newer_schema(p):
    import sqlite3

    Store.open(p).close()
    c = sqlite3.connect(p)
    c.execute("INSERT INTO schema_migrations VALUES (99, 'future', 'x')")
    c.commit()
    c.close()


@pytest.mark.parametrize("name, make, fragment", DB_PROBLEMS, ids=[d[0] for d in DB_PROBLEMS])
@pytest.mark.parametrize("command", [["verify"], ["stats"], ["anchor"], ["hold", "list"], ["db", "migrate"], ["export", "--format", "csv"]])
def test_every_database_problem_is_one_line(tmp_path, name, make, fragment, command):
    if name == "read-only" and os.geteuid() == 0:
        pytest.skip("root can write to read-only files")
    p = tmp_path / "bad.db"
    make(p)
    r = CliRunner().invoke(main, command + ["--db", str(p)])
    assert r.exit_code == 1, r.output
    assert fragment in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_a_lock_held_too_long_is_one_line(evidence_db, monkeypatch):
    import sqlite3

    from bot.store import base, connection

    monkeypatch.setattr(base, "BUSY_TIMEOUT_S", 0.2)
    monkeypatch.setattr(connection, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(evidence_db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        r = run("verify", "--db", evidence_db)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.exit_code == 1 and "is locked by another process for more than 0.2 s" in r.output


def test_export_into_a_missing_folder_is_one_line(evidence_db, tmp_path):
    r = run("export", "--db", evidence_db, "--format", "csv", "-o", tmp_path / "nope" / "x.csv")
    assert r.exit_code == 1 and "the output folder" in r.output and "does not exist" in r.output


@pytest.fixture
def case_db(db_path, monkeypatch):
    """A pile-on at v1 (three flags, one incident), one flag at v1 and v2 later, one at v2 in another server."""
    monkeypatch.delenv("TRIAGEBOT_SIGNING_KEY", raising=False)
    ids: dict[str, list[int]] = {"pile": [], "later": [], "other": []}
    flagged = Decision(flagged=True, labels=("sexual",), verdicts=(Verdict("sexual", 0.9, "kw", "kw"),))
    with Store.open(db_path) as s:
        for i in range(3):
            r = s.record_flag(make_message(f"lewd {i}", server_id="a", author=f"troll{i}", targets=("v1",)), flagged, incident_window_minutes=30)
            ids["pile"].append(r.incident_id)
        r = s.record_flag(make_message("lewd both", server_id="a", author="troll9", targets=("v2", "v1")), flagged, incident_window_minutes=0)
        ids["later"].append(r.flag_id)
        r = s.record_flag(make_message("lewd elsewhere", server_id="b", author="troll0", targets=("v2",)), flagged, incident_window_minutes=30)
        ids["other"].append(r.incident_id)
    return db_path, ids


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("case", ["incident", "target v1", "target v2"])
def test_one_case_is_exported_and_verifies_on_its_own(case_db, tmp_path, case):
    db, ids = case_db
    incident = ids["pile"][0]
    assert len(set(ids["pile"])) == 1 and incident is not None
    args = ["--incident", incident] if case == "incident" else ["--target", case.split()[1]]
    out, man = export(db, tmp_path, "ndjson", *args)
    rows = _rows(out)
    expected = {"incident": 3, "target v1": 4, "target v2": 1}[case]
    assert len(rows) == expected and all(r["server"] == "discord:a" for r in rows)
    if case == "incident":
        assert {r["incident_id"] for r in rows} == {incident}
    manifest = json.loads(man.read_text())
    assert manifest["filters"]["incident" if case == "incident" else "target"] == (incident if case == "incident" else case.split()[1])
    r = run("verify-export", out)
    assert r.exit_code == 0 and f"OK: {expected} rows" in r.output, r.output


@pytest.mark.parametrize(
    "args, code, fragment",
    [
        (["--incident", "999"], 1, "no incident #999"),
        (["--incident", "OTHER"], 1, "in discord:a"),  # an incident of another server
        (["--incident", "0"], 2, "--incident"),
        (["--target", "v 1; DROP"], 2, "member id"),
        (["--target", ""], 2, "member id"),
    ],
    ids=["unknown incident", "other server's incident", "zero", "not an id", "empty"],
)
def test_case_export_errors_are_one_line(case_db, tmp_path, args, code, fragment):
    db, ids = case_db
    args = [str(ids["other"][0]) if a == "OTHER" else a for a in args]
    r = run("export", "--db", db, "--format", "csv", "--server", "discord:a", "-o", tmp_path / "x.csv", *args)
    assert r.exit_code == code and fragment in r.output, r.output
    assert not (tmp_path / "x.csv").exists()


def test_training_export_takes_no_case(case_db):
    db, ids = case_db
    r = run("export", "--db", db, "--training", "--incident", str(ids["pile"][0]))
    assert r.exit_code == 2 and "--training takes only" in r.output
