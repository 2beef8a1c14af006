"""Feature page: the evidence behind one feature's verdict in one window.

Where an alert points (``?model=…&feature=…&window=…``; ``feature=__prediction__`` for prediction
drift): the verdict with its statistic, threshold, p-value and sample size, the reference and
current distributions overlaid, the statistic over time against its threshold, and the feature's
data quality in that window.
"""

from __future__ import annotations

import streamlit as st

from dashboard import data, sections, widgets
from dashboard.figures import common, drift

tz = widgets.viewer_zone()
c1, c2, c3 = st.columns([2, 2, 3])
with c1:
    model = widgets.pick_model(key="feature_model")
with c2:
    feature = widgets.pick(
        "Feature",
        common.rows_of(model),
        "feature",
        key="feature_feature",
        format_func=common.feature_label,
    )
if feature is None:
    st.stop()

evaluated = data.evaluations(model.name, widgets.windows_shown())
if not evaluated:
    st.title(f"{common.md(model.name)} · {common.md(common.feature_label(feature))}")
    if data.current_references().get(model.name) is None:
        widgets.no_reference(model.name)
    st.info(
        f"No evaluated window for {common.md(model.name)} yet: windows are evaluated a few "
        "seconds after predictions arrive. This page refreshes by itself."
    )
    st.stop()

by_start = common.windows_by_start(evaluated)
starts = sorted(by_start, reverse=True)
status = data.status(model.name)
with c3:
    start = widgets.pick_window(
        starts,
        key="feature_window",
        default=status.health.window_start if status.health else None,
        format_func=lambda s: f"{common.stamp(s, tz)} · {evaluated[by_start[s]].n:,} rows",
    )
wid = by_start[start]
ev = evaluated[wid]

st.title(f"{common.md(model.name)} · {common.md(common.feature_label(feature))}")
st.page_link(
    widgets.MODEL_PAGE,
    label=f"Back to {common.md(model.name)}",
    query_params={"model": model.name, "window": str(ev.window_start)},
    icon=":material/arrow_back:",
)
verdict = common.verdict_of(ev, feature)
if verdict is None:
    if not ev.reference:
        widgets.no_reference(model.name)
    else:
        st.info("No verdict for this feature in this window.")
else:
    st.markdown(
        widgets.severity_badge(verdict.severity, verdict.severity.upper())
        + f" {common.md(verdict.status)} · reference {common.md(verdict.reference_version)}"
    )
    m1, m2, m3, m4, m5 = st.columns(5)
    m1.metric(common.md(verdict.statistic), f"{common.number(verdict.value):.4g}")
    m2.metric("threshold", f"{common.number(verdict.threshold):.4g}")
    m3.metric("p-value", widgets.number_text(verdict.p_value, ".3g"))
    m4.metric("rows (n)", f"{verdict.n:,}")
    m5.metric(
        "expected false-alarm rate", widgets.number_text(verdict.expected_false_alarm_rate, ".2%")
    )
    for reason in verdict.reasons:
        st.markdown(f"- {common.md(reason)}")

st.subheader("Reference vs this window")
sections.distribution_section(model.name, wid, ev, feature)

st.subheader("Statistic over time")
series = drift.statistic_series(list(evaluated.values()), feature, tz)
if series.times:
    st.plotly_chart(drift.statistic_over_time(series), key="feature_statistic")
    st.caption("Shaded: below the threshold (no drift at this window's size).")
else:
    st.info("No window has a verdict for this feature yet.")

if feature not in common.OUTPUT_ROWS:
    st.subheader("Data quality in this window")
    rows = [r for r in sections.window_quality(model.name, ev) if r.feature == feature]
    if rows:
        sections.quality_table(rows, "feature_quality")
