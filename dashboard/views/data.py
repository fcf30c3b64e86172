"""Data: what is loaded, whether it follows the contract, and how complete it is."""

import pandas as pd
import streamlit as st

from dashboard import charts, state
from dashboard.formatting import share

st.title("Data")
dataset = state.dataset()
st.markdown(f"Loaded from `{dataset.data_dir}`")

problems = state.problems()
if problems:
    st.error(f"The contract check found {len(problems)} problem(s). Fix them in the extracts and reload.")
    st.dataframe(
        pd.DataFrame([{"file": p.file, "column": p.column, "row": p.row, "value": p.value,
                       "problem": p.message} for p in problems]),
        width="stretch", hide_index=True, placeholder="—",
    )
    st.stop()

st.success("All eleven tables follow the data contract.", icon=":material/check_circle:")

counts = state.query("table_counts")
st.subheader("Tables")
st.dataframe(
    counts.rename(columns={"table_name": "table", "first_on": "earliest date", "last_on": "latest date"}),
    width="stretch", hide_index=True, placeholder="—", height=35 * (len(counts) + 1) + 3,
    column_config={"rows": st.column_config.NumberColumn(format="localized")},
)

completeness = state.query("completeness")
score = completeness.iloc[-1]["share"]
st.subheader(f"Completeness score: {share(score)}")
st.caption("The first complaint about every referral CRM is that nobody records the data. "
           "The score is the mean of the four shares below, for the current window and filters.")
st.plotly_chart(charts.completeness(completeness), width="stretch")
