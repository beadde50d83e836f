"""Charts and tables of gait kinematics, read against the normal band (plotly, pandas).

No Streamlit here: the pages (Analyse, Compare, Cohorts, Simulator) and notebooks call these.
Every function takes a walk's kinematics as `Kinematics` (from `compute`) or its `to_dict()`
(`Analysis.kinematics`), and the normal band as `load_band()` gives it; `band=None` loads the
shipped band, `band={}` draws without one. Missing values show as "—", never raise.

- one walk: `angle_curves` (an angle over 0–100 % of the cycle per side, the band shaded),
  `angle_caption`, `parameter_table` (value, unit, band mean ± SD (n), flag, why missing),
  `key_figures` (the headline numbers of the walk's view), `frontal_note`;
- several walks: `compare_curves` (the cases' curves overlaid), `compare_caption`,
  `compare_parameter_table`;
- a cohort: `parameter_distribution` (box and points per cohort, the band shaded) over the long
  table `cohort.statistics.kinematic_values` makes, `distribution_caption`;
- the band itself: `band_provenance`.

Colours: left side blue, right side orange (as the skeleton on the video frames); the normal
band grey; cases and cohorts a palette that is neither.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from gaitlab.kinematics import reference as ref
from gaitlab.kinematics.angles import ANGLES, LABELS

SIDES = ("left", "right")
SIDE_COLORS = {"left": "#1f77b4", "right": "#ff7f0e"}
SIDE_FILLS = {"left": "rgba(31,119,180,0.15)", "right": "rgba(255,127,14,0.15)"}
BAND_FILL, BAND_LINE = "rgba(120,120,120,0.25)", "#7f7f7f"
SERIES_COLORS = ["#1b1b1b", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#1b9e77"]
SIDE_DASH = {"left": "solid", "right": "dash"}
MISSING = "—"
# The y axis of each angle: which way is positive.
AXIS_TITLES = {"hip": "flexion + / extension − (°)", "knee": "flexion (°)",
               "ankle": "dorsiflexion + / plantarflexion − (°)", "trunk": "forward lean (°)",
               "arm": "shoulder flexion + / extension − (°)"}
FRONTAL_ONLY = ("base_width_heights", "trunk_sway_deg")  # measured only when walking towards the camera
EITHER_VIEW = ("cadence_steps_per_min", "steps_per_100_frames", "stride_time_frames")
HEADLINE = ("cadence_steps_per_min", "stride_length_heights", "speed_heights_per_s", "step_length_asymmetry")
HEADLINE_FRONTAL = ("cadence_steps_per_min", "base_width_heights", "trunk_sway_deg")


# --- Reading a walk's kinematics ---------------------------------------------------------------
def as_dict(kin: Any) -> dict[str, Any]:
    """The `to_dict()` form of `kin` (a `Kinematics`, its dict, or None → {})."""
    if kin is None:
        return {}
    return kin.to_dict() if hasattr(kin, "to_dict") else dict(kin)


def _band(band: Mapping | None) -> Mapping:
    return (ref.load_band() or {}) if band is None else band


def flat_parameters(kin: Any) -> dict[str, float | None]:
    """{parameter name of `reference.PARAMETERS`: value or None} of a walk."""
    d = as_dict(kin)
    out: dict[str, float | None] = {}
    for name in ref.PARAMETERS:
        base = ref.base_name(name)
        value = (d.get(base) or {}).get(name[len(base) + 1:]) if base != name else d.get(name)
        out[name] = float(value) if isinstance(value, (int, float)) and np.isfinite(value) else None
    return out


def _digits(unit: str) -> int:
    return 2 if unit == "body heights" or unit == "body heights/s" else 0 if unit == "steps/min" else 1


def format_value(name: str, value: float | None, with_unit: bool = False) -> str:
    """`value` of parameter `name` as text at a sensible precision; "—" when missing."""
    if value is None or not np.isfinite(value):
        return MISSING
    unit = ref.PARAMETERS[name][1] if name in ref.PARAMETERS else ""
    text = f"{value:.{_digits(unit)}f}"
    if not with_unit or not unit:
        return text
    return f"{text}{unit}" if unit == "°" else f"{text} {unit}"


def band_entry(name: str, band: Mapping | None = None) -> dict[str, float] | None:
    """The band's {"mean", "sd", "n"} of parameter `name` (per-side names share one), or None."""
    entry = (_band(band).get("parameters") or {}).get(ref.base_name(name))
    return entry if entry and entry.get("n", 0) >= ref.MIN_BAND_N else None


