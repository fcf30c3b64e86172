"""Development pipeline: referrers being developed through the strategic referral process, by stage."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from dashboard import charts, state
from dashboard.formatting import count, money_short
from dashboard.settings import SETTINGS
from dashboard.store import STAGES

programme = state.programme()
currency = SETTINGS.currency

st.title("Referrer development pipeline")
st.caption(state.context_caption())
st.markdown(
    "New referrers are developed through the five stages of a strategic referral relationship: "
    "**connection** (a cultural and a commercial fit), **getting to know each other** (each other's "
    "business and where in their workflow a referral can happen), **understanding the whys and why-nots** "
    "(what each side gains, what stops them referring), **agreement** (how referred clients are handled and "
    "how the referrer is kept informed) and **implementation**. Developing several at once spreads the "
    "dependence on a few large referrers. A referrer's stage is set in its plan, on its profile."
)

pipeline = state.query("pipeline")
plans = state.query("plans")
labels = [label for _, label in STAGES]
by_stage = pipeline["stage_label"].value_counts()

# two rows of three: in one row of six at 1280 px the stages' names were cut off ("2 · Getting to know…")
tiles = [column for _ in range(2) for column in st.columns(3)]
tiles[0].metric("In the pipeline", count(len(pipeline)), help="referrers whose plan has a stage")
for tile, (order, label) in zip(tiles[1:], enumerate(labels, start=1), strict=True):
    tile.metric(f"{order} · {label}", count(by_stage.get(label, 0)),
                help=f"referrers at stage {order}, {label.lower()}")

if pipeline.empty:
    st.info("No referrer is in the pipeline yet. Open a referrer's profile (Relationships → Referrer profile), "
            "set its stage in the strategic referral process on the “Plan and stage” tab and save the plan.")
    st.stop()

figure = go.Figure(go.Bar(
    x=[int(by_stage.get(label, 0)) for label in labels],
    y=[f"{order} · {label}" for order, label in enumerate(labels, start=1)],
    orientation="h", marker_color=charts.ACCENT, text=[int(by_stage.get(label, 0)) for label in labels],
    textposition="auto", hovertemplate="%{y}: %{x} referrer(s)<extra></extra>",
))
figure.update_yaxes(autorange="reversed", automargin=True)
figure.update_xaxes(title_text="Referrers (number)", rangemode="tozero", dtick=1)
st.plotly_chart(charts._layout(figure, "Referrers at each stage of development (number)", height=340),
                width="stretch")

left, right = st.columns(2)
left.metric("Referred fees from the pipeline", money_short(pipeline["referred_fees"].sum()),
            help="referred fees in the window from the referrers in the pipeline, as the scorecard")
right.metric("Overdue next steps", count(pipeline["overdue_steps"].sum()),
             help="open next steps in their plans due before today")

st.subheader("Referrers being developed")
for order, label in enumerate(labels, start=1):
    rows = pipeline[pipeline["stage_label"] == label]
    if rows.empty:
        continue
    st.markdown(f"**{order} · {label}** ({count(len(rows))})")
    st.dataframe(
        rows.assign(
            profile=state.profile_links(rows["referrer_id"]),
            level_text=[f"{programme.label(lv, missing='No level')} ({src})"
                        for lv, src in zip(rows["level"], rows["level_source"], strict=True)],
        )[["profile", "name", "referrer_type", "partner", "level_text", "referrals", "referred_fees",
           "open_steps", "overdue_steps", "next_due_on", "plan_changed_at"]],
        hide_index=True, width="stretch", placeholder="—",
        column_config={
            "profile": st.column_config.LinkColumn("Profile", display_text=r"profile\?referrer=(.*)",
                                                   help="open the referrer's profile and plan"),
            "name": "Referrer", "referrer_type": "Type", "partner": "Relationship partner",
            "level_text": "Level", "referrals": st.column_config.NumberColumn("Referrals", format="%d"),
            "referred_fees": st.column_config.NumberColumn(f"Referred fees ({currency})", format="%,.0f"),
            "open_steps": st.column_config.NumberColumn("Open steps", format="%d"),
            "overdue_steps": st.column_config.NumberColumn("Overdue", format="%d"),
            "next_due_on": st.column_config.DateColumn("Next due", format="YYYY-MM-DD"),
            "plan_changed_at": st.column_config.DatetimeColumn("Plan saved (UTC)", format="YYYY-MM-DD HH:mm"),
        },
    )
st.caption("Referrals and referred fees in the window, as the scorecard. Level: the board's (assigned), else the "
           "rule's (suggested). Open steps: next steps of the plan not done; overdue: due before today.")

st.subheader("Open next steps, overdue first")
mine = plans[plans["referrer_id"].isin(pipeline["referrer_id"])]
if mine.empty:
    st.caption("No open next step in these referrers' plans: add next steps with an owner and a due date on "
               "their profiles.")
else:
    st.dataframe(
        mine.assign(profile=state.profile_links(mine["referrer_id"]))[
            ["profile", "referrer", "action", "owner", "due_on", "days_overdue", "stage"]],
        hide_index=True, width="stretch", placeholder="—",
        column_config={
            "profile": st.column_config.LinkColumn("Profile", display_text=r"profile\?referrer=(.*)"),
            "referrer": "Referrer", "action": "Next step", "owner": "Owner",
            "due_on": st.column_config.DateColumn("Due", format="YYYY-MM-DD"),
            "days_overdue": st.column_config.NumberColumn("Days overdue", format="%d"),
            "stage": "Stage",
        },
    )
