"""Overview: every model's health and why, since when, its trend, owner, labels, dead letters.

Built for scanning hundreds of models: a few cached reads (``Query.status``, the references,
``Query.recent_windows`` for the trends, the dead letters without a model), a handful of round
trips whatever the number of models; filters by owner and health, search, sort. Selecting a row
opens the model page — the first of the two clicks from here to the evidence. The why is shown
whole: wrapped under "Needs attention" and in "Why, in full" under the table, whose cells cut it.
A deep link to the root with ``?model=…`` (and ``&feature=…``) forwards to the right page.
"""

from __future__ import annotations

import time

import streamlit as st

from dashboard import data, widgets
from dashboard.figures import common, health

#: Unhealthy models linked above the table: enough for a bad night, short enough to read.
ATTENTION_LINKS = 10
#: Models without a reference named in their notice before "and N more".
NAMED_WITHOUT_REFERENCE = 10
#: The table grows with its rows up to about 17 of them, then scrolls.
TABLE_HEADER_PX, TABLE_ROW_PX, TABLE_MAX_PX = 38, 35, 640
#: The key columns, narrow enough to fit side by side at 1400 px with the sidebar open; the
#: rest follow (scroll right for them).
KEY_COLUMNS = [
    "model",
    "health",
    "reasons",
    "since",
    "trend",
    "owner",
    "label_coverage",
    "mean_label_delay_seconds",
    "dead_letters",
    "last_event",
    "reference",
]
OTHER_COLUMNS = [
    "version",
    "predictions",
    "last_window_rows",
    "dead_letter_rate",
    "task",
    "link",
]
COLUMNS = {
    "model": st.column_config.TextColumn("model", pinned=True, width=105),
    "health": st.column_config.TextColumn(
        "health", help="worst signal of the newest judged window", width=95
    ),
    "reasons": st.column_config.TextColumn(
        "why", help="cut here: read it whole in *Why, in full* below the table", width=120
    ),
    "since": st.column_config.DatetimeColumn(
        "since",
        help="since when it is WARN or CRITICAL; the time is under *Why, in full*",
        format="distance",
        width=95,
    ),
    "trend": st.column_config.BarChartColumn(
        "trend",
        help=(
            f"each of its newest {health.TREND_WINDOWS} windows, oldest left: no bar too few "
            "rows or no reference, low ok, middle warning, tall critical"
        ),
        y_min=0,
        y_max=max(health.TREND_HEIGHTS.values()),
        color=common.SERIES_COLORS[0],
        width=70,
    ),
    "owner": st.column_config.TextColumn("owner", width=100),
    "label_coverage": st.column_config.NumberColumn(
        "labels",
        help="label coverage: of the predictions labelled or past their label horizon, the "
        "share that got their label",
        format="percent",
        width=60,
    ),
    "mean_label_delay_seconds": st.column_config.NumberColumn(
        "label delay", help="mean time from prediction to its label", format="duration", width=95
    ),
    "dead_letters": st.column_config.NumberColumn(
        "dead", help="dead letters: its invalid records", format="compact", width=55
    ),
    "last_event": st.column_config.DatetimeColumn(
        "last event", help="event time of its newest record", format="distance", width=100
    ),
    "reference": st.column_config.TextColumn(
        "reference", help="current reference profile version", width=130
    ),
    "predictions": st.column_config.NumberColumn("predictions", format="localized"),
    "last_window_rows": st.column_config.NumberColumn("rows in newest window", format="localized"),
    "dead_letter_rate": st.column_config.NumberColumn("dead-letter rate", format="percent"),
    "link": st.column_config.LinkColumn("open", display_text="model page"),
}

params = st.query_params.to_dict()
if "model" in params:
    target = widgets.FEATURE_PAGE if "feature" in params else widgets.MODEL_PAGE
    st.switch_page(target, query_params=params)

st.title("Models")
rows = health.overview_rows(
    data.overview(),
    data.current_references(),
    widgets.viewer_zone(),
    now=time.time(),
    recent=data.recent_windows(health.TREND_WINDOWS),
)

if all(r.predictions == 0 for r in rows):
    st.info(
        "No predictions have arrived yet. Start the daemon (`driftwatch run --config "
        f"{data.config_path()}`) and send events — `driftwatch simulate` produces demo traffic. "
        "This page refreshes by itself."
    )