def band_text(name: str, band: Mapping | None = None) -> str:
    """"54.2 ± 8.5 (n = 101)" for parameter `name`, or "—" when the band has none."""
    entry = band_entry(name, band)
    if entry is None:
        return MISSING
    return f"{format_value(name, entry['mean'])} ± {format_value(name, entry['sd'])} (n = {int(entry['n'])})"


def flag_text(name: str, value: float | None, outside: Sequence[str], band: Mapping | None = None) -> str:
    """"above the normal band" / "below the normal band" for a flagged parameter, else ""."""
    if name not in outside or value is None:
        return ""
    entry = band_entry(name, band)
    if entry is None:
        return "outside the normal band"
    return "▲ above the normal band" if value > entry["mean"] else "▼ below the normal band"


def flag_symbol(flag: str) -> str:
    """"▲", "▼" or "⚠" for a `flag_text` ("" for none)."""
    return "" if not flag else flag[0] if flag[0] in "▲▼" else "⚠"


def missing_reason(name: str, kin: Any) -> str:
    """Why parameter `name` has no value in this walk, in a few words ("" when it has one)."""
    d = as_dict(kin)
    if flat_parameters(d).get(name) is not None:
        return ""
    view = d.get("view")
    if view is None:
        return "not measured (see the warnings)"
    if view == "frontal" and name not in FRONTAL_ONLY + EITHER_VIEW:
        return "not measured in a frontal view"
    if view != "frontal" and name in FRONTAL_ONLY:
        return "measured only in a frontal view"
    if name in ref.RATE_BOUND and not d.get("fps"):
        return "needs the frame rate"
    return "not measured (see the warnings)"


def measured_angles(kin: Any) -> list[str]:
    """The angles (of `angles.ANGLES`, in that order) with a curve for at least one side."""
    curves = as_dict(kin).get("curves") or {}
    return [a for a in ANGLES if any((curves.get(a) or {}).get(s) for s in SIDES)]


def frontal_note(kin: Any) -> str | None:
    """For a walk seen from the front: what is and is not measured (None for a side view)."""
    if as_dict(kin).get("view") != "frontal":
        return None
    return ("Seen from the front: sagittal joint angles (hip, knee and ankle flexion), step and stride "
            "length, speed and stance are not measured in a frontal view. What a frontal view shows honestly "
            "is measured: base width, lateral trunk sway and the cadence.")


def key_figures(kin: Any) -> list[tuple[str, str, str]]:
    """(label, value with unit or "—", definition) of the walk's headline parameters: cadence
    (steps per 100 frames when the frame rate is unknown), stride length, speed and step-length
    asymmetry for a side view; cadence, base width and trunk sway for a frontal one."""
    d = as_dict(kin)
    values = flat_parameters(d)
    names = list(HEADLINE_FRONTAL if d.get("view") == "frontal" else HEADLINE)
    if values.get("cadence_steps_per_min") is None and values.get("steps_per_100_frames") is not None:
        names[0] = "steps_per_100_frames"
    out = []
    for name in names:
        label, _, definition = ref.PARAMETERS[name]
        out.append((label, format_value(name, values[name], with_unit=True), definition))
    return out


# --- One walk: angle curves and the parameter table -------------------------------------------
def _curve(kin: Mapping, angle: str, side: str) -> dict | None:
    return ((kin.get("curves") or {}).get(angle) or {}).get(side) or None


def _cycles(n: int) -> str:
    return f"{n} cycle{'s' if n != 1 else ''}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _x() -> np.ndarray:
    return np.linspace(0.0, 100.0, 101)


