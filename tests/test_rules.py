"""The moderators' rule matcher (classifiers/rules.py): patterns, wildcards, normalised text, limits."""

from __future__ import annotations

import pytest

from classifiers.rules import (
    MAX_PATTERN_CHARS,
    MAX_PATTERN_WORDS,
    MAX_VERDICTS_PER_LABEL,
    QUOTE_CHARS,
    Rule,
    RuleError,
    check_rule,
    compile_rules,
    glob_word,
    mask_fits,
    mask_parts,
    parse_pattern,
)

PATHOLOGICAL = "ab" * 2500  # survives normalisation unsquashed: one 5,000-letter word


@pytest.mark.parametrize(
    "pattern,text,quote",
    [
        # wildcard at the end, start, middle, both ends
        ("ching*", "dasar chingchong lu", '"chingchong"'),
        ("ching*", "ching", '"ching"'),
        ("*chong", "dasar chingchong", '"chingchong"'),
        ("*kontol", "dasar mukakontol", '"mukakontol" → kontol'),  # the normaliser splits run-together lexicon words
        ("*kontol*", "kontolnya gede", '"kontolnya"'),
        ("k*l", "dasar kontol", '"kontol"'),
        ("ba*ng*n", "dasar bajingan", '"bajingan"'),
        # phrases, with a one-word wildcard
        ("anak haram", "dasar ANAK HARAM kau", '"anak haram"'),
        ("anak * haram", "kamu anak cina haram", '"anak cina haram"'),
        ("pulang ke *", "pulang ke negaramu sana", '"pulang ke negaramu"'),
        ("* haram", "dasar haram", '"dasar haram"'),
        ("anak* har*", "anaknya harammm", '"anaknya harammm" → anaknya haramm'),  # every word a glob
        # normalised: leet, look-alikes, masks, spaced-out letters, repeated letters, slang spellings
        ("kontol", "dasar k0nt0l", '"k0nt0l" → kontol'),
        ("kontol", "dasar k0nt*l", '"k0nt*l" → kontol'),
        ("ching*", "CH1NGCH0NG!!", '"CH1NGCH0NG!!" → chingchong'),
        ("ching*", "сhingсhong", '"сhingсhong" → chingchong'),  # Cyrillic с
        ("aseng", "a s e n g", '"a s e n g" → aseng'),
        ("bokep", "bokeeep dong", '"bokeeep" → bokep'),
        ("yg haram", "yg haram", '"yg haram" → yang haram'),
        ("*a*a*a*a*", PATHOLOGICAL, '"' + PATHOLOGICAL[: QUOTE_CHARS - 2] + "…"),  # long quotes are clipped
        ("jancuk", "ngomong opo koe j4ncuk", '"j4ncuk" → jancuk'),
        # masked words the normaliser cannot resolve (not lexicon words) are tried against one-word terms
        ("jancuk", "ngomong opo koe j*ncuk!", '"j*ncuk!" → jancuk'),
        ("jancuk", "J#NC*K", '"J#NC*K" → jancuk'),
        ("Kontol", "kontol", '"kontol"'),  # the pattern is normalised too
    ],
)
def test_term_matches_and_quotes_the_message(pattern: str, text: str, quote: str) -> None:
    (v,) = compile_rules([Rule("term", "racial", pattern)]).classify(text)
    assert (v.label, v.score, v.detector) == ("racial", 1.0, "server_rules")
    assert v.reason == f'server rule "{pattern}": {quote}'


@pytest.mark.parametrize(
    "pattern,text",
    [
        ("ching*", "teaching"),  # word boundaries: the glob covers the whole word
        ("*kontol", "kontolnya"),
        ("anak haram", "anak yang haram"),
        ("anak * haram", "anak haram"),  # a lone * is exactly one word
        ("anak * haram", "anak kecil dan haram"),
        ("* haram", "haram"),
        ("cina", "cinta"),
        ("*a*a*a*a*c", PATHOLOGICAL),  # pathological: no match, answered by one left-to-right scan
        ("*a*a*a*a*", "a" * 5000 + "b"),  # squashed by the normaliser to "aab": only two a's
        ("ching*", ""),
        ("ching*", "   \n  "),
        ("ching*", "🙂🙂🙂"),
        ("bokep", "b o k"),
        ("jancuk", "j*k"),  # a mask hides at most 3 letters
        ("jancuk", "*ancuk"),  # a mask at either end is punctuation
        ("jancuk", "j*****"),  # at least two letters must show
        ("jancuk", "j*ncok"),
        ("ja*cuk", "j*ncuk"),  # only whole-word terms: a glob against a mask would guess too much
    ],
)
def test_term_does_not_match(pattern: str, text: str) -> None:
    assert compile_rules([Rule("term", "sexual", pattern)]).classify(text) == []


def test_huge_message_is_matched_at_its_tail() -> None:
    text = "halo semua " * 2000 + "dasar chingchong"  # the normaliser keeps the first and last characters
    (v,) = compile_rules([Rule("term", "racial", "ching*")]).classify(text)
    assert v.reason.endswith('"chingchong"')


