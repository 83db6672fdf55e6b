from datetime import timedelta

import pytest

from bot.models import Action, Decision, Review, utcnow
from bot.store import Store, StoreError
from classifiers.base import Verdict
from tests.conftest import make_message, record_lewd_flag


flag = record_lewd_flag


def test_file_is_wal_with_foreign_keys_and_migrated(store, db_path):
    assert store.journal_mode() == "wal"
    assert store.schema_version() >= 1
    assert store.db.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert {"flags", "verdicts", "reports", "reviews", "actions", "servers", "image_hashes", "bank_entries", "audit", "incidents"} <= set(
        store.db.table_names()
    )
    # the queue query uses the index
    plan = " ".join(
        r[3] for r in store.db.conn.execute("EXPLAIN QUERY PLAN SELECT * FROM flags WHERE server=? AND status IN ('pending') ORDER BY created_at", ("x",))
    )
    assert "flags_queue" in plan


def test_migrate_is_idempotent(db_path):
    Store.open(db_path).close()
    s = Store.open(db_path)
    assert s.migrate() == []
    s.close()


def test_flag_round_trip(store):
    m, r = flag(store, targets=("victim",))
    assert r.created
    f = store.flag(m.server, r.flag_id)
    assert f.labels == ("sexual",) and f.excerpt == "lewd" and f.status == "pending"
    assert f.targets == ("victim",) and f.scores == {"sexual": 0.9}
    assert f.reasons == ("matched lewd",)


def test_same_message_flagged_twice_is_one_row(store):
    m = make_message("lewd")
    d = Decision(flagged=True, labels=("sexual",), verdicts=(Verdict("sexual", 0.9, "x", "kw"),))
    a = store.record_flag(m, d)
    d2 = Decision(flagged=True, labels=("racial",), verdicts=(Verdict("racial", 0.8, "y", "kw"),))
    b = store.record_flag(m, d2)
    assert a.flag_id == b.flag_id and not b.created
    assert store.flag(m.server, a.flag_id).labels == ("sexual", "racial")


def test_server_scope_is_enforced(store):
    m, r = flag(store, server_id="s1")
    with pytest.raises(StoreError):
        store.flag("discord:other", r.flag_id)
    with pytest.raises(StoreError):
        store.record_review(Review(flag_id=r.flag_id, server="discord:other", decision="confirm", reviewer="x"))
    assert store.queue("discord:other") == []


def test_review_changes_status_and_is_logged(store):
    m, r = flag(store)
    store.record_review(Review(flag_id=r.flag_id, server=m.server, decision="dismiss", reviewer="mod1", note="joke between friends"))
    f = store.flag(m.server, r.flag_id)
    assert f.status == "dismissed" and f.last_review["reviewer"] == "mod1"
    assert store.queue(m.server) == []
    with pytest.raises(StoreError):
        store.record_review(Review(flag_id=r.flag_id, server=m.server, decision="nuke", reviewer="mod1"))


def test_action_written_before_and_after(store):
    m, r = flag(store)
    aid = store.record_action(Action(kind="delete", server=m.server, flag_id=r.flag_id))
    assert store.actions_for(m.server, r.flag_id)[0]["status"] == "pending"
    store.complete_action(m.server, aid, "error", "403 Missing Permissions")
    a = store.actions_for(m.server, r.flag_id)[0]
    assert a["status"] == "error" and "403" in a["detail"] and a["completed_at"]


def test_reports_and_rate_window(store):
    m, r = flag(store)
    store.record_report(m.server, r.flag_id, "rep1", "gross")
    assert store.flag(m.server, r.flag_id).report_count == 1
    assert store.has_reported(m.server, r.flag_id, "rep1")
    assert store.reports_since(m.server, "rep1", utcnow() - timedelta(hours=1)) == 1
    assert store.reporters(m.server, r.flag_id) == ["rep1"]


def test_bank_round_trip(store):
    eid = store.add_bank_entry("discord:1", [("pdq", b"\x01" * 32), ("orb", b"\x02" * 64)], "note", "member", "u1", protects="u1")
    assert store.bank_entries(["discord:1"]) == [(eid, [("pdq", b"\x01" * 32), ("orb", b"\x02" * 64)])]
    assert store.bank_entries(["discord:2"]) == []


