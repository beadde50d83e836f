"""Kinematics charts and tables (`gaitlab.kinematics.figures`): what a clinician reads.

Walks come from the synthetic walker at 30 fps (side view: Normal, KOA_Severe; frontal:
Disabled_NonAssistive) and from a walk too short for a cycle; each is drawn from its
`Kinematics` and from its `to_dict()` (what `Analysis.kinematics` holds), which must agree.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gaitlab.kinematics import PARAMETERS, compute, load_band
from gaitlab.kinematics import figures as kf
from gaitlab.kinematics.reference import BAND_SD
from gaitlab.synth.simulator import PRESETS, simulate


@pytest.fixture(scope="module")
def walks(measure):
    short, _ = simulate(PRESETS["Normal"], seconds=0.8)  # shorter than one gait cycle
    return {"normal": measure("Normal")[2], "koa": measure("KOA_Severe")[2],
            "frontal": measure("Disabled_NonAssistive")[2], "short": compute(short, fps=30.0)}


def _band_n(angle: str) -> int:
    return int(load_band()["curves"][angle]["n"])


def test_angle_curves_draw_each_side_over_the_shaded_band(walks):
    kin = walks["normal"]
    fig = kf.angle_curves(kin, "knee")
    names = [t.name for t in fig.data if t.showlegend is not False]
    band = [t for t in fig.data if t.fill == "tonexty"]
    assert len(band) == 1 and f"n = {_band_n('knee')}" in band[0].name  # grey: normal mean ± 1 SD
    for side in ("left", "right"):
        n = kin.curves["knee"][side]["n"]
        line = next(t for t in fig.data if t.name == f"{side} ({n} cycles)")
        assert len(line.x) == 101 and line.x[0] == 0 and line.x[-1] == 100
        np.testing.assert_allclose(line.y, kin.curves["knee"][side]["mean"], atol=0.006)  # to_dict's 2 digits
        assert "%{customdata:.1f}" in line.hovertemplate and f"{n} cycles" in line.hovertemplate
    assert len(names) == 3
    assert "heel strike" in fig.layout.xaxis.title.text and "flexion" in fig.layout.yaxis.title.text
    assert len(fig.layout.shapes) == 2 and {a.text for a in fig.layout.annotations} == {"left toe-off", "right toe-off"}


def test_the_dict_and_the_record_draw_the_same(walks):
    kin = walks["koa"]
    a, b = kf.angle_curves(kin, "hip"), kf.angle_curves(kin.to_dict(), "hip")
    assert [t.name for t in a.data] == [t.name for t in b.data]
    for ta, tb in zip(a.data, b.data):
        np.testing.assert_allclose(np.asarray(ta.y, float), np.asarray(tb.y, float), atol=0.01)
    pd.testing.assert_frame_equal(kf.parameter_table(kin), kf.parameter_table(kin.to_dict()))


def test_caption_tells_a_clinician_what_is_drawn(walks):
    text = kf.angle_caption(walks["normal"], "knee")
    assert text.startswith("Knee flexion over the gait cycle (0% = heel strike")
    assert f"n = {_band_n('knee')}" in text and "mean ± 1 SD" in text
    assert "not measured" in kf.angle_caption(walks["short"], "knee")
    assert "No normal band" in kf.angle_caption(walks["normal"], "knee", band={})


def test_without_a_band_nothing_is_shaded(walks):
    fig = kf.angle_curves(walks["normal"], "knee", band={})
    assert not [t for t in fig.data if t.fill == "tonexty"]
    assert set(kf.parameter_table(walks["normal"], band={})["Normal band (mean ± SD, n)"]) == {kf.MISSING}


def test_parameter_table_values_band_and_flags(walks):
    kin = walks["koa"]
    table = kf.parameter_table(kin)
    assert list(table.columns) == ["Parameter", "Value", "Unit", "Normal band (mean ± SD, n)", "Flag", "Note",
                                   "Definition"]
    assert sorted(table.attrs["names"]) == sorted(PARAMETERS) and len(table) == len(PARAMETERS)
    by_name = table.set_index(pd.Index(table.attrs["names"]))
    band = load_band()["parameters"]["knee_rom_deg"]
    knee = by_name.loc["knee_rom_deg_left"]
    assert knee["Value"] == f"{kin.parameters['knee_rom_deg_left']:.1f}" and knee["Unit"] == "°"
    assert knee["Normal band (mean ± SD, n)"] == f"{band['mean']:.1f} ± {band['sd']:.1f} (n = {band['n']})"
    assert kin.outside_normal_band, "the severe knee OA walker lies outside the band somewhere"
    for name in PARAMETERS:
        flag = by_name.loc[name, "Flag"]
        assert bool(flag) == (name in kin.outside_normal_band), name
        if flag:
            entry = load_band()["parameters"][name.replace("_left", "").replace("_right", "")]
            above = kin.parameters[name] > entry["mean"]
            assert flag.startswith("▲" if above else "▼")
            assert abs(kin.parameters[name] - entry["mean"]) > BAND_SD * entry["sd"]
    # Frontal-only parameters come last and say why they are missing.
    assert table.attrs["names"][-2:] == ["base_width_heights", "trunk_sway_deg"]
    assert by_name.loc["base_width_heights", "Value"] == "—"
    assert by_name.loc["base_width_heights", "Note"] == "measured only in a frontal view"


def test_frontal_walk_shows_what_is_measured_and_says_what_is_not(walks):
    kin = walks["frontal"]
    assert kf.measured_angles(kin) == []
    note = kf.frontal_note(kin)
    assert "not measured in a frontal view" in note and "base width" in note and "trunk sway" in note
    assert kf.frontal_note(walks["normal"]) is None
    table = kf.parameter_table(kin)
    first = table.attrs["names"][:5]
    assert {"base_width_heights", "trunk_sway_deg", "cadence_steps_per_min"} <= set(first)
    by_name = table.set_index(pd.Index(table.attrs["names"]))
    assert by_name.loc["base_width_heights", "Value"] != "—"
    assert by_name.loc["knee_rom_deg_left", "Value"] == "—"
    assert by_name.loc["knee_rom_deg_left", "Note"] == "not measured in a frontal view"
    labels = [label for label, _, _ in kf.key_figures(kin)]
    assert labels == ["Cadence", "Base width", "Lateral trunk sway"]
    fig = kf.angle_curves(kin, "knee")  # drawn anyway: the band, and a line saying why
    assert any("not measured" in a.text for a in fig.layout.annotations)


def test_a_walk_too_short_shows_dashes_never_an_error(walks):
    kin = walks["short"]
    assert kf.measured_angles(kin) == []
    table = kf.parameter_table(kin)
    assert (table["Value"] == "—").all() and (table["Flag"] == "").all()
    assert all(value == "—" for _, value, _ in kf.key_figures(kin))
    for empty in (None, {}):
        assert (kf.parameter_table(empty)["Value"] == "—").all()
        assert kf.key_figures(empty) and kf.measured_angles(empty) == []
        kf.angle_curves(empty, "knee")


def test_key_figures_of_a_side_view(walks):
    figures = kf.key_figures(walks["normal"])
    assert [label for label, _, _ in figures] == ["Cadence", "Stride length", "Speed", "Step-length asymmetry"]
    cadence = walks["normal"].parameters["cadence_steps_per_min"]
    assert figures[0][1] == f"{cadence:.0f} steps/min"
    no_rate = walks["normal"].to_dict()
    no_rate.update(cadence_steps_per_min=None, fps=None)
    assert kf.key_figures(no_rate)[0][0] == "Steps per 100 frames"
    assert kf.missing_reason("cadence_steps_per_min", no_rate) == "needs the frame rate"


def test_compare_overlays_every_case_and_names_the_unmeasured(walks):
    cases = {"1. normal": walks["normal"], "2. knee OA": walks["koa"].to_dict(), "3. frontal": walks["frontal"]}
    fig = kf.compare_curves(cases, "knee")
    lines = [t for t in fig.data if t.name and ("left" in t.name or "right" in t.name)]
    assert len(lines) == 4  # two side-view cases, two sides each
    assert {t.line.color for t in lines if t.name.startswith("1.")} != {t.line.color for t in lines if t.name.startswith("2.")}
    assert {t.line.dash for t in lines} == {"solid", "dash"}
    assert any(t.name == "3. frontal: not measured" for t in fig.data)
    assert len([t for t in kf.compare_curves(cases, "knee", sides=("right",)).data if t.name and "right" in t.name]) == 2
    caption = kf.compare_caption(cases, "knee")
    assert "0% = heel strike" in caption and "Not measured: 3. frontal" in caption
    table = kf.compare_parameter_table(cases)
    assert list(table.columns) == ["Parameter", "Unit", *cases, "Normal band (mean ± SD, n)"]
    row = table.set_index("Parameter").loc["Knee range of motion (left)"]
    assert row["3. frontal"] == "—"
    assert row["2. knee OA"].endswith("▼") == ("knee_rom_deg_left" in walks["koa"].outside_normal_band)
    assert "Base width" in set(table["Parameter"])  # measured in the frontal case only


def _cohort_values() -> pd.DataFrame:
    rows = [("A", "a1", "knee_rom_deg_left", 55.0), ("A", "a1", "knee_rom_deg_right", 53.0),
            ("A", "a2", "knee_rom_deg_left", 50.0), ("B", "b1", "knee_rom_deg_left", 30.0),
            ("B", "b1", "stride_length_heights", 0.45)]
    return pd.DataFrame(rows, columns=["cohort", "path", "parameter", "value"])


def test_cohort_distribution_per_side_with_the_band():
    values = _cohort_values()
    fig = kf.parameter_distribution(values, "knee_rom_deg")
    boxes = [t for t in fig.data if t.type == "box"]
    assert [b.name for b in boxes] == ["left", "right"]
    assert list(boxes[0].x) == ["A", "A", "B"] and list(boxes[0].y) == [55.0, 50.0, 30.0]
    band = load_band()["parameters"]["knee_rom_deg"]
    (rect,) = fig.layout.shapes
    assert rect.y0 == pytest.approx(band["mean"] - band["sd"]) and rect.y1 == pytest.approx(band["mean"] + band["sd"])
    assert "Knee range of motion" in fig.layout.title.text
    single = kf.parameter_distribution(values, "stride_length_heights")
    assert [t.name for t in single.data] == ["Stride length"]
    caption = kf.distribution_caption(values, "knee_rom_deg")
    assert "one point per case" in caption and f"n = {band['n']}" in caption
    assert "needs a frame rate" in kf.distribution_caption(values, "cadence_steps_per_min")
    empty = kf.parameter_distribution(values.iloc[:0], "cadence_steps_per_min")  # no case: no error
    assert not [t for t in empty.data if t.y is not None and len(t.y)]


def test_cohort_summary_table_reads_the_statistics():
    summary = pd.DataFrame([("A", "knee_rom_deg_left", 2, 1, 52.5, 51.25, 53.75, 1),
                            ("A", "cadence_steps_per_min", 0, 3, np.nan, np.nan, np.nan, 0)],
                           columns=["cohort", "parameter", "n", "missing", "median", "q25", "q75", "outside"])
    table = kf.cohort_summary_table(summary)
    assert table.loc[0, "Parameter"] == "Knee range of motion (left)"
    assert table.loc[0, "Median [IQR]"] == "52.5 [51.2–53.8]" and table.loc[0, "Outside band"] == 1
    assert table.loc[1, "Median [IQR]"] == "—" and table.loc[1, "Normal band (mean ± SD, n)"] == "—"
    assert kf.parameter_label("knee_rom_deg") == "Knee range of motion"


def test_band_provenance_names_the_data_and_command():
    text = kf.band_provenance()
    p = load_band()["provenance"]
    assert f"{p['walks']} walks" in text and p["command"] in text
    assert kf.band_provenance({}) == ""
