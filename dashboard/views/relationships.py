"""Who knows who: the relationships behind the referrals, and where they hang on one person."""

import pandas as pd
import streamlit as st

from dashboard import charts, state
from dashboard.formatting import count, money, to_the_cent
from dashboard.settings import SETTINGS

MONEY = f"{SETTINGS.currency} %,.0f"


# Kept per query result: at 20,000 referrers ordering the network's people took a third of a rerun.
@st.cache_resource(max_entries=16, show_spinner=False)
def _choices(result: tuple, _network: pd.DataFrame, centre: str) -> dict[str, str]:
    """id → name of the network's referrers (most referred fees first, so the default is the one that
    matters most) or fee earners (by name). ``result``: the key of ``_network`` (state.result_key),
    which Streamlit hashes in its place."""
    if centre == "referrer":
        ordered = _network.drop_duplicates("referrer_id").sort_values(
            ["referrer_referred_fees", "referrer"], ascending=[False, True], key=to_the_cent)
        return dict(zip(ordered["referrer_id"], ordered["referrer"], strict=True))
    ordered = _network.drop_duplicates("fee_earner_id").sort_values("fee_earner", kind="stable")
    return dict(zip(ordered["fee_earner_id"], ordered["fee_earner"], strict=True))

st.title("Who knows who")
st.caption(state.context_caption())

network = state.query("relationship_network")
risk = state.query("key_person_risk")
months = st.session_state.get("stale_months", 6)
stale = state.query("stale_relationships", {"months": months})
moved = state.query("moved_contacts")

tiles = st.columns(4)
tiles[0].metric("Relationships", count(len(network)),
                help="links between our fee earners and referrer contacts, as recorded now")
tiles[1].metric("Key-person risks", count(len(risk)),
                help="referrers with referred fees in the window whose ties all sit with one fee "
                     "earner, or where no tie is stronger than 2")
tiles[2].metric("Stale relationships", count(len(stale)),
                help=f"no contact in the {months} months before the window's end")
tiles[3].metric("Contacts who moved firm", count(len(moved)))

st.subheader("Explore the network")
if network.empty:
    st.info("No relationship between our fee earners and referrer contacts is recorded for these "
            "filters. Clear the filters in the sidebar, or add relationships to the extract.")
else:
    mode = st.radio("Centre on", ["referrer", "fee earner"], horizontal=True, key="who_mode",
                    format_func={"referrer": "A referrer", "fee earner": "One of our fee earners"}.get)
    if mode == "referrer":
        options = _choices(state.result_key("relationship_network"), network, "referrer")
        chosen = st.selectbox("Referrer", list(options), format_func=options.get, key="who_referrer")
        st.plotly_chart(charts.relationship_network(network, referrer_id=chosen), width="stretch")
        shown = network[network["referrer_id"] == chosen]
    else:
        options = _choices(state.result_key("relationship_network"), network, "fee earner")
        chosen = st.selectbox("Fee earner", list(options), format_func=options.get,
                              key="who_fee_earner")
        st.plotly_chart(charts.relationship_network(network, fee_earner_id=chosen), width="stretch")
        shown = network[network["contact_id"].isin(
            network.loc[network["fee_earner_id"] == chosen, "contact_id"])]
    st.caption("Fee earners (left) know contacts (middle) who work at referrers (right), as recorded "
               "now. Line width is the relationship's strength from 1 (acquaintance) to 5 (close, "
               "trusted); orange lines are 2 or weaker. Around a fee earner, everyone else here "
               "who knows the same contacts is shown too.")
    st.dataframe(
        shown[["fee_earner", "team", "contact", "job_title", "referrer", "strength",
               "last_contact_on", "contact_referrals"]],
        hide_index=True, width="stretch", placeholder="—",
        column_config={
            "fee_earner": "Fee earner", "team": "Team", "contact": "Contact",
            "job_title": "Job title", "referrer": "Referrer",
            "strength": st.column_config.NumberColumn("Strength (1–5)", format="%d"),
            "last_contact_on": st.column_config.DateColumn("Last contact"),
            "contact_referrals": st.column_config.NumberColumn(
                "Contact's referrals in window", format="%,d"),
        },
    )

st.subheader("Key-person risk")
if risk.empty:
    st.success("Every referrer with referred fees in this window is known by at least two of our "
               "people, with at least one tie stronger than 2.")
