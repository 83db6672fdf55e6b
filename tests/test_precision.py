"""Precision from moderators' reviews (bot/precision.py): counts, intervals, terms, suggested thresholds."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from bot import precision as P
from bot.store import FlagView, VerdictRow

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
HUGE = "kirim foto bugil " * 5000


def view(
    fid: int,
    decision: str | None,
    labels=("sexual",),
    score: float = 0.9,
    reason: str = '"bokep"',
    detector: str = "text_model",
    note: str = "",
    excerpt: str = "x",
    extra=(),
    server: str = "discord:1",
) -> FlagView:
    verdicts = tuple(VerdictRow(label, score, reason, detector) for label in labels) + tuple(extra)
    review = {"decision": decision, "reviewer": "mod", "note": note, "at": f"2026-01-01T00:00:{fid % 60:02d}"} if decision else None
    return FlagView(
        id=fid,
        server=server,
        platform="discord",
        channel_id="c",
        message_id=str(fid),
        author_id="a",
        author_name=None,
        excerpt=excerpt,
        link=None,
        labels=tuple(labels),
        max_score=score,
        source="detector",
        status="pending",
        report_count=0,
        created_at=T0,
        message_time=T0,
        targets=(),
        attachments=(),
        verdicts=verdicts,
        last_review=review,
    )


@pytest.mark.parametrize(
    "decision, expected",
    [
        ("confirm", True),
        ("escalate", True),
        ("dismiss", False),
        (None, None),
        ("", None),
        ("uphold", None),
    ],
)
def test_outcome(decision, expected):
    assert P.outcome(decision) is expected


@pytest.mark.parametrize(
    "tp, n, lo, hi",
    [
        (0, 0, 0.0, 1.0),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (8, 10, 0.4902, 0.9433),
        (1, 2, 0.0945, 0.9055),
    ],
)
def test_wilson_interval(tp, n, lo, hi):
    got = P.wilson(tp, n)
    assert got == pytest.approx((lo, hi), abs=1e-4)
    assert got[0] <= (tp / n if n else 0.5) <= got[1]


@pytest.mark.parametrize(
    "reason, terms",
    [
        ("", []),
        ("[purged]", []),
        ('"bokep"', ["bokep"]),
        ('"send n*des" → send nudes; "slut"', ["send nudes", "slut"]),
        ('"dasar Ch1nd0" → dasar chindo', ["dasar chindo"]),
        ('"KIRIM  Foto Bugil"', ["kirim foto bugil"]),
        ('"bokep"; "b0k3p" → bokep', ["bokep"]),
        ('"\x1b[31mred"', ["\x1b[31mred"]),  # kept as data; the CLI renders it through one_line
    ],
)
def test_reason_terms(reason, terms):
    assert P.reason_terms(reason) == terms


def _by(rows, key):
    return {p.key: (p.tp, p.fp) for p in rows}.get(key)


#: (case, flags, reviewed, confirmed, dismissed, reversals, {label: (tp, fp)}, {detector: (tp, fp)}, {term: (tp, fp)})
CASES = [
    ("no reviews", [view(1, None), view(2, None)], 0, 0, 0, 0, {}, {}, {}),
    ("all dismissed", [view(i, "dismiss") for i in range(1, 5)], 4, 0, 4, 0, {"sexual": (0, 4)}, {"text_model": (0, 4)}, {"sexual:bokep": (0, 4)}),
    (
        "mixed",
        [view(1, "confirm"), view(2, "escalate"), view(3, "dismiss"), view(4, "confirm", labels=("racial",), reason='"dasar cina"'), view(5, None)],
        4,
        3,
        1,
        0,
        {"sexual": (2, 1), "racial": (1, 0)},
        {"text_model": (3, 1)},
        {"sexual:bokep": (2, 1), "racial:dasar cina": (1, 0)},
    ),
    (
        "purged content keeps its decision, loses its terms",
        [view(1, "confirm", reason="[purged]", excerpt="[purged]")],
        1,
        1,
        0,
        0,
        {"sexual": (1, 0)},
        {"text_model": (1, 0)},
        {},
    ),
    (
        "appeal reversal is a false positive",
        [view(1, "dismiss", note="appeal reversed: was a quote"), view(2, "confirm")],
        2,
        1,
        1,
        1,
        {"sexual": (1, 1)},
        {"text_model": (1, 1)},
        {"sexual:bokep": (1, 1)},
    ),
    (
        "indonesian reason with spelling",
        [view(1, "confirm", labels=("racial",), reason='"dasar Ch1nd0" → dasar chindo')],
        1,
        1,
        0,
        0,
        {"racial": (1, 0)},
        {"text_model": (1, 0)},
        {"racial:dasar chindo": (1, 0)},
    ),
    (
        "huge text",
        [view(1, "dismiss", excerpt=HUGE[:1000], reason='"kirim foto bugil"')],
        1,
        0,
        1,
        0,
        {"sexual": (0, 1)},
        {"text_model": (0, 1)},
        {"sexual:kirim foto bugil": (0, 1)},
    ),
    (
        "image bank beats a weak text score",
        [view(1, "confirm", labels=("reshare",), detector="image_bank", reason="protected image #3", extra=[VerdictRow("sexual", 0.2, "", "text_model")])],
        1,
        1,
        0,
        0,
        {"reshare": (1, 0)},
        {"image_bank": (1, 0)},
        {},
    ),
    (
        "server rule and model on two labels",
        [
            view(
                1,
                "confirm",
                labels=("sexual", "racial"),
                detector="server_rules",
                reason='rule "o*n bo"',
                extra=[VerdictRow("racial", 0.95, '"cina"', "text_model")],
            )
        ],
        1,
        1,
        0,
        0,
        {"sexual": (1, 0), "racial": (1, 0)},
        {"server_rules": (1, 0), "text_model": (1, 0)},
        {'sexual:rule "o*n bo': (1, 0), 'racial:rule "o*n bo': (1, 0), "racial:cina": (1, 0)},
    ),
]


@pytest.mark.parametrize("case, flags, reviewed, confirmed, dismissed, reversals, labels, detectors, terms", CASES, ids=[c[0] for c in CASES])
def test_precision_report(case, flags, reviewed, confirmed, dismissed, reversals, labels, detectors, terms):
    r = P.precision_report("discord:1", flags)
    assert (r.reviewed, r.confirmed, r.dismissed, r.appeal_reversals) == (reviewed, confirmed, dismissed, reversals)
    assert {p.key: (p.tp, p.fp) for p in r.by_label} == labels
    assert {p.key: (p.tp, p.fp) for p in r.by_detector} == detectors
    assert {p.key: (p.tp, p.fp) for p in r.by_term} == terms
    json.dumps(r.as_dict())  # serialisable for --json
    text = P.report_text(r)
    assert "discord:1" in text and "\x1b" not in text
    from bot.stats_text import precision_lines

    for lang in ("en", "id"):
        lines = precision_lines(r, lang)
        assert len(lines) == (1 + len(r.suggestions) if r.reviewed else 1)


def _scored(pairs):
    """[(score, n_confirmed, n_dismissed)] -> [(score, ok)]"""
    out = []
    for s, c, d in pairs:
        out += [(s, True)] * c + [(s, False)] * d
    return out


#: (case, scored, target, min, threshold or None, text fragment)
SUGGESTIONS = [
    ("no decisions", [], 0.8, 30, None, "not enough decisions yet (0 of 30)"),
    ("too few", _scored([(0.9, 29, 0)]), 0.8, 30, None, "not enough decisions yet (29 of 30)"),
    ("all confirmed: lowest seen", _scored([(0.95, 20, 0), (0.7, 20, 0)]), 0.8, 30, 0.70, "no reviewed flag scored below 0.70"),
    ("all dismissed", _scored([(0.95, 0, 20), (0.7, 0, 20)]), 0.8, 30, None, "no threshold reaches precision 0.80"),
    ("raise to cut dismissals", _scored([(0.95, 30, 2), (0.7, 5, 30)]), 0.8, 30, 0.95, "precision 0.94 on 32"),
    ("min decisions binds", _scored([(0.95, 10, 0), (0.7, 20, 20)]), 0.8, 30, None, "best 0.60 at 0.70, 50 flags"),
    ("lower target", _scored([(0.95, 10, 0), (0.7, 20, 20)]), 0.6, 30, 0.70, "precision 0.60 on 50"),
    ("grid rounds down", _scored([(0.8765, 40, 0), (0.5, 0, 40)]), 0.8, 30, 0.87, "suggested threshold 0.87"),
    ("grid stays at or below a float score", _scored([(0.95 - 3 * 0.1, 40, 0), (0.5, 0, 40)]), 0.8, 30, 0.64, "on 40 reviewed"),
]


@pytest.mark.parametrize("case, scored, target, minimum, threshold, fragment", SUGGESTIONS, ids=[c[0] for c in SUGGESTIONS])
def test_suggest_threshold(case, scored, target, minimum, threshold, fragment):
    s = P.suggest_threshold("telegram:-100", "sexual", scored, target, minimum)
    assert s.threshold == (pytest.approx(threshold) if threshold is not None else None)
    assert fragment in s.text()
    from bot.stats_text import suggestion_line

    assert fragment in suggestion_line(s, "en")  # the bots say what the CLI says, in the reader's language
    indonesian = suggestion_line(s, "id")
    assert indonesian.startswith("seksual:") and fragment not in indonesian
    if threshold is not None:
        assert f"{threshold:.2f}" in indonesian and s.apply_command() in indonesian
    if threshold is None:
        assert s.apply_command() == ""
    else:
        assert s.apply_command() == f"/setup threshold sexual {threshold:.2f}"
        assert s.precision >= target and s.support >= minimum


@pytest.mark.parametrize(
    "server, command",
    [
        ("discord:123", "/triage setup racial:0.90"),
        ("telegram:-100123", "/setup threshold racial 0.90"),
        ("cli:x", 'config: [servers."cli:x".thresholds] racial = 0.90'),
    ],
)
def test_apply_command_per_platform(server, command):
    s = P.suggest_threshold(server, "racial", [(0.9, True)] * 30, 0.8, 30)
    assert s.apply_command() == command


def test_suggestions_from_report_use_each_flags_label_score():
    flags = [view(i, "confirm", score=0.95) for i in range(30)] + [view(100 + i, "dismiss", score=0.65) for i in range(30)]
    r = P.precision_report("discord:1", flags, target=0.8, min_decisions=30)
    sexual = next(s for s in r.suggestions if s.label == "sexual")
    racial = next(s for s in r.suggestions if s.label == "racial")
    assert sexual.threshold == pytest.approx(0.95) and sexual.support == 30
    assert racial.threshold is None and "0 of 30" in racial.why_not
