"""Hand-written EN/ID term lists with context rules, used as model features and for reasons.

Why: the dev data has each label's positives in one source per language, so n-grams alone learn the
source, not the abuse. Lexicon rules are language-independent features ("a slur matched", "a group
next to an insult") whose weights are learned from one language and transfer to the other and to
new sources. Context rules keep "breast cancer", "Imlek" or "I'm Chinese-Indonesian" from firing.

Rules live in ``classifiers/resources/lexicons/*.toml`` (see the comments there): ``terms`` (words or phrases in
normalised form), optional ``with`` (context needed within ``window`` words) and ``unless``
(context that cancels the match).
"""

from __future__ import annotations

import hashlib
import logging
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Iterable, Sequence

from classifiers.cache import ByteLRU

log = logging.getLogger(__name__)

LEXICON_DIR = Path(str(files("classifiers") / "resources" / "lexicons"))
MAX_PHRASE = 6
#: Byte budget of the suffix-stripping cache (see classifiers/cache.py).
CANON_CACHE_BYTES = 8 * 1024 * 1024
#: Indonesian clitics/particles, and the English plural; stripped only when the stem is a lexicon word.
_SUFFIXES = ("nya", "mu", "ku", "lah", "kah", "s")


@dataclass(frozen=True, slots=True)
class Rule:
    """One named context rule; each becomes one feature."""

    name: str
    label: str
    weight: float
    prior: float
    terms: tuple[tuple[str, ...], ...]
    with_: tuple[tuple[str, ...], ...]
    unless: tuple[tuple[str, ...], ...]
    window: int


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that fired on words ``[start, end)`` of a normalised text."""

    rule: str
    label: str
    start: int
    end: int
    weight: float
    #: where the ``with`` context that allowed the match sits (-1 when the rule needs none)
    ctx_start: int = -1
    ctx_end: int = -1


def _phrases(items: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(s.split()) for s in dict.fromkeys(i.strip().lower() for i in items) if s)


class _PhraseSet:
    """Phrases split into a set of one-word phrases and a first-word index of longer ones."""

    __slots__ = ("single", "multi")

    def __init__(self, phrases: tuple[tuple[str, ...], ...]):
        self.single = frozenset(p[0] for p in phrases if len(p) == 1)
        self.multi: dict[str, list[tuple[str, ...]]] = {}
        for p in phrases:
            if len(p) > 1:
                self.multi.setdefault(p[0], []).append(p)


class Lexicon:
    """Compiled rules with an index from first word to candidate phrases."""

    def __init__(self, rules: Sequence[Rule]):
        self.rules = tuple(rules)
        self.feature_names = tuple(r.name for r in self.rules)
        self._index: dict[str, list[tuple[tuple[str, ...], int]]] = {}
        for ri, rule in enumerate(self.rules):
            for phrase in rule.terms:
                self._index.setdefault(phrase[0], []).append((phrase, ri))
        for cands in self._index.values():
            cands.sort(key=lambda c: -len(c[0]))
        self._vocab = frozenset(self.words())
        self._canon_cache: ByteLRU[str, str] = ByteLRU(CANON_CACHE_BYTES)
        self._ctx = [(_PhraseSet(r.with_), _PhraseSet(r.unless)) for r in self.rules]

    def _canon(self, words: Sequence[str]) -> list[str]:
        """Strip Indonesian clitics/suffixes ("bugilnya" -> bugil) when that yields a lexicon word."""
        get = self._canon_cache.get_or_compute
        return [get(w, self._canon_word) for w in words]

    def _canon_word(self, w: str) -> str:
        if w not in self._index and len(w) > 4:
            for suf in _SUFFIXES:
                if w.endswith(suf) and w[: -len(suf)] in self._vocab:
                    return w[: -len(suf)]
        return w

    @classmethod
    def from_dir(cls, directory: Path = LEXICON_DIR) -> "Lexicon":
        rules: list[Rule] = []
        for path in sorted(Path(directory).glob("*.toml")):
            with open(path, "rb") as fh:
                doc = tomllib.load(fh)
            label = doc["label"]
            for r in doc.get("rule", []):
                rules.append(
                    Rule(
                        name=r["name"],
                        label=label,
                        weight=float(r.get("weight", 1.0)),
                        prior=float(r.get("prior", 0.0)),
                        terms=_phrases(r["terms"]),
                        with_=_phrases(r.get("with", [])),
                        unless=_phrases(r.get("unless", [])),
                        window=int(r.get("window", 4)),
                    )
                )
        return cls(rules)

    def priors(self, labels: Sequence[str]) -> list[list[float]]:
        """(n_rules, n_labels): a rule's `prior` for its own label, 0 for the others."""
        return [[r.prior if r.label == lab else 0.0 for lab in labels] for r in self.rules]

    def words(self) -> set[str]:
        """Every single word used in any term or context list (lets the normaliser trust a reading)."""
        out: set[str] = set()
        for r in self.rules:
            for group in (r.terms, r.with_, r.unless):
                for phrase in group:
                    out.update(phrase)
        return out

    @staticmethod
    def _near(words: Sequence[str], start: int, end: int, phrases: "_PhraseSet", window: int) -> tuple[int, int] | None:
        """Where (start, end) a phrase occurs within `window` words before or after words[start:end], or None."""
        lo, hi = max(0, start - window), min(len(words), end + window)
        for i in range(lo, hi):
            if start <= i < end:
                continue
            w = words[i]
            if w in phrases.single:
                return i, i + 1
            multi = phrases.multi.get(w)
            if multi:
                for p in multi:
                    if tuple(words[i : i + len(p)]) == p and i + len(p) <= hi:
                        return i, i + len(p)
        return None

    def match(self, words: Sequence[str]) -> list[Match]:
        """All rule matches in a normalised word sequence (longest phrase first at each position)."""
        out: list[Match] = []
        words = self._canon(words)
        index = self._index
        hits = [i for i, w in enumerate(words) if w in index]
        for i in hits:
            cands = index[words[i]]
            seen_rules: set[int] = set()
            for phrase, ri in cands:
                if ri in seen_rules:
                    continue
                k = len(phrase)
                if k > 1 and tuple(words[i : i + k]) != phrase:
                    continue
                rule = self.rules[ri]
                ctx = self._ctx[ri]
                near = None
                if rule.with_:
                    near = self._near(words, i, i + k, ctx[0], rule.window)
                    if near is None:
                        continue
                if rule.unless and self._near(words, i, i + k, ctx[1], rule.window) is not None:
                    continue
                seen_rules.add(ri)
                out.append(Match(rule.name, rule.label, i, i + k, rule.weight, *(near if near is not None else (-1, -1))))
        return out

    def features(self, words: Sequence[str]) -> list[float]:
        """Per-rule match counts, capped at 3 (one feature per rule, in ``feature_names`` order)."""
        counts = dict.fromkeys(self.feature_names, 0.0)
        for m in self.match(words):
            counts[m.rule] = min(3.0, counts[m.rule] + 1.0)
        return list(counts.values())


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The shipped lexicon (``classifiers/resources/lexicons``), loaded once."""
    return Lexicon.from_dir(LEXICON_DIR)


def known_words() -> set[str]:
    return default_lexicon().words()


def lexicon_sha256(directory: Path = LEXICON_DIR) -> str:
    """One hash over all lexicon files, recorded in the model card to detect drift."""
    h = hashlib.sha256()
    for path in sorted(Path(directory).glob("*.toml")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


#: Rules at least this likely on their own (``prior``) count as strong evidence: their one-word terms
#: are the only ones the normaliser repairs from typos or splits out of run-together words.
STRONG_PRIOR = 0.25


def strong_words(min_prior: float = STRONG_PRIOR) -> set[str]:
    """One-word terms that are evidence on their own: rules with ``prior >= min_prior`` and no ``with``
    context (a group name like "irian" needs context, so "sendirian" is never "send irian")."""
    return {p[0] for r in default_lexicon().rules if r.prior >= min_prior and not r.with_ for p in r.terms if len(p) == 1}


def evidence_words() -> set[str]:
    """One-word terms of rules that are evidence for a label (``prior > 0``): a masked word that could be
    one of these or a mere context word ("b*t*k": batak or batik) is read as the evidence."""
    return {p[0] for r in default_lexicon().rules if r.prior > 0 for p in r.terms if len(p) == 1}
