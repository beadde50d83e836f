"""About the model: the shipped model card, rendered."""
import streamlit as st

from gaitlab import app, figures
from gaitlab.training.model_card import (calibration_notes, confusion_frame, cross_validation_frame, cv_fold_count,
                                         headline_metrics, metrics_table, render_markdown)
from gaitlab.weights import read_card

app.page_header("About the model", "The shipped model's card: data, evaluation protocol, figures, "
                "confusion matrix, intended use and limits.")
card = read_card()
head = headline_metrics(card)
if head:
    st.plotly_chart(figures.confusion_matrix_chart(confusion_frame(head)))
    st.plotly_chart(figures.recall_chart({c: r for c, r in head["per_class_recall"].items() if r is not None}))
if card.get("cross_validation"):
    st.subheader(f"Cross-validated figures (mean ± std over {cv_fold_count(card['cross_validation'])} subject-grouped folds)")
    st.dataframe(cross_validation_frame(card["cross_validation"]), hide_index=True)
calibration = (card.get("cross_validation") or {}).get("calibration") or {}
if calibration.get("reliability"):
    st.subheader("Calibration: is a 70% answer right 70% of the time?")
    st.caption("Pooled out-of-fold answers (video only), calibrated as the app calibrates a walk's answer (top-label "
               "calibration, cross-fitted), sorted by confidence into 10 bins of equal count; a calibrated model's "
               "points lie on the diagonal.")
    st.plotly_chart(figures.reliability_diagram(calibration["reliability"]))
    for note in calibration_notes(card["cross_validation"]):
        st.caption(note)
table = metrics_table(card.get("metrics") or {})
if len(table):
    st.dataframe(table, hide_index=True)
st.markdown(render_markdown(card))
