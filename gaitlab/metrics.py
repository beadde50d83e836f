"""Classification metrics of the nine gait classes, in one place (scikit-learn style functions).

Class ids are positions in `constants.CLASSES` (0..8). Every function takes plain arrays and
returns JSON-ready Python values:

- `label_metrics(y_true [N], y_pred [N])` → n, accuracy, balanced accuracy, macro-F1,
  per-class recall (None for classes absent from `y_true`) and the 9×9 confusion matrix;
- `expected_calibration_error(y_true [N], probs [N, 9])` → float;
- `classification_metrics(y_true [N], probs [N, 9])` → `label_metrics` of the arg-max plus `ece`;
- `summarise(labels [N], probs [N, 9], fold_rows)` → per-fold `classification_metrics`, their
  mean and spread across folds, and the pooled metrics of all folds' rows together.

scikit-learn is imported inside the functions so that importing this module stays cheap.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from gaitlab.constants import CLASSES, NUM_CLASSES

# The figures a fold summary reports as mean and spread (besides per-class recall).
HEADLINE = ("accuracy", "balanced_accuracy", "macro_f1", "ece")


def label_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """Metrics of predicted class ids `y_pred` [N] against true class ids `y_true` [N].

    Returns {"n", "accuracy", "balanced_accuracy", "macro_f1", "per_class_recall": {class:
    float | None}, "confusion_matrix": int [9][9] (rows true, columns predicted, `CLASSES`
    order)}. Balanced accuracy and macro-F1 average over the classes present in `y_true` (a
    fold cannot test a class it does not hold); recall is None for absent classes. A predicted
    id outside 0..8 counts as wrong and is left out of the confusion matrix.
    """
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, recall_score

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    present = np.unique(y_true)
    ids = list(range(NUM_CLASSES))
    recall = recall_score(y_true, y_pred, labels=ids, average=None, zero_division=0)
    with warnings.catch_warnings():  # "y_pred contains classes not in y_true": expected per fold
        warnings.simplefilter("ignore", UserWarning)
        balanced = balanced_accuracy_score(y_true, y_pred)
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced),
        "macro_f1": float(f1_score(y_true, y_pred, labels=list(present), average="macro", zero_division=0)),
        "per_class_recall": {c: (float(recall[i]) if i in present else None) for i, c in enumerate(CLASSES)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
    }


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, n_bins: int = 15) -> float:
    """ECE: |accuracy − confidence| per equal-width confidence bin, weighted by bin size."""
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y_true).astype(np.float64)
    # Bin i holds confidences in (i/n, (i+1)/n]; confidence is never 0 for a softmax.
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in np.unique(bins):
        mask = bins == b
        ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def classification_metrics(y_true: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """Metrics of per-video probabilities `probs` [N, 9] against class ids `y_true` [N]:
    `label_metrics` of the most probable class plus `ece` (`expected_calibration_error`)."""
    y_true = np.asarray(y_true)
    return {**label_metrics(y_true, probs.argmax(axis=1)), "ece": expected_calibration_error(y_true, probs)}


def summarise(labels: np.ndarray, probs: np.ndarray, fold_rows: Sequence[np.ndarray]) -> dict[str, Any]:
    """Per-fold metrics, their mean and spread, and the pooled out-of-fold metrics.

    `labels` [N] class ids; `probs` [N, 9] holds each row's out-of-fold prediction;
    `fold_rows` the rows of each fold. Returns {"folds": [classification_metrics per fold],
    "summary": {headline: {"mean", "std"}, "recall_<Class>": {"mean", "std", "folds"} or None},
    "pooled": classification_metrics of all folds' rows}. Class recall is averaged over the
    folds that hold the class.
    """
    per_fold = [classification_metrics(labels[r], probs[r]) for r in fold_rows]
    summary: dict[str, Any] = {}
    for key in HEADLINE:
        vals = [m[key] for m in per_fold]
        summary[key] = {"mean": float(np.mean(vals)), "std": float(np.std(vals))}
    for c in CLASSES:
        vals = [m["per_class_recall"][c] for m in per_fold if m["per_class_recall"][c] is not None]
        summary[f"recall_{c}"] = {"mean": float(np.mean(vals)), "std": float(np.std(vals)), "folds": len(vals)} if vals else None
    rows = np.concatenate(fold_rows)
    return {"folds": per_fold, "summary": summary, "pooled": classification_metrics(labels[rows], probs[rows])}
