"""Model page: is this model healthy, and if not, since when and why?

The first screen answers the on-call question: health and its reasons, since when it drifts, the
drifting features as links to their evidence (the second click from the overview), and the drift
heatmap (click a cell to open it). Below: the window's verdicts, then prediction drift,
performance, data quality, labels, comparisons and the model's history (incidents, MTTR, audit
trail). Deep link: ``?model=…&window=…``.
"""

from __future__ import annotations

import time

import streamlit as st

from dashboard import data, sections, widgets
from dashboard.figures import common, drift, retraining
from dashboard.figures.health import HEALTH_SEVERITY

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
    """A window in the picker: when, how many rows, and the model-level verdict's severity."""
    ev = evaluated[by_start[start]]
    v = common.verdict_of(ev, common.MODEL_ROW)
    return f"{common.stamp(start, tz)} · {ev.n:,} rows · {v.severity if v else '–'}"


with window_column:
    start = widgets.pick_window(
        starts,
        key="model_window",
        default=health.window_start if health else None,
        format_func=window_label,
    )

st.title(common.md(model.name))
version = status.latest.version if status.latest else "–"
st.caption(
    f"owner {common.md(model.owner)} · {model.task} · version {common.md(version)} · "
    f"reference {common.md(reference or 'none')} · {len(model.features)} features"
)
if health is not None:
    severity = HEALTH_SEVERITY[health.status]
    reasons = common.md("; ".join(health.reasons))
    st.markdown(widgets.severity_badge(severity, health.status) + "  " + reasons)
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
if health is not None and health.since is not None:
    # red only for critical: a WARN model's box is amber
    notice = st.error if HEALTH_SEVERITY[health.status] == "critical" else st.warning
    notice(f"{health.status} since {common.stamp(health.since, tz)}.", icon=":material/warning:")

flagged = drift.drifting_features(ev)
st.subheader("Drifting in this window")
if flagged:
    for v in flagged:
        widgets.feature_link(
            model.name,
            v.feature,
            ev.window_start,
            f"{common.feature_label(v.feature)}: {v.statistic} {common.number(v.value):.3g} > "
            f"{common.number(v.threshold):.3g} ({v.severity}, n = {v.n:,})",
        )
elif ev.verdicts:
    st.success("No feature drifts in this window.")
else:
    st.caption("No verdicts in this window (binned without a reference).")

heat = drift.heatmap_info(evaluations, list(model.features), tz)
clicked = st.plotly_chart(
    drift.drift_heatmap(heat), on_select="rerun", selection_mode="points", key="heatmap"
)
points = clicked.selection.points if clicked else []
if points and "customdata" in points[0]:
    feature, cell_start = str(points[0]["customdata"]).split("|")
    st.switch_page(
        widgets.FEATURE_PAGE,
        query_params={"model": model.name, "feature": feature, "window": cell_start},
    )
st.caption("Hover a cell for its statistic, threshold and sample size; click it to open it.")

with st.expander("Verdicts of this window", expanded=not flagged):
    st.dataframe(
        widgets.frame(drift.verdict_rows(ev)),
        hide_index=True,
        key="verdicts",
        column_config={
            "value": st.column_config.NumberColumn("value", format="%.4g"),
            "threshold": st.column_config.NumberColumn("threshold", format="%.4g"),
            "p_value": st.column_config.NumberColumn("p-value", format="%.3g"),
            "n": st.column_config.NumberColumn("n (rows)", format="localized"),
            "expected_false_alarm_rate": st.column_config.NumberColumn(
                "expected false-alarm rate", format="percent"
            ),
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


tabs = st.tabs(["Prediction drift", "Performance", "Data quality", "Labels", "Compare", "History"])
with tabs[0]:
    sections.prediction_drift_section(model.name, evaluations, wid, ev, tz)
with tabs[1]:
    sections.performance_section(model, evaluations, tz)
with tabs[2]:
    sections.quality_section(model, evaluations, ev, tz)
with tabs[3]:
    sections.labels_section(model.name, evaluations, tz)
with tabs[4]:
    sections.comparison_section(model, evaluated, tz)
with tabs[5]:
    history_section(model.name)
