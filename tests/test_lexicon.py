"""Lexicon context rules: terms fire alone or only in context, and benign context cancels them."""

from __future__ import annotations

import pytest

from classifiers.lexicon import default_lexicon
from classifiers.normalize import normalize

STRONG = {
    "race_slur",
    "race_group_insult",
    "race_expel",
    "sex_explicit_id",
    "sex_explicit_en",
    "sex_body_comment",
    "sex_photo_request",
    "sex_proposition",
    "sex_objectify",
}


def strong_labels(text: str) -> set[str]:
    return {m.label for m in default_lexicon().match(normalize(text).words) if m.rule in STRONG}


@pytest.mark.parametrize(
    "text, labels",
    [
        ("dasar cina lonte", {"racial", "sexual"}),
        ("cina babi", {"racial"}),
        ("ching chong go home", {"racial"}),
        ("kirim foto bugilnya dong", {"sexual"}),
        ("send me the uncropped ones", {"sexual"}),
        ("b0k3p", {"sexual"}),
        ("nice tits", {"sexual"}),
        ("go back to your country", {"racial"}),
        # context needed / context cancels
        ("cina", set()),
        ("Imlek tahun ini meriah", set()),
        ("I'm Chinese-Indonesian and proud", set()),
        ("breast cancer screening is free this week", set()),
        ("grilled chicken breast", set()),
        ("a mod please remove the fake photos", set()),
        ("send me the photos", set()),
        ("sex education at school", set()),
        ("nude lipstick shade", set()),
        ("i'm tired, i want to go home", set()),
    ],
)
def test_strong_rules(text: str, labels: set[str]) -> None:
    assert strong_labels(text) == labels


def test_every_rule_has_a_prior_and_terms() -> None:
    lex = default_lexicon()
    assert len(set(lex.feature_names)) == len(lex.feature_names)
    for rule in lex.rules:
        assert rule.terms and rule.label in ("sexual", "racial"), rule.name
        # hard-negative rules are evidence against (prior 0, a learned negative weight); every other rule
        # must set its prior: a forgotten one would silently default to 0 and never fire as a prior
        if rule.name.endswith("_hard_negative"):
            assert rule.prior == 0.0, rule.name
        else:
            assert 0.0 < rule.prior < 1.0, rule.name


def test_suffix_is_stripped() -> None:
    rules = {m.rule for m in default_lexicon().match(normalize("bugilnya").words)}
    assert "sex_explicit_id" in rules


def rules_fired(text: str) -> set[str]:
    return {m.rule for m in default_lexicon().match(normalize(text).words)}


@pytest.mark.parametrize(
    "text, rule, fires",
    [
        # a clear threat at a group, both languages, any group; news, condemnation and trials cancel it
        ("awas lu orang toraja, lewat sini lagi gue bacok", "race_threat_group_strong", True),
        ("any sundanese who comes here gets stabbed", "race_threat_group_strong", True),
        ("polisi menangkap pelaku pembacokan warga toraja", "race_threat_group_strong", False),
        ("we condemn the killing of papuan students", "race_threat_group_strong", False),
        ("kill", "race_threat_group_strong", False),
        ("", "race_threat_group_strong", False),
        # dehumanisation: a group likened to animals or vermin; a zoo, a rice field or a report is not
        ("orang nias kayak binatang", "race_dehumanise_id", True),
        ("aseng itu parasit", "race_dehumanise_id", True),
        ("orang p*p*a kayak monyet", "race_dehumanise_id", True),
        ("hama wereng di sawah jawa", "race_dehumanise_id", False),
        ("dia bilang orang ambon kayak binatang, itu rasis", "race_dehumanise_id", False),
        ("bataks are animals", "race_dehumanise_en", True),
        # English generalisations about a whole group; the stereotype named to reject it is not one
        ("typical balinese, they are all liars", "race_generalise_en", True),
        ("never trust a javanese", "race_generalise_en", True),
        ("not all nigerians are scammers", "race_generalise_en", False),
        ("typical javanese food is sweet", "race_generalise_en", False),
        # English counter-speech and denial quote the hate without meaning it
        ("calling bataks vermin is vile", "race_dehumanise_en", False),
        ("i never said balinese people are lazy", "race_generalise_en", False),
        ("i never said balinese people are lazy", "race_group_insult", False),
        # political and policy talk naming foreigners: its own weak rule, no longer group names or agitation
        ("tolak TKA asing", "race_political_hard_negative", True),
        ("dasar antek aseng", "race_political_hard_negative", True),
        ("dasar antek aseng", "race_aseng_id", False),
        ("tolak TKA asing", "race_group_mention", False),
        ("tolak TKA asing", "race_group_insult", False),
    ],
)
def test_v8_group_rules(text: str, rule: str, fires: bool) -> None:
    assert (rule in rules_fired(text)) is fires


def test_political_talk_is_weaker_evidence_than_a_threat() -> None:
    rules = {r.name: r for r in default_lexicon().rules}
    assert rules["race_political_hard_negative"].prior == 0.0 < rules["race_aseng_id"].prior < rules["race_threat_group_strong"].prior
