"""Every GaitLab chart as a plotly Figure, so pages, notebooks and reports draw the same thing.

No Streamlit here: pages call these and hand the figure to `st.plotly_chart`. Classes always
appear in canonical order under their display names, and each class keeps one colour
(`CLASS_COLORS`) in every chart, so a reader who learns "orange = knee OA" can rely on it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from gaitlab.cohort import statistics as cohort_stats
from gaitlab.constants import CLASSES, CLIP_FRAMES, DISPLAY_NAMES

if TYPE_CHECKING:  # only for hints: importing these pulls in torch and captum
    from gaitlab.ablation import NoteAblation
    from gaitlab.inference import Analysis

# Families share a hue, severity darkens it: green normal, oranges knee OA, blues Parkinson's,
# purple/grey disabled gait.
CLASS_COLORS: dict[str, str] = {
    "Normal": "#2ca02c",
    "KOA_Early": "#fdae6b",
    "KOA_Mild": "#f16913",
    "KOA_Severe": "#a63603",
    "PD_Early": "#9ecae1",
    "PD_Mild": "#4292c6",
    "PD_Severe": "#08519c",
    "Disabled_Assistive": "#756bb1",
    "Disabled_NonAssistive": "#969696",
}
# Cases and cohorts are not classes; they get a palette that cannot be mistaken for one.
SERIES_COLORS: list[str] = ["#1b1b1b", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#1b9e77"]
UP_COLOR, DOWN_COLOR = "#b2182b", "#2166ac"  # raises / lowers a probability
FADED = 0.35  # opacity of the classes that were not predicted
NAMES: list[str] = [DISPLAY_NAMES[c] for c in CLASSES]


def _layout(fig: go.Figure, title: str, x: str, y: str, **extra) -> go.Figure:
    fig.update_layout(title=dict(text=title), xaxis_title=x, yaxis_title=y, template="plotly_white", **extra)
    return fig


def _vector(probabilities: Mapping[str, float]) -> np.ndarray:
    """Probabilities dict → float array [9] in canonical order (missing classes count 0)."""
    return np.array([float(probabilities.get(c, 0.0)) for c in CLASSES])


def _class_axis(fig: go.Figure, axis: str = "y") -> None:
    # Category arrays pin the canonical order; on a horizontal chart the first class goes on top.
    names = NAMES[::-1] if axis == "y" else NAMES
    fig.update_layout({f"{axis}axis": dict(categoryorder="array", categoryarray=names)})


# --- One case ----------------------------------------------------------------------------------
def probability_bars(probabilities: Mapping[str, float], title: str | None = None) -> go.Figure:
    """Horizontal bars: one per class (9), the predicted (largest) class in full colour."""
    p = _vector(probabilities)
    best = int(p.argmax())
    fig = go.Figure(go.Bar(
        x=p, y=NAMES, orientation="h", text=[f"{v:.0%}" for v in p], textposition="outside",
        marker=dict(color=[CLASS_COLORS[c] for c in CLASSES],
                    opacity=[1.0 if i == best else FADED for i in range(len(CLASSES))]),
        hovertemplate="%{y}: %{x:.1%}<extra></extra>",
    ))
    _class_axis(fig)
    title = title or f"Most likely: {NAMES[best]} ({p[best]:.0%})"
    return _layout(fig, title, "Probability", "Gait pattern", xaxis_range=[0, 1.1], xaxis_tickformat=".0%")


def probability_comparison(cases: Mapping[str, Mapping[str, float]]) -> go.Figure:
    """Grouped bars: one trace per case (meant for 2–4; up to 6 accepted), nine classes each."""
    if not 1 <= len(cases) <= len(SERIES_COLORS):
        raise ValueError(f"compare between 1 and {len(SERIES_COLORS)} cases, not {len(cases)}.")
    fig = go.Figure([
        go.Bar(x=NAMES, y=_vector(probs), name=name, marker_color=SERIES_COLORS[i],
               hovertemplate=f"{name}<br>%{{x}}: %{{y:.1%}}<extra></extra>")
        for i, (name, probs) in enumerate(cases.items())
    ])
    _class_axis(fig, "x")
    return _layout(fig, "Probabilities side by side", "Gait pattern", "Probability",
                   barmode="group", yaxis_tickformat=".0%")


def difference_chart(a: Mapping[str, float], b: Mapping[str, float], names: Sequence[str] = ("A", "B")) -> go.Figure:
    """Bars of b − a per class (9): red where `b` is more likely, blue where less."""
    name_a, name_b = names
    diff = _vector(b) - _vector(a)
    fig = go.Figure(go.Bar(
        x=NAMES, y=diff, marker_color=[UP_COLOR if d > 0 else DOWN_COLOR for d in diff],
        text=[f"{d:+.0%}" for d in diff], textposition="outside",
        hovertemplate="%{x}: %{y:+.1%}<extra></extra>",
    ))
    _class_axis(fig, "x")
    return _layout(fig, f"How {name_b} differs from {name_a}", "Gait pattern",
                   f"Probability in {name_b} minus {name_a}", yaxis_tickformat="+.0%")


def clip_timeline(analysis: "Analysis") -> go.Figure:
    """One line per class (9) over the clips of the case; x = each clip's first source frame.

    The main clip (the one shown and explained) is marked with a dashed vertical line.
    """
    starts = [c.start for c in analysis.clips]
    fig = go.Figure([
        go.Scatter(x=starts, y=[c.probabilities[k] for c in analysis.clips], name=DISPLAY_NAMES[k],
                   mode="lines+markers", line_color=CLASS_COLORS[k],
                   customdata=[c.end for c in analysis.clips],
                   hovertemplate=f"{DISPLAY_NAMES[k]}<br>frames %{{x}}–%{{customdata}}: %{{y:.1%}}<extra></extra>")
        for k in CLASSES
    ])
    if analysis.clips:
        fig.add_vline(x=analysis.clips[analysis.main_clip].start, line_dash="dash", line_color="grey",
                      annotation_text="shown clip")
    return _layout(fig, "Which pattern, when: probabilities clip by clip", "Clip start (frame number)",
                   "Probability", yaxis_tickformat=".0%", yaxis_range=[0, 1])


def frame_importance_chart(values: Sequence[float]) -> go.Figure:
    """Bars: how much each of the 8 frames of the clip drove the answer."""
    values = np.asarray(values, dtype=float)
    if values.shape != (CLIP_FRAMES,):
        raise ValueError(f"expected {CLIP_FRAMES} frame importances, got shape {values.shape}.")
    fig = go.Figure(go.Bar(x=[f"Frame {i + 1}" for i in range(CLIP_FRAMES)], y=values, marker_color=UP_COLOR,
                           hovertemplate="%{x}: %{y:.1%}<extra></extra>"))
    return _layout(fig, "Which frames mattered most", "Frame of the clip", "Share of the evidence",
                   yaxis_tickformat=".0%")


# --- The note ----------------------------------------------------------------------------------
def ablation_chart(note_ablation: "NoteAblation") -> go.Figure:
    """Heat map, variants × classes (one trace), each cell the probability as a percentage."""
    table = note_ablation.table
    z = table[[f"prob_{c}" for c in CLASSES]].to_numpy()
    fig = go.Figure(go.Heatmap(
        z=z, x=NAMES, y=table["variant"].tolist(), zmin=0, zmax=1, colorscale="Blues",
        text=np.vectorize(lambda v: f"{v:.0%}")(z), texttemplate="%{text}",
        colorbar=dict(title=dict(text="Probability"), tickformat=".0%"),
        hovertemplate="%{y}<br>%{x}: %{z:.1%}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")  # table order, top to bottom
    return _layout(fig, f"How the note moves the answer (shift: {note_ablation.note_shift:.0%})",
                   "Gait pattern", "Note given to the model", height=120 + 32 * len(table))


# Integrated gradients from a baseline note whose words are [PAD]: the bars add up to the difference.
WORD_AXIS = ("Integrated gradients: the word's share of p(note) − p(words replaced by [PAD]) "
             "(+ = the word supports it)")


def word_attribution_chart(df: pd.DataFrame) -> go.Figure:
    """Horizontal bars, one per word in note order: red supports the target class, blue argues against.

    `df` is `ablation.word_attribution(...)`: integrated gradients, so each bar is the word's
    share of p(target | note) − p(target | baseline), the baseline being the note with its words
    replaced by [PAD]; the bars add up to that difference. An empty frame gives a figure with no
    traces and a message.
    """
    target = df.attrs.get("target")
    title = f"Which words pushed towards {DISPLAY_NAMES.get(target, 'the answer')}"
    if df.empty:
        fig = go.Figure()
        fig.add_annotation(text="The note has no words to weigh.", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")
        return _layout(fig, title, WORD_AXIS, "Word")
    # Numbered labels keep repeated words on their own bars.
    labels = [f"{p + 1}. {w}" for w, p in zip(df["word"], df["position"])]
    values = df["attribution"].to_numpy(dtype=float)
    fig = go.Figure(go.Bar(x=values, y=labels, orientation="h",
                           marker_color=[UP_COLOR if v > 0 else DOWN_COLOR for v in values],
                           hovertemplate="%{y}: %{x:+.2%}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")  # first word on top, as it is read
    full, base = df.attrs.get("full_probability"), df.attrs.get("baseline_probability")
    if full is not None and base is not None:
        title += f" (p with the note {full:.0%}, with its words as [PAD] {base:.0%})"
    return _layout(fig, title, WORD_AXIS, "Word", xaxis_tickformat="+.1%", height=160 + 22 * len(df))


# --- Cohorts -----------------------------------------------------------------------------------
def cohort_distribution_chart(table: pd.DataFrame) -> go.Figure:
    """Stacked bars: share of each predicted class per cohort (9 traces, one per class)."""
    dist = cohort_stats.predicted_distribution(table)
    fig = go.Figure([
        go.Bar(x=part["cohort"], y=part["share"], name=DISPLAY_NAMES[c], marker_color=CLASS_COLORS[c],
               customdata=part["count"],
               hovertemplate=f"{DISPLAY_NAMES[c]}<br>%{{x}}: %{{y:.0%}} (%{{customdata}} cases)<extra></extra>")
        for c, part in ((c, dist[dist["class"] == c]) for c in CLASSES)
    ])
    return _layout(fig, "What was predicted in each cohort", "Cohort", "Share of cases",
                   barmode="stack", yaxis_tickformat=".0%")


def confidence_by_cohort_chart(table: pd.DataFrame) -> go.Figure:
    """Box plot of confidence per cohort (one trace per cohort), every case shown as a point."""
    rows = cohort_stats.analysed_rows(table)
    names = sorted(rows["cohort"].unique())
    fig = go.Figure([
        go.Box(y=rows.loc[rows["cohort"] == name, "confidence"], name=str(name), boxpoints="all",
               jitter=0.3, marker_color=SERIES_COLORS[i % len(SERIES_COLORS)],
               hovertext=rows.loc[rows["cohort"] == name, "path"])
        for i, name in enumerate(names)
    ])
    return _layout(fig, "How sure the model was, per cohort", "Cohort",
                   "Confidence (probability of the predicted pattern)", yaxis_tickformat=".0%",
                   showlegend=False)


def mean_probability_chart(ci_frame: pd.DataFrame) -> go.Figure:
    """Grouped bars (one trace per cohort, nine classes each) with bootstrap-interval error bars.

    `ci_frame` is `cohort_stats.mean_probabilities(...)`.
    """
    fig = go.Figure()
    for i, (name, part) in enumerate(ci_frame.groupby("cohort", sort=True)):
        part = part.set_index("class").reindex(list(CLASSES))
        fig.add_bar(x=NAMES, y=part["mean"], name=str(name), marker_color=SERIES_COLORS[i % len(SERIES_COLORS)],
                    error_y=dict(type="data", array=part["high"] - part["mean"],
                                 arrayminus=part["mean"] - part["low"]),
                    hovertemplate=f"{name}<br>%{{x}}: %{{y:.1%}}<extra></extra>")
    _class_axis(fig, "x")
    level = ci_frame.attrs.get("ci")
    interval = f"{level:.0%} bootstrap interval" if level else "bootstrap interval"
    return _layout(fig, f"Average probability per cohort (error bars: {interval})",
                   "Gait pattern", "Mean probability", barmode="group", yaxis_tickformat=".0%")


def confusion_matrix_chart(cm_frame: pd.DataFrame) -> go.Figure:
    """Heat map of counts, rows = true class, columns = predicted class, one trace, counts written in."""
    rows = [DISPLAY_NAMES.get(c, c) for c in cm_frame.index]
    cols = [DISPLAY_NAMES.get(c, c) for c in cm_frame.columns]
    z = cm_frame.to_numpy()
    fig = go.Figure(go.Heatmap(z=z, x=cols, y=rows, colorscale="Blues", text=z, texttemplate="%{text}",
                               colorbar=dict(title=dict(text="Cases")),
                               hovertemplate="true: %{y}<br>predicted: %{x}<br>%{z} cases<extra></extra>"))
    fig.update_yaxes(autorange="reversed")  # first class on top, like a printed table
    return _layout(fig, "Labels against predictions", "Predicted pattern", "True pattern (label)")


def recall_chart(recall_dict: Mapping[str, float]) -> go.Figure:
    """Bars: share of each labelled class the model recognised (one bar per class given)."""
    present = [c for c in CLASSES if c in recall_dict]
    fig = go.Figure(go.Bar(x=[DISPLAY_NAMES[c] for c in present], y=[recall_dict[c] for c in present],
                           marker_color=[CLASS_COLORS[c] for c in present],
                           hovertemplate="%{x}: %{y:.0%} recognised<extra></extra>"))
    return _layout(fig, "Recall: how many cases of each pattern were recognised", "True pattern",
                   "Recall", yaxis_range=[0, 1], yaxis_tickformat=".0%")


def reliability_diagram(bins: Sequence[Mapping[str, float]], title: str | None = None) -> go.Figure:
    """Reliability diagram: per confidence bin (`metrics.reliability_bins`: dicts of
    `confidence`, `accuracy`, `count`) a point at (mean confidence, accuracy) with its count
    written beside it and in the hover, joined by a line (one trace), and the diagonal of
    perfect calibration (a second trace). Points under the diagonal are over-confident. The
    title gives the count-weighted gap (top-label ECE) unless `title` is given; no bins gives
    the diagonal alone with a message."""
    conf = np.array([float(b["confidence"]) for b in bins])
    acc = np.array([float(b["accuracy"]) for b in bins])
    count = np.array([int(b["count"]) for b in bins])
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                               line=dict(color="grey", dash="dash"), hoverinfo="skip"))
    if len(bins):
        fig.add_trace(go.Scatter(
            x=conf, y=acc, mode="lines+markers+text", name="model", text=[f"n={n}" for n in count],
            textposition="top left", marker=dict(color=SERIES_COLORS[0], size=9), customdata=count,
            hovertemplate="mean confidence %{x:.1%}<br>accuracy %{y:.1%}<br>%{customdata} walks<extra></extra>"))
        gap = float(np.sum(count * np.abs(acc - conf)) / count.sum()) if count.sum() else 0.0
        title = title or f"Reliability: accuracy against confidence ({len(bins)} bins, ECE {gap:.3f})"
    else:
        fig.add_annotation(text="No walks to bin.", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
        title = title or "Reliability: accuracy against confidence"
    return _layout(fig, title, "Mean confidence in the bin (top-label probability)", "Accuracy in the bin",
                   xaxis_range=[0, 1.02], yaxis_range=[0, 1.05], xaxis_tickformat=".0%", yaxis_tickformat=".0%")


# --- Images ------------------------------------------------------------------------------------
def frames_figure(frames: np.ndarray, titles: Sequence[str] | None = None, columns: int = 4,
                  title: str = "What the model saw") -> go.Figure:
    """The 8 frames uint8 [8, H, W, 3] as a grid (`columns` = 4 → 2×4, 8 → 1×8), one image trace each."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames [N, H, W, 3], got shape {frames.shape}.")
    titles = list(titles) if titles is not None else [f"Frame {i + 1}" for i in range(len(frames))]
    # binary_string sends each frame as a PNG instead of nested lists of numbers: ~10× less JSON.
    fig = px.imshow(frames, facet_col=0, facet_col_wrap=columns, binary_string=True,
                    facet_col_spacing=0.01, facet_row_spacing=0.05)
    for ann in fig.layout.annotations:  # plotly labels facets "facet_col=<index>"
        ann.text = titles[int(ann.text.split("=")[-1])]
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    rows = -(-len(frames) // columns)
    fig.update_layout(title=dict(text=title), margin=dict(l=10, r=10, t=60, b=10),
                      height=80 + rows * 200)
    return fig
