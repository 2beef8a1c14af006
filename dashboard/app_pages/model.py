"""Model page: is this model healthy, and if not, what fails, since when, and where is the proof?

The first screen answers the on-call question whatever the cause: the health, then a card per
failing signal — drift, performance, data quality, the error-rate detector, labels, traffic —
with its number, threshold, n and since when, each one click from its evidence (the second click
from the overview); then every verdict over the windows as a heatmap (click a cell to open it)
and the window's verdict table. Below, the evidence views (prediction drift, performance, data
quality, labels, comparisons, the model's history), opened on the worst signal's. Deep link:
``?model=…&window=…&view=…`` (views: ``figures/signals.py``, ``VIEWS``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from dashboard import data, sections, widgets
from dashboard.figures import common, retraining, signals, verdicts
from dashboard.figures.health import HEALTH_SEVERITY

#: Cards shown at most: beyond them the verdict table lists the rest.
MAX_CARDS = 6
#: A card's width in pixels: three side by side on a desktop, one per line on a phone.
CARD_PX = 330
#: The app's page of each evidence link's path.
PAGES = {common.MODEL_PATH: widgets.MODEL_PAGE, common.FEATURE_PATH: widgets.FEATURE_PAGE}

settings = data.settings()
tz = widgets.viewer_zone()
model_column, window_column = st.columns([1, 2])
with model_column:
    model = widgets.pick_model(key="model_model")
status = data.status(model.name)
health = status.health
reference = data.current_references().get(model.name)
evaluated = data.evaluations(model.name, widgets.windows_shown())
by_start = common.windows_by_start(evaluated)
starts = sorted(by_start, reverse=True)


def window_label(start: int) -> str:
    """A window in the picker: when, how many rows, and its overall severity (the worst of its
    drift, performance and data-quality verdicts) with its glyph."""
    ev = evaluated[by_start[start]]
    severity = signals.window_severity(ev)
    shown = common.severity_text(severity) if severity != "none" else "no verdict"
    return f"{common.stamp(start, tz)} · {ev.n:,} rows · {shown}"


with window_column:
    start = widgets.pick_window(
        starts,
        key="model_window",
        default=health.window_start if health else None,
        format_func=window_label,
    )

st.title(common.md(model.name))
version = status.latest.version if status.latest else "–"
last_event = status.counts.last_event_ts
st.caption(
    f"owner {common.md(model.owner)} · {model.task} · version {common.md(version)} · "
    f"reference {common.md(reference or 'none')} · {len(model.features)} features · last event "
    + (common.stamp(last_event, tz) if last_event is not None else "none yet")
)
if health is not None:
    severity = HEALTH_SEVERITY[health.status]
    line = widgets.severity_badge(severity, health.status)
    if health.since is not None and severity in signals.ACTIVE:
        line += f" since {common.stamp(health.since, tz)}"  # the cards say why
    else:
        line += "  " + common.md("; ".join(health.reasons))
    st.markdown(line)
if reference is None:
    widgets.no_reference(model.name)
if start is None:
    if status.counts.predictions == 0:
        st.info(
            f'No predictions for {common.md(model.name)} yet: check that producers send `"model": '
            f'"{model.name}"` to `{settings.kafka.predictions_topic}` and that the daemon runs.'
        )
    else:
        st.info(
            f"{status.counts.predictions:,} predictions received, no window evaluated yet: the "
            "daemon's evaluator runs every few seconds. This page refreshes by itself."
        )
    st.stop()

evaluations = list(evaluated.values())
wid = by_start[start]
ev = evaluated[wid]
# Alerts are the model's state now: they belong to its current windows only (the newest, and the
# newest judged, which health reads).
current = start == starts[0] or (health is not None and start == health.window_start)
span = (settings.windows.size_seconds, settings.performance.change_point_span_seconds)
found = signals.signals(
    model.name,
    ev,
    evaluations,
    tz,
    change_points=data.change_points(model.name, ev.window_start - span[1]),
    span=span,
    alerts=data.alerts().get(model.name, {}).values() if current else (),
    counts=status.counts,
)


def signal_card(s: signals.Signal, key: str) -> None:
    """One failing signal: severity as glyph and word, what and how much against which threshold,
    n and since when, the verdict's own words on hover, and the link to its evidence."""
    with st.container(border=True, width=CARD_PX, key=key):
        st.markdown(
            f"{widgets.severity_badge(s.severity, s.severity)} "
            f"**{common.md(signals.KINDS[s.kind])}** · {common.md(s.subject)}"
        )
        if s.value:
            st.markdown(
                f"{common.md(s.statistic)} **{common.md(s.value)}** {common.md(s.op)} "
                f"threshold {common.md(s.threshold)}",
                help=common.md(s.detail) if s.detail else None,
            )
        elif s.detail:
            st.markdown(common.md(s.detail))
        facts = [f"n = {s.n}"] if s.n else []
        facts += [f"since {s.since:{common.TIME_FORMAT}}"] if s.since is not None else []
        if facts:
            st.caption(common.md(" · ".join(facts)))
        st.page_link(
            PAGES[s.link.page],
            label=common.md(s.link.label),
            query_params=s.link.params,
            icon=":material/query_stats:",
        )


if found:
    st.subheader("Failing signals")
    with st.container(horizontal=True, gap="small"):
        for i, s in enumerate(found[:MAX_CARDS]):
            signal_card(s, f"signal_{i}")
    if len(found) > MAX_CARDS:
        st.caption(
            f"And {len(found) - MAX_CARDS} more signals: all of this window's verdicts are listed "
            "under “Verdicts of this window”."
        )
