"""The shipped text model on hand-written tables: positives, benign hard negatives, hostile input."""

from __future__ import annotations

import math

import numpy as np
import pytest

import classifiers.text as text_mod
from classifiers.base import TEXT_LABELS, TextDetector, Verdict
from classifiers.text import ModelNotFoundError, TextClassifier
from tests.conftest import needs_model

pytestmark = needs_model


@pytest.fixture(scope="module")
def model() -> TextClassifier:
    return TextClassifier.load()


def flagged(model: TextClassifier, text: str) -> set[str]:
    return {v.label for v in model.classify(text) if v.score >= model.thresholds[v.label]}


# (text, label that must be flagged)
POSITIVES = [
    # the examples
    ("kirim foto bugilnya dong", "sexual"),
    ("dasar cina lonte", "racial"),
    ("send me the uncropped ones", "sexual"),
    ("ching chong go home", "racial"),
    # English
    ("send nudes", "sexual"),
    ("show me your tits", "sexual"),
    ("post her naked pics", "sexual"),
    ("fuck all the niggers", "racial"),
    ("go back to your country you dirty chink", "racial"),
    # Indonesian
    ("pap toket dong", "sexual"),
    ("bagi link bokep", "sexual"),
    ("lagi sange, ada yang mau vcs?", "sexual"),
    ("dasar cina babi", "racial"),
    ("usir aseng dari negeri ini", "racial"),
    # obfuscated
    ("kirim b0k3p dong", "sexual"),
    ("s e n d  n u d e s", "sexual"),
    ("ѕеnd nudеs", "sexual"),
    ("n\u200bu\u200bd\u200be\u200bs pls", "sexual"),
    ("dasar c1na b4b1", "racial"),
    ("ch1ng ch0ng go home", "racial"),
]

NEGATIVES = [
    # the examples
    "breast cancer screening is free this week",
    "Imlek tahun ini meriah",
    "I'm Chinese-Indonesian and proud",
    "a mod please remove the fake photos",
    # English
    "the chicken breast recipe needs more salt",
    "sex education classes start on monday",
    "can you send me the photos from the wedding?",
    "my grandparents came from Fujian, China",
    "happy lunar new year to all our Chinese members",
    "someone reported the account posting nudes, mods are on it",
    # Indonesian
    "selamat pagi semuanya, jangan lupa sarapan",
    "kirim foto liburan kemarin dong",
    "aku keturunan tionghoa dan bangga",
    "besok ada pemeriksaan kesehatan gratis",
    "tolong admin hapus foto palsu itu",
    "aku mau pulang, capek banget",
]


@pytest.mark.parametrize("text, label", POSITIVES)
def test_positives_are_flagged(model: TextClassifier, text: str, label: str) -> None:
    assert label in flagged(model, text), model.scores(text)


@pytest.mark.parametrize("text", NEGATIVES)
def test_hard_negatives_are_not_flagged(model: TextClassifier, text: str) -> None:
    assert flagged(model, text) == set(), model.scores(text)


@pytest.mark.parametrize(
    "text, must_contain",
    [
        ("kirim b0k3p dong", '"b0k3p" → bokep'),
        ("dasar cina lonte", '"lonte"'),
        ("ѕеnd nudеs", "→ send nudes"),
        ("🍆💦 for you sis", '"🍆💦 for you" → 🍆 💦 for you'),
    ],
)
def test_reasons_show_the_normalised_form(model: TextClassifier, text: str, must_contain: str) -> None:
    reasons = " ".join(v.reason for v in model.classify(text))
    assert must_contain in reasons


@pytest.mark.parametrize(
    "text, label",
    [
        ("n i g g e r", "racial"),
        ("kirim foto bugil dong", "sexual"),
        ("post the ones where she is in a bikini", "sexual"),
        ("send me the link to her nudes", "sexual"),
        ("she is so hot i want to see her naked", "sexual"),
        ("sl**t", "sexual"),
        ("dasar c1na b4b1", "racial"),
        ("b o k e p  g r a t i s", "sexual"),
        ("🍆💦 for you sis", "sexual"),
        ("dasar jawir kampungan", "racial"),
    ],
)
def test_reasons_quote_the_message_and_name_only_evidence(model: TextClassifier, text: str, label: str) -> None:
    reason = next(v.reason for v in model.classify(text) if v.label == label)
    assert reason
    for part in reason.split("; "):
        quoted = part.split('"')[1]
        assert quoted.lower() in text.lower(), part  # every quote is text that is in the message
        assert quoted.lower() not in ("she", "her", "ones", "foto", "link", "the", "dong"), part


@pytest.mark.parametrize(
    "text, label",
    [
        ("sl*t", "sexual"),
        ("b*kep gratis", "sexual"),
        ("f#ck you sl**t", "sexual"),
        ("send nսdes", "sexual"),
        ("n\u2064u\U000e0041des pls", "sexual"),
        ("sendnudes", "sexual"),
        ("🍆💦 for you sis", "sexual"),
        ("montok banget kamu neng", "sexual"),
        ("vcs yuk sayang", "sexual"),
        ("pap tanpa baju dong", "sexual"),
        ("n*gg*r", "racial"),
        ("dasar jawir", "racial"),
    ],
)
def test_evasions_are_flagged(model: TextClassifier, text: str, label: str) -> None:
    assert label in flagged(model, text), model.scores(text)