def _add_band(fig: go.Figure, angle: str, band: Mapping) -> int | None:
    """Shade the band's mean ± 1 SD of `angle`; returns its n (None when there is no band)."""
    curve = (band.get("curves") or {}).get(angle)
    if not curve or not curve.get("mean"):
        return None
    mean, sd, n = np.asarray(curve["mean"], float), np.asarray(curve["sd"], float), int(curve["n"])
    x = _x()
    name = f"normal walkers, mean ± 1 SD (n = {n})"
    fig.add_trace(go.Scatter(x=x, y=mean + sd, mode="lines", line=dict(width=0), showlegend=False,
                             hoverinfo="skip", legendgroup="band"))
    fig.add_trace(go.Scatter(x=x, y=mean - sd, mode="lines", line=dict(width=0), fill="tonexty",
                             fillcolor=BAND_FILL, name=name, legendgroup="band", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=x, y=mean, mode="lines", line=dict(color=BAND_LINE, width=1, dash="dot"),
                             name="normal mean", legendgroup="band", showlegend=False, customdata=sd,
                             hovertemplate=f"normal walkers (n = {n}): %{{y:.1f}}° ± %{{customdata:.1f}} "
                                           "at %{x:.0f}% of the cycle<extra></extra>"))
    return n


def _layout(fig: go.Figure, title: str, y: str, height: int) -> go.Figure:
    fig.update_layout(title=dict(text=title), template="plotly_white", height=height,
                      xaxis=dict(title="% of the gait cycle (0 = heel strike)", range=[0, 100], dtick=20),
                      yaxis_title=y, legend=dict(orientation="h", yanchor="top", y=-0.25, x=0),
                      margin=dict(t=50, b=10))
    return fig


def angle_curves(kin: Any, angle: str, band: Mapping | None = None, title: str | None = None,
                 height: int = 380) -> go.Figure:
    """`angle` over 0–100 % of the gait cycle, one line per side (the mean over the walk's
    cycles, its ± 1 SD lightly shaded, n cycles in the legend), the normal band's mean ± 1 SD
    shaded grey behind, and each side's toe-off (its stance %) as a dotted line. A side without
    cycles is left out; with none at all the chart says so."""
    d, band = as_dict(kin), _band(band)
    fig = go.Figure()
    _add_band(fig, angle, band)
    values = flat_parameters(d)
    x = _x()
    drawn = 0
    for side in SIDES:
        c = _curve(d, angle, side)
        if c is None:
            continue
        mean, sd = np.asarray(c["mean"], float), np.asarray(c["sd"], float)
        n = int(c["n"])
        group = side
        fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([mean + sd, (mean - sd)[::-1]]),
                                 fill="toself", fillcolor=SIDE_FILLS[side], line=dict(width=0), hoverinfo="skip",
                                 showlegend=False, legendgroup=group))
        cycles = _cycles(n)
        fig.add_trace(go.Scatter(x=x, y=mean, mode="lines", line=dict(color=SIDE_COLORS[side], width=2.5),
                                 name=f"{side} ({cycles})", legendgroup=group, customdata=sd,
                                 hovertemplate=f"{side}: %{{y:.1f}}° ± %{{customdata:.1f}} at %{{x:.0f}}% "
                                               f"of the cycle (mean of {cycles})<extra></extra>"))
        stance = values.get(f"stance_pct_{side}")
        if stance is not None:
            fig.add_vline(x=stance, line=dict(color=SIDE_COLORS[side], width=1, dash="dot"),
                          annotation_text=f"{side} toe-off",
                          annotation_position="top left" if side == "left" else "top right",
                          annotation_font=dict(size=10, color=SIDE_COLORS[side]))
        drawn += 1
    if not drawn:
        fig.add_annotation(text=f"{LABELS.get(angle, angle)} was not measured in this walk", showarrow=False,
                           x=50, y=0.5, yref="paper", font=dict(size=14))
    return _layout(fig, title or f"{LABELS.get(angle, angle)} over the gait cycle", AXIS_TITLES.get(angle, "°"), height)


