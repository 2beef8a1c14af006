"""Overview: every model's health and why, owner, version, traffic, labels, dead letters.

Built for scanning hundreds of models: one cached read (``Query.overview``, a handful of round
trips whatever the number of models), filters by owner and health, search, sort. Selecting a row
opens the model page — the first of the two clicks from here to a drifting feature's evidence.
A deep link to the root with ``?model=…`` (and ``&feature=…``) forwards to the right page.
"""

from __future__ import annotations

import textwrap

import streamlit as st

from dashboard import data, widgets
from dashboard.figures import common, health

#: Unhealthy models linked above the table: enough for a bad night, short enough to read.
ATTENTION_LINKS = 10
#: The table grows with its rows up to about 17 of them, then scrolls.
TABLE_HEADER_PX, TABLE_ROW_PX, TABLE_MAX_PX = 38, 35, 640

params = st.query_params.to_dict()
if "model" in params:
    target = widgets.FEATURE_PAGE if "feature" in params else widgets.MODEL_PAGE
    st.switch_page(target, query_params=params)

st.title("Models")
rows = health.overview_rows(data.overview(), data.current_references(), widgets.viewer_zone())

if all(r.predictions == 0 for r in rows):
    st.info(
        "No predictions have arrived yet. Start the daemon (`driftwatch run --config "
        f"{data.config_path()}`) and send events — `driftwatch simulate` produces demo traffic. "
        "This page refreshes by itself."
    )

counts = health.health_counts(rows)
left, right = st.columns([3, 2])
with left:
    st.subheader("Needs attention")
    attention = health.select_rows(rows, healths=("CRITICAL", "WARN"))
    for r in attention[:ATTENTION_LINKS]:
        st.page_link(
            widgets.MODEL_PAGE,
            label=common.md(
                f"{r.model} · {r.health} · {textwrap.shorten(r.reasons, 140) or 'see its page'}"
            ),
            query_params={"model": r.model},
            icon=":material/error:" if r.health == "CRITICAL" else ":material/warning:",
        )
    if len(attention) > ATTENTION_LINKS:
        st.caption(f"… and {len(attention) - ATTENTION_LINKS} more: filter the table by health.")
    if not attention:
        st.success("No model drifts or underperforms right now.")
with right:
    st.plotly_chart(health.health_bar(counts), key="health_bar")
    st.caption(f"{len(rows)} models configured")

owners = sorted({r.owner for r in rows})
f1, f2, f3, f4 = st.columns([2, 2, 2, 2])
chosen_owners = f1.multiselect("Owner", owners, key="owner_filter")
chosen_health = f2.multiselect("Health", list(health.HEALTH_ORDER), key="health_filter")
search = f3.text_input("Search", placeholder="model or owner", key="search")
sort = f4.selectbox("Sort by", list(health.SORTS), key="sort")
selected = health.select_rows(
    rows, owners=chosen_owners, healths=chosen_health, search=search, sort=sort
)

if not selected:
    st.info("No model matches these filters.")
    st.stop()

table = widgets.frame(selected)
table.insert(1, "link", [common.deep_link(common.MODEL_PATH, {"model": r.model}) for r in selected])
event = st.dataframe(
    widgets.coloured(table, "health", health.health_color),
    hide_index=True,
    height=min(TABLE_HEADER_PX + TABLE_ROW_PX * len(selected), TABLE_MAX_PX),
    on_select="rerun",
    selection_mode="single-row",
    key="overview_table",
    column_order=[
        "model",
        "health",
        "reasons",
        "owner",
        "version",
        "predictions",
        "last_window_rows",
        "label_coverage",
        "mean_label_delay_seconds",
        "dead_letter_rate",
        "dead_letters",
        "last_event",
        "reference",
        "task",
        "link",
    ],
    column_config={
        "model": st.column_config.TextColumn("model", pinned=True),
        "health": st.column_config.TextColumn("health", help="worst signal of the newest window"),
        "reasons": st.column_config.TextColumn("why", width="medium"),
        "predictions": st.column_config.NumberColumn("predictions", format="localized"),
        "last_window_rows": st.column_config.NumberColumn(
            "rows in newest window", format="localized"
        ),
        "label_coverage": st.column_config.NumberColumn("label coverage", format="percent"),
        "mean_label_delay_seconds": st.column_config.NumberColumn(
            "mean label delay", format="%.1f s"
        ),
        "dead_letter_rate": st.column_config.NumberColumn("dead-letter rate", format="percent"),
        "dead_letters": st.column_config.NumberColumn("dead letters", format="localized"),
        "last_event": st.column_config.DatetimeColumn("last event", format="YYYY-MM-DD HH:mm:ss z"),
        "link": st.column_config.LinkColumn("open", display_text="model page"),
    },
)
st.caption("Select a row to open its model page.")
picked = event.selection.rows if event else []
if picked:
    st.switch_page(widgets.MODEL_PAGE, query_params={"model": selected[picked[0]].model})
