"""Learning from decisions against a real store: `stats --precision`, `export --training`, `train --decisions`."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bot import training_export as tx
from bot.cli import main
from bot.models import Decision, Review
from bot.precision import precision_reports
from bot.store import Store
from classifiers.base import Verdict
from classifiers.data import DECISIONS_SOURCE, Dataset, decisions_dataset, merge_decisions
from tests.conftest import make_message

TINY = Path(__file__).parent / "fixtures" / "tiny_data"
HUGE = "kirim foto bugil sekarang " * 400  # 10,000 characters; the store keeps the first 1,000


def add(
    store: Store,
    text: str,
    labels=("sexual",),
    decisions=("confirm",),
    server="s1",
    score=0.9,
    reason='"bokep"',
    detector="text_model",
    note_last: str = "",
    author="a1",
) -> int:
    """One flag with its verdicts, reviewed in order with `decisions` (the last one decides)."""
    m = make_message(text, server_id=server, author=author)
    verdicts = tuple(Verdict(label, score, reason, detector) for label in labels)
    fid = store.record_flag(m, Decision(flagged=True, labels=tuple(labels), verdicts=verdicts)).flag_id
    for i, d in enumerate(decisions):
        note = note_last if i == len(decisions) - 1 else f"review {i}"
        store.record_review(Review(fid, m.server, d, "mod", note, time=datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=fid * 10 + i)))
    return fid


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


# ---- the store's reviewed flags and the precision report --------------------------------------------------
def test_decided_flags_skips_unreviewed_and_other_servers(store):
    a = add(store, "kirim bokep", decisions=("confirm",))
    add(store, "unreviewed", decisions=())
    add(store, "elsewhere", server="s2")
    b = add(store, "appeal", decisions=("confirm", "dismiss"), note_last="appeal reversed: a quote")
    got = list(store.decided_flags("discord:s1", batch=1))  # batches of one: the paging itself is exercised
    assert [f.id for f in got] == [a, b]
    assert got[1].last_review["decision"] == "dismiss" and got[1].last_review["note"].startswith("appeal reversed")


def test_precision_reports_from_the_store(store):
    for i in range(3):
        add(store, f"bokep {i}", decisions=("confirm",))
    add(store, "reversed", decisions=("escalate", "dismiss"), note_last="appeal reversed")
    add(store, "dasar cina", labels=("racial",), reason='"dasar Ch1nd0" → dasar chindo', decisions=("dismiss",))
    (r,) = precision_reports(store, "discord:s1")
    assert (r.reviewed, r.confirmed, r.dismissed, r.appeal_reversals) == (5, 3, 2, 1)
    assert {p.key: (p.tp, p.fp) for p in r.by_label} == {"sexual": (3, 1), "racial": (0, 1)}
    assert {p.key: (p.tp, p.fp) for p in r.by_term} == {"sexual:bokep": (3, 1), "racial:dasar chindo": (0, 1)}


# ---- training rows -----------------------------------------------------------------------------------------
#: (case, flags as add() kwargs, purge author, expected rows as (text, sexual, racial), summary fields)
ROWS = [
    ("no reviews", [dict(text="lewd", decisions=())], None, [], {"rows": 0}),
    (
        "all dismissed",
        [dict(text="foto keluarga", decisions=("dismiss",)), dict(text="foto liburan", decisions=("dismiss",))],
        None,
        [("foto keluarga", 0, -1), ("foto liburan", 0, -1)],
        {"rows": 2, "negatives": {"sexual": 2, "racial": 0}},
    ),
    (
        "mixed",
        [
            dict(text="kirim bokep", decisions=("confirm",)),
            dict(text="dasar cina", labels=("racial",), decisions=("dismiss",)),
            dict(text="escalated one", decisions=("escalate",)),
        ],
        None,
        [("kirim bokep", 1, -1), ("dasar cina", -1, 0), ("escalated one", 1, -1)],
        {"rows": 3},
    ),
    ("two labels confirmed", [dict(text="cina bugil", labels=("sexual", "racial"))], None, [("cina bugil", 1, 1)], {"rows": 1}),
    (
        "purged content is skipped and counted",
        [dict(text="secret", author="gone"), dict(text="kept")],
        "gone",
        [("kept", 1, -1)],
        {"rows": 1, "skipped_purged": 1},
    ),
    (
        "appeal reversal is a negative",
        [dict(text="cuma kutipan", decisions=("confirm", "dismiss"), note_last="appeal reversed")],
        None,
        [("cuma kutipan", 0, -1)],
        {"rows": 1},
    ),
    (
        "no text label says nothing about text",
        [dict(text="pic", labels=("reshare",), detector="image_bank")],
        None,
        [],
        {"rows": 0, "skipped_no_text_label": 1},
    ),
    ("empty text", [dict(text="")], None, [], {"rows": 0, "skipped_no_text": 1}),
    (
        "same text twice: latest review wins",
        [dict(text="sama"), dict(text="sama", decisions=("dismiss",))],
        None,
        [("sama", 0, -1)],
        {"rows": 1, "duplicates_merged": 1},
    ),
    ("indonesian", [dict(text="dasar aseng pulang ke negaramu", labels=("racial",))], None, [("dasar aseng pulang ke negaramu", -1, 1)], {"rows": 1}),
    ("huge text is the stored excerpt", [dict(text=HUGE)], None, [(HUGE[:1000], 1, -1)], {"rows": 1}),
    (
        "formula text",
        [dict(text='=HYPERLINK("http://x")'), dict(text="-1001234567890 +62 812")],
        None,
        [('=HYPERLINK("http://x")', 1, -1), ("-1001234567890 +62 812", 1, -1)],
        {"rows": 2},
    ),
]


@pytest.mark.parametrize("case, flags, purge_author, expected, summary", ROWS, ids=[r[0] for r in ROWS])
def test_training_rows_and_csv_round_trip(store, tmp_path, case, flags, purge_author, expected, summary):
    for kw in flags:
        add(store, **kw)
    if purge_author:
        store.purge_content("discord:s1", user_id=purge_author)
    rows, s = tx.decision_rows(store, "discord:s1")
    assert [(r.text, r.labels["sexual"], r.labels["racial"]) for r in rows] == expected
    d = s.as_dict()
    assert {k: d[k] for k in summary} == summary
    path = tmp_path / "train.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        assert tx.write_training_csv(rows, fh) == len(rows)
    raw = list(csv.reader(path.open(encoding="utf-8")))
    assert tuple(raw[0]) == tx.COLUMNS
    for cells in raw[1:]:
        assert not any(c.lstrip().startswith(("=", "+", "@")) for c in cells), cells  # formula-neutralised (plain numbers stay)
        assert cells[tx.COLUMNS.index("source")] == DECISIONS_SOURCE
    back = tx.read_training_csv(path)
    assert [(r.text, r.labels["sexual"], r.labels["racial"]) for r in back] == expected  # the neutraliser's quote undone


def test_merge_decisions_dedupes_by_content_and_drops_unlabelled():
    base = Dataset(
        ["Kirim Bokep", "halo"], np.asarray(["id", "id"], dtype=object), np.asarray(["chat", "chat"], dtype=object), np.asarray([[1, 0], [0, 0]], dtype=np.int8)
    )
    dec = decisions_dataset(["kirim bokep  ", "baru", "baru", "tanpa label"], [[0, -1], [1, -1], [0, -1], [-1, -1]])
    merged, dropped = merge_decisions(base, dec)
    assert merged.texts == ["Kirim Bokep", "halo", "baru"] and dropped == 3
    assert list(merged.sources) == ["chat", "chat", DECISIONS_SOURCE]
    assert merged.Y[2].tolist() == [1, -1]


@pytest.mark.parametrize("lang", ["id", "en", "und"])
def test_decision_rows_are_never_in_a_folds_test_rows(lang):
    from classifiers.train import FOLDS, _fold_rows

    for fold in FOLDS:
        src = fold.test_sources[0]
        ds = Dataset(
            ["a", "b"],
            np.asarray([fold.lang, lang], dtype=object),
            np.asarray([src, DECISIONS_SOURCE], dtype=object),
            np.asarray([[1, 1], [1, 1]], dtype=np.int8),
        )
        train_m, test_m = _fold_rows(ds, fold)
        assert test_m.tolist() == [True, False] and train_m.tolist() == [False, True], fold.name


# ---- CLI ---------------------------------------------------------------------------------------------------
@pytest.fixture
def decided_db(db_path):
    with Store.open(db_path) as s:
        for i in range(4):
            add(s, f"kirim bokep {i}", score=0.95)
        add(s, "foto keluarga", decisions=("dismiss",), score=0.65, reason='"\x1b[2J\u202efoto"')
        add(s, "dasar aseng", labels=("racial",), reason='"dasar aseng"', server="t1")
        s.record_flag(make_message("=cmd", server_id="s1"), Decision(flagged=True, labels=("sexual",), verdicts=(Verdict("sexual", 0.9, "x", "kw"),)))
    return db_path


def test_stats_precision_table(decided_db):
    r = run("stats", "--db", decided_db, "--precision", "--server", "discord:s1", "--min-decisions", "3", "--target", "0.9")
    assert r.exit_code == 0, r.output
    assert "discord:s1: 5 reviewed flag(s), 4 confirmed/escalated, 1 dismissed" in r.output
    assert "sexual:bokep" in r.output and "\x1b" not in r.output and "\u202e" not in r.output
    assert "sexual: suggested threshold 0.95 (precision 1.00 on 4 reviewed flags" in r.output
    assert "to apply: /triage setup sexual:0.95" in r.output
    assert "racial: not enough decisions yet (0 of 3)" in r.output


def test_stats_precision_json_all_servers(decided_db):
    r = run("stats", "--db", decided_db, "--precision", "--json")
    data = {d["server"]: d for d in json.loads(r.output)}
    assert set(data) == {"discord:s1", "discord:t1"}
    sexual = next(p for p in data["discord:s1"]["by_label"] if p["key"] == "sexual")
    assert (sexual["n"], sexual["confirmed"], sexual["dismissed"], sexual["precision"]) == (5, 4, 1, 0.8)
    assert 0 < sexual["ci95"][0] < 0.8 < sexual["ci95"][1] <= 1
    assert data["discord:s1"]["suggestions"][0]["why_not"] == "not enough decisions yet (5 of 30)"


def test_stats_precision_empty_db(db_path):
    with Store.open(db_path):
        pass
    assert "no servers" in run("stats", "--db", db_path, "--precision").output


def test_export_training_to_file_and_stdout(decided_db, tmp_path):
    out = tmp_path / "train.csv"
    r = run("export", "--db", decided_db, "--training", "-o", out)
    assert r.exit_code == 0, r.output
    assert "6 training row(s) (sexual 4+/1-, racial 1+/0-) from 2 server(s)" in r.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {row["text"] for row in rows} >= {"kirim bokep 0", "foto keluarga", "dasar aseng"}
    assert "'=cmd" not in out.read_text() and "=cmd" not in out.read_text()  # unreviewed: not exported
    r = CliRunner().invoke(main, ["export", "--db", str(decided_db), "--training", "--server", "discord:t1"])
    assert r.exit_code == 0
    assert list(csv.reader(io.StringIO(r.stdout)))[1][:4] == ["dasar aseng", "und", "-1", "1"]
    assert "1 training row(s)" in r.stderr


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--training", "--format", "csv"], "--training takes only"),
        (["--training", "--label", "sexual"], "--training takes only"),
        ([], "give --format"),
    ],
)
def test_export_training_usage(decided_db, args, fragment):
    r = CliRunner().invoke(main, ["export", "--db", str(decided_db), *args])
    assert r.exit_code == 2 and fragment in r.output


def test_train_with_decisions_records_them_in_the_card(tmp_path, db_path):
    """A tiny training run: decision rows are folded in (deduplicated), weighted, and recorded in the card."""
    with Store.open(db_path) as s:
        for i in range(12):
            add(s, f"zorbleflap {i} kamu", score=0.9)  # a made-up word moderators confirmed as sexual
            add(s, f"quaxomite {i} kamu", decisions=("dismiss",), score=0.9)  # and one they dismissed
        add(s, "send me naked pics right now")  # already in tests/fixtures/tiny_data: dropped as a repeat
    out = tmp_path / "model"
    r = run("train", "--data", TINY, "--out", out, "--no-progress", "--decisions", db_path)
    assert r.exit_code == 0, r.output
    card = json.loads((out / "model_card.json").read_text())
    d = card["decisions"]
    assert (d["rows_given"], d["rows_used"], d["dropped_repeats_or_unlabelled"]) == (25, 24, 1)
    assert d["servers"] == ["discord:s1"] and d["positives"] == {"sexual": 12, "racial": 0} and d["weight"] == 2.0
    assert card["sources"][DECISIONS_SOURCE]["rows"] == 24
    assert "moderators' decisions: 24 rows used of 25" in (out / "MODEL_CARD.md").read_text()
    r = run("classify", "zorbleflap kamu", "quaxomite kamu", "--format", "jsonl", "--model", out / "model.skops")
    confirmed, dismissed = (json.loads(line)["scores"]["sexual"] for line in r.output.splitlines())
    assert confirmed > dismissed


@pytest.mark.parametrize("newest, expected", [(None, 5), (10, 5), (5, 5), (2, 2), (1, 1)])
def test_decided_flags_newest_bound(store, newest, expected):
    ids = [add(store, f"bokep {i}") for i in range(5)]
    add(store, "unreviewed", decisions=())
    got = [f.id for f in store.decided_flags("discord:s1", newest=newest)]
    assert got == ids[len(ids) - expected :]


def test_bot_summary_says_when_it_read_only_the_latest(store):
    from bot.precision import precision_summary

    for i in range(3):
        add(store, f"bokep {i}")
    assert precision_summary(store, "discord:s1", newest=2)[0] == "Precision from the latest 2 reviews: sexual 100% of 2"
    assert precision_summary(store, "discord:s1")[0] == "Precision from 3 reviews: sexual 100% of 3"
    assert precision_summary(store, "discord:other") == ["Precision: no reviewed flags yet."]
    assert precision_summary(store, "discord:s1", "id")[0] == "Presisi dari 3 tinjauan: seksual 100% dari 3"
    assert precision_summary(store, "discord:s1", "id")[1] == "seksual: keputusan belum cukup (3 dari 30)"


@pytest.mark.parametrize("source", ["db", "csv"])
def test_train_reads_decisions_from_the_database_or_an_export(decided_db, tmp_path, source):
    from bot.cli.model_commands import _load_decisions

    path = decided_db
    if source == "csv":
        path = tmp_path / "train.csv"
        assert run("export", "--db", decided_db, "--training", "-o", path).exit_code == 0
    ds, info = _load_decisions(path)
    assert len(ds) == 6 and set(ds.sources) == {DECISIONS_SOURCE} and set(ds.langs) == {"und"}
    assert sorted(ds.texts)[0] == "dasar aseng" and ds.Y[ds.texts.index("dasar aseng")].tolist() == [-1, 1]
    assert ds.Y[ds.texts.index("foto keluarga")].tolist() == [0, -1]
    assert info["servers"] == ["discord:s1", "discord:t1"] and info["from"] == path.name
    assert "6 training row(s) (sexual 4+/1-, racial 1+/0-) from 2 server(s)" in info["summary"]