@pytest.mark.parametrize(
    "text",
    [
        "bikin terong balado 🍆 enak banget",
        "mobilnya seksi banget warnanya merah",
        "pap makan siang dong",
        "aku bangga jadi orang madura",
        "bukan berarti orang padang itu pelit",
        "therapist appointment at 3",
        "e-mail me the report",
        "it!| works",
        "aku lagi sange banget malam ini",
        "kontol lah hujan lagi",
    ],
)
def test_contrastive_negatives_are_not_flagged(model: TextClassifier, text: str) -> None:
    assert flagged(model, text) == set(), model.scores(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\n\t",
        "\x00",
        "\x00" * 1000,
        "\ud800",
        "a\udfffb",
        "x" * 100_000,
        "🙂" * 5000,
        "\u202e\u200b" * 100,
        "&#xD800;",
        "\\xf0\\x9f",
    ],
)
def test_bad_input_gives_valid_output(model: TextClassifier, text: str) -> None:
    verdicts = model.classify(text)
    assert [v.label for v in verdicts] == list(TEXT_LABELS)
    for v in verdicts:
        assert isinstance(v, Verdict) and 0.0 <= v.score <= 1.0 and not math.isnan(v.score)
        assert v.detector == model.name


@pytest.mark.parametrize("text", ["", "   ", "selamat pagi"])
def test_nothing_notable_has_empty_reason(model: TextClassifier, text: str) -> None:
    assert all(v.reason == "" for v in model.classify(text))


def test_head_and_tail_of_huge_text_are_classified(model: TextClassifier) -> None:
    filler = " the weather is nice today" * 4000
    assert "sexual" in flagged(model, "send nudes" + filler)
    assert "sexual" in flagged(model, filler + " send nudes")


def test_batch_equals_single(model: TextClassifier) -> None:
    texts = [t for t, _ in POSITIVES] + NEGATIVES
    batch = model.classify_batch(texts)
    single = [model.classify(t) for t in texts]
    for b, s in zip(batch, single, strict=True):
        assert [v.label for v in b] == [v.label for v in s]
        assert [v.reason for v in b] == [v.reason for v in s]
        np.testing.assert_allclose([v.score for v in b], [v.score for v in s], rtol=1e-9, atol=1e-12)
    assert model.classify_batch([]) == []


LEAN_TABLE = (
    [t for t, _ in POSITIVES]
    + NEGATIVES
    + ["", "x" * 100_000, "b o k e p 🙂 \ud800", "Kirim FOTO bugil", "dasar  cina\t\tlonte", "c h i n g  c h o n g", "ѕеnd nudеs"]
)


@pytest.fixture(scope="module")
def skops_model() -> TextClassifier:
    return TextClassifier.from_skops()


def test_lean_path_equals_pipeline(skops_model: TextClassifier) -> None:
    expected = skops_model.pipeline.predict_proba(LEAN_TABLE)
    got = np.array([[skops_model.scores(t)[lab] for lab in TEXT_LABELS] for t in LEAN_TABLE])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_shipped_lean_artefact_is_derived_from_the_shipped_skops_model(model: TextClassifier, skops_model: TextClassifier) -> None:
    """A lean file left over from an older model.skops fails here: rebuild it with `triagebot lean-model`."""
    assert model.pipeline is None, "the shipped lean artefact is missing or stale, so load() fell back to skops"
    assert [model.scores(t) for t in LEAN_TABLE] == [skops_model.scores(t) for t in LEAN_TABLE]
    assert [[(v.label, v.score, v.reason) for v in vs] for vs in model.classify_batch(LEAN_TABLE)] == [
        [(v.label, v.score, v.reason) for v in vs] for vs in skops_model.classify_batch(LEAN_TABLE)
    ]


def test_is_a_text_detector(model: TextClassifier) -> None:
    assert isinstance(model, TextDetector)
    assert set(model.thresholds) == set(TEXT_LABELS)


def test_missing_model_raises_clear_error(tmp_path) -> None:
    with pytest.raises(ModelNotFoundError, match="triagebot train --data"):
        TextClassifier.load(tmp_path / "nope.skops")


def test_pool_batch_equals_local(model: TextClassifier, monkeypatch) -> None:
    texts = [t for t, _ in POSITIVES] + NEGATIVES
    texts = texts * (text_mod.POOL_MIN_TEXTS // len(texts) + 1)
    local = model.classify_batch(texts)
    pools: list[int] = []
    real = text_mod._in_pool
    monkeypatch.setattr(text_mod, "_in_pool", lambda m, meth, t, n: pools.append(n) or real(m, meth, t, n))
    pooled = model.classify_batch(texts, n_jobs=2)
    assert pools == [2]  # the forked workers really ran
    assert [[(v.label, v.reason) for v in vs] for vs in pooled] == [[(v.label, v.reason) for v in vs] for vs in local]
    np.testing.assert_allclose([[v.score for v in vs] for vs in pooled], [[v.score for v in vs] for vs in local])


def test_action_thresholds_come_from_the_card_and_are_stricter():
    model = TextClassifier.load()
    assert set(model.action_thresholds) == set(model.thresholds)
    assert all(model.action_thresholds[k] > model.thresholds[k] for k in model.thresholds)
