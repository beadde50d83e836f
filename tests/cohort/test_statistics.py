import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, recall_score

from gaitlab.cohort import statistics as cohort_stats
from gaitlab.cohort.run import COLUMNS
from gaitlab.constants import CLASSES


def _row(path, cohort, predicted, confidence, label="", error=""):
    """A cohort row whose probabilities put `confidence` on `predicted`, the rest spread evenly."""
    row = {c: "" for c in COLUMNS}
    row.update(path=path, cohort=cohort, label=label, error=error)
    if error:
        return row
    rest = (1 - confidence) / (len(CLASSES) - 1)
    row.update(predicted=predicted, confidence=confidence, warnings="")
    for c in CLASSES:
        row[f"prob_{c}"] = confidence if c == predicted else rest
    return row


@pytest.fixture
def table():
    rows = [
        _row("a1", "A", "Normal", 0.9, label="Normal"),
        _row("a2", "A", "Normal", 0.7, label="KOA_Mild"),
        _row("a3", "A", "KOA_Mild", 0.6, label="KOA_Mild"),
        _row("a4", "A", "", 0, error="could not decode"),  # must be ignored everywhere
        _row("b1", "B", "PD_Mild", 0.8, label="PD_Mild"),
        _row("b2", "B", "PD_Mild", 0.5),  # unlabelled
        _row("b3", "B", "Normal", 0.4, label="PD_Mild"),
        _row("c1", "", "Normal", 0.95),  # blank cohort
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def test_summary(table):
    assert cohort_stats.summary(table) == {"cases": 8, "analysed": 7, "errors": 1, "cohorts": 3, "labelled": 5}


def test_predicted_distribution_counts_and_shares(table):
    dist = cohort_stats.predicted_distribution(table)
    assert len(dist) == 3 * len(CLASSES)
    counts = dist.set_index(["cohort", "class"])["count"]
    assert counts["A", "Normal"] == 2 and counts["A", "KOA_Mild"] == 1  # the error row is not counted
    assert counts["B", "PD_Mild"] == 2 and counts["B", "Normal"] == 1
    assert counts[cohort_stats.NO_COHORT, "Normal"] == 1
    assert dist.groupby("cohort")["count"].sum().to_dict() == {"A": 3, "B": 3, cohort_stats.NO_COHORT: 1}
    shares = dist.set_index(["cohort", "class"])["share"]
    assert shares["A", "Normal"] == pytest.approx(2 / 3)
    assert np.allclose(dist.groupby("cohort")["share"].sum(), 1)
    assert list(dist.loc[dist["cohort"] == "A", "class"]) == list(CLASSES)


def test_confidence_by_cohort(table):
    stats = cohort_stats.confidence_by_cohort(table).set_index("cohort")
    assert stats.loc["A", "n"] == 3 and stats.loc["A", "mean"] == pytest.approx((0.9 + 0.7 + 0.6) / 3)
    assert stats.loc["B", "median"] == pytest.approx(0.5)
    assert stats.loc["B", "min"] == pytest.approx(0.4) and stats.loc["B", "max"] == pytest.approx(0.8)


def test_survives_a_csv_round_trip(table, tmp_path):
    # run_cohort streams to CSV; read back, blanks become NaN and numbers become floats.
    path = tmp_path / "cohort.csv"
    table.to_csv(path, index=False)
    back = pd.read_csv(path)
    assert cohort_stats.summary(back) == cohort_stats.summary(table)
    pd.testing.assert_frame_equal(cohort_stats.predicted_distribution(back), cohort_stats.predicted_distribution(table))
    assert cohort_stats.labelled_metrics(back)["accuracy"] == cohort_stats.labelled_metrics(table)["accuracy"]


def test_mean_probabilities_ci_contains_the_mean(table):
    ci = cohort_stats.mean_probabilities(table, n_boot=500, seed=1)
    assert len(ci) == 3 * len(CLASSES) and ci.attrs["ci"] == 0.95
    a_normal = ci[(ci["cohort"] == "A") & (ci["class"] == "Normal")].iloc[0]
    rest = lambda conf: (1 - conf) / 8  # noqa: E731
    assert a_normal["mean"] == pytest.approx((0.9 + 0.7 + rest(0.6)) / 3)
    assert (ci["low"] <= ci["mean"] + 1e-12).all() and (ci["mean"] <= ci["high"] + 1e-12).all()
    single = ci[ci["cohort"] == cohort_stats.NO_COHORT]  # one case: nothing to resample
    assert np.allclose(single["low"], single["mean"]) and np.allclose(single["high"], single["mean"])
    # Same seed, same answer.
    pd.testing.assert_frame_equal(ci, cohort_stats.mean_probabilities(table, n_boot=500, seed=1))


def test_mean_probabilities_ci_narrows_with_more_cases():
    rng = np.random.default_rng(0)

    def cohort(n):
        conf = rng.uniform(0.3, 0.9, size=n)
        return pd.DataFrame([_row(f"{n}-{i}", f"n{n}", "Normal", c) for i, c in enumerate(conf)], columns=COLUMNS)

    ci = cohort_stats.mean_probabilities(pd.concat([cohort(10), cohort(400)]), n_boot=400)
    width = (ci["high"] - ci["low"]).groupby([ci["cohort"], ci["class"]]).first()
    assert width["n400", "Normal"] < width["n10", "Normal"] / 3  # ~ 1/sqrt(n): about 6x narrower
    assert width["n10", "Normal"] > 0


def test_labelled_metrics_match_scikit_learn(table):
    metrics = cohort_stats.labelled_metrics(table)
    # Analysed rows with a label: a1, a2, a3, b1, b3 (a4 is an error row, b2 and c1 have no label).
    y_true = ["Normal", "KOA_Mild", "KOA_Mild", "PD_Mild", "PD_Mild"]
    y_pred = ["Normal", "Normal", "KOA_Mild", "PD_Mild", "Normal"]
    assert metrics["n"] == 5
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred)) == pytest.approx(0.6)
    assert metrics["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert metrics["recall"] == pytest.approx({"Normal": 1.0, "KOA_Mild": 0.5, "PD_Mild": 0.5})
    labels = ["Normal", "KOA_Mild", "PD_Mild"]
    assert list(metrics["recall"].values()) == pytest.approx(list(recall_score(y_true, y_pred, labels=labels, average=None)))
    cm = metrics["confusion"]
    assert list(cm.index) == list(CLASSES) and list(cm.columns) == list(CLASSES)
    np.testing.assert_array_equal(cm.to_numpy(), confusion_matrix(y_true, y_pred, labels=list(CLASSES)))
    assert cm.loc["KOA_Mild", "Normal"] == 1 and cm.to_numpy().sum() == 5


def test_labelled_metrics_none_without_labels(table):
    assert cohort_stats.labelled_metrics(table.assign(label="")) is None


def test_kinematics_per_cohort_from_the_table_and_its_csv(table, tmp_path):
    """The kinematic columns: long values per case (blanks dropped) and a per-cohort summary."""
    kin = {"a1": (55.0, "knee_rom_deg_left"), "a2": (45.0, ""), "a3": ("", ""),
           "b1": (30.0, "knee_rom_deg_left hip_rom_deg_left")}
    rows = table.to_dict("records")
    for row in rows:
        knee, flagged = kin.get(row["path"], ("", ""))
        row.update(knee_rom_deg_left=knee, outside_normal_band=flagged)
    table = pd.DataFrame(rows, columns=COLUMNS)
    path = tmp_path / "kin.csv"
    table.to_csv(path, index=False)
    for frame in (table, pd.read_csv(path)):
        values = cohort_stats.kinematic_values(frame)
        assert list(values.columns) == ["cohort", "path", "parameter", "value"]
        assert sorted(values["path"]) == ["a1", "a2", "b1"]  # a3 blank, a4 an error row
        summary = cohort_stats.kinematics_by_cohort(frame).set_index(["cohort", "parameter"])
        a = summary.loc[("A", "knee_rom_deg_left")]
        assert (a["n"], a["missing"], a["median"], a["outside"]) == (2, 1, 50.0, 1)
        b = summary.loc[("B", "knee_rom_deg_left")]
        assert (b["n"], b["missing"], b["outside"]) == (1, 2, 1)
        assert summary.loc[("B", "hip_rom_deg_left"), "outside"] == 1
        assert summary.loc[("A", "cadence_steps_per_min"), "n"] == 0
    old = table.drop(columns=["knee_rom_deg_left", "outside_normal_band"])  # a table from before kinematics
    assert "knee_rom_deg_left" not in set(cohort_stats.kinematic_values(old)["parameter"])
    assert (cohort_stats.kinematics_by_cohort(old)["outside"] == 0).all()


def test_display_table_types_the_numeric_columns(table):
    shown = cohort_stats.display_table(table)
    assert shown["confidence"].dtype.kind == "f" and shown["knee_rom_deg_left"].dtype.kind == "f"
    assert shown["knee_rom_deg_left"].isna().all() and np.isnan(shown.loc[3, "confidence"])  # blanks, the error row
    assert shown["path"].tolist() == table["path"].tolist() and table["confidence"].dtype == object
