import pytest

from bot.models import Action, Decision, Review
from classifiers.base import Verdict
from tests.conftest import make_message


def populate(store, server_id="s1", n=3):
    ids = []
    for i in range(n):
        m = make_message(f"lewd {i}", server_id=server_id)
        r = store.record_flag(m, Decision(flagged=True, labels=("sexual",), verdicts=(Verdict("sexual", 0.9, "r", "kw"),)))
        store.record_report(m.server, r.flag_id, f"rep{i}", "why")
        store.record_review(Review(flag_id=r.flag_id, server=m.server, decision="confirm", reviewer="mod"))
        aid = store.record_action(Action(kind="delete", server=m.server, flag_id=r.flag_id, actor="mod"))
        store.complete_action(m.server, aid, "ok")
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


def _raw(store, sql, *args):
    store.db.conn.execute(sql, args)


@pytest.mark.parametrize("tamper, fragment", [
    (lambda s: _raw(s, "UPDATE audit SET payload = replace(payload, 'confirm', 'dismiss') WHERE kind = 'review' AND seq = 3"), "altered"),
    (lambda s: _raw(s, "DELETE FROM audit WHERE seq = 4 AND server = 'discord:s1'"), "deleted"),
    (lambda s: _raw(s, "UPDATE reviews SET decision = 'dismiss' WHERE id = 1"), "column decision differs"),
    (lambda s: _raw(s, "UPDATE flags SET author_id = 'someone-else' WHERE id = 1"), "column author_id differs"),
    (lambda s: (_raw(s, "PRAGMA foreign_keys=OFF"), _raw(s, "DELETE FROM reports WHERE id = 1")), "missing"),
])
def test_tampering_is_found_and_named(store, tamper, fragment):
    populate(store)
    tamper(store)
    (report,) = store.verify_chain("discord:s1")
    assert not report.ok
    assert fragment in report.problem.problem
    assert report.problem.seq >= 1 and str(report.problem).startswith("discord:s1: audit row")


def test_reordered_rows_are_found(store):
    populate(store)
    # swap the contents of two rows while keeping ids: order no longer links
    a, b = store.db.conn.execute("SELECT id FROM audit WHERE server='discord:s1' AND seq IN (2,3) ORDER BY seq").fetchall()
    store.db.conn.execute("UPDATE audit SET id = -1 WHERE id = ?", (a[0],))
    store.db.conn.execute("UPDATE audit SET id = ? WHERE id = ?", (a[0], b[0]))
    store.db.conn.execute("UPDATE audit SET id = ? WHERE id = -1", (b[0],))
    (report,) = store.verify_chain("discord:s1")
    assert not report.ok and report.problem.seq in (2, 3)
