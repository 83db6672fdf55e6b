"""One binary model per label, each trained only on rows where that label is known (not -1).

Why not OneVsRestClassifier: the dev sources each label only some columns; -1 must mean "skip this
row for this label", not "negative".
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

log = logging.getLogger(__name__)


class MaskedMultiLabel(ClassifierMixin, BaseEstimator):
    """`estimator` cloned per column of Y; rows with Y[:, j] == -1 are left out of column j.

    Optional lexicon prior: the last `lex_columns` columns of X are lexicon rule counts times
    `lex_scale`; `priors[r][j]` is the hand-set chance that one match of rule r means label j. The
    learned probability p is combined with them by noisy-OR, ``1 - (1 - p) * prod((1 - prior) ** count)``,
    so a hand-written rule still fires on sources whose training data taught the n-grams nothing.
    """

    def __init__(
        self,
        estimator: BaseEstimator,
        labels: tuple[str, ...] = ("sexual", "racial"),
        lex_columns: int = 0,
        lex_scale: float = 1.0,
        priors: tuple | list | None = None,
    ):
        self.estimator = estimator
        self.labels = labels
        self.lex_columns = lex_columns
        self.lex_scale = lex_scale
        self.priors = priors

    def lexicon_floor(self, X) -> np.ndarray:
        """(n, n_labels) probability from the lexicon priors alone."""
        n = X.shape[0]
        if not self.lex_columns or self.priors is None:
            return np.zeros((n, len(self.labels)))
        counts = X[:, -self.lex_columns :]
        counts = counts.toarray() if hasattr(counts, "toarray") else np.asarray(counts)
        counts = counts / self.lex_scale
        logkeep = np.log1p(-np.clip(np.asarray(self.priors, dtype=np.float64), 0.0, 0.999))
        return 1.0 - np.exp(counts @ logkeep)

    def fit(self, X, Y, sample_weight=None) -> "MaskedMultiLabel":
        Y = np.asarray(Y)
        if Y.ndim != 2 or Y.shape[1] != len(self.labels):
            raise ValueError(f"Y must have shape (n, {len(self.labels)})")
        self.estimators_ = []
        for j, label in enumerate(self.labels):
            known = Y[:, j] != -1
            y = Y[known, j].astype(int)
            if len(np.unique(y)) < 2:
                raise ValueError(f"label {label!r} needs both classes among known rows")
            est = clone(self.estimator)
            kw = {} if sample_weight is None else {"sample_weight": np.asarray(sample_weight)[known]}
            est.fit(X[known], y, **kw)
            log.info("fitted %s on %d rows (%d positive)", label, known.sum(), y.sum())
            self.estimators_.append(est)
        self.classes_ = np.array(self.labels, dtype=object)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """(n, n_labels) probability of each label being present (model noisy-OR lexicon prior)."""
        p = np.column_stack([est.predict_proba(X)[:, 1] for est in self.estimators_])
        return 1.0 - (1.0 - p) * (1.0 - self.lexicon_floor(X))

    def decision_function(self, X) -> np.ndarray:
        return np.column_stack([est.decision_function(X) for est in self.estimators_])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X) >= 0.5).astype(int)
