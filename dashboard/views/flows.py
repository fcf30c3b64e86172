"""Cross-selling and reciprocity: internal referrals between teams, and give-and-take with
external referrers."""

import pandas as pd
import streamlit as st

from dashboard import charts, state
from dashboard.formatting import count
from dashboard.settings import SETTINGS

MONEY = f"{SETTINGS.currency} %,.0f"

st.title("Cross-selling and reciprocity")
st.caption(state.context_caption())

flows = state.query("internal_flows")
balance = state.query("team_balance")

st.subheader("Internal referrals between teams")
if flows.empty:
    st.info("No internal referral between teams in this window. Widen the window or clear the "
            "filters in the sidebar (a referrer-type or region filter leaves out internal "
            "referrals, which have no referrer).")
else:
    measure = st.radio(
        "Show flows by", ["referrals", "referred_fees"], horizontal=True, key="flows_measure",
        format_func={"referrals": "Number of referrals",
                     "referred_fees": f"Referred fees ({SETTINGS.currency})"}.get,
    )
    if measure == "referred_fees" and not (flows["referred_fees"] > 0).any():
        st.info("No fees were billed in this window on matters from internal referrals; showing "
                "the number of referrals instead.")
        measure = "referrals"
    st.plotly_chart(charts.internal_sankey(flows, measure), width="stretch")
    st.caption(
        "Each band is an internal referral flow from the team that passed the work on (left) to "
        "the team that received it (right) in the window. Referred fees are fees billed in the "
        "window on matters from internal referrals between the two teams, whenever referred."
    )

    left, right = st.columns([3, 2])
    with left:
        st.markdown("##### Given, received and net per team")

        def _highlight(row: pd.Series) -> list[str]:
            colour = ("background-color: #fde8dc" if row["net"] < 0
                      else "background-color: #e3ecf7" if row["net"] > 0 else "")
            return [colour] * len(row)

        st.dataframe(
            balance.style.apply(_highlight, axis=1), hide_index=True, width="stretch", placeholder="—",
            column_config={
                "team": "Team",
                "given": st.column_config.NumberColumn("Given", format="%,d"),
                "received": st.column_config.NumberColumn("Received", format="%,d"),
                "net": st.column_config.NumberColumn("Net (received − given)", format="%+d"),
            },
        )
        st.caption("Net = internal referrals received − given in the window. Orange rows are net "
                   "givers (net < 0): teams that pass on more work than they get back; blue rows "
                   "are net takers.")
    right.plotly_chart(charts.team_balance(balance), width="stretch")

    st.markdown("##### Flows team to team")
    st.dataframe(
        flows, hide_index=True, width="stretch", placeholder="—",
        column_config={
            "from_team": "From team", "to_team": "To team",
            "referrals": st.column_config.NumberColumn("Referrals", format="%,d"),
            "won": st.column_config.NumberColumn("Won", format="%,d"),
            "referred_fees": st.column_config.NumberColumn(
                f"Referred fees ({SETTINGS.currency})", format=MONEY),
        },
    )

st.subheader("Reciprocity with external referrers")
reciprocity = state.query("reciprocity")
if reciprocity.empty:
    st.info("No inbound or outbound referral with an external referrer in this window. Widen the "
            "window or clear the filters in the sidebar.")
else:
    st.plotly_chart(charts.reciprocity(reciprocity), width="stretch")
    st.caption(
        "Each point is a referrer: inbound referrals it sent us against outbound referrals we sent "
        "it in the window. On the dashed line the give-and-take is balanced; orange points "
        "receive work from us but sent none back in the window."
    )
    columns = {
        "name": "Referrer", "referrer_type": "Type",
        "inbound_referrals": st.column_config.NumberColumn("Received from them", format="%,d"),
        "outbound_referrals": st.column_config.NumberColumn("Sent to them", format="%,d"),
        # short, so the lists' six columns fit 1280 px
        "outbound_won": st.column_config.NumberColumn(
            "Taken on", format="%,d", help="Of the referrals we sent them in the window, those they took on"),
        "reciprocity_balance": st.column_config.NumberColumn("Balance (received − sent)",
                                                             format="%+d"),
        "last_inbound_on": st.column_config.DateColumn("Last received"),
        "last_outbound_on": st.column_config.DateColumn("Last sent"),
        "profile": state.PROFILE_COLUMN,
    }
    # one above the other: side by side at 1280 px each hid its last column ("never" included)
    def one_way(title: str, rows, shown: list[str], none_text: str) -> None:
        st.markdown(f"##### {title} ({count(len(rows))})")
        if rows.empty:
            st.success(none_text)
        else:
            # the profile tells apart referrers of the same name, and is where a plan for them is made
            st.dataframe(rows[shown].assign(profile=state.profile_links(rows["referrer_id"])),
                         hide_index=True, width="stretch", column_config=columns, placeholder="never")

    one_way("We send work, none comes back", reciprocity[reciprocity["no_return_from_them"].astype(bool)],
            ["name", "referrer_type", "outbound_referrals", "outbound_won", "last_inbound_on"],
            "Every referrer we sent work to in this window also sent work to us.")
    one_way("They send work, we never send any", reciprocity[reciprocity["no_return_from_us"].astype(bool)],
            ["name", "referrer_type", "inbound_referrals", "last_outbound_on"],
            "We sent work to every referrer that sent work to us in this window.")
    # built only when open: at 20,000 referrers the table is most of a rerun's work
    every = st.expander(f"All referrers with referrals either way ({count(len(reciprocity))})",
                        key="flows_every_referrer_open", on_change="rerun")
    if every.open:
        every.dataframe(reciprocity[["name", "referrer_type", "inbound_referrals", "outbound_referrals",
                                     "outbound_won", "reciprocity_balance", "last_inbound_on",
                                     "last_outbound_on"]],
                        hide_index=True, width="stretch", column_config=columns, placeholder="never")
    st.caption("Counts are referrals in the window; the last dates look back over all history up "
               "to the window's end (\"never\": no referral that way before it).")
