"""Note ablations: how much the clinical note moves the answer."""
import streamlit as st

from gaitlab import app, figures

app.page_header("Note ablations", "The same case with the full note, no note, the video blanked, "
                "counterfactual notes and your own notes, plus which words of the note pushed the answer.")
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

st.subheader("Word by word: integrated gradients through the note encoder")
st.caption("Each word's share of the change in the chosen class's probability between a note with its words "
           "blanked out and the full note, traced back through the MiniLM note encoder; the bars add up to "
           "that change. Red words push the class up, blue words push it down.")
if not note.strip():
    st.info("Write a note above to see which words push the answer.")
else:
    target = app.target_picker("ablation_target", analysis.label)
    words = app.word_attribution_case(ref, note, analysis, target)
    st.plotly_chart(figures.word_attribution_chart(words))
    if "full_probability" in words.attrs:
        a = words.attrs
        st.caption(f"Probability with the note {a['full_probability']:.1%}, with its words blanked out "
                   f"{a['baseline_probability']:.1%}; the bars sum to the difference within "
                   f"{abs(a['convergence_delta']):.2%} (the integration's error).")
    st.dataframe(words, hide_index=True)
