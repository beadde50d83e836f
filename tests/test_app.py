"""Every page runs under Streamlit's AppTest on the bundled demo case and shows its charts."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gaitlab.constants import NOTICE

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["streamlit_app.py"] + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py"))


def run_page(path: str, timeout: float = 300) -> AppTest:
    at = AppTest.from_file(str(ROOT / path), default_timeout=timeout)
    at.run()
    return at


def charts(at: AppTest) -> list:
    return [e for e in at.get("plotly_chart")] + [e for e in at.get("imgs")]


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_on_the_demo_case(page):
    at = run_page(page)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert any(NOTICE in w.value for w in at.warning), "every page carries the research-use notice"
    assert at.caption, "every page says what it shows in one line"
    assert charts(at), f"{page} shows no chart or image"


def test_analyse_page_shows_the_prediction():
    at = run_page("streamlit_app.py")
    labels = [m.label for m in at.metric]
    assert "Predicted pattern" in labels and "Confidence (calibrated)" in labels
    assert len(at.get("plotly_chart")) >= 3  # probabilities, frames, timeline


def answer(at: AppTest) -> tuple[str, str, str]:
    """What the Analyse page shows as its answer: pattern, confidence, and the case analysed."""
    metrics = {m.label: m.value for m in at.metric}
    return metrics["Predicted pattern"], metrics["Confidence (calibrated)"], at.selectbox(key="analyse_demo").value


def test_analyse_page_switches_demo_case():
    at = run_page("streamlit_app.py")
    first = answer(at)
    at.selectbox(key="analyse_demo").select("Two people in view (video)").run()
    assert not at.exception
    assert any("people" in w.value.lower() for w in at.warning)
    second = answer(at)
    assert second[2] == "Two people in view (video)" != first[2]
    assert second[:2] != first[:2], "another case, yet the same answer: the page did not re-analyse"


def test_the_frame_opens_on_the_analyse_page_and_lists_every_page():
    at = run_page("streamlit_app.py")
    assert at.title[0].value == "Analyse a case"
    assert any(NOTICE in c.value for c in at.sidebar.caption)


@pytest.fixture
def fresh_streamlit_caches():
    """Models cached by one page run must not leak into another test's (and back)."""
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def test_simulator_page_shows_the_model_its_pose_frames(random_weights, monkeypatch, fresh_streamlit_caches):
    """Whatever the shipped weights: on a pose-frame student the simulator shows the walk, the
    answer and Grad-CAM over the model's pose frames, and says where a walking aid shows."""
    from gaitlab.weights import WEIGHTS_ENV

    monkeypatch.setenv(WEIGHTS_ENV, str(random_weights))
    at = AppTest.from_file(str(ROOT / "pages" / "6_Simulator.py"), default_timeout=300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    # the walk, the probabilities, Grad-CAM, knee and hip against the normal band, the sweep
    assert len(at.get("plotly_chart")) == 6
    assert any("Pose frames" in c.value for c in at.caption)
    assert list(at.radio(key="sim_source").options) == ["The walk's keypoints, as a keypoint CSV gives them",
                                                       "The rendered video through MediaPipe Pose, as an "
                                                       "uploaded video (slower)"]
    at.selectbox(key="sim_preset").select("Disabled_Assistive").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("drawn only in the video" in i.value for i in at.info)