@pytest.mark.parametrize(
    "parts,word,expected",
    [
        (("ab",), "ab", True),
        (("ab",), "abc", False),
        (("ab", ""), "abc", True),
        (("", "bc"), "abc", True),
        (("a", "c"), "abc", True),
        (("a", "c"), "ac", True),
        (("a", "a"), "a", False),  # pieces may not overlap
        (("", "a", "a", ""), "aa", True),
        (("", "a", "a", ""), "a", False),
        (("x", "y", "z"), "xzy", False),
        (("x", "y", "z"), "xyyz", True),
        (("", ""), "anything", True),
        (("", ""), "", True),
    ],
)
def test_glob_word(parts: tuple[str, ...], word: str, expected: bool) -> None:
    assert glob_word(parts, word) is expected


@pytest.mark.parametrize(
    "raw,word,expected",
    [
        ("j*ncuk", "jancuk", True),
        ("j**cuk", "jancuk", True),
        ("j*cuk", "jancuk", False),
        ("j***k", "jancuk", False),
        ("j***k", "janck", True),
        ("k0nt*l", "kontol", True),
        ("b*k*p", "bokep", True),
        ("b*k*p", "bkp", False),
        ("**", "ab", None),
        ("bokep", "bokep", None),
        ("x*", "xa", None),
        ("*x", "ax", None),
    ],
)
def test_mask_parts_and_fits(raw: str, word: str, expected: bool | None) -> None:
    parts = mask_parts(raw)
    assert (None if parts is None else mask_fits(parts, word)) is expected


@pytest.mark.parametrize(
    "pattern,message",
    [
        ("", "needs some text"),
        ("   ", "needs some text"),
        ("*", "at least 2"),
        ("* *", "at least 2"),
        ("a*", "at least 2"),
        ("x" * (MAX_PATTERN_CHARS + 1), f"at most {MAX_PATTERN_CHARS} characters"),
        (" ".join(["kata"] * (MAX_PATTERN_WORDS + 1)), f"at most {MAX_PATTERN_WORDS} words"),
        ("chi.ng*", "only letters and digits"),
        ("<@123>*", "only letters and digits"),
        ("!!!", "no letters or digits"),
        ("ching\u0000", "control"),
        (123, "text"),
    ],
)
def test_bad_patterns_are_refused_with_a_reason(pattern: object, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        parse_pattern(pattern)


@pytest.mark.parametrize(
    "rule,message",
    [
        (Rule("ban", "sexual", "ching*"), "unknown rule kind"),
        (Rule("term", "reshare", "ching*"), "label is one of sexual, racial"),
        (Rule("term", "all", "ching*"), "label is one of sexual, racial"),
        (Rule("term", "sexual", "ching*", 0.0), "score"),
        (Rule("term", "sexual", "ching*", 1.5), "score"),
        (Rule("term", "sexual", "ching*", True), "score"),
    ],
)
def test_bad_rules_are_refused(rule: Rule, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        check_rule(rule)


def test_allow_rules_report_labels_not_verdicts() -> None:
    m = compile_rules([Rule("allow", "sexual", "anak ayam"), Rule("allow", "all", "cina daratan"), Rule("term", "racial", "cina*", 0.7)])
    hits = m.match("harga anak ayam di cina daratan naik")
    assert dict(hits.allowed) == {"sexual": 'allow-listed phrase "anak ayam": "anak ayam"', "racial": 'allow-listed phrase "cina daratan": "cina daratan"'}
    (v,) = hits.verdicts  # the matcher reports both; what an allow-list drops is decided by policy
    assert (v.label, v.score) == ("racial", 0.7)


def test_many_rules_keep_the_strongest_reasons_and_collapse_duplicates() -> None:
    rules = [Rule("term", "sexual", f"kata{i}", 0.5 + i / 100) for i in range(6)] + [Rule("term", "sexual", "KATA0")]
    m = compile_rules(rules)
    assert len(m) == 6
    verdicts = m.classify(" ".join(f"kata{i}" for i in range(6)))
    assert [v.score for v in verdicts] == [0.55, 0.54, 0.53][:MAX_VERDICTS_PER_LABEL]


def test_rule_limit_and_skipping_invalid_stored_rules() -> None:
    with pytest.raises(RuleError, match="at most 2 rules"):
        compile_rules([Rule("term", "sexual", w) for w in ("satu", "dua", "tiga")], max_rules=2)
    m = compile_rules([Rule("term", "sexual", "*"), Rule("term", "sexual", "bokep")], skip_invalid=True)
    assert [v.reason for v in m.classify("bokep")] == ['server rule "bokep": "bokep"']


def test_two_hundred_rules_find_the_one_that_matches() -> None:
    rules = [Rule("term", "racial", f"*slur{i:03d}*") for i in range(100)]
    rules += [Rule("term", "sexual", f"frasa {i:03d} kata") for i in range(100)]
    m = compile_rules(rules)
    assert m.classify("halo semua apa kabar") == []
    assert [v.reason for v in m.classify("dasar xslur042x dan frasa 007 kata")] == [
        'server rule "frasa 007 kata": "frasa 007 kata"',
        'server rule "*slur042*": "xslur042x"',
    ]
