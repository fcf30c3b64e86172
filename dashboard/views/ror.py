"""Return on relationships: what we invest in each referrer against what it brings back."""

import streamlit as st

from dashboard import charts, state
from dashboard.attribution import DEFAULT_MODEL, MODEL_LABELS, MODEL_RULES, MODELS
from dashboard.formatting import count, money, money_short, ratio, share
from dashboard.settings import SETTINGS

CUR = SETTINGS.currency
MONEY = f"{CUR} %,.0f"


# Kept, not redrawn, on a rerun that changes nothing it shows (another table's sort, a tab): one dot per
# referrer is 20,000 of them in a pooled network, and building the figure was a third of such a rerun.
# Streamlit copies a figure before sending it, so sessions can share one (as the matrix's).
@st.cache_resource(max_entries=16, show_spinner=False)
def _scatter(result: tuple, _referrers, basis: str, log_axes: bool, return_label: str):
    """``result``: the key of ``_referrers`` (state.result_key), which Streamlit hashes in its place."""
    return charts.ror_scatter(_referrers, basis, log_axes, return_label)

st.title("Return on relationships")
st.caption(state.context_caption())
st.markdown(
    "What we put into each referrer (our people's time at its cost rate, plus money spent on "
    "lunches, events and secondments) against what the referrer brings back. The return is "
    "shown two ways: **direct**, the fees on matters the referrer referred to us, and "
    "**attributed**, the share of new matters' fees an attribution model credits to the "
    "referrer's referrals when other contacts (seminars, the website, our own people) also "
    "played a part. A return on relationships (ROR) of 3.0× means three pounds of fees for "
    "every pound invested; below 1.0× the relationship costs more than it returns."
)

controls = st.columns([3, 2, 2])
model = controls[0].selectbox(
    "Attribution model for the attributed return", MODELS, index=MODELS.index(DEFAULT_MODEL),
    key="ror_model", format_func=MODEL_LABELS.get,
    help="How the credit for a new matter is split over the contacts before it "
         "(the Attribution page compares all ten).",
)
basis = controls[1].radio(
    "Return in the chart", ["direct", "attributed"], horizontal=True, key="ror_basis",
    format_func={"direct": "Direct (referred fees)", "attributed": "Attributed"}.get,
)
log_axes = controls[2].toggle("Logarithmic axes", value=True, key="ror_log",
                              help="Spreads out the many small relationships next to the few large "
                                   "ones; referrers with no investment or no return cannot be drawn.")
st.caption(f"**{MODEL_LABELS[model]}**: {MODEL_RULES[model]} Attributed values use a 365-day "
           "look-back and a 30-day half-life, the Attribution page's defaults.")

params = {"model": model}
# shown after half a second only: the attributed return reads the view's attribution journeys, a second
# or two the first time at millions of referrals
with st.spinner("Working out what each referrer returns, directly and through attribution…"):
    summary = state.query("ror_summary", params).iloc[0]
direct = st.columns(3)
direct[0].metric("Invested", money_short(summary["investment_cost"]),
                 help="Σ hours × the fee earner's cost rate + Σ expenses, activities in the window")
direct[1].metric("Referred fees", money_short(summary["referred_fees"]),
                 help="fees billed in the window on matters from inbound referrals, whenever referred")
direct[2].metric("Direct ROR", ratio(summary["direct_ror"]),
                 help="all referred fees ÷ all investment in the window")
attributed = st.columns(3)
attributed[0].metric(
    "At or above break-even",
    f"{count(summary['break_even_direct'])} of {count(summary['invested_referrers'])}",
    help="referrers we invested in whose referred fees at least cover the investment "
         f"({count(summary['break_even_attributed'])} on attributed value)")
attributed[1].metric("Attributed value", money_short(summary["attributed_value"]),
                     help=f"referrers' credit under {MODEL_LABELS[model]}: fees up to the window's "
                          "end on new matters opened in the window")
attributed[2].metric("Attributed ROR", ratio(summary["attributed_ror"]),
                     help="all attributed value ÷ all investment in the window")

if summary["investment_cost"] == 0 and summary["referred_fees"] == 0 and summary["attributed_value"] == 0:
    st.info("No investment and no return in this window: no activity with a referrer was "
            "recorded and no referred matter was billed. Widen the window, clear the filters in "
            "the sidebar, or add activities (time and expenses per referrer) to the data.")
    st.stop()

st.caption(
    "The tiles add up every referrer in the filters: ROR is total return ÷ total investment"
    + (f", so the {money(summary['uninvested_referred_fees'])} of referred fees from referrers we "
       "spent nothing on counts as return too." if summary["uninvested_referred_fees"] else ".")
)

st.subheader("Investment against return, per referrer")
referrers = state.query("ror_referrers", params)
return_label = "Referred fees" if basis == "direct" else f"Attributed value ({MODEL_LABELS[model]})"
st.plotly_chart(_scatter(state.result_key("ror_referrers", params), referrers, basis, log_axes, return_label),
                width="stretch")
