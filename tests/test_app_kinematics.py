"""The kinematics in the app (Streamlit's AppTest): Analyse shows a "Kinematics" section on the
default demo case, Compare overlays the cases' curves, Cohorts shows parameters by cohort.

`tests/test_app.py` runs every page once; these check what the kinematics add to three of them.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gaitlab.constants import NOTICE

ROOT = Path(__file__).resolve().parents[1]


def _run(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / page), default_timeout=300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert any(NOTICE in w.value for w in at.warning) and at.caption
    return at


def _chart_titles(at: AppTest) -> list[str]:
    import json

    return [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")]


def test_analyse_page_shows_the_kinematics_section():
    at = _run("pages/0_Analyse.py")
    assert "Kinematics" in [h.value for h in at.subheader]
    titles = _chart_titles(at)
    assert any(t.startswith("Knee flexion over the gait cycle") for t in titles), titles
    assert any("0% = heel strike" in c.value and "mean ± 1 SD (n = " in c.value for c in at.caption)
    labels = [m.label for m in at.metric]
    assert "Stride length" in labels and ("Cadence" in labels or "Steps per 100 frames" in labels)
    table = next(d.value for d in at.dataframe if "Normal band (mean ± SD, n)" in d.value.columns)
    assert "Knee range of motion (left)" in set(table["Parameter"])
    # The default demo walk is a keypoint file without times: the reasons are listed, values show "—".
    assert "—" in set(table["Value"])
    assert any("What could not be measured" in m.value and "frame rate" in m.value for m in at.markdown)


def test_analyse_page_on_a_frontal_walk_shows_what_is_measured(tmp_path):
    """A walk towards the camera: base width and trunk sway shown, sagittal angles said to be
    not measured in a frontal view (as dashes), no angle chart, no error."""
    from gaitlab.app import CURRENT_CASE, case_from_path
    from gaitlab.synth.simulator import PRESETS, write_walk

    path = write_walk(PRESETS["Disabled_NonAssistive"], tmp_path / "towards_the_camera.csv")
    at = AppTest.from_file(str(ROOT / "pages" / "0_Analyse.py"), default_timeout=300)
    at.session_state[CURRENT_CASE] = case_from_path(str(path))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert "Kinematics" in [h.value for h in at.subheader]
    assert any("not measured in a frontal view" in i.value for i in at.info)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Base width"] != "—" and metrics["Lateral trunk sway"] != "—"
    assert not any("over the gait cycle" in t for t in _chart_titles(at))
    table = next(d.value for d in at.dataframe if "Normal band (mean ± SD, n)" in d.value.columns)
    knee = table.set_index("Parameter").loc["Knee range of motion (left)"]
    assert knee["Value"] == "—" and knee["Note"] == "not measured in a frontal view"


def test_compare_page_overlays_the_cases_curves():
    at = _run("pages/2_Compare_cases.py")
    assert "Kinematics side by side" in [h.value for h in at.subheader]
    titles = _chart_titles(at)
    assert sum(t.endswith("over the gait cycle") for t in titles) == 3, titles  # hip, knee, ankle
    table = next(d.value for d in at.dataframe if "Normal band (mean ± SD, n)" in d.value.columns)
    assert len([c for c in table.columns if c not in ("Parameter", "Unit", "Normal band (mean ± SD, n)")]) == 2
    at.radio(key="compare_sides").set_value("Left").run()
    assert not at.exception, [e.value for e in at.exception]


def test_cohorts_page_shows_parameters_by_cohort():
    at = _run("pages/4_Cohorts.py")
    at.run()  # a rerun (a slider moved, a case picked) answers from the cache, without an exception
    assert not at.exception, [e.value for e in at.exception]
    assert "Gait parameters by cohort" in [h.value for h in at.subheader]
    titles = _chart_titles(at)
    assert any(t == "Knee range of motion by cohort" for t in titles), titles
    assert any("Median [IQR]" in d.value.columns for d in at.dataframe)
    cohort_table = next(d.value for d in at.dataframe if "knee_rom_deg_left" in d.value.columns)
    assert "outside_normal_band" in cohort_table.columns
