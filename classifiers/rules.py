"""Moderators' own rules: per-server terms, phrases and allow-listed phrases, matched in linear time.

Why not regular expressions: a pattern typed by a moderator must never be able to stall the bot, so no regex is
built from it. Each pattern becomes a short sequence of *token globs* (one per word; ``*`` inside a word is any run
of letters or digits, ``*`` alone is any one word) matched against the *normalised* words of a message
(:func:`classifiers.normalize.normalize`), so ``k0nt0l``, masked and look-alike spellings match like the plain
word. A glob word is checked by a greedy left-to-right scan with ``str.find`` (correct for ``*``-only globs and
never backtracking), and rules are reached through an index (whole words by dict, other patterns by their longest
literal piece), so the cost grows with the message, not with the number of rules times the message.

A rule's reason quotes the words actually in the message: ``server rule "ching*": "ch1ngch0ng" → chingchong``.
This module is pure (no ``bot`` imports); the bot stores rules and decides what an allow-listed phrase drops.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterable, Mapping, Sequence

from classifiers.base import TEXT_LABELS, Verdict
from classifiers.errors import TriagebotError
from classifiers.normalize import Normalized, normalize

log = logging.getLogger(__name__)

#: `term`: flag the label when the pattern is found; `allow`: the label's model verdicts are dropped.
KINDS: tuple[str, ...] = ("term", "allow")
#: An allow-listed phrase may cover every text label at once.
ALL_LABELS = "all"
MAX_PATTERN_CHARS = 100
MAX_PATTERN_WORDS = 8
#: Literal letters/digits a pattern needs (``*`` alone would match every message).
MIN_LITERAL_CHARS = 2
#: Stored plus configured rules per server; more is a sign of pasting a word list, which belongs in the lexicon.
MAX_RULES = 1000
#: Verdicts (one per matched rule) kept per label, strongest first: enough reasons for a moderator.
MAX_VERDICTS_PER_LABEL = 3
DETECTOR = "server_rules"
#: A reason's quote of the message is cut to this many characters (one 5,000-letter word stays readable).
QUOTE_CHARS = 80

WILDCARD: tuple[str, ...] = ("", "")  # a lone `*`: any one word
_RUN3 = re.compile(r"(.)\1{2,}")  # fixed regexes of ours, never built from a pattern
_MASKED = re.compile(r"[^\W_]+(?:[*#]+[^\W_]+)+")  # a word with letters hidden by * or #: "j*ncuk", "k#nt*l"
_MASK_RUN = re.compile(r"([*#]+)")
_LEET_DIGITS = str.maketrans("013457", "oieast")
#: A run of k mask characters stands for 1..min(k, MAX_MASKED) letters, as in the normaliser.
MAX_MASKED = 3


class RuleError(TriagebotError, ValueError):
    """A pattern or rule a moderator cannot use; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One moderator rule as written (the store and the config hold these)."""

    kind: str
    label: str
    pattern: str
    score: float = 1.0


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: Rule
    tokens: tuple[tuple[str, ...], ...]  # per word: the literal pieces between `*`s; one piece = a whole word

    def matches_at(self, words: Sequence[str], start: int) -> bool:
        if start < 0 or start + len(self.tokens) > len(words):
            return False
        return all(glob_word(parts, words[start + k]) for k, parts in enumerate(self.tokens))


@dataclass(frozen=True, slots=True)
class RuleHits:
    """What the rules found in one message: verdicts for term rules, and allow-listed labels with why."""

    verdicts: tuple[Verdict, ...] = ()
    allowed: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def shown_pattern(pattern: str, limit: int = 60) -> str:
    """A pattern as safe one-line text (moderators' input is shown back in reasons and lists)."""
    s = "".join(c if c.isprintable() else " " for c in pattern)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _fold_letters(text: str) -> str:
    """NFKC, lower case, no accents: how the normaliser folds letters."""
    s = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(c for c in s if not unicodedata.combining(c))


def _fold_piece(piece: str) -> str:
    """Fold a literal piece next to a `*` as the normaliser folds a word's letters."""
    return _RUN3.sub(r"\1\1", _fold_letters(piece))  # runs of 3+ letters become 2, as in "bokeeep"


def parse_pattern(pattern: object) -> tuple[tuple[str, ...], ...]:
    """A pattern -> its token globs (normalised), or RuleError saying what is wrong with it."""
    if not isinstance(pattern, str):
        raise RuleError(f"a pattern is text, got {type(pattern).__name__}")
    text = pattern.strip()
    if not text:
        raise RuleError("a pattern needs some text")
    if len(text) > MAX_PATTERN_CHARS:
        raise RuleError(f"a pattern has at most {MAX_PATTERN_CHARS} characters, this one has {len(text)}")
    if any(not c.isprintable() and not c.isspace() for c in text):
        raise RuleError("a pattern may not contain control or invisible characters")
    tokens: list[tuple[str, ...]] = []
    for raw in text.split():
        if "*" not in raw:
            words = normalize(raw).words
            if not words:
                raise RuleError(f'"{shown_pattern(raw, 30)}" has no letters or digits to match')
            tokens.extend((w,) for w in words)
            continue
        while "**" in raw:
            raw = raw.replace("**", "*")
        if raw == "*":
            tokens.append(WILDCARD)
            continue
        pieces = tuple(_fold_piece(p) for p in raw.split("*"))
        if not all(p.isalnum() or not p for p in pieces):
            raise RuleError(f'"{shown_pattern(raw, 30)}": around * use only letters and digits')
        tokens.append(pieces)
    if len(tokens) > MAX_PATTERN_WORDS:
        raise RuleError(f"a pattern has at most {MAX_PATTERN_WORDS} words, this one has {len(tokens)}")
    if sum(len(p) for t in tokens for p in t) < MIN_LITERAL_CHARS:
        raise RuleError(f"a pattern needs at least {MIN_LITERAL_CHARS} letters or digits besides *")
    return tuple(tokens)


def check_rule(rule: Rule) -> CompiledRule:
    """Validate a rule (kind, label, score, pattern) and compile it; RuleError names the problem."""
    if rule.kind not in KINDS:
        raise RuleError(f"unknown rule kind {shown_pattern(str(rule.kind), 20)!r} (known: {', '.join(KINDS)})")
    labels = TEXT_LABELS + ((ALL_LABELS,) if rule.kind == "allow" else ())
    if rule.label not in labels:
        raise RuleError(f"a {rule.kind} rule's label is one of {', '.join(labels)}, not {shown_pattern(str(rule.label), 20)!r}")
    if isinstance(rule.score, bool) or not isinstance(rule.score, (int, float)) or not 0.0 < float(rule.score) <= 1.0:
        raise RuleError(f"a rule's score is a number above 0 and at most 1, got {shown_pattern(repr(rule.score), 20)}")
    return CompiledRule(rule, parse_pattern(rule.pattern))


def glob_word(parts: tuple[str, ...], word: str) -> bool:
    """Does `word` match the glob whose literal pieces are `parts` (`*` between them)? Linear, no backtracking:
    with `*` as the only wildcard, taking each middle piece at its leftmost place is always right."""
    if len(parts) == 1:
        return word == parts[0]
    first, last = parts[0], parts[-1]
    end = len(word) - len(last)
    if end < len(first) or not word.startswith(first) or not word.endswith(last):
        return False
    pos = len(first)
    for piece in parts[1:-1]:
        if piece:
            k = word.find(piece, pos, end)
            if k < 0:
                return False
            pos = k + len(piece)
    return True


def mask_parts(raw: str) -> tuple[tuple[str, int], ...] | None:
    """A masked word as (literal, 0) and (``""``, k) pieces, k = how many letters a mask run may hide; None when
    `raw` is not a masked word with at least two visible letters (the normaliser's rule)."""
    core = raw.strip(".,!?;:'\"()[]{}<>~")
    if "*" not in core and "#" not in core or not _MASKED.fullmatch(core):
        return None
    core = _fold_letters(core).translate(_LEET_DIGITS)
    if sum(c.isalpha() for c in core) < 2:
        return None
    return tuple(("", min(len(run), MAX_MASKED)) if run[0] in "*#" else (run, 0) for run in _MASK_RUN.split(core) if run)


def mask_fits(parts: tuple[tuple[str, int], ...], word: str) -> bool:
    """Could `word` be the masked word? A set of reachable positions, at most len(word) + 1 of them per piece:
    linear in the word for a bounded mask, no backtracking."""
    reach = {0}
    for text, hidden in parts:
        if hidden:
            reach = {p + j for p in reach for j in range(1, hidden + 1) if p + j <= len(word)}
        else:
            reach = {p + len(text) for p in reach if word.startswith(text, p)}
        if not reach:
            return False
    return len(word) in reach


def _anchor(tokens: tuple[tuple[str, ...], ...]) -> tuple[int, str, bool]:
    """(word index, text, whole word?) that every match must contain: the longest literal word, else the longest
    literal piece of a glob word."""
    whole = [(len(t[0]), -k, t[0]) for k, t in enumerate(tokens) if len(t) == 1]
    if whole:
        _, k, text = max(whole)
        return -k, text, True
    _, k, text = max((len(p), -k, p) for k, t in enumerate(tokens) for p in t)
    return -k, text, False


class RuleMatcher:
    """Compiled rules of one server. `match` gives verdicts and allow-listed labels; `classify` just verdicts."""

    name = DETECTOR

    def __init__(self, compiled: Sequence[CompiledRule]):
        self.rules = tuple(compiled)
        self._exact: dict[str, list[tuple[int, int]]] = {}  # word -> (rule index, its word index)
        self._pieces: dict[str, list[tuple[int, int]]] = {}  # literal piece -> (rule index, its word index)
        self._single: dict[str, list[int]] = {}  # first letter -> one-word literal rules (for masked words)
        for r, c in enumerate(self.rules):
            k, text, whole = _anchor(c.tokens)
            (self._exact if whole else self._pieces).setdefault(text, []).append((r, k))
            if len(c.tokens) == 1 and len(c.tokens[0]) == 1:
                self._single.setdefault(c.tokens[0][0][:1], []).append(r)

    def __len__(self) -> int:
        return len(self.rules)

    def _masked(self, norm: Normalized, found: dict[int, tuple[int, int]], quotes: dict[int, str]) -> None:
        """Masked words the normaliser could not resolve (it knows only the lexicon): `j*ncuk` for a rule `jancuk`."""
        seen: set[str] = set()
        for i, origin in enumerate(norm.origins):
            if origin in seen or ("*" not in origin and "#" not in origin):
                continue
            seen.add(origin)
            parts = mask_parts(origin)
            if parts is None:
                continue
            end = i
            while end < len(norm.origins) and norm.origins[end] == origin:
                end += 1
            for r in self._single.get(parts[0][0][:1], ()):
                word = self.rules[r].tokens[0][0]
                if r not in found and mask_fits(parts, word):
                    found[r] = (i, end)
                    quotes[r] = f'"{shown_pattern(origin, 40)}" → {word}'

    def _spans(self, words: Sequence[str], text: str) -> dict[int, tuple[int, int]]:
        """The first matching span of every rule found: rule index -> (start word, end word)."""
        found: dict[int, tuple[int, int]] = {}

        def check(entries: list[tuple[int, int]], i: int) -> None:
            for r, k in entries:
                if r not in found and self.rules[r].matches_at(words, i - k):
                    found[r] = (i - k, i - k + len(self.rules[r].tokens))

        if self._exact:
            exact = self._exact
            for i, w in enumerate(words):
                entries = exact.get(w)
                if entries:
                    check(entries, i)
        for piece, entries in self._pieces.items():
            if piece in text:
                for i, w in enumerate(words):
                    if piece in w:
                        check(entries, i)
        return found

    def match(self, text: str | Normalized) -> RuleHits:
        """Rules found in `text` (raw, or already normalised by the caller)."""
        norm = text if isinstance(text, Normalized) else normalize(text)
        if not self.rules or not norm.words:
            return RuleHits()
        per_label: dict[str, list[Verdict]] = {}
        allowed: dict[str, str] = {}
        spans = self._spans(norm.words, norm.text)
        quotes: dict[int, str] = {}
        if self._single and ("*" in norm.original or "#" in norm.original):
            self._masked(norm, spans, quotes)
        for r, (start, end) in sorted(spans.items(), key=lambda t: t[1]):
            rule = self.rules[r].rule
            quote = quotes.get(r) or shown_pattern(norm.shown_span(start, end), QUOTE_CHARS)
            if rule.kind == "allow":
                for label in TEXT_LABELS if rule.label == ALL_LABELS else (rule.label,):
                    allowed.setdefault(label, f'allow-listed phrase "{shown_pattern(rule.pattern)}": {quote}')
                continue
            per_label.setdefault(rule.label, []).append(
                Verdict(label=rule.label, score=float(rule.score), detector=DETECTOR, reason=f'server rule "{shown_pattern(rule.pattern)}": {quote}')
            )
        verdicts = [v for label in TEXT_LABELS for v in sorted(per_label.get(label, ()), key=lambda v: -v.score)[:MAX_VERDICTS_PER_LABEL]]
        return RuleHits(tuple(verdicts), MappingProxyType(allowed))

    def classify(self, text: str) -> list[Verdict]:
        """Term-rule verdicts only (the TextDetector protocol)."""
        return list(self.match(text).verdicts)


def compile_rules(rules: Iterable[Rule], skip_invalid: bool = False, max_rules: int = MAX_RULES) -> RuleMatcher:
    """Validate and compile `rules` (duplicates collapse). With `skip_invalid`, a rule that no longer validates
    (stored under older limits) is logged and left out instead of failing every rule of the server."""
    compiled: list[CompiledRule] = []
    seen: set[tuple[str, str, tuple]] = set()
    for rule in rules:
        try:
            c = check_rule(rule)
        except RuleError as exc:
            if not skip_invalid:
                raise
            log.warning("ignoring a stored rule: %s", exc)
            continue
        key = (rule.kind, rule.label, c.tokens)
        if key in seen:
            continue
        seen.add(key)
        compiled.append(c)
    if len(compiled) > max_rules:
        if not skip_invalid:
            raise RuleError(f"at most {max_rules} rules per server, got {len(compiled)}")
        log.warning("only the first %d of %d rules are used", max_rules, len(compiled))
        compiled = compiled[:max_rules]
    return RuleMatcher(compiled)
