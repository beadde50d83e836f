import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch

from gaitlab.cohort import statistics as cohort_stats
from gaitlab import figures
from gaitlab.ablation import TABLE_COLUMNS, NoteAblation
from gaitlab.cohort.run import COLUMNS
from gaitlab.constants import CLASSES, DISPLAY_NAMES
from gaitlab.inference import Analysis, ClipResult

RNG = np.random.default_rng(0)


def _probs(seed: int) -> dict[str, float]:
    p = np.random.default_rng(seed).dirichlet(np.ones(len(CLASSES)))
    return dict(zip(CLASSES, p.tolist()))


def _check(fig: go.Figure) -> tuple:
    """Every chart is a Figure with a title that serialises to JSON; returns its traces."""
    assert isinstance(fig, go.Figure)
    assert fig.layout.title.text
    assert len(json.loads(fig.to_json())["data"]) == len(fig.data)
    return fig.data


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rows = []
    for i in range(12):
        p = _probs(i)
        best = max(p, key=p.get)
        rows.append({"path": f"case{i}.mp4", "cohort": "AB"[i % 2], "label": CLASSES[i % 3], "predicted": best,
                     "confidence": p[best], **{f"prob_{c}": v for c, v in p.items()}, "warnings": "", "error": ""})
    rows.append({c: "" for c in COLUMNS} | {"path": "broken.mp4", "cohort": "A", "error": "not a video"})
    return pd.DataFrame(rows, columns=COLUMNS)


def test_probability_bars_nine_bars_predicted_highlighted():
    probs = _probs(1)
    data = _check(figures.probability_bars(probs))
    assert len(data) == 1 and len(data[0].x) == 9
    assert list(data[0].y) == [DISPLAY_NAMES[c] for c in CLASSES]
    opacity = list(data[0].marker.opacity)
    best = CLASSES.index(max(probs, key=probs.get))
    assert opacity[best] == 1.0 and sorted(opacity)[:-1] == [figures.FADED] * 8
    assert list(data[0].marker.color) == [figures.CLASS_COLORS[c] for c in CLASSES]
    assert figures.probability_bars(probs, title="Case 7").layout.title.text == "Case 7"


def test_probability_comparison_one_trace_per_case():
    fig = figures.probability_comparison({"first": _probs(1), "second": _probs(2), "third": _probs(3)})
    data = _check(fig)
    assert [t.name for t in data] == ["first", "second", "third"]
    assert all(len(t.y) == 9 for t in data)
    with pytest.raises(ValueError):
        figures.probability_comparison({})


def test_difference_chart_is_b_minus_a():
    a, b = _probs(1), _probs(2)
    data = _check(figures.difference_chart(a, b, ("left", "right")))
    assert len(data) == 1
    np.testing.assert_allclose(data[0].y, [b[c] - a[c] for c in CLASSES])


def test_clip_timeline_nine_lines_over_the_clips():
    clips = [ClipResult(start, start + 35, _probs(start), 8) for start in (0, 40, 80)]
    analysis = Analysis(path="x.csv", source="keypoints", description="", label="Normal", confidence=0.5,
                        probabilities=_probs(0), clip=torch.zeros(1, 3, 8, 224, 224), embedding=torch.zeros(1, 384),
                        frames=np.zeros((8, 224, 224, 3), np.uint8), clips=clips, main_clip=1)
    fig = figures.clip_timeline(analysis)
    data = _check(fig)
    assert len(data) == 9 and all(list(t.x) == [0, 40, 80] for t in data)
    assert list(data[0].y) == pytest.approx([c.probabilities["Normal"] for c in clips])
    assert fig.layout.shapes[0].x0 == 40  # the main clip is marked


def test_frame_importance_chart_eight_bars():
    data = _check(figures.frame_importance_chart(np.full(8, 1 / 8)))
    assert len(data) == 1 and len(data[0].y) == 8
    with pytest.raises(ValueError):
        figures.frame_importance_chart([0.5, 0.5])


def test_ablation_chart_variant_by_class_heatmap():
    rows = [[f"variant {i}", "extra", "", "Normal", 0.2] + list(_probs(i).values()) for i in range(4)]
    fig = figures.ablation_chart(NoteAblation(pd.DataFrame(rows, columns=TABLE_COLUMNS), note_shift=0.12))
    data = _check(fig)
    assert len(data) == 1 and data[0].type == "heatmap"
    assert np.asarray(data[0].z).shape == (4, 9) and data[0].y[0] == "variant 0"
    assert "12%" in fig.layout.title.text


