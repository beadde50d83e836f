"""Explain: which frames and regions drove the answer (Captum attributions)."""
import numpy as np
import streamlit as st

from gaitlab import app, figures
from gaitlab.explanations import METHODS, frame_titles, summary_sentence
from gaitlab.metrics import RANDOM_DROP_FLOOR, describe_ratio

METHOD_NAMES = {"gradcam": "Grad-CAM", "guided_gradcam": "Guided Grad-CAM",
                "integrated_gradients": "Integrated Gradients", "occlusion": "Occlusion (slow)"}

app.page_header("Explain", "Where the model looked: Grad-CAM heat maps over the 8 frames it saw, per-frame "
                "importance, other attribution methods side by side, and a faithfulness check.")
ref, note, analysis = app.picked_case("explain")
app.show_warnings(analysis)
target = app.target_picker("explain_target", analysis.label)
st.caption(f"Predicted: {app.class_label(analysis.label)} at {analysis.confidence:.0%}. "
           f"Frames {analysis.frame_indices[0]}–{analysis.frame_indices[-1]} of the source (the clip that most supports the answer).")

explanation = app.explain_case(ref, note, analysis, "gradcam", target)
st.subheader(f"Grad-CAM for {app.class_label(target)} (probability {explanation.target_probability:.0%} on this clip)")
st.markdown(summary_sentence(analysis, explanation))
st.plotly_chart(figures.frames_figure(np.stack(explanation.overlays), titles=frame_titles(analysis, explanation),
                                      title="Grad-CAM over the frames the model saw (each frame: its share of the map, "
                                      "gait phase, and the body segment the map favours)"))
if explanation.original_overlays is not None:
    st.plotly_chart(figures.frames_figure(np.stack(explanation.original_overlays),
                                          title="The same maps on the original video frames (taken back through each frame's crop)"))
st.plotly_chart(figures.frame_importance_chart(explanation.frame_importance))

st.subheader("Is the map faithful?")
check = app.faithfulness_case(ref, note, analysis, explanation)
c1, c2, c3 = st.columns(3)
c1.metric("Drop when the top 10% of pixels are blanked", f"{check.top_drop:+.3f}")
c2.metric("Drop when 10% random pixels are blanked", f"{check.random_drop:+.3f}")
c3.metric("Ratio", describe_ratio(check.top_drop, check.random_drop),
          help=f"A random drop below {RANDOM_DROP_FLOOR} counts as {RANDOM_DROP_FLOOR}, so the ratio is then a lower bound.")
held_out = app.card_faithfulness()
if held_out:
    st.caption(f"On held-back validation subjects: {held_out}")

st.subheader("Other attribution methods, side by side")
others = st.multiselect("Methods", [m for m in METHODS if m != "gradcam"],
                        default=["guided_gradcam", "integrated_gradients"], format_func=METHOD_NAMES.get)
if others:
    columns = st.columns(len(others))
    for column, method in zip(columns, others):
        with column:
            other = app.explain_case(ref, note, analysis, method, target)
            st.markdown(f"**{METHOD_NAMES[method]}**")
            st.plotly_chart(figures.frames_figure(np.stack(other.overlays), columns=2, title=METHOD_NAMES[method]), key=f"frames_{method}")
            st.plotly_chart(figures.frame_importance_chart(other.frame_importance), key=f"importance_{method}")
