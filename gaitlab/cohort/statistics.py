"""Statistics over a cohort table: what was predicted, how sure, where labels exist how right,
and the walks' kinematics per cohort (`kinematic_values`, `kinematics_by_cohort`).

Input everywhere is the table of `gaitlab.cohort.run_cohort` (columns `cohort.COLUMNS`), either
straight from memory or read back from its CSV. The two differ (empty strings vs NaN, numbers
vs text), so every function first passes the table through `analysed_rows`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from gaitlab.cohort.table import KINEMATIC_COLUMNS, NUMERIC_COLUMNS
from gaitlab.constants import CLASSES, DISPLAY_NAMES
from gaitlab.metrics import label_metrics

PROB_COLUMNS: list[str] = [f"prob_{c}" for c in CLASSES]
NO_COHORT = "(no cohort)"  # shown for rows whose cohort column is blank


def _text(column: pd.Series) -> pd.Series:
    """A text column with NaN (CSV round trip) turned into "" and whitespace trimmed."""
    return column.fillna("").astype(str).str.strip()


def error_mask(table: pd.DataFrame) -> pd.Series:
    """True for rows whose file could not be analysed (non-empty `error`)."""
    if "error" not in table.columns:
        return pd.Series(False, index=table.index)
    return _text(table["error"]) != ""


def analysed_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows that were analysed, cleaned: error rows dropped, blank cohorts named
    `NO_COHORT`, `confidence` and `prob_<Class>` as floats, `label` as "" when missing."""
    rows = table.loc[~error_mask(table)].copy()
    cohort = _text(rows["cohort"]) if "cohort" in rows.columns else pd.Series("", index=rows.index)
    rows["cohort"] = cohort.where(cohort != "", NO_COHORT)
    rows["label"] = _text(rows["label"]) if "label" in rows.columns else ""
    rows["predicted"] = _text(rows["predicted"])
    for col in ["confidence"] + PROB_COLUMNS:
        rows[col] = pd.to_numeric(rows[col], errors="coerce")
    # A row without numbers cannot be counted even if its error column is blank.
    rows = rows.dropna(subset=["confidence"] + PROB_COLUMNS)
    return rows.reset_index(drop=True)


def cohorts(table: pd.DataFrame) -> list[str]:
    """Cohort names of the analysed rows, sorted (the order every chart uses)."""
    return sorted(analysed_rows(table)["cohort"].unique().tolist())


def summary(table: pd.DataFrame) -> dict[str, int]:
    """Counts: `cases` (rows), `analysed`, `errors`, `cohorts`, `labelled` (analysed rows with a valid label)."""
    rows = analysed_rows(table)
    return {
        "cases": int(len(table)),
        "analysed": int(len(rows)),
        "errors": int(error_mask(table).sum()),
        "cohorts": int(rows["cohort"].nunique()),
        "labelled": int(rows["label"].isin(CLASSES).sum()),
    }


def predicted_distribution(table: pd.DataFrame) -> pd.DataFrame:
    """How often each class was predicted in each cohort (error rows excluded).

    Returns one row per (cohort, class) — all nine classes, zeros included, canonical order:
    cohort, class, display_name, count, share (count / analysed cases of that cohort).
    """
    rows = analysed_rows(table)
    counts = pd.crosstab(rows["cohort"], rows["predicted"]).reindex(columns=list(CLASSES), fill_value=0)
    counts = counts.reindex(sorted(counts.index))
    shares = counts.div(counts.sum(axis=1).replace(0, 1), axis=0)
    out = counts.stack().rename("count").to_frame().join(shares.stack().rename("share")).reset_index()
    out.columns = ["cohort", "class", "count", "share"]
    out["display_name"] = out["class"].map(DISPLAY_NAMES)
    return out[["cohort", "class", "display_name", "count", "share"]]


def confidence_by_cohort(table: pd.DataFrame) -> pd.DataFrame:
    """Confidence of the predicted class per cohort: cohort, n, mean, std, min, q25, median, q75, max."""
    rows = analysed_rows(table)
    grouped = rows.groupby("cohort")["confidence"]
    out = grouped.agg(n="count", mean="mean", std="std", min="min",
                      q25=lambda s: s.quantile(0.25), median="median",
                      q75=lambda s: s.quantile(0.75), max="max")
    return out.reset_index()