def _band_n(angle: str, band: Mapping) -> int | None:
    curve = (band.get("curves") or {}).get(angle)
    return int(curve["n"]) if curve and curve.get("mean") else None


def _band_clause(angle: str, band: Mapping) -> str:
    n = _band_n(angle, band)
    return (f"grey band: normal walkers, mean ± 1 SD (n = {n} curves, one per walk and side)" if n
            else "no normal band for this angle")


def angle_caption(kin: Any, angle: str, band: Mapping | None = None) -> str:
    """One plain sentence under `angle_curves`: what is drawn, from how many cycles."""
    d, band = as_dict(kin), _band(band)
    parts = []
    for side in SIDES:
        c = _curve(d, angle, side)
        parts.append(f"{side} {'not measured' if c is None else _cycles(int(c['n']))}")
    return (f"{LABELS.get(angle, angle)} over the gait cycle (0% = heel strike, 100% = the same heel's next "
            f"strike). Lines: this walk's mean per side (blue left, orange right; {', '.join(parts)}), lightly "
            f"shaded ± 1 SD; dotted: toe-off. {_capital(_band_clause(angle, band))}.")


def parameter_table(kin: Any, band: Mapping | None = None) -> pd.DataFrame:
    """One row per parameter: Parameter, Value ("—" when missing), Unit, "Normal band
    (mean ± SD, n)", Flag (above / below the band: outside mean ± 2 SD), Note (why a value is
    missing), Definition. The parameters the walk's view cannot show come last."""
    d, band = as_dict(kin), _band(band)
    values = flat_parameters(d)
    outside = d.get("outside_normal_band") or []
    frontal = d.get("view") == "frontal"
    rows = []
    for name, (label, unit, definition) in ref.PARAMETERS.items():
        value = values[name]
        rows.append({"Parameter": label, "Value": format_value(name, value), "Unit": unit,
                     "Normal band (mean ± SD, n)": band_text(name, band),
                     "Flag": flag_text(name, value, outside, band), "Note": missing_reason(name, d),
                     "Definition": definition, "_name": name})
    table = pd.DataFrame(rows)
    off_view = table["_name"].map(lambda n: (n not in FRONTAL_ONLY + EITHER_VIEW) if frontal else (n in FRONTAL_ONLY))
    table = pd.concat([table[~off_view], table[off_view]], ignore_index=True)
    table.attrs["names"] = table.pop("_name").tolist()
    return table


# --- Several walks ---------------------------------------------------------------------------
def compare_curves(cases: Mapping[str, Any], angle: str, sides: Sequence[str] = SIDES,
                   band: Mapping | None = None, height: int = 400) -> go.Figure:
    """The cases' `angle` curves overlaid (one colour per case; left solid, right dashed) over
    the normal band. A case without that curve is named in the legend as not measured."""
    band = _band(band)
    fig = go.Figure()
    _add_band(fig, angle, band)
    x = _x()
    for i, (name, kin) in enumerate(cases.items()):
        d = as_dict(kin)
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        drawn = False
        for side in sides:
            c = _curve(d, angle, side)
            if c is None:
                continue
            n = int(c["n"])
            fig.add_trace(go.Scatter(x=x, y=np.asarray(c["mean"], float), mode="lines",
                                     line=dict(color=color, width=2, dash=SIDE_DASH[side]),
                                     name=f"{name}, {side} ({_cycles(n)})",
                                     customdata=np.asarray(c["sd"], float),
                                     hovertemplate=f"{name}, {side}: %{{y:.1f}}° ± %{{customdata:.1f}} at "
                                                   f"%{{x:.0f}}% of the cycle<extra></extra>"))
            drawn = True
        if not drawn:  # a legend entry, so the reader sees the case is there but not measured
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=dict(color=color, width=2),
                                     name=f"{name}: not measured", hoverinfo="skip"))
    return _layout(fig, f"{LABELS.get(angle, angle)} over the gait cycle", AXIS_TITLES.get(angle, "°"), height)


