"""Feature page: the evidence behind one feature (or model output) in one window.

Where an alert or a model-page card points (``?model=…&feature=…&window=…``;
``feature=__prediction__`` for prediction drift). It opens on the feature's worst finding in that
window — drift or data quality, whichever is worse, so a link about missing values lands on the
missing values — with its numbers: value, threshold, the reference's rate, a p-value where the
statistic has one, and n with what it counts. Then the evidence, the first finding's first: the
reference vs this window (on the value axis for a numeric feature), the drift statistic over time
against its threshold, and the feature's data-quality rates over time against the reference's.
"""

from __future__ import annotations

import streamlit as st

from dashboard import data, sections, widgets
from dashboard.figures import common, drift, findings

#: What each number of a finding means, in the help of its metric.
HELP = {
    "drift": {
        "threshold": "The value the statistic must exceed to drift at this window's size: the "
        "reference's own variation at this many rows (calibrated), at least `[drift] min_psi`.",
        "p_value": "How likely a window drawn from the reference, of this size, reaches this "
        "value.",
    },
    "data quality": {
        "threshold": "The reference's rate plus `[quality] min_increase`: above it, and "
        "significantly above the reference's rate, the rate degrades.",
        "p_value": "Fisher's exact test (one-sided) of this window's rate against the "
        "reference's; Holm's correction across the model's rates decides.",
    },
}
N_HELP = {
    "non-missing rows": "Rows of this window with a value for this feature: what the statistic "
    "saw.",
    "rows": "All rows of this window.",
}
FALSE_ALARM_HELP = (
    "How often a window drawn from the reference, of this size, crosses the threshold: how much "
    "to trust a flag. Shown where the calibration saw any."
)


def lead(found: findings.Finding, rows: int) -> None:
    """The worst finding: its severity and what it is about, its numbers, its reasons."""
    st.markdown(
        widgets.severity_badge(found.severity, found.severity) + f" **{common.md(found.title)}**"
    )
    numbers: list[tuple[str, str, str | None]] = [(common.md(found.statistic), found.value, None)]
    if found.threshold != "–":
        numbers.append(("threshold", found.threshold, HELP[found.kind]["threshold"]))
    if found.reference is not None:
        numbers.append(("reference", found.reference, "The reference's own rate."))
    if found.p_value is not None:
        numbers.append(("p-value", found.p_value, HELP[found.kind]["p_value"]))
    n_help = N_HELP.get(found.n_counts, "") + f" The window has {rows:,} rows."
    numbers.append((f"n ({found.n_counts})", f"{found.n:,}", n_help))
    if found.false_alarm is not None:
        numbers.append(("expected false-alarm rate", found.false_alarm, FALSE_ALARM_HELP))
    for column, (label, value, help_text) in zip(st.columns(len(numbers)), numbers, strict=True):
        column.metric(label, value, help=help_text)
    for reason in found.reasons:
        st.markdown(f"- {common.md(reason)}")


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


def window_label(start: int, row: str = feature) -> str:
    """A window in the picker: when, how many rows, and the row's worst severity there."""
    ev = evaluated[by_start[start]]
    worst = findings.worst(ev, row)
    judged = common.severity_text(worst) if worst != "none" else "no verdict"
    return f"{common.stamp(start, tz)} · {ev.n:,} rows · {judged}"


with c3:
    start = widgets.pick_window(
        starts,
        key="feature_window",
        default=status.health.window_start if status.health else None,
        format_func=window_label,
    )
if start is None:  # never: there are windows to pick from
    st.stop()
wid = by_start[start]
ev = evaluated[wid]

st.title(f"{common.md(model.name)} · {common.md(common.feature_label(feature))}")
st.page_link(
    widgets.MODEL_PAGE,
    label=f"Back to {common.md(model.name)}",
    query_params={"model": model.name, "window": str(ev.window_start)},
    icon=":material/arrow_back:",
)
found = findings.findings(ev, feature, sections.profile_of(model.name, ev.reference, feature))
if not found:
    if not ev.reference:
        widgets.no_reference(model.name)
    else:
        st.info("No verdict for this feature in this window.")
else:
    lead(found[0], ev.n)
    if len(found) > 1:
        st.markdown("**Also in this window**")
        for other in found[1:]:
            badge = widgets.severity_badge(other.severity, other.severity)
            st.markdown(f"{badge} {common.md(other.kind)}: {common.md(other.summary())}")


def distribution(row: str) -> None:
    """The reference and this window side by side."""
    st.subheader("Reference vs this window")
    sections.distribution_section(model.name, wid, ev, row)


def statistic(row: str) -> None:
    """The drift statistic of every window shown, against its threshold."""
    st.subheader("Drift statistic over time")
    series = drift.statistic_series(list(evaluated.values()), row, tz)
    if series.times:
        st.plotly_chart(drift.statistic_over_time(series), key="feature_statistic")
        st.caption("Shaded: below the threshold (no drift at this window's size).")
    else:
        st.info("No window has a verdict for this feature yet.")


def quality(row: str) -> None:
    """The feature's data-quality rates of every window shown, against the reference's."""
    st.subheader("Data quality over time")
    sections.feature_quality_section(model.name, list(evaluated.values()), ev, row, tz)


evidence = [distribution, statistic]
if feature not in common.OUTPUT_ROWS:  # outputs have no data-quality rates
    first_is_quality = bool(found) and found[0].active and found[0].kind == "data quality"
    evidence = [quality, *evidence] if first_is_quality else [*evidence, quality]
for section in evidence:
    section(feature)
