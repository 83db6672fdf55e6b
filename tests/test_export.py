import csv
import hashlib
import io
import json

import pytest

from bot.export import FORMULA_STARTS, export_bytes, neutralise_cell, write_export
from bot.models import Decision, Review
from bot.store import FlagFilter
from classifiers.base import Verdict
from tests.conftest import make_message


@pytest.mark.parametrize(
    "value, expected",
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("normal text", "normal text"),
        ("", ""),
        (None, ""),
        (42, "42"),
        ("kirim foto =bugil", "kirim foto =bugil"),
        # first non-space character decides: blanks, NBSP, newlines and quotes are skipped
        ("  =1+1", "'  =1+1"),
        ("\u00a0=cmd", "'\u00a0=cmd"),
        ("\n=cmd", "'\n=cmd"),
        ('"=cmd"', '\'"=cmd"'),
        ("'@SUM(A1)", "''@SUM(A1)"),
        ("\u3000+x", "'\u3000+x"),
        (" \u00a0\n -x", "' \u00a0\n -x"),
        # full-width formula characters
        ('\uff1dHYPERLINK("x")', '\'\uff1dHYPERLINK("x")'),
        ("\uff0b1", "'\uff0b1"),
        ("\uff0dx", "'\uff0dx"),
        ("\uff20x", "'\uff20x"),
        # plain numbers stay numbers: Telegram chat ids, scores
        ("-1001234567890", "-1001234567890"),
        (-1001234567890, "-1001234567890"),
        ("0.9312", "0.9312"),
        ("-2.5e-3", "-2.5e-3"),
        ("+62812345678", "+62812345678"),
        ("-100123 =1", "'-100123 =1"),
        ("- 1", "'- 1"),
        # Indonesian and obfuscated text that is not a formula, and a huge cell
        ("kamu jelek", "kamu jelek"),
        ("ｂｕｇｉｌ", "ｂｕｇｉｌ"),
        ("x" * 100_000, "x" * 100_000),
        ("=" + "x" * 100_000, "'=" + "x" * 100_000),
    ],
)
def test_neutralise_cell(value, expected):
    assert neutralise_cell(value) == expected


def seed(store, server_id, text, reporter="rep1"):
    m = make_message(text, server_id=server_id, author_name="=cmd|' /C calc'!A0")
    r = store.record_flag(m, Decision(flagged=True, labels=("sexual",), verdicts=(Verdict("sexual", 0.9, "+reason", "kw"),)))
    store.record_report(m.server, r.flag_id, reporter, "@reason")
    store.record_review(Review(flag_id=r.flag_id, server=m.server, decision="confirm", reviewer="mod", note="-note"))
    return r.flag_id


@pytest.fixture
def seeded(store):
    seed(store, "a", "=1+1 hostile formula")
    seed(store, "a", "second")
    seed(store, "b", "other server secret")
    return store


def test_csv_cells_cannot_be_formulas(seeded):
    res = export_bytes(seeded, "csv", "discord:a")
    rows = list(csv.DictReader(io.StringIO(res.data.decode())))
    assert len(rows) == 2
    for row in rows:
        for value in row.values():
            assert not value.startswith(FORMULA_STARTS), value
    assert rows[0]["excerpt"] == "'=1+1 hostile formula"


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_export_is_scoped_to_one_server(seeded, fmt):
    res = export_bytes(seeded, fmt, "discord:a")
    assert b"other server secret" not in res.data
    assert res.manifest["rows"] == 2 and list(res.manifest["chain_heads"]) == ["discord:a"]


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_manifest_hash_matches_file_and_rows_carry_chain_hashes(seeded, fmt):
    res = export_bytes(seeded, fmt, "discord:a")
    assert res.manifest["sha256"] == hashlib.sha256(res.data).hexdigest()
    assert res.manifest["chain_heads"]["discord:a"] == seeded.chain_head("discord:a")
    audit = {h for (h,) in seeded.db.conn.execute("SELECT row_hash FROM audit")}
    if fmt == "json":
        rows = json.loads(res.data)
    elif fmt == "ndjson":
        rows = [json.loads(line) for line in res.data.decode().splitlines()]
    else:
        rows = list(csv.DictReader(io.StringIO(res.data.decode())))
    assert all(r["row_hash"] in audit for r in rows)


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_reporters_only_with_the_flag(seeded, fmt):
    assert b"rep1" not in export_bytes(seeded, fmt, "discord:a").data
    assert b"rep1" in export_bytes(seeded, fmt, "discord:a", include_reporters=True).data


def test_filters(seeded):
    buf = io.BytesIO()
    m = write_export(seeded, buf, "ndjson", FlagFilter(label="racial"))
    assert m["rows"] == 0
    m = write_export(seeded, io.BytesIO(), "ndjson", FlagFilter(status="confirmed"))
    assert m["rows"] == 3 and set(m["chain_heads"]) == {"discord:a", "discord:b"}


