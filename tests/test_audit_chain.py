import json

import pytest

from bot.audit_chain import GENESIS, chain_hash, parse_head
from bot.models import Action, Decision, Review
from classifiers.base import Verdict
from tests.conftest import make_message

# populate() writes, per flag n (1..3), audit rows 5n-4..5n: flag, report, review, action, action_result
TEXTS = ["lewd kirim foto bugil", 'lewd =HYPERLINK("x")', "lewd ｐｅｒｅｋ"]


def populate(store, server_id="s1", n=3):
    ids = []
    for i in range(n):
        m = make_message(TEXTS[i % 3], server_id=server_id, targets=("victim",))
        r = store.record_flag(
            m, Decision(flagged=True, labels=("sexual",), verdicts=(Verdict("sexual", 0.9, "keyword lewd", "kw"), Verdict("racial", 0.2, "weak", "model")))
        )
        store.record_report(m.server, r.flag_id, f"rep{i}", "dia kirim foto")
        store.record_review(Review(flag_id=r.flag_id, server=m.server, decision="confirm", reviewer="mod", note="seen"))
        aid = store.record_action(Action(kind="delete", server=m.server, flag_id=r.flag_id, actor="mod", reason="abuse"))
        store.complete_action(m.server, aid, "ok", "deleted")
        ids.append(r.flag_id)
    return ids


def test_clean_chain_verifies(store):
    populate(store)
    populate(store, server_id="s2")
    reports = store.verify_chain()
    assert [r.server for r in reports] == ["discord:s1", "discord:s2"]
    assert all(r.ok for r in reports) and reports[0].rows == 15


def test_chains_are_per_server(store):
    populate(store, "s1")
    populate(store, "s2")
    rows = store.db.conn.execute("SELECT server, seq FROM audit WHERE seq = 1").fetchall()
    assert sorted(rows) == [("discord:s1", 1), ("discord:s2", 1)]


def _raw(store, *sqls):
    store.db.conn.execute("PRAGMA foreign_keys=OFF")
    for sql in sqls:
        store.db.conn.execute(sql)


