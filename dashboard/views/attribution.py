"""Attribution: which of our activities and which referrers bring the work, under ten models."""

import streamlit as st

from dashboard import charts, state
from dashboard.attribution import (
    DEFAULT_MODEL,
    MAX_LOOKBACK_DAYS,
    MODEL_LABELS,
    MODEL_RULES,
    MODELS,
)
from dashboard.formatting import count, money, money_short
from dashboard.settings import SETTINGS

st.title("Attribution")
st.caption(state.context_caption())
st.markdown(
    "A referral is rarely the only influence on a new matter: seminars, newsletters, the website "
    "and our own fee earners touch the client too. Attribution splits the credit for each new "
    "matter over the contacts the client had with us before it was opened. There is no single "
    "right split, so the page shows ten common rules side by side: where they agree, the answer "
    "does not depend on the rule."
)

controls = st.columns([3, 2, 2])
model = controls[0].selectbox(
    "Attribution model", MODELS, index=MODELS.index(DEFAULT_MODEL), key="attribution_model",
    format_func=MODEL_LABELS.get, help="Used for the referrer table; the chart shows all ten.",
)
lookback = int(controls[1].number_input(
    "Look back (days)", min_value=0, max_value=MAX_LOOKBACK_DAYS, value=365, step=30,
    key="attribution_lookback",
    help="Contacts more than this many days before the matter was opened are left out.",
))
half_life = float(controls[2].number_input(
    "Time-decay half-life (days)", min_value=0.5, max_value=3650.0, value=30.0, step=5.0,
    key="attribution_half_life", help="Used by the time-decay model only.",
))
st.caption(f"**{MODEL_LABELS[model]}**: {MODEL_RULES[model]}")

params = {"lookback_days": lookback, "half_life_days": half_life}
# shown after half a second only (Streamlit's delay): a view's journeys take a second or two to read the
# first time at millions of referrals, and nothing else on the page can be drawn before them
with st.spinner("Reading this view's journeys: every new matter's contacts before it…"):
    summary = state.query("attribution_summary", {"lookback_days": lookback}).iloc[0]
tiles = st.columns(4)
tiles[0].metric("New matters", count(summary["conversions"]),
                help="matters opened in the window (the conversions), for the filters")
tiles[1].metric("With a recorded journey", count(summary["attributed_conversions"]),
                help="matters with at least one contact in the look-back: these share the credit")
tiles[2].metric("Unattributed", count(summary["unattributed_conversions"]),
                help="matters with no recorded contact in the look-back: counted, but nobody "
                     "gets credit for them")
tiles[3].metric("Value unattributed", money_short(summary["unattributed_value"]),
                help=f"fees billed up to the window's end on unattributed matters, of "
                     f"{money(summary['value'])} on all new matters")

if summary["attributed_conversions"] == 0:
    st.info("No new matter in this window has a recorded contact in the look-back period, so "
            "there is nothing to attribute. Widen the window or the look-back, clear the "
            "filters in the sidebar, or record touchpoints in the data.")
    st.stop()
if summary["unattributed_conversions"]:
    st.caption(
        f"{count(summary['unattributed_conversions'])} of {count(summary['conversions'])} new "
        "matters have no recorded contact before them: the credit below covers the rest."
    )

# Only the open tab is computed (a tab switch reruns the page): at 10 million referrals each of them
# takes a second or more on its own.
tab_models, tab_referrers, tab_paths = st.tabs(
    ["Ten models compared", "Referrers", "Path explorer"],
    key="attribution_tab", on_change="rerun",
)

if tab_models.open:
    with tab_models:
        st.subheader("How much the answer depends on the model")
        measure = st.radio("Show credit as", ["conversions", "value"], horizontal=True,
                           key="attribution_measure",
                           format_func={"conversions": "New matters",
                                        "value": f"Fees ({SETTINGS.currency})"}.get)
        with st.spinner("Crediting the contacts under each of the ten models…"):
            comparison = state.query("attribution_comparison", params)
        st.plotly_chart(charts.attribution_models(comparison, measure, model, MODEL_LABELS), width="stretch")
        st.caption(
            "Each bar is one model's credit to a channel. A matter counts once in every model, split over "
            "the contacts in its journey: the client's recorded contacts before the end of the day the "
            "matter was opened, after the day of the client's previous matter and within the look-back. "
            "Fees are those billed on the matter up to the window's end, credit notes included."
        )
        with st.expander("How each model splits the credit"):
            st.table({"Model": [MODEL_LABELS[m] for m in MODELS], "Rule": [MODEL_RULES[m] for m in MODELS]})

