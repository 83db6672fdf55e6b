"""The lean model artefact (``model_lean.npz``): what the lean predict path needs, loadable without scikit-learn.

Why: importing scikit-learn and skops costs seconds per cold start, yet the bot and ``classify`` only
need the fitted vocabularies, idf weights, coefficients and calibrators. The skops pipeline stays the
training and evaluation format; this file is derived from it (``triagebot lean-model``, and ``train``
writes both) and records the skops file's sha256, so a lean file left over from an older model is
noticed. Plain arrays and JSON only: it is read with ``np.load(allow_pickle=False)``.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.errors import TriagebotError

log = logging.getLogger(__name__)

LEAN_NAME = "model_lean.npz"
FORMAT = 1
_WHITE_SPACES = re.compile(r"\s\s+")  # as scikit-learn's vectorisers


class LeanModelError(TriagebotError, ValueError):
    """The lean artefact is missing, malformed, or does not describe a supported pipeline."""


def char_wb_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """scikit-learn's ``char_wb`` analyzer (no lowercasing or accent stripping): n-grams inside
    space-padded words, a word shorter than n counted once."""
    min_n, max_n = ngram_range
    out: list[str] = []
    append = out.append
    for w in _WHITE_SPACES.sub(" ", text).split():
        w = " " + w + " "
        w_len = len(w)
        for n in range(min_n, max_n + 1):
            offset = 0
            append(w[offset : offset + n])
            while offset + n < w_len:
                offset += 1
                append(w[offset : offset + n])
            if offset == 0:
                break
    return out


@dataclass(frozen=True)
class LeanBlock:
    """One tf-idf vectoriser: its analyzer settings, vocabulary (term per column), idf and label weights."""

    name: str
    kind: str  # "char_wb" (per-word character n-grams) or "word12" (whitespace tokens, 1-2 grams)
    ngram_range: tuple[int, int]
    sublinear: bool
    terms: list[str]
    idf: np.ndarray
    W: np.ndarray  # (n_terms, n_labels)


@dataclass(frozen=True)
class LeanModel:
    """Everything the linear score needs: blocks, lexicon weights, intercepts, calibration, lexicon priors."""

    labels: tuple[str, ...]
    blocks: list[LeanBlock]
    intercepts: list[float]
    calib: list[tuple[float, float] | None]
    lex_names: list[str]
    lex_scale: float
    lex_W: np.ndarray | None
    priors_logkeep: list[list[float]] | None
    model_sha256: str  # of the skops file this was derived from


def _block_kind(vec: Any) -> str:
    """Which analyzer the lean path reproduces for `vec`; refuses anything it would get wrong."""
    if (
        vec.norm != "l2"
        or not vec.use_idf
        or vec.binary
        or vec.lowercase
        or vec.strip_accents is not None
        or vec.preprocessor is not None
        or vec.tokenizer is not None
        or vec.input != "content"
    ):
        raise LeanModelError("lean path supports plain l2-normalised tf-idf only")
    if vec.analyzer == "char_wb":
        return "char_wb"
    if vec.analyzer == "word" and tuple(vec.ngram_range) == (1, 2) and vec.token_pattern == r"\S+" and vec.stop_words is None:
        return "word12"
    raise LeanModelError(f"lean path cannot reproduce analyzer {vec.analyzer!r} with {vec.ngram_range}")


def from_pipeline(pipeline: Any, model_sha256: str, labels: tuple[str, ...]) -> LeanModel:
    """Pull the lean model out of a fitted ``norm -> features -> clf`` pipeline (see classifiers/train.py)."""
    feats = pipeline.named_steps["features"]
    clf = pipeline.named_steps["clf"]
    coefs: list[np.ndarray] = []
    intercepts: list[float] = []
    calib: list[tuple[float, float] | None] = []
    for est in clf.estimators_:
        cc = est.calibrated_classifiers_[0] if hasattr(est, "calibrated_classifiers_") else None
        lr = cc.estimator if cc is not None else est
        coefs.append(np.asarray(lr.coef_).ravel())
        intercepts.append(float(np.asarray(lr.intercept_).ravel()[0]))
        if cc is not None:
            cal = cc.calibrators[0]
            calib.append((float(cal.a_), float(cal.b_)))
        else:
            calib.append(None)
    W = np.vstack(coefs).T  # (n_features, n_labels)
    priors_logkeep = None
    if getattr(clf, "lex_columns", 0) and clf.priors is not None:
        priors_logkeep = np.log1p(-np.clip(np.asarray(clf.priors, dtype=np.float64), 0.0, 0.999)).tolist()
    blocks: list[LeanBlock] = []
    lex_names: list[str] = []
    lex_W, lex_scale, offset = None, 1.0, 0
    for name, tr in feats.transformer_list:
        if hasattr(tr, "vocabulary_"):
            n = len(tr.vocabulary_)
            terms = [""] * n
            for t, i in tr.vocabulary_.items():
                terms[int(i)] = t
            blocks.append(
                LeanBlock(
                    name,
                    _block_kind(tr),
                    tuple(tr.ngram_range),
                    bool(tr.sublinear_tf),
                    terms,
                    np.asarray(tr.idf_, dtype=np.float64),
                    np.ascontiguousarray(W[offset : offset + n]),
                )
            )
        else:
            n = len(tr.feature_names_)
            tr.check_lexicon()
            lex_W = np.ascontiguousarray(W[offset : offset + n])
            lex_scale = float(tr.scale)
            lex_names = [str(x) for x in tr.feature_names_]
        offset += n
    if offset != W.shape[0]:
        raise LeanModelError(f"feature count mismatch: blocks {offset} vs coefficients {W.shape[0]}")
    return LeanModel(tuple(labels), blocks, intercepts, calib, lex_names, lex_scale, lex_W, priors_logkeep, model_sha256)


def _packed(terms: list[str]) -> np.ndarray:
    # terms never contain "\n": the normaliser removes control characters (as PackedTfidfVectorizer relies on)
    if any("\n" in t for t in terms):
        raise LeanModelError("a vocabulary term contains a newline")
    return np.frombuffer("\n".join(terms).encode("utf-8"), dtype=np.uint8)


def save(model: LeanModel, path: Path) -> None:
    """Write `model` as one ``.npz`` of plain arrays plus a JSON header (no pickle)."""
    meta = {
        "format": FORMAT,
        "labels": list(model.labels),
        "intercepts": model.intercepts,
        "calib": model.calib,
        "lex_names": model.lex_names,
        "lex_scale": model.lex_scale,
        "priors_logkeep": model.priors_logkeep,
        "model_sha256": model.model_sha256,
        "blocks": [
            {"name": b.name, "kind": b.kind, "ngram_range": list(b.ngram_range), "sublinear": b.sublinear, "n_terms": len(b.terms)} for b in model.blocks
        ],
    }
    arrays: dict[str, np.ndarray] = {"meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)}
    for i, b in enumerate(model.blocks):
        arrays[f"b{i}_terms"], arrays[f"b{i}_idf"], arrays[f"b{i}_W"] = _packed(b.terms), b.idf, b.W
    if model.lex_W is not None:
        arrays["lex_W"] = model.lex_W
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]  # numpy's stub confuses **arrays with allow_pickle
    tmp.replace(path)
    log.info("wrote %s", path)


def load(path: Path) -> LeanModel:
    """Read a file written by :func:`save`; raises :class:`LeanModelError` if it is not one."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode("utf-8"))
            if meta.get("format") != FORMAT:
                raise LeanModelError(f"{path}: lean format {meta.get('format')}, expected {FORMAT}")
            blocks = []
            for i, b in enumerate(meta["blocks"]):
                raw = bytes(z[f"b{i}_terms"]).decode("utf-8")
                terms = raw.split("\n") if b["n_terms"] else []
                if len(terms) != b["n_terms"]:
                    raise LeanModelError(f"{path}: block {b['name']} has {len(terms)} terms, expected {b['n_terms']}")
                blocks.append(
                    LeanBlock(
                        b["name"], b["kind"], (int(b["ngram_range"][0]), int(b["ngram_range"][1])), bool(b["sublinear"]), terms, z[f"b{i}_idf"], z[f"b{i}_W"]
                    )
                )
            lex_W = z["lex_W"] if "lex_W" in z.files else None
    except LeanModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - numpy/zipfile raise many types (EOFError, BadZipFile, KeyError, ...)
        raise LeanModelError(f"{path}: not a readable lean model ({exc})") from exc
    calib: list[tuple[float, float] | None] = [(float(c[0]), float(c[1])) if c else None for c in meta["calib"]]
    return LeanModel(
        tuple(meta["labels"]),
        blocks,
        [float(x) for x in meta["intercepts"]],
        calib,
        list(meta["lex_names"]),
        float(meta["lex_scale"]),
        lex_W,
        meta["priors_logkeep"],
        meta["model_sha256"],
    )
