"""The shipped text model: load (lean artefact, or skops + card check), score, explain.

Why a lean path: a bot classifies messages one at a time and sklearn's per-call overhead (~1 ms)
dwarfs the actual work, and importing scikit-learn and skops costs seconds per cold start. The fitted
vocabularies, idf weights, coefficients and calibrators are pulled out of the pipeline
(:mod:`classifiers.lean`, saved as ``model_lean.npz``) and the same linear score is computed with dict
lookups. Tests check that it equals ``pipeline.predict_proba``.
"""

from __future__ import annotations

import json
import logging
import math
from array import array
import time
from importlib.resources import files
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from classifiers import lean
from classifiers.base import TEXT_LABELS, Verdict
from classifiers.cache import ByteLRU
from classifiers.data import sha256_file
from classifiers.errors import TriagebotError
from classifiers.lexicon import default_lexicon, lexicon_sha256
from classifiers.normalize import Normalized, normalize

log = logging.getLogger(__name__)

#: Type-name prefixes we accept from a skops file (everything else is refused, never trusted blindly).
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.", "builtins.", "classifiers.features.", "classifiers.multilabel.")
MAX_REASONS = 4
#: Byte budget of each tf-idf block's per-word n-gram cache (two blocks; see classifiers/cache.py).
BLOCK_CACHE_BYTES = 16 * 1024 * 1024
#: A word n-gram is shown as a reason only if it adds at least this much to the label's logit.
MIN_NGRAM_LOGIT = 1.0
#: Lexicon rules weaker than this (broad vocabulary lists) are shown only when nothing else is.
REASON_MIN_PRIOR = 0.3
#: English and Indonesian function words: never a reason on their own, whatever their weight.
FUNCTION_WORDS = frozenset(
    "i me my mine you your yours u ur he him his she her hers it its we us our they them their one ones "
    "this that these those the a an and or but if of to in on at for with from by as is are was were be "
    "been am do does did have has had will would can could should so not no yes just very too all some "
    "what who whom which where when why how here there then than now".split()
    + "aku saya gue gua kamu lo anda dia ia kita kami mereka nya mu ku ini itu yang dan atau tapi di ke "
    "dari untuk buat sama dengan pada oleh karena jadi juga saja aja sih dong deh kok nih tuh ya iya "
    "gak tidak bukan udah sudah belum lagi mau bisa ada adalah akan kalau kayak banget".split()
)


class ModelNotFoundError(TriagebotError, FileNotFoundError):
    """The model file is missing; the message says how to build it."""


class ModelCardError(TriagebotError, ValueError):
    """The model card does not match the model or this environment."""


def default_model_path() -> Path:
    """The shipped ``classifiers/resources/model.skops`` (package data), next to ``model_card.json``."""
    return Path(str(files("classifiers") / "resources" / "model.skops"))


def load_pipeline(path: Path):
    """skops-load `path`, trusting only types under :data:`TRUSTED_PREFIXES`."""
    from skops.io import get_untrusted_types, load

    untrusted = get_untrusted_types(file=path)
    bad = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if bad:
        raise ModelCardError(f"{path}: refusing to load unexpected types {bad}")
    return load(path, trusted=untrusted)


def _read_card(path: Path) -> dict:
    """The model card beside `path`, with the checks that need no scikit-learn; one-line errors for bad files."""
    if not path.exists():
        raise ModelNotFoundError(f"text model not found at {path}; run `triagebot train --data DIR`")
    card_path = path.with_name("model_card.json")
    if not card_path.exists():
        raise ModelNotFoundError(f"model card not found at {card_path}; run `triagebot train --data DIR`")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not JSON
        raise ModelCardError(f"{card_path}: not a readable model card ({type(exc).__name__})") from None
    if not isinstance(card, dict):
        raise ModelCardError(f"{card_path}: not a model card (expected a JSON object)")
    try:
        check_card_labels(card)
    except ModelCardError:
        raise
    except (TypeError, ValueError, AttributeError) as exc:  # a field of the wrong shape
        raise ModelCardError(f"{card_path}: not a valid model card ({type(exc).__name__})") from None
    return card