if tab_referrers.open:
    with tab_referrers:
        st.subheader(f"Referrers under the {MODEL_LABELS[model]} model")
        with st.spinner("Ranking the referrers under each of the ten models…"):
            ranks = state.query("attribution_referrer_ranks", {"model": model, **params})
        if ranks.empty:
            st.info("No journey in this window has a referral contact with a named referrer.")
        else:
            st.plotly_chart(charts.attribution_referrers(ranks, MODEL_LABELS[model]), width="stretch")
            st.dataframe(
                ranks[["name", "conversions", "value", "rank", "best_rank", "worst_rank", "rank_spread"]],
                hide_index=True, width="stretch", placeholder="—", height=380,
                column_config={
                    "name": st.column_config.TextColumn("Referrer"),
                    "conversions": st.column_config.NumberColumn("Matters (credit)", format="%,.2f"),
                    "value": st.column_config.NumberColumn(f"Fees ({SETTINGS.currency})", format="%,.0f"),
                    "rank": st.column_config.NumberColumn("Rank", format="%d"),
                    "best_rank": st.column_config.NumberColumn("Best rank", format="%d",
                                                               help="its highest rank under any model"),
                    "worst_rank": st.column_config.NumberColumn("Worst rank", format="%d",
                                                                help="its lowest rank under any model"),
                    "rank_spread": st.column_config.NumberColumn(
                        "Rank moves by", format="%d", help="worst − best rank across the ten models"),
                },
            )
            st.caption(
                "A referrer's credit is the share its own referral contacts earn under the model (for "
                "Markov and Shapley: the referral channel's credit, divided in proportion to each "
                "referrer's share of it under the linear model). Ranks: most credit first; the bar "
                "labels show the best and worst rank across the ten models. Orange bars: referrers "
                "whose rank moves by three or more places between models, so their importance depends "
                "on the rule chosen."
            )

if tab_paths.open:
    with tab_paths:
        st.subheader("Path explorer")
        st.markdown("The most common journeys, contact by contact, and how often each led to a new matter.")
        referrers = state.query("touch_referrers")
        names = dict(zip(referrers["referrer_id"], referrers["name"], strict=True))
        code_names = state.query("journey_code_names")
        channels = code_names.loc[code_names["kind"] == "channel", "name"].tolist()
        filters = st.columns([2, 3, 2])
        channel = filters[0].selectbox("Journeys with a contact through", ["", *channels],
                                       key="attribution_path_channel",
                                       format_func=lambda c: c or "any channel")
        referrer = filters[1].selectbox("Journeys with a referral from", ["", *names],
                                        key="attribution_path_referrer",
                                        format_func=lambda r: names.get(r, "any referrer"))
        limit = filters[2].slider("Journeys shown", 5, 100, 20, step=5, key="attribution_path_limit")
        paths = state.query("attribution_paths", {"lookback_days": lookback, "channel": channel,
                                                  "referrer_id": referrer, "limit": limit})
        if paths.empty:
            st.info("No journey in this window matches these choices.")
        else:
            st.plotly_chart(charts.attribution_paths(paths, limit=min(limit, 20)), width="stretch")
            st.dataframe(
                paths, hide_index=True, width="stretch", placeholder="—",
                column_config={
                    "path": st.column_config.TextColumn("Journey"),
                    "touchpoints": st.column_config.NumberColumn("Contacts", format="%d"),
                    "journeys": st.column_config.NumberColumn("Journeys", format="%,d"),
                    "conversions": st.column_config.NumberColumn("Led to a matter", format="%,d"),
                    "conversion_rate": st.column_config.NumberColumn("Conversion rate", format="percent"),
                    "value": st.column_config.NumberColumn(f"Fees ({SETTINGS.currency})", format="%,.0f"),
                },
            )
            st.caption(
                "A journey that led to a matter counts once per matter opened; one that did not is a "
                "client's contacts in the window after its last matter (or all of them if it has none). "
                "Conversion rate = journeys that led to a matter ÷ all journeys with that path."
            )
