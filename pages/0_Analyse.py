"""Analyse: the gait pattern GaitLab sees in one walk (the page the app opens on)."""
import dataclasses
import json

import streamlit as st

from gaitlab import app, figures
from gaitlab.constants import DESCRIPTIONS, DISPLAY_NAMES
from gaitlab.kinematics import figures as kinematic_figures

app.page_header("Analyse a case", "The gait pattern GaitLab sees in one walk: the predicted class, "
                "its calibrated confidence, all nine probabilities, the frames the model saw and a per-clip timeline.")
ref, note, outcome = app.picked_outcome("analyse", "Upload a walking video or a MediaPipe keypoint CSV, or pick a demo case.")
st.session_state[app.CURRENT_CASE] = dataclasses.replace(ref, description=note)
app.people_row(ref, outcome, key="analyse_person")
if isinstance(outcome, app.Refusal):  # no walk, no gait class
    app.show_refusal(outcome)
    if outcome.keypoints_csv is not None:
        st.download_button("Download keypoints (CSV)", outcome.keypoints_csv,
                           file_name=app.keypoints_file_name(ref.name, outcome.person), mime="text/csv",
                           help="This person's MediaPipe Pose landmarks in the shared data's layout.")
    st.stop()
analysis = outcome

left, right = st.columns([2, 3])
with left:
    st.metric("Predicted pattern", DISPLAY_NAMES[analysis.label])
    st.metric("Confidence (calibrated)", f"{analysis.confidence:.0%}")
    st.markdown(f"**What this pattern looks like.** {DESCRIPTIONS[analysis.label]}")
    opinion = app.second_opinion_line(analysis)
    if opinion:
        st.markdown(opinion)
    app.show_warnings(analysis)
    st.download_button("Download the result (JSON)", json.dumps(analysis.to_dict(), indent=2),
                       file_name=f"{ref.name}.gaitlab.json", mime="application/json")
with right:
    st.plotly_chart(figures.probability_bars(analysis.probabilities, title="Probability of each pattern"))

st.subheader("The 8 frames the model saw")
st.caption(app.pose_frames_caption(analysis))
st.plotly_chart(figures.frames_figure(analysis.frames))
originals = app.originals_with_skeleton(analysis)
if originals is not None:
    st.caption("Skeleton: left limbs blue, right limbs orange, trunk and head white.")
    st.plotly_chart(figures.frames_figure(originals, title="The walker's pose on the original video frames"))
if analysis.keypoints is not None:
    st.download_button("Download keypoints (CSV)", app.keypoints_csv(analysis),
                       file_name=app.keypoints_file_name(ref.name, analysis.person),
                       mime="text/csv", help="The walker's MediaPipe Pose landmarks in the shared data's layout; "
                       "analysing this file gives the same answer as the video.")
st.subheader("When the pattern appears")
st.caption("Each clip covers about one gait cycle; the answer is the average over clips that show the person.")
st.plotly_chart(figures.clip_timeline(analysis))

st.subheader("Kinematics")
st.caption("Joint angles over the gait cycle and spatiotemporal parameters measured from the walker's landmarks, "
           "read against normal walkers (mean ± SD). Lengths are in body heights, so no calibration is needed.")
kin = analysis.kinematics or {}
if not kin:
    st.info("No kinematics were measured for this case.")
if kinematic_figures.frontal_note(kin):
    st.info(kinematic_figures.frontal_note(kin))
for column, (label, value, definition) in zip(st.columns(4), kinematic_figures.key_figures(kin)):
    column.metric(label, value, help=definition)
angles = kinematic_figures.measured_angles(kin)
for row in (angles[:3], angles[3:]):
    for column, angle in zip(st.columns(3), row):
        with column:
            st.plotly_chart(kinematic_figures.angle_curves(kin, angle), key=f"kinematics_{angle}")
            st.caption(kinematic_figures.angle_caption(kin, angle))
if kin.get("warnings"):
    st.markdown("**What could not be measured, and why**\n" + "\n".join(f"- {w}" for w in kin["warnings"]))
st.markdown("**Parameters** (“—”: not measured in this walk; the note says why)")
st.dataframe(kinematic_figures.parameter_table(kin), hide_index=True)
st.caption(kinematic_figures.band_provenance())
