"""Sequence baselines and the cross-validation every sequence model of the protocol goes through.

- `FeatureBaseline`: a random forest on the hand-crafted `pipeline.features.gait_features`;
- `LengthBaseline`: the shortcut probe, a logistic regression on log(number of frames) alone;
- `cross_validate(make_model, data, folds)`: fits a fresh model per subject-grouped fold of a
  `GaitData` and scores the held-out walks (`metrics.summarise`).

Models are scikit-learn style: `fit(seqs, labels)` on keypoint sequences [T_i, 33, 4] and class
ids [N]; `predict_proba(seqs)` → float [N, 9] in canonical class order.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from gaitlab.constants import NUM_CLASSES
from gaitlab.metrics import summarise
from gaitlab.pipeline.features import feature_matrix
from gaitlab.training.dataset import GaitData


class FeatureBaseline:
    """Random forest on `gait_features`; scikit-learn style, the fitted pipeline is its only state."""

    def __init__(self, n_estimators: int = 300, random_state: int = 0) -> None:
        self.n_estimators, self.random_state = n_estimators, random_state
        self.model_: Any = None

    def fit(self, seqs: Sequence[np.ndarray], labels: np.ndarray) -> FeatureBaseline:
        forest = RandomForestClassifier(n_estimators=self.n_estimators, class_weight="balanced",
                                        min_samples_leaf=2, random_state=self.random_state, n_jobs=1)
        self.model_ = make_pipeline(SimpleImputer(strategy="median"), forest)
        self.model_.fit(feature_matrix(seqs), np.asarray(labels))
        return self

    def predict_proba(self, seqs: Sequence[np.ndarray]) -> np.ndarray:
        """float [N, 9]: columns in canonical class order (classes unseen in training get 0)."""
        return _full_proba(self.model_, feature_matrix(seqs))


class LengthBaseline:
    """The shortcut probe: logistic regression on log(number of frames) alone."""

    model_: Any = None

    def fit(self, seqs: Sequence[np.ndarray], labels: np.ndarray) -> LengthBaseline:
        self.model_ = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000))
        self.model_.fit(np.log([[len(s)] for s in seqs]), np.asarray(labels))
        return self

    def predict_proba(self, seqs: Sequence[np.ndarray]) -> np.ndarray:
        return _full_proba(self.model_, np.log([[len(s)] for s in seqs]))


def _full_proba(model: Any, x: np.ndarray) -> np.ndarray:
    """`model.predict_proba(x)` spread into all 9 class columns [N, 9] (unseen classes get 0)."""
    out = np.zeros((len(x), NUM_CLASSES))
    out[:, model.classes_] = model.predict_proba(x)
    return out


class SequenceModel(Protocol):  # what `cross_validate` needs of a model
    def fit(self, seqs: Sequence[np.ndarray], labels: np.ndarray) -> Any: ...
    def predict_proba(self, seqs: Sequence[np.ndarray]) -> np.ndarray: ...


def cross_validate(make_model: Callable[[], SequenceModel], data: GaitData,
                   folds: Sequence[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """Fit a fresh `make_model()` per fold on `data` and score the held-out videos.

    `folds`: (train_rows, val_rows) per fold, e.g. `dataset.subject_folds`. Returns `folds`
    (per-fold `classification_metrics`), `pooled` (metrics of all out-of-fold predictions
    together: its confusion matrix is the protocol's), `summary` (mean and std across folds of
    accuracy, balanced accuracy, macro-F1, ECE and each class's recall over the folds that hold
    it), `oof_proba` [N, 9], the fitted `models` and each fold's fit + predict `seconds`.
    Raises ValueError if a subject is on both sides of a fold.
    """
    labels, subjects = data.labels, data.meta["subject_id"].to_numpy()
    oof = np.full((len(labels), NUM_CLASSES), np.nan)
    models, seconds = [], []
    for train_idx, val_idx in folds:
        if set(subjects[train_idx]) & set(subjects[val_idx]):
            raise ValueError("a subject is on both sides of a fold")
        start, model = time.perf_counter(), make_model()
        model.fit([data.sequence(int(r)) for r in train_idx], labels[train_idx])
        oof[val_idx] = model.predict_proba([data.sequence(int(r)) for r in val_idx])
        models.append(model)
        seconds.append(time.perf_counter() - start)
    return {**summarise(labels, oof, [np.asarray(v) for _, v in folds]), "oof_proba": oof,
            "models": models, "seconds": seconds}