def compare_caption(cases: Mapping[str, Any], angle: str, sides: Sequence[str] = SIDES,
                    band: Mapping | None = None) -> str:
    """One plain sentence under `compare_curves`, naming the cases without that angle."""
    band = _band(band)
    missing = [name for name, kin in cases.items() if not any(_curve(as_dict(kin), angle, s) for s in sides)]
    which = {("left", "right"): "solid left, dashed right", ("left",): "left side",
             ("right",): "right side"}.get(tuple(sides), "")
    text = (f"{LABELS.get(angle, angle)} over the gait cycle (0% = heel strike): each case's mean over its cycles "
            f"({which}); {_band_clause(angle, band)}.")
    if missing:
        text += f" Not measured: {', '.join(missing)} (see each case's kinematics warnings)."
    return text


def compare_parameter_table(cases: Mapping[str, Any], band: Mapping | None = None) -> pd.DataFrame:
    """Parameter, Unit, one column per case (value, "▲"/"▼" when outside the band, "—" when
    missing), "Normal band (mean ± SD, n)". Parameters no case has are left out."""
    band = _band(band)
    dicts = {name: as_dict(kin) for name, kin in cases.items()}
    values = {name: flat_parameters(d) for name, d in dicts.items()}
    rows = []
    for pname, (label, unit, _) in ref.PARAMETERS.items():
        if all(values[c][pname] is None for c in dicts):
            continue
        row = {"Parameter": label, "Unit": unit}
        for case, d in dicts.items():
            value = values[case][pname]
            flag = flag_text(pname, value, d.get("outside_normal_band") or [], band)
            row[case] = format_value(pname, value) + (f" {flag_symbol(flag)}" if flag else "")
        row["Normal band (mean ± SD, n)"] = band_text(pname, band)
        rows.append(row)
    return pd.DataFrame(rows, columns=["Parameter", "Unit", *dicts, "Normal band (mean ± SD, n)"])


# --- Cohorts ------------------------------------------------------------------------------------
def distribution_groups(parameters: Sequence[str]) -> dict[str, list[str]]:
    """Parameter names grouped by base name (`knee_rom_deg` → its left and right), in order."""
    groups: dict[str, list[str]] = {}
    for name in parameters:
        groups.setdefault(ref.base_name(name), []).append(name)
    return groups


def _base_label(base: str, names: Sequence[str]) -> tuple[str, str]:
    return parameter_label(base), ref.PARAMETERS[names[0]][1]


def parameter_distribution(values: pd.DataFrame, base: str, band: Mapping | None = None,
                           height: int = 360) -> go.Figure:
    """Box plots with every case as a point, per cohort, of one parameter (`base`: both sides
    of a per-side one, side by side), over the normal band's mean ± 1 SD shaded grey.

    `values`: long table with columns cohort, parameter (flat name), value (and optionally
    path), as `cohort.statistics.kinematic_values` gives it."""
    band = _band(band)
    part = values[values["parameter"].map(ref.base_name) == base]
    names = sorted(part["parameter"].unique(), key=list(ref.PARAMETERS).index) or [base]
    label, unit = _base_label(base, names) if names[0] in ref.PARAMETERS else (base, "")
    fig = go.Figure()
    entry = band_entry(names[0], band) if names[0] in ref.PARAMETERS else None
    if entry is not None:
        fig.add_hrect(y0=entry["mean"] - entry["sd"], y1=entry["mean"] + entry["sd"], fillcolor=BAND_LINE, opacity=0.18,
                      line_width=0, layer="below",
                      annotation_text=f"normal walkers, mean ± 1 SD (n = {int(entry['n'])})",
                      annotation_position="top left", annotation_font=dict(size=10, color=BAND_LINE))
    sided = len(names) > 1 or names[0] != base
    for name in names:
        rows = part[part["parameter"] == name]
        side = name.rsplit("_", 1)[-1] if sided else None
        paths = "path" in rows.columns
        fig.add_trace(go.Box(x=rows["cohort"], y=rows["value"], name=side or label, boxpoints="all", jitter=0.3,
                             pointpos=0, marker_color=SIDE_COLORS.get(side, SERIES_COLORS[0]),
                             hovertext=rows["path"] if paths else None,
                             hovertemplate=f"%{{x}}: %{{y:.2f}} {unit}" + ("<br>%{hovertext}" if paths else "")
                                           + f"<extra>{side or ''}</extra>"))
    fig.update_layout(title=dict(text=f"{label} by cohort"), template="plotly_white", height=height,
                      boxmode="group", xaxis_title="Cohort", yaxis_title=f"{label} ({unit})", showlegend=sided,
                      margin=dict(t=50, b=10))
    return fig


