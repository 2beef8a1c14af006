"""Model page: is this model healthy, and if not, since when and why?

The first screen answers the on-call question: health and its reasons, since when it drifts, the
drifting features as links to their evidence (the second click from the overview), and the drift
heatmap (click a cell to open it). Below: the window's verdicts, then prediction drift,
performance, data quality, labels and comparisons. Deep link: ``?model=…&window=…``.
"""

from __future__ import annotations

import streamlit as st

from dashboard import data, figures, info, sections, widgets

settings = data.settings()
tz = widgets.viewer_zone()
pick_model, pick_window = st.columns([1, 2])
with pick_model:
    name = widgets.pick("Model", [m.name for m in settings.models], "model", key="model_model")
model = settings.model(name or "")
if model is None:
    st.stop()
status = data.status(model.name)
health = status.health
reference = data.current_references().get(model.name)
evaluated = data.evaluations(model.name, widgets.windows_shown())
by_start = info.windows_by_start(evaluated)
starts = sorted(by_start, reverse=True)


def window_label(start: int) -> str:
    ev = evaluated[by_start[start]]
    v = info.verdict_of(ev, info.MODEL_ROW)
    return f"{info.local(start, tz):%Y-%m-%d %H:%M %Z} · {ev.n:,} rows · {v.severity if v else '–'}"


with pick_window:
    start = widgets.pick(
        "Window",
        starts,
        "window",
        key="model_window",
        default=health.window_start if health else None,
        from_param=lambda text: info.parse_window(text, starts, settings.windows.size_seconds),
        format_func=window_label,
        missing_hint=widgets.OLDER_WINDOW_HINT,
    )

st.title(model.name)
version = status.latest.version if status.latest else "–"
st.caption(
    f"owner {model.owner} · {model.task} · version {version} · reference {reference or 'none'} · "
    f"{len(model.features)} features"
)
if health is not None:
    severity = info.HEALTH_SEVERITY[health.status]
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
        f"{health.status} since {info.local(health.since, tz):%Y-%m-%d %H:%M %Z}.",
        icon=":material/warning:",
    )

flagged = info.drifting_features(ev)
st.subheader("Drifting in this window")
if flagged:
    for v in flagged:
        widgets.feature_link(
            model.name,
            v.feature,
            ev.window_start,
            f"{info.feature_label(v.feature)}: {v.statistic} {info.number(v.value):.3g} > "
            f"{info.number(v.threshold):.3g} ({v.severity}, n = {v.n:,})",
        )
elif ev.verdicts:
    st.success("No feature drifts in this window.")
else:
    st.caption("No verdicts in this window (binned without a reference).")

heat = info.heatmap_info(evaluations, list(model.features), tz)
clicked = st.plotly_chart(
    figures.drift_heatmap(heat), on_select="rerun", selection_mode="points", key="heatmap"
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
        widgets.frame(info.verdict_rows(ev)),
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
    sections.prediction_drift(model.name, evaluations, wid, ev, tz)
with tabs[1]:
    sections.performance(model, evaluations, tz)
with tabs[2]:
    sections.quality(model, evaluations, ev, tz)
with tabs[3]:
    sections.labels(model.name, evaluations, tz)
with tabs[4]:
    sections.comparison(model, evaluated, tz)
