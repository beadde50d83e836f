"""Cohorts: many cases analysed together, compared by cohort."""
import streamlit as st

from gaitlab import app
from gaitlab.cohort import statistics as cohort_stats
from gaitlab import figures
from gaitlab.cohort.run import confined_path, default_workers
from gaitlab.cohort.table import KINEMATIC_COLUMNS
from gaitlab.demo import MANIFEST
from gaitlab.errors import InputError
from gaitlab.kinematics import figures as kinematic_figures

app.page_header("Cohorts", "Many cases at once: predicted patterns, confidence and mean class probabilities "
                "(with bootstrap intervals) by cohort, gait parameters by cohort against normal walkers, accuracy where "
                "labels are given, and a CSV export.")
source = st.radio("Cases", ["Demo cohort", "Upload files", "Folder or manifest on this computer"], horizontal=True)
workers = st.slider("Worker processes", 1, max(2, default_workers()), 1,
                    help="Analyse several files at once (each worker loads the model once).")
uploads_by_name = {}
try:
    if source == "Demo cohort":
        table = app.cohort_from_source(MANIFEST, workers)
    elif source == "Upload files":
        uploads = st.file_uploader("Videos or keypoint CSVs", type=app.UPLOAD_TYPES, accept_multiple_files=True)
        name = st.text_input("Cohort name", value="uploaded")
        if not uploads:
            st.info("Upload one or more files.")
            st.stop()
        table, uploads_by_name = app.cohort_from_uploads(uploads, name, workers)
    else:
        root = app.data_root()
        typed = st.text_input(f"Folder or manifest CSV, relative to {root}", value="")
        if not typed.strip():
            st.info("Type a folder (searched recursively) or a manifest CSV with a 'path' column "
                    "and optional 'cohort', 'label', 'description'.")
            st.stop()
        table = app.cohort_from_source(confined_path(typed, root), workers)
except InputError as exc:
    st.error(str(exc))
    st.stop()

counts = cohort_stats.summary(table)
c1, c2, c3 = st.columns(3)
c1.metric("Cases", counts["cases"])
c2.metric("Analysed", counts["analysed"])
c3.metric("Errors", counts["errors"])
st.dataframe(cohort_stats.display_table(table), hide_index=True)
st.download_button("Download the table (CSV)", table.to_csv(index=False), file_name="gaitlab_cohort.csv", mime="text/csv")
if counts["analysed"] == 0:
    st.stop()

st.plotly_chart(figures.cohort_distribution_chart(table))
st.plotly_chart(figures.confidence_by_cohort_chart(table))
st.plotly_chart(figures.mean_probability_chart(cohort_stats.mean_probabilities(table)))
metrics = cohort_stats.labelled_metrics(table)
if metrics:
    st.subheader(f"Against the given labels ({metrics['n']} cases)")
    m1, m2 = st.columns(2)
    m1.metric("Accuracy", f"{metrics['accuracy']:.0%}")
    m2.metric("Balanced accuracy", f"{metrics['balanced_accuracy']:.0%}")
    st.plotly_chart(figures.confusion_matrix_chart(metrics["confusion"]))
    st.plotly_chart(figures.recall_chart(metrics["recall"]))

st.subheader("Gait parameters by cohort")
st.caption("Each case's kinematics (the table's parameter columns) per cohort, against normal walkers; "
           "a case without a value (frontal view, walk too short, no frame rate) is counted as missing.")
values = cohort_stats.kinematic_values(table)
groups = kinematic_figures.distribution_groups(KINEMATIC_COLUMNS)
measured = [base for base in groups if (values["parameter"].isin(groups[base])).any()]
for row in range(0, len(measured), 2):
    for column, base in zip(st.columns(2), measured[row:row + 2]):
        with column:
            st.plotly_chart(kinematic_figures.parameter_distribution(values, base), key=f"cohort_kin_{base}")
            st.caption(kinematic_figures.distribution_caption(values, base))
unmeasured = [kinematic_figures.parameter_label(base) for base in groups if base not in measured]
if unmeasured:
    st.info(f"Not measured in any case: {', '.join(unmeasured)} (see the warnings column; cadence and speed need "
            "the frame rate, which keypoint files without times do not carry).")
st.dataframe(kinematic_figures.cohort_summary_table(cohort_stats.kinematics_by_cohort(table)), hide_index=True)

st.subheader("Open a case in Explain")
analysed = table[table["error"] == ""]["path"].tolist()
choice = st.selectbox("Case", analysed)
if st.button("Open in Explain"):
    st.session_state[app.CURRENT_CASE] = uploads_by_name.get(choice) or app.case_from_path(choice)
    st.switch_page("pages/1_Explain.py")