@pytest.mark.parametrize(
    "text", ["", "x" * 100_000, "\x00nul\x00", "\ud800 lone surrogate", "zalgo h̸̡̢̛̖̗̘̙̜̝̞̟̠̣̤", "\u202eRTL override", "🔥🍑💦", "kirim foto bugilnya dong"]
)
def test_odd_text_is_stored_safely(store, text):
    m = make_message(text)
    r = store.record_flag(m, Decision(flagged=True, labels=("sexual",), verdicts=(Verdict("sexual", 0.9, text[:50], "kw"),)))
    f = store.flag(m.server, r.flag_id)
    assert len(f.excerpt) <= 1000 and "\x00" not in f.excerpt
    assert store.integrity_ok()


def test_purge_keeps_labels_and_chain(store):
    m, r = flag(store, author="harasser")
    store.record_review(Review(flag_id=r.flag_id, server=m.server, decision="confirm", reviewer="mod"))
    assert store.purge_content(None, user_id="harasser") == 1
    f = store.flag(m.server, r.flag_id)
    assert f.excerpt == "[purged]" and f.labels == ("sexual",) and f.status == "confirmed"
    assert all(v.reason in ("", "[purged]") for v in f.verdicts)
    assert all(rep.ok for rep in store.verify_chain())


def test_retention_purges_only_old(store):
    m, r = flag(store)
    assert store.purge_content(m.server, before=utcnow() - timedelta(days=90)) == 0
    assert store.purge_content(m.server, before=utcnow() + timedelta(seconds=1)) == 1


# ---- Telegram link codes -------------------------------------------------------------------
def test_link_code_is_used_once_and_expires(store):
    store.put_link_code("ABCD-2345", "telegram:-1", -1, 7, expires_at=1000.0, now=400.0)
    store.set_link_code_notice("ABCD-2345", 55)
    assert store.link_code("ABCD-2345", now=500.0) == {"server": "telegram:-1", "chat_id": -1, "issued_by": 7, "expires_at": 1000.0, "notice_message_id": 55}
    assert store.link_code("ABCD-2345", now=500.0, take=True)["server"] == "telegram:-1"
    assert store.link_code("ABCD-2345", now=500.0) is None  # used up
    store.put_link_code("WXYZ-2345", "telegram:-1", -1, 7, expires_at=1000.0, now=400.0)
    assert store.link_code("WXYZ-2345", now=1000.0) is None  # expired at its deadline


def test_new_link_code_replaces_the_servers_older_one(store):
    store.put_link_code("AAAA-2222", "telegram:-1", -1, 7, expires_at=1000.0, now=0.0)
    store.put_link_code("BBBB-3333", "telegram:-2", -2, 7, expires_at=1000.0, now=0.0)
    store.put_link_code("CCCC-4444", "telegram:-1", -1, 8, expires_at=1100.0, now=100.0)
    assert store.link_code("AAAA-2222", now=200.0) is None
    assert store.link_code("BBBB-3333", now=200.0)["chat_id"] == -2  # another group's code is untouched
    assert store.link_code("CCCC-4444", now=200.0)["issued_by"] == 8


def test_link_codes_survive_reopening(db_path):
    s = Store.open(db_path)
    s.put_link_code("ABCD-2345", "telegram:-1", -1, 7, expires_at=1000.0, now=0.0)
    s.close()
    s = Store.open(db_path)
    assert s.link_code("ABCD-2345", now=10.0, take=True)["server"] == "telegram:-1"
    s.close()


def test_incident_counts_move_by_each_flag(store):
    """Counts are kept incrementally (a pile-on must not cost O(flags) per flag); they must equal a recount."""
    from datetime import timedelta

    from bot.models import Decision, utcnow
    from classifiers.base import Verdict
    from tests.conftest import make_message

    start = utcnow() - timedelta(minutes=10)
    rows = [("a1", "sexual", 5), ("a2", "racial", 1), ("a1", "sexual", 9), ("a3", "sexual", 0), ("a2", "sexual", 3)]
    for author, label, minute in rows:  # message times arrive out of order
        m = make_message(f"x {author}", author=author, targets=("victim",), time=start + timedelta(minutes=minute))
        store.record_flag(m, Decision(flagged=True, labels=(label,), verdicts=(Verdict(label, 0.9, "r", "kw"),)), incident_window_minutes=60)
    (inc,) = store.incidents("discord:s1", min_flags=1)
    assert (inc.flag_count, inc.author_count, set(inc.labels)) == (5, 3, {"sexual", "racial"})
    assert (inc.first_at, inc.last_at) == (start, start + timedelta(minutes=9))