def test_word_attribution_chart_one_bar_per_word():
    df = pd.DataFrame({"word": ["knee", "pain", "knee"], "position": [0, 1, 2], "attribution": [0.02, -0.01, 0.0]})
    df.attrs["target"] = "KOA_Mild"
    data = _check(figures.word_attribution_chart(df))
    assert len(data) == 1 and list(data[0].y) == ["1. knee", "2. pain", "3. knee"]
    empty = figures.word_attribution_chart(df.iloc[:0])
    assert len(_check(empty)) == 0 and empty.layout.annotations


def test_word_attribution_chart_says_integrated_gradients_not_removal():
    """The bars are integrated gradients from a [PAD] baseline, not leave-one-word-out changes."""
    df = pd.DataFrame({"word": ["stiff", "knee"], "position": [0, 1], "attribution": [0.03, 0.05]})
    df.attrs.update(target="KOA_Mild", full_probability=0.4, baseline_probability=0.32)
    fig = figures.word_attribution_chart(df)
    axis = fig.layout.xaxis.title.text
    assert "Integrated gradients" in axis and "[PAD]" in axis and "removed" not in axis
    assert "40%" in fig.layout.title.text and "32%" in fig.layout.title.text
    assert figures.word_attribution_chart(df.iloc[:0]).layout.xaxis.title.text == axis


def test_cohort_distribution_chart_one_trace_per_class(table):
    data = _check(figures.cohort_distribution_chart(table))
    assert len(data) == 9 and all(len(t.x) == 2 for t in data)  # two cohorts; the error row is ignored
    total = np.sum([t.y for t in data], axis=0)
    np.testing.assert_allclose(total, 1)


def test_confidence_by_cohort_chart_one_box_per_cohort(table):
    data = _check(figures.confidence_by_cohort_chart(table))
    assert [t.name for t in data] == ["A", "B"] and [len(t.y) for t in data] == [6, 6]


def test_mean_probability_chart_with_error_bars(table):
    ci = cohort_stats.mean_probabilities(table, n_boot=200)
    fig = figures.mean_probability_chart(ci)
    data = _check(fig)
    assert len(data) == 2 and all(len(t.y) == 9 for t in data)
    assert all(min(t.error_y.array) >= 0 and min(t.error_y.arrayminus) >= 0 for t in data)
    assert "95%" in fig.layout.title.text


def test_confusion_and_recall_charts(table):
    metrics = cohort_stats.labelled_metrics(table)
    data = _check(figures.confusion_matrix_chart(metrics["confusion"]))
    assert len(data) == 1 and np.asarray(data[0].z).shape == (9, 9)
    assert np.asarray(data[0].z).sum() == metrics["n"] == 12
    data = _check(figures.recall_chart(metrics["recall"]))
    assert len(data[0].y) == len(metrics["recall"]) == 3


@pytest.mark.parametrize("columns,rows", [(4, 2), (8, 1)])
def test_frames_figure_grid(columns, rows):
    frames = RNG.integers(0, 255, size=(8, 224, 224, 3), dtype=np.uint8)
    titles = [f"t{i}" for i in range(8)]
    fig = figures.frames_figure(frames, titles=titles, columns=columns)
    data = _check(fig)
    assert len(data) == 8 and all(t.type == "image" for t in data)
    assert sorted(a.text for a in fig.layout.annotations) == sorted(titles)
    assert len({a.y for a in fig.layout.annotations}) == rows
    with pytest.raises(ValueError):
        figures.frames_figure(frames[..., 0])


def test_reliability_diagram_points_diagonal_and_counts():
    from gaitlab.metrics import expected_calibration_error, reliability_bins

    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(9) * 0.4, size=60)
    y = rng.integers(0, 9, 60)
    bins = reliability_bins(y, probs, n_bins=6)
    fig = figures.reliability_diagram(bins)
    diagonal, model = _check(fig)
    assert list(diagonal.x) == [0, 1] and list(diagonal.y) == [0, 1]
    np.testing.assert_allclose(model.x, [b["confidence"] for b in bins])
    np.testing.assert_allclose(model.y, [b["accuracy"] for b in bins])
    assert list(model.text) == [f"n={b['count']}" for b in bins] and list(model.customdata) == [10] * 6
    assert f"{expected_calibration_error(y, probs, n_bins=6):.3f}" in fig.layout.title.text
    empty = figures.reliability_diagram([])
    assert len(_check(empty)) == 1 and empty.layout.annotations
