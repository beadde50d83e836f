"""Compare cases: two to four cases side by side."""
import numpy as np
import streamlit as st

from gaitlab import app, figures
from gaitlab.kinematics import figures as kinematic_figures

app.page_header("Compare cases", "Two to four cases side by side: what the model saw with Grad-CAM, "
                "the probabilities, how they differ, the timelines and the joint angles over the gait cycle.")
count = st.slider("Number of cases", 2, 4, 2)
picked = []
columns = st.columns(count)
for i, column in enumerate(columns):
    with column:
        ref, note = app.case_picker(f"compare_{i}", label=f"Case {i + 1}", default_index=i)
        picked.append((ref, note))
if any(ref is None for ref, _ in picked):
    st.info("Choose every case to compare.")
    st.stop()

analyses = []
for i, ((ref, note), column) in enumerate(zip(picked, columns)):
    with column:
        outcome = app.case_outcome(ref, note)
        if outcome is None:
            st.stop()
        if isinstance(outcome, app.Refusal):  # no walk, no gait class: left out of the comparison
            app.show_refusal(outcome, elsewhere=True)
            continue
        if app.person_line(outcome):
            st.caption(app.person_line(outcome))
    analyses.append((f"{i + 1}. {ref.name}", ref, note, outcome))
if len(analyses) < 2:
    st.info("At least two cases with a walk are needed to compare.")
    st.stop()
count = len(analyses)

st.plotly_chart(figures.probability_comparison({name: a.probabilities for name, _, _, a in analyses}))
names = [name for name, *_ in analyses]
first, second = st.columns(2)
a_name = first.selectbox("Difference: from", names, index=0)
b_name = second.selectbox("to", names, index=1)
by_name = {name: a for name, _, _, a in analyses}
st.plotly_chart(figures.difference_chart(by_name[a_name].probabilities, by_name[b_name].probabilities, (a_name, b_name)))

for column, (name, ref, note, analysis) in zip(st.columns(count), analyses):
    with column:
        st.markdown(f"**{name}** — {app.class_label(analysis.label)}, {analysis.confidence:.0%}")
        explanation = app.explain_case(ref, note, analysis, "gradcam")
        st.plotly_chart(figures.frames_figure(np.stack(explanation.overlays), columns=2, title="Grad-CAM"), key=f"cam_{name}")
        st.plotly_chart(figures.clip_timeline(analysis), key=f"timeline_{name}")
        app.show_warnings(analysis)

st.subheader("Kinematics side by side")
st.caption("Each case's joint angles over the gait cycle overlaid on the normal walkers' band, and its parameters "
           "(▲ / ▼: above / below the normal band, mean ± 2 SD; —: not measured).")
kinematics = {name: analysis.kinematics or {} for name, _, _, analysis in analyses}
sides = st.radio("Sides", ["Both (left solid, right dashed)", "Left", "Right"], horizontal=True, key="compare_sides")
sides = {"Left": ("left",), "Right": ("right",)}.get(sides, ("left", "right"))
shown = st.multiselect("Angles", list(kinematic_figures.LABELS), default=["hip", "knee", "ankle"],
                       format_func=kinematic_figures.LABELS.get, key="compare_angles")
for column, angle in zip(st.columns(max(1, len(shown))), shown):
    with column:
        st.plotly_chart(kinematic_figures.compare_curves(kinematics, angle, sides), key=f"compare_{angle}")
        st.caption(kinematic_figures.compare_caption(kinematics, angle, sides))
st.dataframe(kinematic_figures.compare_parameter_table(kinematics), hide_index=True)
for name, kin in kinematics.items():
    note = kinematic_figures.frontal_note(kin)
    if note:
        st.info(f"{name}: {note}")
    if kin.get("warnings"):
        with st.expander(f"{name}: what could not be measured, and why"):
            st.markdown("\n".join(f"- {w}" for w in kin["warnings"]))
st.caption(kinematic_figures.band_provenance())
