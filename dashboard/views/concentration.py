"""Concentration: how much of the referred fees hang on a few referrers, over time, and what
losing the top ones would cost."""

import streamlit as st

from dashboard import charts, state
from dashboard.formatting import amount_short, count, share
from dashboard.settings import SETTINGS

MONEY = f"{SETTINGS.currency} %,.0f"

st.title("Concentration of referred fees")
st.caption(state.context_caption())
st.markdown(
    "**Why it matters:** when a few referrers give most of the referred fees, one partner "
    "retiring, one contact moving firm or one bank changing its panel takes a large slice of "
    "income with it, so the dependency is a risk to spread across more referrers."
)

fees = state.query("referred_fees")
concentration = state.query("concentration").iloc[0]
trend = state.query("concentration_trend")
stress = state.query("concentration_stress", {"top": 3})

if fees.empty:
    st.info("No referrer has referred fees in this window. Widen the window or clear the filters "
            "in the sidebar.")
    st.stop()

tiles = st.columns(5)
# the currency in the label: a fifth of the page holds "65.04bn" but not "GBP 65.04bn"
tiles[0].metric(f"Referred fees ({SETTINGS.currency})", amount_short(concentration["total_referred_fees"]),
                help="fees billed in the window on matters from inbound referrals, whenever referred")
tiles[1].metric("Top-3 share", share(concentration["top3_share"]),
                help="share of referred fees from the three largest referrers")
tiles[2].metric("HHI", f"{concentration['hhi']:.3f}",
                help="Σ of each referrer's squared share of referred fees: 1 is a single referrer, "
                     "close to 0 is many equal ones")
tiles[3].metric("Gini", f"{concentration['gini']:.2f}",
                help="0 when every referrer gives the same fees, near 1 when one gives them all")
tiles[4].metric("Referrers giving 80%", count(concentration["referrers_for_80pct"]),
                help=f"the fewest referrers whose fees reach 80% of the total, of "
                     f"{count(concentration['referrers_with_fees'])} with referred fees")

left, right = st.columns(2)
left.plotly_chart(charts.lorenz(fees), width="stretch")
left.caption("Referrers ordered from the smallest to the largest referred fees: the further the "
             "curve bows below the diagonal, the more the fees sit with a few referrers.")
right.plotly_chart(charts.stress_test(stress), width="stretch")
st.dataframe(
    stress[["top_n", "referrers_lost", "fees_lost", "share_lost", "fees_remaining"]],
    hide_index=True, width="stretch", placeholder="—",
    column_config={
        "top_n": st.column_config.NumberColumn("Top referrers lost", format="%d"),
        "referrers_lost": "Who",
        "fees_lost": st.column_config.NumberColumn(f"Fees lost ({SETTINGS.currency})",
                                                   format=MONEY),
        "share_lost": st.column_config.NumberColumn("Share lost", format="percent"),
        "fees_remaining": st.column_config.NumberColumn(f"Fees left ({SETTINGS.currency})",
                                                        format=MONEY),
    },
)
st.caption("If the largest one, two or three referrers by referred fees in the window stopped "
           "referring, this share of the window's referred fees would go with them.")

st.subheader("Over time")
if trend.empty:
    st.info("The window contains no calendar quarter end, so there is no trend to show. Widen the "
            "window in the sidebar.")
else:
    left, right = st.columns(2)
    left.plotly_chart(charts.concentration_trend(trend), width="stretch")
    right.plotly_chart(charts.referrers_for_80pct_trend(trend), width="stretch")
    st.caption("At each calendar quarter end in the window, the same figures over the 12 months "
               "to that date (which may start before the window): rising lines and a falling "
               "count of referrers for 80% mean a growing dependency on a few.")