else:
    # nine columns do not fit 1280 px: the referrer and its profile link stay pinned on the left while
    # the rest scroll
    st.dataframe(
        risk[["name"]].assign(profile=state.profile_links(risk["referrer_id"])).join(
            risk[["referred_fees", "fee_share", "risk", "key_fee_earner", "fee_earners_who_know",
                  "relationship_count", "max_strength"]]),
        hide_index=True, width="stretch", placeholder="—",
        column_config={
            "profile": {**state.PROFILE_COLUMN, "pinned": True},
            "name": st.column_config.TextColumn("Referrer", pinned=True),
            "referred_fees": st.column_config.NumberColumn(
                f"Referred fees ({SETTINGS.currency})", format=MONEY),
            "fee_share": st.column_config.NumberColumn("Share of referred fees", format="percent"),
            "risk": "Why at risk",
            "key_fee_earner": st.column_config.TextColumn(
                "Key person", help="The one fee earner who knows them, when only one does"),
            "fee_earners_who_know": st.column_config.NumberColumn("Fee earners who know them",
                                                                  format="%d"),
            "relationship_count": st.column_config.NumberColumn("Relationships", format="%d"),
            "max_strength": st.column_config.NumberColumn("Strongest tie (1–5)", format="%d"),
        },
    )
    top = risk.iloc[0]
    st.markdown(
        f"**{top['name']}** brings {money(top['referred_fees'])} of referred fees in the window: "
        f"{top['risk']}"
        + (f" ({top['key_fee_earner']})." if isinstance(top["key_fee_earner"], str) else ".")
    )
st.caption("Referrers with referred fees in the window whose relationships with their current "
           "contacts are all held by one fee earner (who may leave), or where no relationship is "
           "stronger than 2 (including nobody here knowing them). Largest referred fees first.")

st.subheader("Relationships going stale")
st.number_input("No contact for at least (months)", min_value=1, max_value=60, value=6, step=1,
                key="stale_months")
if stale.empty:
    st.success(f"Every relationship had contact in the {months} months before the window's end.")
else:
    st.dataframe(
        stale[["fee_earner", "contact", "referrer", "strength", "last_contact_on",
               "months_since_contact", "referrer_referred_fees"]],
        hide_index=True, width="stretch", placeholder="never",
        column_config={  # who knows whom stays pinned on the left when the rest scroll at 1280 px
            "fee_earner": st.column_config.TextColumn("Fee earner", pinned=True),
            "contact": st.column_config.TextColumn("Contact", pinned=True),
            "referrer": "Referrer",
            "strength": st.column_config.NumberColumn(
                "Strength", format="%d", help="From 1 (acquaintance) to 5 (close, trusted)"),
            "last_contact_on": st.column_config.DateColumn("Last contact"),
            "months_since_contact": st.column_config.NumberColumn("Months since", format="%d"),
            "referrer_referred_fees": st.column_config.NumberColumn(
                f"Referrer's fees ({SETTINGS.currency})", format=MONEY,
                help="The referrer's referred fees in the window: what the relationship helps to keep"),
        },
    )
st.caption(f"A relationship is stale when its last recorded contact is on or before the window's "
           f"end minus {months} months, or no contact was ever recorded; the referrers bringing "
           f"the most referred fees first.")

st.subheader("Contacts who moved firm")
if moved.empty:
    st.info("No contact moved firm on or before the window's end (contact_moves is empty for these "
            "filters).")
else:
    st.dataframe(
        moved[["contact", "job_title", "from_referrer", "to_referrer", "moved_on",
               "old_firm_referrals", "old_firm_fees", "new_firm_referrals", "new_firm_fees",
               "new_referrer_referrals", "closest_fee_earner", "max_strength"]],
        hide_index=True, width="stretch", placeholder="—",
        column_config={
            # twelve columns: the contact stays pinned on the left when the rest scroll
            "contact": st.column_config.TextColumn("Contact", pinned=True),
            "job_title": "Job title", "from_referrer": "Moved from",
            "to_referrer": "Moved to", "moved_on": st.column_config.DateColumn("Moved on"),
            "old_firm_referrals": st.column_config.NumberColumn("Referrals at old firm",
                                                                format="%,d"),
            "old_firm_fees": st.column_config.NumberColumn(
                f"Fees from them ({SETTINGS.currency})", format=MONEY),
            "new_firm_referrals": st.column_config.NumberColumn("Referrals from new firm",
                                                                format="%,d"),
            "new_firm_fees": st.column_config.NumberColumn(
                f"Fees from those ({SETTINGS.currency})", format=MONEY),
            "new_referrer_referrals": st.column_config.NumberColumn(
                "New firm's referrals since the move (anyone)", format="%,d"),
            "closest_fee_earner": "Closest fee earner",
            "max_strength": st.column_config.NumberColumn("Strength (1–5)", format="%d"),
        },
    )
st.caption("Follow the person, not the firm: the next referral comes from where the contact now "
           "works. Counts the inbound referrals the contact made at the old firm and at the new one "
           "since the move, and the fees billed on them, over all history up to the window's end.")