elif not (ev.verdicts or ev.performance_verdicts or ev.quality_verdicts):
    st.caption("No verdicts in this window (binned without a reference).")
elif signals.window_severity(ev) == "insufficient":
    st.markdown(
        widgets.severity_badge("insufficient", "insufficient data")
        + " Too few rows in this window for a verdict."
    )
else:
    st.markdown(
        widgets.severity_badge("ok", "OK")
        + " Nothing fails in this window: drift, performance and data quality are within their "
        "thresholds."
    )

heat = verdicts.heatmap_info(evaluations, list(model.features), tz)
clicked = st.plotly_chart(
    verdicts.verdicts_heatmap(heat), on_select="rerun", selection_mode="points", key="heatmap"
)
points = clicked.selection.points if clicked else []
cell = str(points[0]["customdata"]) if points and "customdata" in points[0] else None
if cell is None:
    st.session_state.pop("heatmap_opened", None)
elif cell != st.session_state.get("heatmap_opened"):  # a cell of this page stays selected
    st.session_state["heatmap_opened"] = cell
    link = verdicts.cell_evidence(model.name, cell)
    st.switch_page(PAGES[link.page], query_params=link.params)
st.caption(
    f"{verdicts.legend()}. Hover a cell for its statistic, threshold and sample size; click a "
    "marked cell to open its evidence, or pick any window above."
)

table = verdicts.verdict_table(ev)
with st.expander("Verdicts of this window", expanded=not found):
    st.dataframe(
        widgets.frame(table.rows),
        hide_index=True,
        key="verdicts",
        column_order=table.columns,
        column_config={
            "p_value": st.column_config.TextColumn("p-value"),
            "n": st.column_config.NumberColumn("n", format="localized"),
            "n_counts": st.column_config.TextColumn("n counts"),
            "expected_false_alarm_rate": st.column_config.TextColumn(
                "expected false-alarm rate",
                help="The chance that this verdict flags a window of this size that did not "
                "change (0% for a verdict that does not test: too few rows).",
            ),
            "reasons": st.column_config.TextColumn("reasons", width="large"),
        },
    )


def history_section(model_name: str) -> None:
    """What happened to the model (its audit trail) and how fast its incidents were handled:
    the same incidents and mean times as ``driftwatch history`` and ``/metrics``."""
    hist = retraining.history_info(data.history(model_name), time.time(), tz)
    for column, mean in zip(st.columns(len(hist.means)), hist.means, strict=True):
        column.metric(mean.label, mean.value, help=mean.help)
    st.markdown("**Incidents** (newest first)")
    if hist.incidents:
        st.dataframe(
            widgets.frame(hist.incidents),
            hide_index=True,
            key="history_incidents",
            column_config={
                "started": st.column_config.DatetimeColumn("started", format="YYYY-MM-DD HH:mm z"),
                "time_to_detect": st.column_config.TextColumn("time to detect"),
                "time_to_acknowledge": st.column_config.TextColumn("time to acknowledge"),
                "time_to_recover": st.column_config.TextColumn("time to recover"),
            },
        )
        st.caption(
            "An incident runs from the model's first firing alert to the resolve of its last; "
            "its times count from the first window that showed the problem. Acknowledged: a "
            "silence of one of its alerts, or an approved retraining."
        )
    else:
        st.caption("No incident: no alert of this model fired in the trail kept.")
    st.markdown(f"**Newest events** ({len(hist.events)} of {hist.total_events} kept)")
    if hist.events:
        st.dataframe(
            widgets.frame(hist.events),
            hide_index=True,
            key="history_events",
            column_config={
                "time": st.column_config.DatetimeColumn("time", format="YYYY-MM-DD HH:mm:ss z"),
                "summary": st.column_config.TextColumn("summary", width="large"),
            },
        )
    else:
        st.caption(
            "Nothing recorded yet: references, health changes, alerts and retraining land here."
        )
    st.caption(
        f"The whole trail, with a period and as JSON: `driftwatch history --model {model_name}` "
        "(kept `[audit] retention_days`)."
    )


# Views, not tabs: a tab cannot be linked to, and a card or an alert must open its evidence.
VIEW_SECTIONS: dict[str, Callable[[], None]] = {
    "prediction": lambda: sections.prediction_drift_section(model.name, evaluations, wid, ev, tz),
    "performance": lambda: sections.performance_section(model, evaluations, tz),
    "quality": lambda: sections.quality_section(model, evaluations, ev, tz),
    "labels": lambda: sections.labels_section(model.name, evaluations, tz),
    "compare": lambda: sections.comparison_section(model, evaluated, tz),
    "history": lambda: history_section(model.name),
}


def pick_view(default: str) -> str:
    """The evidence view, bound to ``?view=…`` as ``widgets.pick`` binds the pickers: a view a
    link names (a card, a notification, a shared address) wins over the one remembered, and the
    one shown is written back. Streamlit's own binding (``bind="query-params"``) would put the
    view's title in the address instead of its name."""
    raw = st.query_params.get("view")
    applied = "view__applied"
    if raw in signals.VIEWS and raw != st.session_state.get(applied):
        st.session_state["view"] = raw
    elif st.session_state.get("view") not in signals.VIEWS:
        st.session_state["view"] = default
    choice = st.segmented_control(
        "Evidence",
        list(signals.VIEWS),
        key="view",
        required=True,
        format_func=signals.VIEWS.__getitem__,
    )
    st.query_params["view"] = st.session_state[applied] = choice or default
    return choice or default


VIEW_SECTIONS[pick_view(signals.default_view(found))]()
