"""Model page: is this model healthy, and if not, since when and why?

The first screen answers the on-call question: health and its reasons, since when it drifts, the
drifting features as links to their evidence (the second click from the overview), and the drift
heatmap (click a cell to open it). Below: the window's verdicts, then prediction drift,
performance, data quality, labels and comparisons. Deep link: ``?model=…&window=…``.
"""

from __future__ import annotations

import streamlit as st

from dashboard import data, sections, widgets
from dashboard.figures import common, drift
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

st.title(model.name)
version = status.latest.version if status.latest else "–"
st.caption(
    f"owner {model.owner} · {model.task} · version {version} · reference {reference or 'none'} · "
    f"{len(model.features)} features"
)
if health is not None:
    severity = HEALTH_SEVERITY[health.status]
    st.markdown(widgets.severity_badge(severity, health.status) + "  " + "; ".join(health.reasons))
if reference is None:
    widgets.no_reference(model.name)
if start is None:
    if status.counts.predictions == 0:
        st.info(
            f'No predictions for {model.name} yet: check that producers send `"model": '
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
    st.error(
        f"{health.status} since {common.stamp(health.since, tz)}.",
        icon=":material/warning:",
    )

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

tabs = st.tabs(["Prediction drift", "Performance", "Data quality", "Labels", "Compare"])
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
