"""Overview: the portfolio at a glance for the window and filters."""

import streamlit as st

from dashboard import charts, insights, state
from dashboard.formatting import amount_short, count, share
from dashboard.settings import SETTINGS

st.title("Referrer portfolio overview")
st.caption(state.context_caption())

headline = state.query("headline").iloc[0]
concentration = state.query("concentration").iloc[0]
fees = state.query("referred_fees")

tiles = st.columns(3) + st.columns(3)
tiles[0].metric("Inbound referrals", count(headline["inbound_referrals"]))
tiles[1].metric("Conversion rate", share(headline["conversion_rate"]),
                help="won ÷ (won + lost + declined) for inbound referrals received in the window")
tiles[2].metric(f"Referred fees ({SETTINGS.currency})", amount_short(headline["referred_fees"]),
                help="fees billed in the window on matters from inbound referrals, whenever referred")
tiles[3].metric("Top-3 share", share(headline["top3_share"]),
                help="share of referred fees from the three largest referrers")
tiles[4].metric("Referrers with fees", count(headline["referrers_with_fees"]))
tiles[5].metric("Prune candidates", count(headline["prune_candidates"]),
                help="invested in during the window, no inbound referral in the last 24 months, not Level 4")

with st.container(border=True):
    st.markdown("#### What the numbers say")
    for line in insights.overview(headline, fees, concentration):
        st.markdown(f"- {line}")

left, right = st.columns([3, 2])
if fees.empty:
    left.info("No referrer has referred fees in this window. Widen the window or clear the filters in the sidebar.")
else:
    left.plotly_chart(charts.top_referrers(fees), width="stretch")
    right.plotly_chart(charts.lorenz(fees), width="stretch")

st.plotly_chart(charts.funnel(state.query("funnel")), width="stretch")