def mean_probabilities(table: pd.DataFrame, n_boot: int = 1000, ci: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Mean probability of each class per cohort, with a percentile-bootstrap confidence interval.

    Cases are resampled with replacement within each cohort. Resampling is vectorised as
    multinomial case weights W [n_boot, n_cases] times the probabilities P [n_cases, 9], so memory
    grows with n_boot × n_cases, not n_boot × n_cases × 9.
    Returns one row per (cohort, class), canonical class order: cohort, class, display_name,
    n, mean, low, high (`attrs["ci"]` = ci). A cohort of one case has low == mean == high.
    """
    if not 0 < ci < 1:
        raise ValueError("ci must be between 0 and 1.")
    rows = analysed_rows(table)
    rng = np.random.default_rng(seed)
    tail = (1 - ci) / 2
    records = []
    for name in sorted(rows["cohort"].unique()):
        probs = rows.loc[rows["cohort"] == name, PROB_COLUMNS].to_numpy(dtype=np.float64)  # [n, 9]
        n = len(probs)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)  # [n_boot, n]
        boot_means = weights @ probs / n  # [n_boot, 9]
        low, high = np.quantile(boot_means, [tail, 1 - tail], axis=0)
        mean = probs.mean(axis=0)
        for k, c in enumerate(CLASSES):
            records.append((name, c, DISPLAY_NAMES[c], n, mean[k], low[k], high[k]))
    out = pd.DataFrame(records, columns=["cohort", "class", "display_name", "n", "mean", "low", "high"])
    out.attrs["ci"] = ci  # lets charts say which interval they draw
    return out


def labelled_metrics(table: pd.DataFrame) -> dict | None:
    """Accuracy on the analysed rows that carry a valid `label`; None when there are none.

    Returns {"n": int, "accuracy": float, "balanced_accuracy": float,
    "recall": {class: float} (only classes present among the labels — recall is undefined
    for the others), "confusion": DataFrame [9, 9] of counts, rows = true class,
    columns = predicted class, both in `CLASSES` order}.
    """
    rows = analysed_rows(table)
    rows = rows[rows["label"].isin(CLASSES)]
    if rows.empty:
        return None
    # Class names → ids (a predicted name outside `CLASSES` becomes -1: wrong, and in no column).
    ids = {c: i for i, c in enumerate(CLASSES)}
    y_true = rows["label"].map(ids).to_numpy(dtype=int)
    y_pred = rows["predicted"].map(ids).fillna(-1).to_numpy(dtype=int)
    m = label_metrics(y_true, y_pred)
    return {
        "n": m["n"],
        "accuracy": m["accuracy"],
        "balanced_accuracy": m["balanced_accuracy"],
        "recall": {c: r for c, r in m["per_class_recall"].items() if r is not None},
        "confusion": pd.DataFrame(m["confusion_matrix"], index=list(CLASSES), columns=list(CLASSES)),
    }


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of the table with its numeric columns as floats (NaN where a cell is blank: a
    kinematic parameter not measured, an error row), so it shows as one typed table."""
    out = table.copy()
    for column in NUMERIC_COLUMNS:
        if column in out.columns:
            out[column] = pd.to_numeric(out[column], errors="coerce")
    return out


def kinematic_values(table: pd.DataFrame) -> pd.DataFrame:
    """The analysed cases' kinematics, long: cohort, path, parameter (a `KINEMATIC_COLUMNS`
    name), value (float) — one row per case and measured parameter; a missing value (blank
    cell, NaN) has no row. Columns a table lacks (an older CSV) give no rows."""
    rows = analysed_rows(table)
    present = [c for c in KINEMATIC_COLUMNS if c in rows.columns]
    if "path" not in rows.columns:
        rows["path"] = ""
    long = rows.melt(id_vars=["cohort", "path"], value_vars=present, var_name="parameter", value_name="value")
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    long = long.dropna(subset=["value"])
    long["path"] = _text(long["path"])
    return long[["cohort", "path", "parameter", "value"]].reset_index(drop=True)


def kinematics_by_cohort(table: pd.DataFrame) -> pd.DataFrame:
    """Per cohort and kinematic parameter: cohort, parameter, n (cases with a value), missing
    (analysed cases without one), median, q25, q75, outside (cases whose `outside_normal_band`
    names the parameter). Cohorts sorted, parameters in `KINEMATIC_COLUMNS` order."""
    rows = analysed_rows(table)
    flagged = (_text(rows["outside_normal_band"]).str.split() if "outside_normal_band" in rows.columns
               else pd.Series([[]] * len(rows), index=rows.index))
    records = []
    for name in sorted(rows["cohort"].unique()):
        mask = rows["cohort"] == name
        for column in KINEMATIC_COLUMNS:
            values = (pd.to_numeric(rows.loc[mask, column], errors="coerce").dropna() if column in rows.columns
                      else pd.Series(dtype=float))
            n = int(len(values))
            records.append((name, column, n, int(mask.sum()) - n,
                            float(values.median()) if n else np.nan,
                            float(values.quantile(0.25)) if n else np.nan,
                            float(values.quantile(0.75)) if n else np.nan,
                            int(flagged[mask].map(lambda names, c=column: c in names).sum())))
    return pd.DataFrame(records, columns=["cohort", "parameter", "n", "missing", "median", "q25", "q75", "outside"])