def _load_lean(path: Path, card: dict) -> lean.LeanModel | None:
    """The lean model at `path`, or None when it is unreadable or was derived from another skops file."""
    try:
        model = lean.load(path)
    except lean.LeanModelError as exc:
        log.warning("ignoring %s: %s", path, exc)
        return None
    if not card.get("model_sha256") or model.model_sha256 != card["model_sha256"]:
        log.warning("ignoring %s: derived from another model.skops than its model card describes", path)
        return None
    return model


def write_lean(path: str | Path | None = None) -> Path:
    """Regenerate ``model_lean.npz`` beside the skops model at `path` (default: the shipped one); returns its path."""
    clf = TextClassifier.from_skops(path)
    assert clf.path is not None
    out = clf.path.with_name(lean.LEAN_NAME)
    lean.save(lean.from_pipeline(clf.pipeline, clf.card.get("model_sha256") or sha256_file(clf.path), TEXT_LABELS), out)
    return out


def check_card(card: dict, model_path: Path) -> None:
    """Refuse a model whose card names other labels, another sklearn minor version or another file."""
    import sklearn

    check_card_labels(card)
    have, want = sklearn.__version__.split(".")[:2], str(card.get("sklearn_version", "")).split(".")[:2]
    if have != want:
        raise ModelCardError(
            f"model trained with scikit-learn {card.get('sklearn_version')}, running {sklearn.__version__}: retrain with `triagebot train --data DIR`"
        )
    if card.get("sklearn_version") != sklearn.__version__:
        log.warning("scikit-learn patch version differs from the card (%s vs %s)", card.get("sklearn_version"), sklearn.__version__)
    digest = card.get("model_sha256")
    if digest and digest != sha256_file(model_path):
        raise ModelCardError(f"{model_path} does not match the sha256 in its model card")


def check_card_labels(card: dict) -> None:
    """The checks that need no scikit-learn: labels, thresholds, lexicon drift."""
    if tuple(card.get("labels", ())) != TEXT_LABELS:
        raise ModelCardError(f"model card labels {card.get('labels')} != {list(TEXT_LABELS)}")
    missing = [lab for lab in TEXT_LABELS if lab not in card.get("thresholds", {})]
    if missing:
        raise ModelCardError(f"model card has no threshold for {missing}")
    if card.get("lexicon_sha256") and card["lexicon_sha256"] != lexicon_sha256():
        log.warning("the lexicons changed since the model was trained; retrain to keep them in step")