counts = health.health_counts(rows)
missing = health.without_reference(rows)
left, right = st.columns([3, 2])
with left:
    st.subheader("Needs attention")
    attention = health.select_rows(rows, healths=("CRITICAL", "WARN"))
    for r in attention[:ATTENTION_LINKS]:
        since = f" · since {r.since_text}" if r.since_text else ""
        st.page_link(
            widgets.MODEL_PAGE,
            label=common.md(f"{r.model} · {health.health_text(r.health)}{since}"),
            query_params={"model": r.model},
            icon=":material/error:" if r.health == "CRITICAL" else ":material/warning:",
        )
        st.caption("\n".join(f"- {common.md(reason)}" for reason in r.why) or "see its page")
    if len(attention) > ATTENTION_LINKS:
        st.caption(f"… and {len(attention) - ATTENTION_LINKS} more: filter the table by health.")
    if not attention:
        judged = "No model with a reference" if missing else "No model"
        st.success(f"{judged} drifts or underperforms right now.")
    if missing:
        named = ", ".join(common.md(m) for m in missing[:NAMED_WITHOUT_REFERENCE])
        more = len(missing) - NAMED_WITHOUT_REFERENCE
        st.warning(
            f"**{len(missing)} of {len(rows)} models have no reference**, so no drift of theirs "
            f"can be judged: {named}{f' and {more} more' if more > 0 else ''}. Set one from the "
            f"training data, e.g. `{common.baseline_hint(missing[0])}`, or from a good period "
            "of the stream (`--from-stream --start … --end …`).",
            icon=":material/rule:",
        )
    unknown = health.unknown_dead_letters_text(
        data.unknown_model_dead_letters(), data.settings().kafka.dead_letter_topic
    )
    if unknown:
        st.warning(common.md(unknown), icon=":material/mark_email_unread:")
with right:  # badges, not a chart: this page would load Plotly (4.7 MB of script) for one bar
    st.markdown(
        "  \n".join(
            widgets.severity_badge(health.HEALTH_SEVERITY[status], f"{status}: {n:,}")
            for status, n in counts.items()
        )
    )
    st.caption(f"{len(rows)} models configured")

with st.expander("Filter and sort", icon=":material/filter_list:"):
    f1, f2, f3, f4 = st.columns(4)
    chosen_owners = f1.multiselect("Owner", sorted({r.owner for r in rows}), key="owner_filter")
    chosen_health = f2.multiselect("Health", list(health.HEALTH_ORDER), key="health_filter")
    search = f3.text_input("Search", placeholder="model or owner", key="search")
    sort = f4.selectbox("Sort by", list(health.SORTS), key="sort")
selected = health.select_rows(
    rows, owners=chosen_owners, healths=chosen_health, search=search, sort=sort
)

if not selected:
    st.info("No model matches these filters.")
    st.stop()
if len(selected) < len(rows):
    st.caption(f"{len(selected)} of {len(rows)} models match the filters.")

table = widgets.frame(selected)
table["link"] = [common.deep_link(common.MODEL_PATH, {"model": r.model}) for r in selected]
event = st.dataframe(
    widgets.coloured(table, "health", health.health_color, health.health_text),
    hide_index=True,
    height=min(TABLE_HEADER_PX + TABLE_ROW_PX * len(selected), TABLE_MAX_PX),
    on_select="rerun",
    selection_mode="single-row",
    key="overview_table",
    column_order=[*KEY_COLUMNS, *OTHER_COLUMNS],
    column_config=COLUMNS,
    placeholder="–",
)
st.caption("Select a row to open its model page. Scroll the table right for more columns.")
picked = event.selection.rows if event else []
if picked:
    st.switch_page(widgets.MODEL_PAGE, query_params={"model": selected[picked[0]].model})

with st.expander(f"Why, in full ({len(selected)} models)", icon=":material/notes:"):
    st.markdown(
        "\n".join(
            f"- **{common.md(r.model)}** · {common.md(health.health_text(r.health))}"
            + (f" since {common.md(r.since_text)}" if r.since_text else "")
            + f": {common.md(r.reasons or 'nothing to report')}"
            for r in selected
        )
    )