def _rewrite_from(store, server, seq, edit):
    """A forger with database access: edit one audit payload and recompute every later hash so the chain links."""
    rows = store.db.conn.execute("SELECT id, seq, kind, ref_id, payload, prev_hash, created_at FROM audit WHERE server = ? ORDER BY seq", (server,)).fetchall()
    prev = GENESIS
    for rid, s, kind, ref, payload, prev_hash, at in rows:
        if s == seq:
            payload = json.dumps(edit(json.loads(payload)), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        if s >= seq:
            h = chain_hash(prev, server, s, kind, ref, payload, at)
            store.db.conn.execute("UPDATE audit SET payload = ?, prev_hash = ?, row_hash = ? WHERE id = ?", (payload, prev, h, rid))
        prev = store.db.conn.execute("SELECT row_hash FROM audit WHERE id = ?", (rid,)).fetchone()[0]


def _cut_tail(store):
    """Remove the third flag and everything about it, audit rows included: a consistent, shorter chain."""
    _raw(
        store,
        "DELETE FROM audit WHERE server = 'discord:s1' AND seq > 10",
        "DELETE FROM verdicts WHERE flag_id = 3",
        "DELETE FROM reports WHERE flag_id = 3",
        "DELETE FROM reviews WHERE flag_id = 3",
        "DELETE FROM actions WHERE flag_id = 3",
        "DELETE FROM flags WHERE id = 3",
    )


def _forge_excerpt(store):
    _raw(store, "UPDATE flags SET excerpt = 'hello' WHERE id = 2")
    _rewrite_from(store, "discord:s1", 6, lambda p: {**p, "excerpt_sha256": __import__("hashlib").sha256(b"hello").hexdigest()})


TAMPERING = [
    # (name, tamper, fragment of the problem, seq of the audit row named; 0 = a live row without audit)
    ("flag excerpt", lambda s: _raw(s, "UPDATE flags SET excerpt = 'hello' WHERE id = 2"), "excerpt differs", 6),
    ("flag excerpt emptied", lambda s: _raw(s, "UPDATE flags SET excerpt = '' WHERE id = 2"), "excerpt differs", 6),
    ("flag status", lambda s: _raw(s, "UPDATE flags SET status = 'dismissed' WHERE id = 2"), "column status", 8),
    ("flag labels", lambda s: _raw(s, "UPDATE flags SET labels = '' WHERE id = 2"), "column labels", 6),
    ("flag max_score", lambda s: _raw(s, "UPDATE flags SET max_score = 0.1 WHERE id = 2"), "column max_score", 6),
    ("flag message_time", lambda s: _raw(s, "UPDATE flags SET message_time = '2020-01-01T00:00:00+00:00' WHERE id = 2"), "column message_time", 6),
    ("flag content hash", lambda s: _raw(s, "UPDATE flags SET content_sha256 = 'x' WHERE id = 2"), "column content_sha256", 6),
    ("flag author", lambda s: _raw(s, "UPDATE flags SET author_id = 'someone-else' WHERE id = 2"), "column author_id", 6),
    ("flag targets", lambda s: _raw(s, "UPDATE flags SET targets = '[]' WHERE id = 2"), "column targets", 6),
    ("flag report_count", lambda s: _raw(s, "UPDATE flags SET report_count = 0 WHERE id = 2"), "report_count", 7),
    ("flag marked purged without purge", lambda s: _raw(s, "UPDATE flags SET content_purged_at = '2026-01-01' WHERE id = 2"), "content_purged_at", 6),
    ("verdict score", lambda s: _raw(s, "UPDATE verdicts SET score = 0.1 WHERE flag_id = 2 AND label = 'sexual'"), "verdicts", 6),
    ("verdict reason", lambda s: _raw(s, "UPDATE verdicts SET reason = 'x' WHERE flag_id = 2 AND label = 'sexual'"), "verdicts", 6),
    ("verdict deleted", lambda s: _raw(s, "DELETE FROM verdicts WHERE flag_id = 2 AND label = 'racial'"), "verdicts", 6),
    (
        "verdict inserted",
        lambda s: _raw(s, "INSERT INTO verdicts (flag_id, label, score, reason, detector) VALUES (2, 'racial', 0.99, '', 'x')"),
        "verdicts",
        6,
    ),
    ("report reason", lambda s: _raw(s, "UPDATE reports SET reason = 'nothing' WHERE id = 2"), "reason differs", 7),
    ("report reporter", lambda s: _raw(s, "UPDATE reports SET reporter_id = 'other' WHERE id = 2"), "column reporter_id", 7),
    ("review decision", lambda s: _raw(s, "UPDATE reviews SET decision = 'dismiss' WHERE id = 2"), "column decision", 8),
    ("review note", lambda s: _raw(s, "UPDATE reviews SET note = '' WHERE id = 2"), "column note", 8),
    ("action kind", lambda s: _raw(s, "UPDATE actions SET kind = 'warn' WHERE id = 2"), "column kind", 9),
    ("action status", lambda s: _raw(s, "UPDATE actions SET status = 'error' WHERE id = 2"), "column status", 10),
    ("action detail", lambda s: _raw(s, "UPDATE actions SET detail = '' WHERE id = 2"), "column detail", 10),
    ("flag row deleted", lambda s: _raw(s, "DELETE FROM flags WHERE id = 2"), "missing", 6),
    ("report row deleted", lambda s: _raw(s, "DELETE FROM reports WHERE id = 2"), "missing", 7),
    (
        "flag inserted without audit",
        lambda s: _raw(
            s,
            "INSERT INTO flags (server, platform, channel_id, message_id, author_id, content_sha256, "
            "source, message_time, created_at, updated_at) VALUES ('discord:s1', 'discord', 'c', 'm', 'a', 'h', "
            "'detector', 't', 't', 't')",
        ),
        "no audit row",
        0,
    ),
    (
        "review inserted without audit",
        lambda s: _raw(s, "INSERT INTO reviews (server, flag_id, decision, reviewer_id, created_at) VALUES ('discord:s1', 1, 'dismiss', 'x', 't')"),
        "no audit row",
        0,
    ),
    ("newest audit row deleted", lambda s: _raw(s, "DELETE FROM audit WHERE server = 'discord:s1' AND seq = 15"), "column status", 14),
    ("latest review's audit row deleted", lambda s: _raw(s, "DELETE FROM audit WHERE server = 'discord:s1' AND seq >= 13"), "column status", 11),
    ("audit row deleted", lambda s: _raw(s, "DELETE FROM audit WHERE seq = 4 AND server = 'discord:s1'"), "deleted", 5),
    (
        "audit payload edited",
        lambda s: _raw(s, "UPDATE audit SET payload = replace(payload, 'confirm', 'dismiss') WHERE seq = 3 AND server = 'discord:s1'"),
        "altered",
        3,
    ),
    (
        "audit rows reordered",
        lambda s: _raw(s, "UPDATE audit SET id = -1 WHERE id = 2", "UPDATE audit SET id = 2 WHERE id = 3", "UPDATE audit SET id = 3 WHERE id = -1"),
        "sequence jumps",
        3,
    ),
]


@pytest.mark.parametrize("name, tamper, fragment, seq", TAMPERING, ids=[t[0] for t in TAMPERING])
def test_tampering_is_found_and_the_first_differing_row_named(store, name, tamper, fragment, seq):
    populate(store)
    populate(store, "s2")
    assert all(r.ok for r in store.verify_chain())
    tamper(store)
    (report,) = store.verify_chain("discord:s1")
    assert not report.ok, name
    assert fragment in report.problem.problem
    assert report.problem.seq == seq, str(report.problem)
    assert str(report.problem).startswith("discord:s1: ")
    (other,) = store.verify_chain("discord:s2")
    assert other.ok


@pytest.mark.parametrize("name, tamper", [("tail cut", _cut_tail), ("chain rewritten from the head", _forge_excerpt)])
@pytest.mark.parametrize("witnessed", [False, True])
def test_consistent_rewrites_need_a_witnessed_head(store, name, tamper, witnessed):
    populate(store)
    head, count, _ = store.chain_anchor("discord:s1")
    tamper(store)
    (report,) = store.verify_chain("discord:s1", expect_head=(head, count) if witnessed else None)
    # without a head kept outside the database a whole-chain rewrite is indistinguishable from the truth
    assert report.ok is (not witnessed)
    if witnessed:
        assert "witnessed head" in report.problem.problem


def test_witnessed_head_of_an_older_state_still_verifies(store):
    populate(store, n=1)
    head, count, _ = store.chain_anchor("discord:s1")
    populate(store, n=2)
    assert store.verify_chain("discord:s1", expect_head=(head, count))[0].ok
    assert store.verify_chain(None, expect_head=(head, None))[0].ok
    assert not store.verify_chain("discord:s1", expect_head=(head, count + 1))[0].ok
    assert not store.verify_chain(None, expect_head=("f" * 64, None))[-1].ok


def test_purged_content_is_no_longer_compared_but_everything_else_is(store):
    populate(store)
    assert store.purge_content("discord:s1", user_id="a1") == 3
    assert store.verify_chain("discord:s1")[0].ok
    _raw(store, "UPDATE flags SET labels = 'racial' WHERE id = 1")
    assert "column labels" in store.verify_chain("discord:s1")[0].problem.problem


def test_version_1_chains_still_verify(store):
    """Rows written before payload format 2 (no "v"): hash-checked and compared on the fields they hold."""
    populate(store, n=2)
    rows = store.db.conn.execute("SELECT id, seq, kind, ref_id, payload, created_at FROM audit ORDER BY seq").fetchall()
    prev = GENESIS
    for rid, seq, kind, ref, payload, at in rows:
        p = json.loads(payload)
        old = {k: p[k] for k in ("server", "flag_id", "decision", "reviewer_id", "author_id", "channel_id", "created_at") if k in p}
        body = json.dumps(old, sort_keys=True, separators=(",", ":"))
        h = chain_hash(prev, "discord:s1", seq, kind, ref, body, at)
        store.db.conn.execute("UPDATE audit SET payload = ?, prev_hash = ?, row_hash = ? WHERE id = ?", (body, prev, h, rid))
        prev = h
    assert store.verify_chain("discord:s1")[0].ok
    _raw(store, "UPDATE reviews SET decision = 'dismiss' WHERE id = 1")
    assert "column decision" in store.verify_chain("discord:s1")[0].problem.problem


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a" * 64, ("a" * 64, None)),
        ("A" * 64 + ":12", ("a" * 64, 12)),
        (" " + "0" * 64 + " ", ("0" * 64, None)),
    ],
)
def test_parse_head(text, expected):
    assert parse_head(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "g" * 64, "a" * 64 + ":x", "a" * 63 + ":1", "a" * 64 + ":-1"])
def test_parse_head_rejects(text):
    with pytest.raises(ValueError):
        parse_head(text)


def test_a_witnessed_head_on_an_empty_database_fails(store):
    (report,) = store.verify_chain(None, expect_head=("f" * 64, 3))
    assert not report.ok and "witnessed head" in report.problem.problem
