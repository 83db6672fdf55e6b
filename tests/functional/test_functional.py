"""Functional suite on the shipped model: hateful vs non-hateful about the same group, every group,
both languages, plain and obfuscated (regression floors; measured figures are in the model card)."""

from __future__ import annotations

import pytest
from sklearn.metrics import roc_auc_score

from classifiers.text import TextClassifier
from tests.conftest import needs_model
from tests.functional.generator import GROUPS, TEMPLATES_EN, TEMPLATES_ID, Case, cases, obfuscate
from tests.functional.templates_heldout import TEMPLATES_EN_HELDOUT, TEMPLATES_ID_HELDOUT

pytestmark = needs_model

#: Floors a little under the shipped model's measured figures (model card: functional suite).
AUC_FLOOR = {"id": 0.95, "en": 0.95}
GROUP_AUC_FLOOR = 0.90
OBFUSCATED_AUC_FLOOR = 0.90
#: The held-out batch (v8: ID 0.908, EN 0.972; masked 0.68 / 0.83): floors for regressions, not targets.
HELDOUT_AUC_FLOOR = {"id": 0.88, "en": 0.93}


@pytest.fixture(scope="module")
def model() -> TextClassifier:
    return TextClassifier.load()


@pytest.fixture(scope="module")
def scored(model: TextClassifier) -> list[tuple[Case, float]]:
    all_cases = list(cases(obfuscated=True))
    scores = model.scores_batch([c.text for c in all_cases])
    return [(c, s["racial"]) for c, s in zip(all_cases, scores)]


def _auc(rows: list[tuple[Case, float]]) -> float:
    return float(roc_auc_score([c.hateful for c, _ in rows], [s for _, s in rows]))


def test_generator_covers_every_group_template_and_language() -> None:
    plain = [c for c in cases() if not c.obfuscated]
    assert len(plain) == len(GROUPS) * (len(TEMPLATES_ID) + len(TEMPLATES_EN))
    assert {c.group for c in plain} == {g for g, _ in GROUPS}
    assert {c.hateful for c in plain} == {True, False}
    assert len({c.text for c in plain}) == len(plain)


@pytest.mark.parametrize("lang, templates", [("id", TEMPLATES_ID_HELDOUT), ("en", TEMPLATES_EN_HELDOUT)])
def test_heldout_batch_is_new_and_balanced(lang: str, templates: tuple) -> None:
    first = {t for _, _, t in (TEMPLATES_ID if lang == "id" else TEMPLATES_EN)}
    assert sum(h for _, h, _ in templates) >= 6
    assert sum(not h for _, h, _ in templates) >= 6
    assert not first & {t for _, _, t in templates}
    plain = [c for c in cases(heldout=True) if c.lang == lang and not c.obfuscated]
    assert len(plain) == len(GROUPS) * len(templates)
    assert len({c.text for c in plain}) == len(plain)
    assert all(c.template.startswith(f"{lang}h") for c in plain)


def test_no_functional_case_is_a_training_row() -> None:
    from classifiers.data import load_handwritten

    written = {t.strip().lower() for t in load_handwritten().texts}
    suite = {c.text.lower() for h in (False, True) for c in cases(obfuscated=True, heldout=h)}
    assert not written & suite


@pytest.mark.parametrize(
    "text, word, expected",
    [
        ("orang madura itu", "madura", "orang m*d*ra itu"),
        ("papuan people", "papuan", "p*p*an people"),
        ("orang nias", "nias", "orang n*as"),
        ("bali", "bal", "bali"),
        ("", "x", ""),
    ],
)
def test_obfuscate(text: str, word: str, expected: str) -> None:
    assert obfuscate(text, word) == expected


@pytest.mark.parametrize("lang", ["id", "en"])
def test_hateful_ranks_above_non_hateful_about_the_same_groups(scored, lang: str) -> None:
    rows = [(c, s) for c, s in scored if c.lang == lang and not c.obfuscated]
    assert _auc(rows) >= AUC_FLOOR[lang]


@pytest.mark.parametrize("group", [g for g, _ in GROUPS])
def test_every_group_is_known(scored, group: str) -> None:
    rows = [(c, s) for c, s in scored if c.group == group and not c.obfuscated]
    assert _auc(rows) >= GROUP_AUC_FLOOR


def test_obfuscated_group_names_still_rank(scored) -> None:
    rows = [(c, s) for c, s in scored if c.obfuscated]
    assert _auc(rows) >= OBFUSCATED_AUC_FLOOR


