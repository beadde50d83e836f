"""Analyse: the gait pattern GaitLab sees in one walk (the page the app opens on)."""
import dataclasses
import json

import streamlit as st

from gaitlab import app, figures
from gaitlab.constants import DESCRIPTIONS, DISPLAY_NAMES

app.page_header("Analyse a case", "The gait pattern GaitLab sees in one walk: the predicted class, "
                "its calibrated confidence, all nine probabilities, the frames the model saw and a per-clip timeline.")
ref, note, analysis = app.picked_case("analyse", "Upload a walking video or a MediaPipe keypoint CSV, or pick a demo case.")
st.session_state[app.CURRENT_CASE] = dataclasses.replace(ref, description=note)

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
    st.download_button("Download keypoints (CSV)", app.keypoints_csv(analysis), file_name=f"{ref.name}.keypoints.csv",
                       mime="text/csv", help="The walker's MediaPipe Pose landmarks in the shared data's layout; "
                       "analysing this file gives the same answer as the video.")
st.subheader("When the pattern appears")
st.caption("Each clip covers about one gait cycle; the answer is the average over clips that show the person.")
st.plotly_chart(figures.clip_timeline(analysis))
