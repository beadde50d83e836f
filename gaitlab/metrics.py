"""Classification metrics of the nine gait classes, in one place (scikit-learn style functions).

Class ids are positions in `constants.CLASSES` (0..8). Every function takes plain arrays and
returns JSON-ready Python values:

- `label_metrics(y_true [N], y_pred [N])` → n, accuracy, balanced accuracy, macro-F1,
  per-class recall (None for classes absent from `y_true`) and the 9×9 confusion matrix;
- calibration: `reliability_bins` (and `walks_per_bin` of them), `expected_calibration_error`
  (top label, 10 equal-count bins), `ece_sampling_floor`, `negative_log_likelihood`,
  `brier_score`;
- `classification_metrics(y_true [N], probs [N, 9])` → `label_metrics` of the arg-max plus
  `ece`, `nll`, `brier`;
- `subject_bootstrap(y_true, probs, subjects)` → 95% intervals over subjects;
- `summarise(labels [N], probs [N, 9], fold_rows)` → per-fold `classification_metrics`, their
  mean and spread across folds, and the pooled metrics of all folds' rows together;
- `drop_ratio`, `describe_ratio`: Grad-CAM faithfulness as top-pixel drop over random-pixel
  drop, the denominator floored at `RANDOM_DROP_FLOOR`.

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


ECE_BINS = 10  # equal-count bins of the top-label confidence


def reliability_bins(y_true: np.ndarray, probs: np.ndarray, n_bins: int = ECE_BINS) -> list[dict[str, float]]:
    """The reliability diagram: walks sorted by top-label confidence and cut into `n_bins`
    bins of (nearly) equal count; per bin its mean confidence, accuracy and count."""
    y_true, probs = np.asarray(y_true), np.asarray(probs, dtype=np.float64)
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y_true).astype(np.float64)
    order = np.argsort(conf, kind="stable")
    return [{"confidence": float(conf[b].mean()), "accuracy": float(correct[b].mean()), "count": int(len(b))}
            for b in np.array_split(order, min(n_bins, len(order))) if len(b)]


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Top-label ECE: |accuracy − mean confidence| per equal-count bin (`reliability_bins`),
    weighted by the bin's share of walks."""
    bins = reliability_bins(y_true, probs, n_bins)
    total = sum(b["count"] for b in bins)
    return float(sum(b["count"] / total * abs(b["accuracy"] - b["confidence"]) for b in bins)) if total else 0.0


def walks_per_bin(bins: Sequence[dict[str, float]]) -> int:
    """The mean count of `reliability_bins` output, rounded: how many walks each bin's accuracy
    rests on."""
    return round(sum(b["count"] for b in bins) / len(bins)) if bins else 0


def ece_sampling_floor(probs: np.ndarray, n_bins: int = ECE_BINS, draws: int = 200, seed: int = 0) -> dict[str, float]:
    """The ECE a *perfectly calibrated* model with these confidences would still show, from the
    finite bins alone: labels are drawn from `probs` [N, 9] itself (so every probability is
    exactly right by construction) and the ECE of each draw is measured. Returns {"mean",
    "p95"} over `draws`. With about 22 walks a bin, an accuracy per bin is uncertain by several
    points, so a measured ECE near this floor is as calibrated as the data can show."""
    probs = np.asarray(probs, dtype=np.float64)
    rng = np.random.default_rng(seed)
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    values = []
    for _ in range(draws):
        y = np.minimum((rng.random((len(probs), 1)) > cum).sum(axis=1), probs.shape[1] - 1)
        values.append(expected_calibration_error(y, probs, n_bins))
    return {"mean": float(np.mean(values)), "p95": float(np.percentile(values, 95))}