class _Block:
    """One tf-idf vectoriser reduced to vocabulary -> column, idf and weights, n-grams cached per word.

    char_wb n-grams never cross a space, and the normalised text is single-spaced words, so a
    text's n-gram counts are the sum of its words' counts: caching per word is exact.
    """

    __slots__ = ("ngram_range", "vocab", "idf", "W", "sublinear", "per_word", "_cache", "terms")

    def __init__(self, block: lean.LeanBlock):
        self.ngram_range = block.ngram_range
        self.sublinear = block.sublinear
        self.per_word = block.kind == "char_wb"  # otherwise "word12": word 1-2 grams over whitespace tokens
        self.terms = block.terms
        self.vocab: dict[str, int] = {t: i for i, t in enumerate(block.terms)}
        self.idf = np.asarray(block.idf, dtype=np.float64)
        self.W = np.ascontiguousarray(block.W, dtype=np.float64)
        self._cache: ByteLRU[str, tuple[int, ...]] = ByteLRU(BLOCK_CACHE_BYTES)

    def _grams(self, word: str) -> tuple[int, ...]:
        return self._cache.get_or_compute(word, self._grams_uncached)

    def _grams_uncached(self, word: str) -> tuple[int, ...]:
        vocab = self.vocab
        return tuple(vocab[g] for g in lean.char_wb_ngrams(word, self.ngram_range) if g in vocab)

    def columns(self, text: str) -> list[int]:
        """Vocabulary columns of every in-vocabulary n-gram occurrence in `text`."""
        if self.per_word:
            cols: list[int] = []
            for w in text.split(" "):
                if w:
                    cols.extend(self._grams(w))
            return cols
        toks = text.split()
        get = self.vocab.get
        cols = [c for c in map(get, toks) if c is not None]
        if len(toks) > 1:
            cols.extend(c for c in map(get, map(" ".join, zip(toks, toks[1:]))) if c is not None)
        return cols

    def weights(self, cols: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(unique columns, their l2-normalised tf-idf values)."""
        if len(cols) == 1:
            return np.asarray(cols), np.ones(1)
        u, c = np.unique(np.asarray(cols, dtype=np.int64), return_counts=True)
        tf = (1.0 + np.log(c)) if self.sublinear else c.astype(np.float64)
        v = tf * self.idf[u]
        return u, v / math.sqrt(float(v @ v))

    def score(self, text: str) -> np.ndarray:
        """This block's contribution to each label's logit."""
        cols = self.columns(text)
        if not cols:
            return np.zeros(self.W.shape[1])
        u, v = self.weights(cols)
        return v @ self.W[u]

    def term_contributions(self, text: str, j: int) -> list[tuple[float, str]]:
        """(contribution to label j, n-gram) for every n-gram present (used for reasons)."""
        cols = self.columns(text)
        if not cols:
            return []
        u, v = self.weights(cols)
        contrib = v * self.W[u, j]
        return [(float(c), self.terms[int(i)]) for i, c in zip(u, contrib)]


#: Below this many texts a batch is scored text by text (no scipy import: a fast `classify hello`).
SMALL_BATCH = 16
#: Batches smaller than this are not worth forking workers for.
POOL_MIN_TEXTS = 4000
_POOL_MODEL: "TextClassifier | None" = None


def _pool_call(args: tuple[str, Sequence[str]]) -> list:
    method, chunk = args
    return getattr(_POOL_MODEL, method)(chunk)


def _in_pool(model: "TextClassifier", method: str, texts: Sequence[str], n_jobs: int) -> list:
    """Run `model.<method>` over chunks of `texts` in forked workers that share the loaded model."""
    import multiprocessing
    import os

    global _POOL_MODEL
    n_jobs = n_jobs if n_jobs > 0 else (os.cpu_count() or 1)
    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:  # no fork on this platform
        return getattr(model, method)(texts)
    _POOL_MODEL = model
    size = -(-len(texts) // (n_jobs * 4))
    chunks = [(method, list(texts[i : i + size])) for i in range(0, len(texts), size)]
    try:
        with ctx.Pool(n_jobs) as pool:
            parts = pool.map(_pool_call, chunks)
    finally:
        _POOL_MODEL = None
    return [item for part in parts for item in part]


class TextClassifier:
    """Scores `sexual` and `racial` for one message; the bot's text detector."""

    name: str = "text_model"

    def __init__(self, model: lean.LeanModel, card: dict, path: Path | None = None, pipeline: Any = None):
        self.pipeline = pipeline  # the skops pipeline when loaded from it (evaluation, tests); None when lean
        self.card = card
        self.path = path
        # Two operating points per label (issue 14). `thresholds` (the card's, <= 2% false positives on benign
        # dev text) put a message in the moderators' queue; `action_thresholds` (the card's "action" point,
        # <= 0.3%) gate automatic actions. The card's 5% "review" point is recorded but not used: it flags 16
        # of 42 neutral mentions of an ethnic group in the functional suite (README, The text model).
        self.thresholds: dict[str, float] = {k: float(v) for k, v in card["thresholds"].items()}
        points = card.get("operating_points") or {}
        self.action_thresholds: dict[str, float] = {k: float(p["threshold"]) for k, p in points.get("action", {}).items() if k in self.thresholds}
        self._lexicon = default_lexicon()
        self._rule_priors = {r.name: max(r.prior, 0.0) for r in self._lexicon.rules}
        # words that are no evidence on their own: function words, and terms that need context
        self._not_evidence = FUNCTION_WORDS | {p[0] for r in self._lexicon.rules if r.with_ for p in r.terms if len(p) == 1}
        self._build_fast_path(model)

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None) -> "TextClassifier":
        """Load the model at `path` (default :func:`default_model_path`) and check its card.

        Uses the lean artefact beside a ``.skops`` file when it was derived from that very file (fast,
        no scikit-learn); otherwise loads the skops pipeline and warns that the lean file should be rebuilt.
        A ``.npz`` path loads that lean file (its card must sit beside it).
        """
        t0 = time.perf_counter()
        path = Path(path) if path else default_model_path()
        card = _read_card(path)
        lean_path = path if path.suffix == ".npz" else path.with_name(lean.LEAN_NAME)
        if lean_path.exists():
            model = _load_lean(lean_path, card)
            if model is not None:
                clf = cls(model, card, path)
                log.info("loaded %s in %.0f ms", lean_path, (time.perf_counter() - t0) * 1000)
                return clf
        if path.suffix == ".npz":
            raise ModelCardError(f"{path} was not derived from the model its card describes: run `triagebot lean-model`")
        log.warning("no up-to-date %s beside %s: loading the skops pipeline (slow start); run `triagebot lean-model` to rebuild it", lean.LEAN_NAME, path)
        clf = cls.from_skops(path, card)
        log.info("loaded %s in %.0f ms", path, (time.perf_counter() - t0) * 1000)
        return clf

    @classmethod
    def from_skops(cls, path: str | Path | None = None, card: dict | None = None) -> "TextClassifier":
        """Load the skops pipeline itself (needs scikit-learn; ``.pipeline`` is set) and derive the lean model in memory."""
        path = Path(path) if path else default_model_path()
        card = card if card is not None else _read_card(path)
        try:
            check_card(card, path)
        except ModelCardError:
            raise
        except (TypeError, ValueError, AttributeError) as exc:  # a field of the wrong shape
            raise ModelCardError(f"{path.with_name('model_card.json')}: not a valid model card ({type(exc).__name__})") from None
        try:
            pipeline = load_pipeline(path)
            model = lean.from_pipeline(pipeline, card.get("model_sha256") or sha256_file(path), TEXT_LABELS)
        except ModelCardError:
            raise
        except Exception as exc:  # skops raises whatever a damaged zip or schema triggers
            raise ModelCardError(f"{path}: not a triagebot model file ({type(exc).__name__})") from None
        return cls(model, card, path, pipeline=pipeline)

    def _build_fast_path(self, model: lean.LeanModel) -> None:
        if tuple(model.labels) != TEXT_LABELS:
            raise ModelCardError(f"lean model labels {list(model.labels)} != {list(TEXT_LABELS)}")
        if model.lex_W is not None and tuple(model.lex_names) != tuple(self._lexicon.feature_names):
            raise ModelCardError(f"lexicon rules changed since training: {model.lex_names} != {list(self._lexicon.feature_names)}")
        self._priors_logkeep = model.priors_logkeep
        self._intercepts = list(model.intercepts)
        self._calib = list(model.calib)
        self._blocks: list[tuple[str, _Block]] = [(b.name, _Block(b)) for b in model.blocks]
        self._lex_w: np.ndarray | None = None if model.lex_W is None else np.asarray(model.lex_W, dtype=np.float64)
        self._lex_names: list[str] = list(model.lex_names)
        self._lex_index: dict[str, int] = {name: k for k, name in enumerate(self._lex_names)}
        self._zeros = np.zeros(len(TEXT_LABELS))
        self._lex_scale = model.lex_scale

    # -- scoring -------------------------------------------------------------------------------
    def _raw(self, norm: Normalized) -> tuple[list[float], list, list[float]]:
        """Logits before calibration, lexicon matches, and log(1 - prior) sums per label."""
        dec = np.array(self._intercepts, dtype=np.float64)
        if norm.text:
            for _, block in self._blocks:
                dec = dec + block.score(norm.text)
        matches, add, logkeep = self._lexicon_part(norm)
        return (dec + add).tolist(), matches, logkeep

    def _proba(self, dec: list[float], logkeep: list[float]) -> dict[str, float]:
        out = {}
        for j, label in enumerate(TEXT_LABELS):
            cal = self._calib[j]
            z = -(cal[0] * dec[j] + cal[1]) if cal else dec[j]
            p = 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
            p = 1.0 - (1.0 - p) * math.exp(logkeep[j])
            out[label] = min(1.0, max(0.0, p))
        return out

    def scores(self, text: str) -> dict[str, float]:
        """{"sexual": p, "racial": p} for one text (any input; never raises on content)."""
        dec, _, logkeep = self._raw(normalize(text))
        return self._proba(dec, logkeep)

    def classify(self, text: str) -> list[Verdict]:
        """One :class:`Verdict` per label, with readable reasons when the score is notable."""
        norm = normalize(text)
        dec, matches, logkeep = self._raw(norm)
        return self._verdicts(norm, matches, self._proba(dec, logkeep))

    def _verdicts(self, norm: Normalized, matches: list, probs: dict[str, float]) -> list[Verdict]:
        """Reasons are built only where a score is notable (half the label's threshold): they cost more than scoring."""
        return [
            Verdict(
                label=label,
                score=probs[label],
                detector=self.name,
                reason=self._reason(norm, j, label, matches) if probs[label] >= 0.5 * self.thresholds[label] else "",
            )
            for j, label in enumerate(TEXT_LABELS)
        ]

    def _lexicon_part(self, norm: Normalized) -> tuple[list, np.ndarray, list[float]]:
        """Lexicon matches, their logit contribution, and log(1 - prior) sums per label."""
        L = len(TEXT_LABELS)
        logkeep = [0.0] * L
        matches = self._lexicon.match(norm.words) if norm.words else []
        if not matches or self._lex_w is None:
            return matches, self._zeros, logkeep
        add = np.zeros(L)
        counts: dict[str, float] = {}
        for m in matches:
            counts[m.rule] = min(3.0, counts.get(m.rule, 0.0) + 1.0)
        for k, name in enumerate(self._lex_names):
            c = counts.get(name)
            if c:
                add = add + (c * self._lex_scale) * self._lex_w[k]
                if self._priors_logkeep is not None:
                    for j in range(L):
                        logkeep[j] += c * self._priors_logkeep[k][j]
        return matches, add, logkeep

    def _batch(self, texts: Sequence[str]) -> tuple[list[Normalized], list[list], list[dict[str, float]]]:
        """Vectorised scoring: one sparse matrix per tf-idf block for the whole batch."""
        import scipy.sparse as sp  # only batches need it; a bot scoring one message at a time never imports it

        norms = [normalize(t) for t in texts]
        n = len(norms)
        dec = np.tile(np.asarray(self._intercepts, dtype=np.float64), (n, 1))
        for _, block in self._blocks:
            cols = array("q")
            indptr = array("q", [0])
            for nm in norms:
                if nm.text:
                    cols.extend(block.columns(nm.text))
                indptr.append(len(cols))
            if not len(cols):
                continue
            col_arr = np.frombuffer(cols, dtype=np.int64)
            X = sp.csr_matrix((np.ones(len(col_arr)), col_arr, np.frombuffer(indptr, dtype=np.int64)), shape=(n, len(block.idf)))
            X.sum_duplicates()
            X.data = ((1.0 + np.log(X.data)) if block.sublinear else X.data) * block.idf[X.indices]
            norms_sq = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
            norms_sq[norms_sq == 0] = 1.0
            X = sp.diags(1.0 / norms_sq) @ X
            dec += X @ block.W
        all_matches, probs = [], []
        for r, nm in enumerate(norms):
            matches, add, logkeep = self._lexicon_part(nm)
            all_matches.append(matches)
            probs.append(self._proba((dec[r] + add).tolist(), logkeep))
        return norms, all_matches, probs

    def scores_batch(self, texts: Sequence[str], n_jobs: int = 1) -> list[dict[str, float]]:
        """Like :meth:`scores` for many texts, vectorised (equal up to float rounding)."""
        if n_jobs != 1 and len(texts) >= POOL_MIN_TEXTS:
            return _in_pool(self, "_scores_local", texts, n_jobs)
        return self._scores_local(texts)

    def _scores_local(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if len(texts) < SMALL_BATCH:
            return [self.scores(t) for t in texts]
        return self._batch(texts)[2]

    def classify_batch(self, texts: Sequence[str], n_jobs: int = 1) -> list[list[Verdict]]:
        """Like :meth:`classify` for many texts; reasons are only built where a score is notable.

        `n_jobs` > 1 forks worker processes for large batches (CLI/eval use; not from a threaded bot).
        """
        if n_jobs != 1 and len(texts) >= POOL_MIN_TEXTS:
            return _in_pool(self, "_classify_local", texts, n_jobs)
        return self._classify_local(texts)

    def _classify_local(self, texts: Sequence[str]) -> list[list[Verdict]]:
        if len(texts) < SMALL_BATCH:
            return [self.classify(t) for t in texts]
        norms, all_matches, probs = self._batch(texts)
        return [self._verdicts(norm, matches, p) for norm, matches, p in zip(norms, all_matches, probs)]

    # -- reasons -------------------------------------------------------------------------------
    def _reason(self, norm: Normalized, j: int, label: str, matches: list) -> str:
        """Matched lexicon terms (strongest rules first, no term inside an already-shown one), then
        the word n-grams that pushed the score most, if they add a lot.

        Only positive evidence is named: a rule whose learned weight and prior are both nil for this
        label is skipped; a term that needs context ("foto" needs "bugil") is shown together with
        that context, as the message spells it; an n-gram made only of words that are no evidence
        alone (pronouns, "foto", "link") is never shown, nor one the message does not contain."""
        parts: list[str] = []
        covered: set[int] = set()
        priors = self._rule_priors
        ranked = sorted(
            (m for m in matches if m.label == label and self._rule_supports(m.rule, j)), key=lambda m: (-priors.get(m.rule, 0.0), m.start - m.end, m.start)
        )
        for m in ranked:
            start, end = m.start, m.end
            if m.ctx_start >= 0:
                start, end = min(start, m.ctx_start), max(end, m.ctx_end)
            span = set(range(start, end))
            if covered.intersection(range(m.start, m.end)) or (priors.get(m.rule, 0.0) < REASON_MIN_PRIOR and parts):
                continue
            covered |= span
            s = norm.shown_span(start, end)
            if s not in parts:
                parts.append(s)
        word_block = dict(self._blocks).get("word")
        contrib = word_block.term_contributions(norm.text, j) if word_block is not None and norm.text else []
        top = sorted((c for c in contrib if c[0] > 0), reverse=True)
        floor = max(MIN_NGRAM_LOGIT, 0.3 * top[0][0]) if top else 0.0
        for c, gram in top:
            if len(parts) >= MAX_REASONS or c < floor:
                break
            toks = gram.split()
            if all(t in self._not_evidence for t in toks):
                continue
            pos = self._positions(norm, toks)
            if not pos or any(i in covered for i in pos):
                continue
            s = norm.shown_span(pos.start, pos.stop)
            if s and s not in parts and not any(s.strip('"') in p for p in parts):
                parts.append(s)
        return "; ".join(parts[:MAX_REASONS])

    def _rule_supports(self, rule: str, j: int) -> bool:
        """Does this rule count *for* label j (a prior, or a positive learned weight)?"""
        if self._rule_priors.get(rule, 0.0) > 0:
            return True
        k = self._lex_index.get(rule)
        return k is not None and self._lex_w is not None and self._lex_w[k, j] > 0

    @staticmethod
    def _positions(norm: Normalized, toks: list[str]) -> range:
        n = len(toks)
        for i in range(len(norm.words) - n + 1):
            if list(norm.words[i : i + n]) == toks:
                return range(i, i + n)
        return range(0)
