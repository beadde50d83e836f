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
    return [e for e in at.get("plotly_chart")] + [e for e in at.get("image")]


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


# --- People found in a real video: the analysed person, switching, no walk, no gait class -------


def _real_case(real_videos: Path, name: str = "walker_with_bystander.mp4"):
    import hashlib

    from gaitlab import app

    path = real_videos / name
    return app.CaseRef(name, hashlib.sha256(path.read_bytes()).hexdigest(), ".mp4", path=str(path))


def _people_shown(at: AppTest) -> list[str]:
    return [c for image in at.get("image") for c in image.captions]


def test_analyse_page_shows_the_people_found_and_switches_person(real_videos):
    """Real footage (Sports2D demos, BSD 3-Clause): a woman walks behind a larger man who stands
    raising dumbbells. The page shows both, marks the walker (person 2) as analysed and answers
    for her; picking person 1 gives no gait class but the refusal, his keypoints still download;
    picking her again answers at once (cached by file hash and person)."""
    import time

    from gaitlab import app

    ref = _real_case(real_videos)
    at = AppTest.from_file(str(ROOT / "pages" / "0_Analyse.py"), default_timeout=600)
    at.session_state[app.CURRENT_CASE] = ref  # as after an upload: "The case you opened last"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    people = _people_shown(at)
    assert len(people) == 2, people
    assert people[1].startswith("✓ analysed · Person 2 — walks, score "), people
    assert people[0].startswith("Person 1 — stands in place"), people
    buttons = {b.key: b for b in at.button}
    mine = f"analyse_person_{ref.digest[:16]}_"
    assert buttons[mine + "2"].disabled and buttons[mine + "2"].label == "✓ Analysed"
    assert not buttons[mine + "1"].disabled and buttons[mine + "1"].label == "Analyse person 1"
    first = {m.label: m.value for m in at.metric}
    assert "Predicted pattern" in first

    buttons[mine + "1"].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert "Predicted pattern" not in [m.label for m in at.metric], "a non-walk got a gait class"
    refusals = [w.value for w in at.warning if "No gait pattern" in w.value]
    assert len(refusals) == 1 and "no walk to analyse: the person stands in place" in refusals[0], refusals
    assert any("Found walking: person 2" in i.value for i in at.info)
    people = _people_shown(at)
    assert people[0].startswith("✓ analysed · Person 1") and people[1].startswith("Person 2 — walks"), people
    assert [d.label for d in at.get("download_button")] == ["Download keypoints (CSV)"]
    refused = app.prepare_outcome(ref, 1)  # the page's cached outcome: the CSV it offers
    assert isinstance(refused, app.Refusal) and refused.person == 1
    lines = refused.keypoints_csv.decode().splitlines()
    assert lines[0].startswith("x_0,y_0,z_0,v_0,") and len(lines) > 300

    # Explain and Compare, in a session where person 1 was picked: the refusal, no crash.
    for page in ("1_Explain.py", "2_Compare_cases.py"):
        other = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=600)
        other.session_state[app.CURRENT_CASE] = ref
        other.session_state[app.PEOPLE_CHOICE] = {ref.digest: 1}
        other.run()
        assert not other.exception, (page, [e.value for e in other.exception])
        assert any("no walk to analyse" in w.value for w in other.warning), page

    start = time.monotonic()
    at.button(key=mine + "2").click().run()
    switched_back = time.monotonic() - start
    assert not at.exception, [e.value for e in at.exception]
    assert {m.label: m.value for m in at.metric} == first, "person 2 again, yet another answer"
    assert _people_shown(at)[1].startswith("✓ analysed · Person 2")
    assert not [w for w in at.warning if "No gait pattern" in w.value]
    assert switched_back < 10, f"switching back took {switched_back:.1f} s: the pose pass ran again"
