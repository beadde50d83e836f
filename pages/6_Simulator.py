"""Simulator: a what-if walk from a class preset, the model's answer with Grad-CAM, and a sweep."""
import dataclasses

import numpy as np
import streamlit as st

from gaitlab import app, figures
from gaitlab.synth import simulator as sim
from gaitlab.constants import CLASSES
from gaitlab.errors import InputError, WeightsError
from gaitlab.kinematics import figures as kfig
from gaitlab.synth.walker import WalkerParams

SOURCE_NAMES = {"keypoints": "The walk's keypoints, as a keypoint CSV gives them",
                "video": "The rendered video through MediaPipe Pose, as an uploaded video (slower)"}
AID_NOTE = ("The walking aid is drawn only in the video. The model reads body landmarks, drawn as pose frames "
            "(limbs and joints), which have no place for a cane or a frame: it sees the aid only through the "
            "posture it causes and, from the video, through what it does to the pose estimate.")
SLIDERS = [n for n, p in sim.PARAMETERS.items() if p.kind == "float" and n != "step_length"]


@st.cache_data(show_spinner="Rendering the walk…", max_entries=32)
def _preview(values: tuple) -> np.ndarray:
    return sim.preview_frames(WalkerParams(**dict(values)))


@st.cache_data(show_spinner="Writing the file…", max_entries=8)
def _file(values: tuple, suffix: str) -> bytes:
    return sim.walk_bytes(WalkerParams(**dict(values)), suffix)


@st.cache_data(show_spinner="Asking the model…", max_entries=64)
def _analysis(values: tuple, source: str):
    return sim.classify(WalkerParams(**dict(values)), app.cached_model(), source, teacher=app.cached_teacher())


@st.cache_data(show_spinner="Sweeping…", max_entries=32)
def _sweep(values: tuple, parameter: str, points: tuple, source: str):
    return sim.sweep(WalkerParams(**dict(values)), parameter, points, app.cached_model(), source)


app.page_header("Simulator", "A synthetic walk built from clinical parameters, starting from a preset fitted to "
                "each class's real gait statistics: how it looks, what the model answers and why, and how the "
                "answer moves as one parameter changes.")
name = st.selectbox("Start from the preset of", CLASSES, format_func=app.class_label, key="sim_preset")
base = sim.PRESETS[name]
st.caption("Presets match the real class medians of step length, knee range, trunk lean, arm swing, elbow "
           "bend and asymmetry; speed, cadence and step length stay consistent (step length follows).")
with st.expander("Parameters", expanded=False):
    chosen = {}
    columns = st.columns(3)
    for i, (pname, spec) in enumerate(sim.PARAMETERS.items()):
        key, default = f"sim_{name}_{pname}", getattr(base, pname)
        with columns[i % 3]:
            if spec.kind == "choice":
                chosen[pname] = st.selectbox(spec.label, spec.choices, index=spec.choices.index(default),
                                             key=key, help=spec.help or None)
            elif pname in SLIDERS:
                default = base.arm_swing if default is None else default  # right arm: as the left
                chosen[pname] = st.slider(spec.label, spec.lo, spec.hi, float(np.clip(default, spec.lo, spec.hi)),
                                          spec.step, key=key, help=spec.help or None)
params = sim.with_values(base, chosen)
values = tuple(sorted(dataclasses.asdict(params).items()))
st.caption(f"Step length {params.step_length:.2f} body heights; speed {params.speed:.2f} heights/s "
           f"(≈ {params.speed * 1.7:.2f} m/s for a 1.70 m adult).")

st.subheader("The walk")
st.plotly_chart(figures.frames_figure(_preview(values)).update_layout(title_text="One gait cycle of the video"),
                key="sim_walk")
left, right = st.columns(2)
left.download_button("Download as video (.mp4)", _file(values, ".mp4"), file_name=f"simulated_{name}.mp4")
right.download_button("Download as MediaPipe keypoints (.csv)", _file(values, ".csv"),
                      file_name=f"simulated_{name}.csv", mime="text/csv")

st.subheader("What the model answers")
source = st.radio("Show the model", list(SOURCE_NAMES), format_func=SOURCE_NAMES.get, key="sim_source")
try:
    analysis = _analysis(values, source)
except WeightsError as exc:
    st.warning(f"No model to ask: {exc}")
    st.stop()
except InputError as exc:  # e.g. the rendered walk read through MediaPipe is not a walk: no gait class
    st.warning(app.refusal_text(str(exc)), icon=":material/block:")
    st.stop()
if params.device != "none":
    st.info(AID_NOTE)
app.show_warnings(analysis)
st.markdown(f"**{app.class_label(analysis.label)}** at {analysis.confidence:.0%} "
            f"(the preset's own class: {analysis.probabilities[name]:.0%}).")
if (opinion := app.second_opinion_line(analysis)) is not None:
    st.markdown(opinion)
st.plotly_chart(figures.probability_bars(analysis.probabilities), key="sim_probs")
ref = app.CaseRef("simulated walk", app.sha256_bytes(repr((values, source)).encode()), ".csv")
explanation = app.explain_case(ref, "", analysis)
st.plotly_chart(figures.frames_figure(np.stack(explanation.overlays)).update_layout(
    title_text=f"Grad-CAM for {app.class_label(analysis.label)} on the model's pose frames"), key="sim_cam")
st.caption(app.pose_frames_caption(analysis))

st.subheader("The walk's kinematics beside normal walkers")
st.caption("Measured from the simulated walk's landmarks exactly as from a patient's (gait events, joint angles "
           "per cycle, spatiotemporal parameters); compare them with the sliders you moved.")
if analysis.kinematics:
    note = kfig.frontal_note(analysis.kinematics)
    if note:
        st.info(note)
    angles = [a for a in ("knee", "hip") if a in kfig.measured_angles(analysis.kinematics)]
    for column, angle in zip(st.columns(max(1, len(angles))), angles):
        with column:
            st.plotly_chart(kfig.angle_curves(analysis.kinematics, angle), key=f"sim_kin_{angle}")
            st.caption(kfig.angle_caption(analysis.kinematics, angle))
    st.dataframe(kfig.parameter_table(analysis.kinematics), hide_index=True)

st.subheader("Sweep one parameter")
c1, c2 = st.columns([2, 1])
parameter = c1.selectbox("Parameter", SLIDERS, index=SLIDERS.index("knee_flexion"),
                         format_func=lambda n: sim.PARAMETERS[n].label, key="sim_sweep_parameter")
count = c2.slider("Points", 3, 9, 5, key="sim_sweep_points")
spec = sim.PARAMETERS[parameter]
points = tuple(float(v) for v in np.round(np.linspace(spec.lo, spec.hi, count), 4))
try:
    st.plotly_chart(sim.sweep_figure(_sweep(values, parameter, points, source), parameter), key="sim_sweep")
except InputError as exc:
    st.warning(f"The sweep stopped at a walk GaitLab gives no gait class: {exc}", icon=":material/block:")
