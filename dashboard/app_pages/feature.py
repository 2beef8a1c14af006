"""Feature page: the evidence behind one feature's verdict in one window.

Where an alert points (``?model=…&feature=…&window=…``; ``feature=__prediction__`` for prediction
drift): the verdict with its statistic, threshold, p-value and sample size, the reference and
current distributions overlaid, the statistic over time against its threshold, and the feature's
data quality in that window.
"""

from __future__ import annotations

import streamlit as st

from dashboard import data, evidence, figures, info, sections, widgets

settings = data.settings()
tz = widgets.viewer_zone()
c1, c2, c3 = st.columns([2, 2, 3])
with c1:
    name = widgets.pick("Model", [m.name for m in settings.models], "model", key="feature_model")
model = settings.model(name or "")
if model is None:
    st.stop()
with c2:
    feature = widgets.pick(
        "Feature",
        info.rows_of(model),
        "feature",
        key="feature_feature",
        format_func=info.feature_label,
    )
if feature is None:
    st.stop()

evaluated = data.evaluations(model.name, widgets.windows_shown())
if not evaluated:
    st.title(f"{model.name} · {info.feature_label(feature)}")
    if data.current_references().get(model.name) is None:
        widgets.no_reference(model.name)
    st.info(
        f"No evaluated window for {model.name} yet: windows are evaluated a few seconds after "
        "predictions arrive. This page refreshes by itself."
    )
    st.stop()

by_start = info.windows_by_start(evaluated)
starts = sorted(by_start, reverse=True)
status = data.status(model.name)
health_window = status.health.window_start if status.health else None
size = settings.windows.size_seconds
with c3:
    start = widgets.pick(
        "Window",
        starts,
        "window",
        key="feature_window",
        default=health_window,
        from_param=lambda text: info.parse_window(text, starts, size),
        format_func=lambda s: (
            f"{info.local(s, tz):%Y-%m-%d %H:%M %Z} · {evaluated[by_start[s]].n:,} rows"
        ),
        missing_hint=widgets.OLDER_WINDOW_HINT,
    )
wid = by_start[start]
ev = evaluated[wid]

st.title(f"{model.name} · {info.feature_label(feature)}")
st.page_link(
    widgets.MODEL_PAGE,
    label=f"Back to {model.name}",
    query_params={"model": model.name, "window": str(ev.window_start)},
    icon=":material/arrow_back:",
)
verdict = info.verdict_of(ev, feature)
if verdict is None:
    if not ev.reference:
        widgets.no_reference(model.name)
    else:
        st.info("No verdict for this feature in this window.")
else:
    st.markdown(
        widgets.severity_badge(verdict.severity, verdict.severity.upper())
        + f" {verdict.status} · reference {verdict.reference_version}"
    )
    m1, m2, m3, m4, m5 = st.columns(5)
    m1.metric(verdict.statistic, f"{info.number(verdict.value):.4g}")
    m2.metric("threshold", f"{info.number(verdict.threshold):.4g}")
    m3.metric("p-value", "–" if verdict.p_value is None else f"{verdict.p_value:.3g}")
    m4.metric("rows (n)", f"{verdict.n:,}")
    rate = verdict.expected_false_alarm_rate
    m5.metric("expected false-alarm rate", "–" if rate is None else f"{rate:.2%}")
    for reason in verdict.reasons:
        st.markdown(f"- {reason}")

st.subheader("Reference vs this window")
sections.distribution(model.name, wid, ev, feature)

st.subheader("Statistic over time")
series = info.statistic_series(list(evaluated.values()), feature, tz)
if series.times:
    st.plotly_chart(figures.statistic_over_time(series), key="feature_statistic")
    st.caption("Shaded: below the threshold (no drift at this window's size).")
else:
    st.info("No window has a verdict for this feature yet.")

if feature not in info.OUTPUT_ROWS:
    st.subheader("Data quality in this window")
    ref = data.reference(model.name, ev.reference)
    rows = [
        r for r in evidence.quality_rows(ev, ref.features if ref else None) if r.feature == feature
    ]
    if rows:
        st.dataframe(
            widgets.frame(rows),
            hide_index=True,
            key="feature_quality",
            column_config=widgets.QUALITY_FORMATS,
        )