@pytest.mark.parametrize("kind", ["pride", "neutral", "positive", "negation", "news"])
def test_non_hateful_kinds_are_rarely_flagged(model: TextClassifier, scored, kind: str) -> None:
    rows = [s for c, s in scored if c.kind == kind and not c.obfuscated]
    flagged = sum(s >= model.thresholds["racial"] for s in rows)
    assert flagged <= 0.1 * len(rows)


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize("kind", ["threat", "dehumanise"])
def test_threats_and_dehumanisation_are_flagged_at_the_shipped_threshold(model: TextClassifier, scored, lang: str, kind: str) -> None:
    # v7 flagged 0 of 42 Indonesian threats and 0 of 42 dehumanising lines at its shipped threshold
    rows = [s for c, s in scored if c.kind == kind and c.lang == lang and not c.obfuscated]
    flagged = sum(s >= model.thresholds["racial"] for s in rows)
    assert flagged >= 0.9 * len(rows)


@pytest.mark.parametrize(
    "text",
    [
        # policy and political talk that names foreigners or a group without attacking its people
        "tolak TKA asing, utamakan pekerja lokal",
        "anti aseng anti asing, kedaulatan ekonomi harga mati",
        "jangan mau jadi antek asing, pilih pemimpin yang pro rakyat",
        "utang ke china makin numpuk, proyeknya buat siapa?",
        "serikat buruh protes kuota tenaga kerja asing di smelter",
        "foreign workers should need a local language test",
        "the trade war with beijing is hurting farmers",
        # threats and violence reported or condemned
        "polisi usut ancaman pembakaran rumah warga madura",
        "we condemn the attack on papuan students",
        "",
    ],
)
def test_political_talk_and_reports_are_not_flagged(model: TextClassifier, text: str) -> None:
    assert model.scores(text)["racial"] < model.thresholds["racial"]


@pytest.mark.parametrize(
    "text",
    [
        "awas lu orang minang, lewat gang ini lagi gue bacok",
        "besok kita bantai orang ambon di pasar",
        "orang p*p*a itu kayak binatang",
        "any javanese who walks in here gets stabbed",
        "m*d*rese people are vermin",
    ],
)
def test_clear_threats_at_a_group_are_flagged(model: TextClassifier, text: str) -> None:
    assert model.scores(text)["racial"] >= model.thresholds["racial"]


#: A group named next to a literal animal, pest or illness. v8's first lexicon flagged 13 of 25 such
#: sentences (a bare "cancer", "dogs" or "pigs" within four words of a group); none of these is a training row.
LITERAL_MENTIONS = [
    "my sundanese uncle had surgery for lung cancer last month",
    "the ambonese vet treats dogs and cats for free on sundays",
    "our javanese cook says the pig year brings luck",
    "the dayak school garden was ruined by pests again",
    "a plague of mice hit the bugis rice farmers this season",
    "my papuan roommate is scared of rats, lol",
    "chinese hamsters and syrian hamsters need different cages",
    "orang manado di kampung kami beternak babi dan ayam",
    "wabah demam berdarah melanda kampung orang betawi",
    "anjing tetangga cina saya galak banget",
    "hama wereng menyerang sawah petani sunda lagi",
    "nenek orang minang saya dirawat di rumah sakit karena penyakit jantung",
]


@pytest.mark.parametrize("text", LITERAL_MENTIONS)
def test_a_group_next_to_a_literal_animal_or_illness_is_not_flagged(model: TextClassifier, text: str) -> None:
    assert model.scores(text)["racial"] < model.thresholds["racial"]


@pytest.mark.parametrize(
    "text",
    [
        "sundanese people are cockroaches",
        "the madurese are a plague on this city",
        "orang bugis itu parasit, usir saja",
        "dasar orang ambon, kayak tikus got",
    ],
)
def test_a_group_said_to_be_vermin_or_disease_is_flagged(model: TextClassifier, text: str) -> None:
    assert model.scores(text)["racial"] >= model.thresholds["racial"]


@pytest.fixture(scope="module")
def scored_heldout(model: TextClassifier) -> list[tuple[Case, float]]:
    held = list(cases(heldout=True))
    return [(c, s["racial"]) for c, s in zip(held, model.scores_batch([c.text for c in held]))]


@pytest.mark.parametrize("lang", ["id", "en"])
def test_heldout_batch_ranks_hateful_above_non_hateful(scored_heldout, lang: str) -> None:
    assert _auc([(c, s) for c, s in scored_heldout if c.lang == lang]) >= HELDOUT_AUC_FLOOR[lang]


@pytest.mark.parametrize("lang", ["id", "en"])
def test_political_talk_in_the_heldout_batch_is_not_flagged(model: TextClassifier, scored_heldout, lang: str) -> None:
    rows = [s for c, s in scored_heldout if c.kind == "political" and c.lang == lang]
    assert rows and all(s < model.thresholds["racial"] for s in rows)