def distribution_caption(values: pd.DataFrame, base: str, band: Mapping | None = None) -> str:
    """One plain sentence under `parameter_distribution`: what a point is, the band, and how
    many cases had no value."""
    band = _band(band)
    part = values[values["parameter"].map(ref.base_name) == base]
    names = sorted(part["parameter"].unique(), key=list(ref.PARAMETERS).index) or [base]
    label, unit = _base_label(base, names) if names[0] in ref.PARAMETERS else (base, "")
    entry = band_entry(names[0], band) if names[0] in ref.PARAMETERS else None
    text = f"{label} ({unit}): one point per case, box = median and quartiles per cohort"
    text += (f"; grey band: normal walkers, mean ± 1 SD (n = {int(entry['n'])})." if entry is not None
             else "; no normal band for this parameter" + (" (it needs a frame rate)." if base in ref.RATE_BOUND else "."))
    return text


def parameter_label(name: str) -> str:
    """The label of a parameter or of a per-side parameter's base name (`knee_rom_deg` → "Knee
    range of motion"); the name itself when unknown."""
    if name in ref.PARAMETERS:
        return ref.PARAMETERS[name][0]
    sided = f"{name}_left"
    return ref.PARAMETERS[sided][0].rsplit(" (", 1)[0] if sided in ref.PARAMETERS else name


def cohort_summary_table(summary: pd.DataFrame, band: Mapping | None = None) -> pd.DataFrame:
    """`cohort.statistics.kinematics_by_cohort` for reading: Cohort, Parameter, Unit, Cases
    measured, Missing, "Median [IQR]" ("—" when none), Outside band (cases flagged), Normal
    band (mean ± SD, n)."""
    band = _band(band)
    rows = []
    for r in summary.itertuples(index=False):
        known = r.parameter in ref.PARAMETERS
        median = (f"{format_value(r.parameter, r.median)} [{format_value(r.parameter, r.q25)}–"
                  f"{format_value(r.parameter, r.q75)}]" if r.n else MISSING)
        rows.append({"Cohort": r.cohort, "Parameter": parameter_label(r.parameter),
                     "Unit": ref.PARAMETERS[r.parameter][1] if known else "", "Cases measured": int(r.n),
                     "Missing": int(r.missing), "Median [IQR]": median, "Outside band": int(r.outside),
                     "Normal band (mean ± SD, n)": band_text(r.parameter, band) if known else MISSING})
    return pd.DataFrame(rows, columns=["Cohort", "Parameter", "Unit", "Cases measured", "Missing", "Median [IQR]",
                                       "Outside band", "Normal band (mean ± SD, n)"])


def band_provenance(band: Mapping | None = None) -> str:
    """Where the normal band comes from, in one sentence ("" when there is none)."""
    band = _band(band)
    p = band.get("provenance") or {}
    if not p:
        return ""
    return (f"Normal band: {p.get('walks', '?')} walks of {p.get('subjects', '?')} {p.get('label', 'Normal')} walkers "
            f"in the {p.get('data', 'shared')} data (made by `{p.get('command', 'python -m gaitlab band')}`"
            f"{', ' + p['date'] if p.get('date') else ''}). A value is flagged when it lies outside the band's "
            f"mean ± {ref.BAND_SD:g} SD; the band's SD is shown.")


__all__ = ["angle_curves", "angle_caption", "parameter_table", "key_figures", "frontal_note", "compare_curves",
           "compare_caption", "compare_parameter_table", "parameter_distribution", "distribution_caption",
           "distribution_groups", "band_provenance", "parameter_label", "cohort_summary_table",
           "flat_parameters", "format_value", "measured_angles", "band_text", "as_dict"]
