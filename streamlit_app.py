"""GaitLab explorer, the frame: page configuration, the research-use notice and navigation.

`streamlit run streamlit_app.py`. Each page is one file in `pages/`; it arranges widgets and
calls `gaitlab.app` (Streamlit glue) and the library. The app opens on the Analyse page.
"""
import streamlit as st

from gaitlab.constants import NOTICE

st.set_page_config(page_title="GaitLab", page_icon=":material/directions_walk:", layout="wide")
st.sidebar.caption(NOTICE)

PAGES = [
    st.Page("pages/0_Analyse.py", title="Analyse", icon=":material/directions_walk:", default=True),
    st.Page("pages/1_Explain.py", title="Explain", icon=":material/search:"),
    st.Page("pages/2_Compare_cases.py", title="Compare cases", icon=":material/compare:"),
    st.Page("pages/3_Note_ablations.py", title="Note ablations", icon=":material/edit_note:"),
    st.Page("pages/4_Cohorts.py", title="Cohorts", icon=":material/groups:"),
    st.Page("pages/6_Simulator.py", title="Simulator", icon=":material/tune:"),
    st.Page("pages/5_About_the_model.py", title="About the model", icon=":material/description:"),
]

st.navigation(PAGES).run()