def negative_log_likelihood(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Mean −log p(true class) (probabilities clipped at 1e-12)."""
    p = np.asarray(probs, dtype=np.float64)[np.arange(len(y_true)), np.asarray(y_true)]
    return float(-np.log(np.clip(p, 1e-12, None)).mean())


def brier_score(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Multi-class Brier score: mean over walks of Σ_k (p_k − [k = true])², 0 (best) to 2."""
    onehot = np.eye(NUM_CLASSES)[np.asarray(y_true)]
    return float(((np.asarray(probs, dtype=np.float64) - onehot) ** 2).sum(axis=1).mean())


def classification_metrics(y_true: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """Metrics of per-video probabilities `probs` [N, 9] against class ids `y_true` [N]:
    `label_metrics` of the most probable class plus `ece` (10 equal-count bins), `nll`, `brier`,
    `four_group_accuracy` and `group_recall` (Normal / KOA / PD / Disabled, severity ignored)."""
    y_true, pred = np.asarray(y_true), probs.argmax(axis=1)
    group = np.array([c.split("_")[0] for c in CLASSES])
    group_recall = {str(g): (float((group[pred[group[y_true] == g]] == g).mean()) if (group[y_true] == g).any() else None)
                    for g in dict.fromkeys(group)}
    return {**label_metrics(y_true, pred), "ece": expected_calibration_error(y_true, probs),
            "nll": negative_log_likelihood(y_true, probs), "brier": brier_score(y_true, probs),
            "four_group_accuracy": four_group_accuracy(y_true, pred), "group_recall": group_recall}


BOOTSTRAP_FIGURES = ("accuracy", "macro_f1", "four_group_accuracy", "nll", "brier", "ece")


def four_group_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Accuracy over the four groups Normal / KOA / PD / Disabled (severity ignored)."""
    group = np.array([c.split("_")[0] for c in CLASSES])
    return float((group[np.asarray(y_true)] == group[np.asarray(y_pred)]).mean())


def subject_bootstrap(y_true: np.ndarray, probs: np.ndarray, subjects: np.ndarray, n_boot: int = 1000,
                      seed: int = 0) -> dict[str, dict[str, float]]:
    """95% intervals by resampling subjects with replacement (all walks of a drawn subject
    come along): {figure: {"value", "low", "high"}} for `BOOTSTRAP_FIGURES`."""
    from sklearn.metrics import f1_score

    y_true, probs, subjects = np.asarray(y_true), np.asarray(probs, dtype=np.float64), np.asarray(subjects)

    def figures(idx: np.ndarray) -> dict[str, float]:
        y, p = y_true[idx], probs[idx]
        pred = p.argmax(axis=1)
        return {"accuracy": float((pred == y).mean()),
                "macro_f1": float(f1_score(y, pred, labels=list(np.unique(y)), average="macro", zero_division=0)),
                "four_group_accuracy": four_group_accuracy(y, pred), "nll": negative_log_likelihood(y, p),
                "brier": brier_score(y, p), "ece": expected_calibration_error(y, p)}

    ids = np.unique(subjects)
    rows_of = {s: np.flatnonzero(subjects == s) for s in ids}
    rng = np.random.default_rng(seed)
    draws = [figures(np.concatenate([rows_of[s] for s in rng.choice(ids, len(ids))])) for _ in range(n_boot)]
    point = figures(np.arange(len(y_true)))
    return {k: {"value": point[k], "low": float(np.percentile([d[k] for d in draws], 2.5)),
                "high": float(np.percentile([d[k] for d in draws], 97.5))} for k in BOOTSTRAP_FIGURES}


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


# --- Attribution faithfulness ---------------------------------------------------------------
# Random blanking on pose frames mostly hits blank background and can move the probability by
# (almost) nothing, or even up: a ratio over such a denominator means nothing, so the
# denominator is floored here and the ratio is then a lower bound.
RANDOM_DROP_FLOOR = 0.005


def drop_ratio(top_drop: float, random_drop: float) -> float:
    """How many times the top pixels' drop exceeds the random pixels' drop, with the random drop
    floored at `RANDOM_DROP_FLOOR` (so a lower bound when random blanking changes nothing)."""
    return float(top_drop / max(random_drop, RANDOM_DROP_FLOOR))


def describe_ratio(top_drop: float, random_drop: float) -> str:
    """The ratio as a reader should see it: "18.0×", or "≥ 18.0×" when the floor applied."""
    bound = "≥ " if random_drop < RANDOM_DROP_FLOOR else ""
    return f"{bound}{drop_ratio(top_drop, random_drop):.1f}×"