def test_unknown_format(seeded):
    with pytest.raises(ValueError, match="unknown export format"):
        write_export(seeded, io.BytesIO(), "xlsx", None)


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_bot_exports_are_signed_and_carry_the_anchor(seeded, fmt):
    from bot.export_check import check_export
    from bot.signing import check_signature

    res = export_bytes(seeded, fmt, "discord:a")
    head, rows, at = seeded.chain_anchor("discord:a")
    assert res.manifest["anchors"]["discord:a"] == {"head": head, "rows": rows, "at": at}
    assert check_signature(res.manifest).startswith("ed25519:")
    result = check_export(res.data, res.manifest)
    assert result.ok, result.problems
    assert result.rows == 2 and result.redacted == 2  # each flag's report row is redacted (reporters left out)


@pytest.mark.parametrize("rows", ["abc", "2", None, [], {"x": 1}, 10**30, -1, "dua"])
def test_tampered_anchor_rows_are_a_problem_not_a_crash(seeded, rows):
    """Found by mypy: a manifest's anchor `rows` that is not an integer raised (ValueError, unhashable list)
    instead of being reported, so `verify-export` crashed on exactly the file it should explain."""
    from bot.export_check import check_export

    res = export_bytes(seeded, "ndjson", "discord:a")
    manifest = json.loads(json.dumps(res.manifest))
    manifest["anchors"]["discord:a"]["rows"] = rows
    result = check_export(res.data, manifest)
    assert not result.ok
    assert any("manifest's head" in p or "signature" in p for p in result.problems), result.problems


@pytest.fixture
def appealed(seeded):
    """Flag 1 carries a reversed appeal whose text looks like a formula; flag 2 an open one."""
    seeded.add_appeal("discord:a", 1, "author", '=HYPERLINK("x") saya tidak bersalah | sungguh', "id", max_open_per_day=5)
    seeded.decide_appeal("discord:a", 1, "reversed", "mod2", note="salah paham")
    seeded.add_appeal("discord:a", 2, "author", "it was a joke", "en", max_open_per_day=5)
    return seeded


def _rows(res, fmt):
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(res.data.decode())))
    if fmt == "json":
        return json.loads(res.data)
    return [json.loads(line) for line in res.data.decode().splitlines()]


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_appeals_are_part_of_the_exported_case_and_verify(appealed, fmt):
    from bot.export_check import check_export

    res = export_bytes(appealed, fmt, "discord:a")
    rows = _rows(res, fmt)
    first = rows[0]["appeals"]
    if fmt == "csv":
        assert not first.startswith(FORMULA_STARTS)  # JSON in one cell: the hostile text inside is not a formula
        first = json.loads(first)
    assert [(p["status"], p["decided_by"], p["note"]) for p in first] == [("reversed", "mod2", "salah paham")]
    assert first[0]["text"].startswith("=HYPERLINK") and " | sungguh" in first[0]["text"]
    result = check_export(res.data, res.manifest)
    assert result.ok, result.problems
    kinds = {a["kind"] for r in rows for a in (json.loads(r["audit"]) if fmt == "csv" else r["audit"])}
    assert {"appeal", "appeal_decision"} <= kinds


def _retamper(res, edit):
    """Change one exported row and fix the file hash (the signature then fails too; the appeal check must object on its own)."""
    rows = json.loads(res.data)
    edit(rows)
    data = json.dumps(rows).encode()
    manifest = {k: v for k, v in res.manifest.items() if k != "signature"}
    manifest["sha256"] = hashlib.sha256(data).hexdigest()
    return data, manifest


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda rows: rows[0]["appeals"][0].update(status="upheld"), "status differs"),
        (lambda rows: rows[0]["appeals"][0].update(text="I never appealed"), "text differs"),
        (lambda rows: rows[0]["appeals"][0].update(appellant_id="someone else"), "appellant differs"),
        (lambda rows: rows[0]["appeals"].clear(), "appeals differ"),
        (lambda rows: rows[1]["appeals"].append(dict(rows[0]["appeals"][0], id=99)), "appeals differ"),
    ],
)
def test_an_edited_appeal_does_not_verify(appealed, edit, fragment):
    from bot.export_check import check_export

    data, manifest = _retamper(export_bytes(appealed, "json", "discord:a"), edit)
    problems = check_export(data, manifest).problems
    assert any(fragment in p for p in problems), problems


def test_a_purged_appeal_text_still_verifies(appealed):
    from bot.export_check import check_export

    author = appealed.flag("discord:a", 1).author_id
    assert appealed.purge_content("discord:a", user_id=author) >= 1
    res = export_bytes(appealed, "json", "discord:a")
    rows = json.loads(res.data)
    assert rows[0]["appeals"][0]["text"] == "[purged]"
    assert b"saya tidak bersalah" not in res.data
    assert check_export(res.data, res.manifest).ok
