"""Note ablations: how much the clinical note moves the answer."""
import streamlit as st

from gaitlab import app, figures

app.page_header("Note ablations", "The same case with the full note, no note, the video blanked, "
                "counterfactual notes and your own notes, plus word-by-word attribution of the note.")
ref, note, analysis = app.picked_case("ablation")
extra = st.text_area("Counterfactual notes of your own (one per line)", value="", key="ablation_extra")
extra_notes = tuple(line.strip() for line in extra.splitlines() if line.strip())

result = app.note_ablation_case(ref, note, analysis, extra_notes)
st.metric("How far the note moved the answer (total variation, 0–1)", f"{result.note_shift:.3f}",
          help="Half the sum of absolute differences between the class probabilities with and without the note: "
               "the largest share of probability the note moved.")
for w in result.warnings:
    st.warning(w)
st.plotly_chart(figures.ablation_chart(result))
st.dataframe(result.table, hide_index=True)

st.subheader("Word by word")
if not note.strip():
    st.info("Write a note above to see which words push the answer.")
else:
    target = app.target_picker("ablation_target", analysis.label)
    words = app.word_attribution_case(ref, note, analysis, target)
    st.plotly_chart(figures.word_attribution_chart(words))
    st.dataframe(words, hide_index=True)