st.caption(
    "Each dot is a referrer: across, what we invested in the window; up, what it returned "
    "(direct: fees billed in the window on the matters it referred; attributed: its model credit "
    "for matters opened in the window). Dots above the dashed line return more than they cost."
)

active = referrers[(referrers["investment_cost"] != 0) | (referrers["referred_fees"] != 0)
                   | (referrers["attributed_value"] != 0)]
st.dataframe(
    active[["name", "referrer_type", "investment_cost", "referred_fees", "direct_ror",
            "attributed_value", "attributed_ror"]].assign(profile=state.profile_links(active["referrer_id"])),
    hide_index=True, width="stretch", placeholder="—", height=380,
    column_config={
        "profile": state.PROFILE_COLUMN,
        "name": st.column_config.TextColumn("Referrer", width="medium"),
        "referrer_type": st.column_config.TextColumn("Type", width="small"),
        "investment_cost": st.column_config.NumberColumn("Invested", format=MONEY),
        "referred_fees": st.column_config.NumberColumn("Referred fees", format=MONEY),
        "direct_ror": st.column_config.NumberColumn("Direct ROR", format="%.1f×",
                                                    help="referred fees ÷ invested"),
        "attributed_value": st.column_config.NumberColumn("Attributed value", format=MONEY),
        "attributed_ror": st.column_config.NumberColumn("Attributed ROR", format="%.1f×",
                                                        help="attributed value ÷ invested"),
    },
)
st.caption(
    f"{count(len(active))} referrers with an investment or a return; click a column to sort. "
    "ROR is blank where nothing was invested."
)

st.subheader("What each kind of activity returns")
types = state.query("ror_activity_types")
if types.empty:
    st.info("No activity with a referrer falls in this window. Widen the window or clear the filters.")
else:
    st.plotly_chart(charts.ror_activity_types(types), width="stretch")
    st.dataframe(
        types, hide_index=True, width="stretch", placeholder="—",
        column_config={
            "activity_type": st.column_config.TextColumn("Activity"),
            "activities": st.column_config.NumberColumn("Activities", format="%,d"),
            "referrers": st.column_config.NumberColumn("Referrers", format="%,d"),
            "hours": st.column_config.NumberColumn("Hours", format="%,.1f"),
            "cost": st.column_config.NumberColumn(f"Cost ({CUR})", format=MONEY),
            "referred_fees": st.column_config.NumberColumn(f"Referred fees, apportioned ({CUR})",
                                                           format=MONEY),
            "ror": st.column_config.NumberColumn("ROR", format="%.1f×"),
        },
    )
    st.caption(
        "A referrer's referred fees are shared over the kinds of activity it received in "
        "proportion to what each cost (by number of activities if none cost anything), so a "
        "seminar earns the share of a referrer's fees that seminars were of the money spent on "
        "it; ROR = those fees ÷ the activity's cost. This shows where the money went alongside "
        "what came back, not that one activity caused the work."
    )

st.subheader("Lifetime value: everything the clients they introduced bought")
lifetime = state.query("referrer_lifetime")
if lifetime.empty:
    st.info("No referrer introduced a client or has referred fees in this window.")
else:
    st.plotly_chart(charts.referrer_lifetime(lifetime, limit=10), width="stretch")
    st.dataframe(
        lifetime[["name", "clients_brought_in", "referred_fees", "lifetime_fees", "other_work_fees"]],
        hide_index=True, width="stretch", placeholder="—", height=320,
        column_config={
            "name": st.column_config.TextColumn("Referrer"),
            "clients_brought_in": st.column_config.NumberColumn("Clients introduced", format="%,d"),
            "referred_fees": st.column_config.NumberColumn(f"Referred fees ({CUR})", format=MONEY),
            "lifetime_fees": st.column_config.NumberColumn(f"Lifetime fees ({CUR})", format=MONEY),
            "other_work_fees": st.column_config.NumberColumn(
                f"Of which other work ({CUR})", format=MONEY,
                help="fees on matters of those clients that this referrer did not refer"),
        },
    )
    st.caption(
        "A referrer introduced a client when the client's first inbound referral came from it; "
        "lifetime fees are all fees billed in the window on that client's matters opened since, "
        "including work the client later bought directly, next to the fees on the referrer's "
        "referred matters alone."
    )

st.subheader("Do referrals convert better?")
touch = state.query("referral_touch_conversion")
left, right = st.columns([2, 1])
left.plotly_chart(charts.referral_touch_conversion(touch), width="stretch")
with right:
    for row in touch.itertuples(index=False):
        st.metric(f"Journeys {row.group}", share(row.conversion_rate),
                  help=f"{count(row.conversions)} of {count(row.journeys)} journeys led to a "
                       f"matter; {money(row.value)} of fees on those matters")
st.caption(
    "A journey is a client's recorded contacts with us up to a new matter (counted once per "
    "matter opened in the window) or, for clients who have not instructed us since, their "
    "contacts in the window; the rate is the share of journeys that ended in a matter. Matters "
    "with no recorded contact at all are in neither group."
)
