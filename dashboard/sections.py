"""The model page's evidence sections: prediction drift, performance, data quality, labels and
comparisons. Each section reads through ``dashboard/data.py``, draws with ``dashboard/figures.py``
and, when the data it needs does not exist yet, says what is missing and what to do."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo

import streamlit as st

from dashboard import data, evidence, figures, info, widgets
from monitor.config import ModelSettings
from monitor.stats.health import WindowEvaluation
from monitor.stats.reference import Profile


def profile_of(model: str, reference: str, feature: str) -> Profile | None:
    """The reference profile of a feature (or of an output) a window was binned on."""
    ref = data.reference(model, reference)
    if ref is None:
        return None
    outputs = {info.PREDICTION_ROW: ref.prediction, info.DECISION_ROW: ref.decision}
    return outputs[feature] if feature in outputs else ref.features.get(feature)


def distribution(model: str, wid: str, ev: WindowEvaluation, feature: str) -> None:
    """Reference vs one window, with the numbers behind the chart in an expander."""
    profile = profile_of(model, ev.reference, feature)
    if profile is None:
        st.info(
            f"Window binned without a reference for {info.feature_label(feature)}: no distribution "
            f"to compare. Set one with `{info.baseline_hint(model)}`; new windows use it."
        )
        return
    current = data.feature_bins(model, (wid,), feature, profile.n_bins)
    when = f"{info.local(ev.window_start, widgets.viewer_zone()):%Y-%m-%d %H:%M %Z}"
    dist = evidence.distribution_info(
        feature,
        profile,
        [(f"reference {ev.reference}", profile.counts), (f"window {when}", current)],
    )
    st.plotly_chart(figures.distribution_bars(dist), key=f"dist_{feature}")
    with st.expander("Counts per bin"):
        table = {"bin": dist.labels}
        for name, counts, shares in zip(dist.names, dist.counts, dist.shares, strict=True):
            table[f"{name}: rows"] = counts
            table[f"{name}: share"] = shares
        st.dataframe(table, hide_index=True, key=f"dist_table_{feature}")


def prediction_drift(
    model: str, evaluations: Sequence[WindowEvaluation], wid: str, ev: WindowEvaluation, tz: tzinfo
) -> None:
    series = info.statistic_series(evaluations, info.PREDICTION_ROW, tz)
    if not series.times:
        st.info(
            "No prediction-drift verdicts: windows were binned without a reference. "
            f"Run `{info.baseline_hint(model)}`."
        )
        return
    st.plotly_chart(figures.statistic_over_time(series), key="prediction_statistic")
    distribution(model, wid, ev, info.PREDICTION_ROW)
    widgets.feature_link(model, info.PREDICTION_ROW, ev.window_start, "Open in the feature view")


def performance(model: ModelSettings, evaluations: Sequence[WindowEvaluation], tz: tzinfo) -> None:
    metrics = evidence.metrics_available(evaluations)
    if not metrics:
        st.info(
            "No labelled predictions in these windows yet: performance appears once outcomes "
            "arrive and join their predictions (label coverage and delay: Labels tab)."
        )
        return
    settings = data.settings().performance
    headline = evidence.headline_metric(model.task, settings)
    metric = st.selectbox(
        "Metric",
        metrics,
        index=metrics.index(headline) if headline in metrics else 0,
        key="performance_metric",
    )
    since = min(ev.window_start for ev in evaluations)
    changes = data.change_points(model.name, since)
    perf = evidence.performance_info(evaluations, metric, tz, settings, changes)
    st.plotly_chart(figures.performance_over_time(perf), key="performance_chart")
    if all(r != r for r in perf.reference):  # NaN: the reference was built without labels
        st.caption(
            "The reference has no performance, so there is no band: re-run `driftwatch baseline "
            "set` with `--label-column` (and `--score-column` for binary models)."
        )
    st.caption(
        "Shaded: within each window's band, where performance is judged unchanged at its label "
        "count (green), and up to the critical drop (amber). "
        "Red dotted lines: the online change detector fired on the model's error or prediction "
        f"stream ({len(changes)} in these windows)."
    )


def quality(
    model: ModelSettings,
    evaluations: Sequence[WindowEvaluation],
    ev: WindowEvaluation,
    tz: tzinfo,
) -> None:
    q = evidence.quality_info(evaluations, list(model.features), tz)
    st.plotly_chart(figures.quality_over_time(q), key="quality_chart")
    ref = data.reference(model.name, ev.reference)
    rows = evidence.quality_rows(ev, ref.features if ref else None)
    st.dataframe(
        widgets.frame(rows),
        hide_index=True,
        key="quality_table",
        column_config=widgets.QUALITY_FORMATS,
    )
    dead = data.ingest(model.name).dead_by_reason
    if any(dead.values()):
        st.plotly_chart(figures.dead_letters_bar(dead), key="dead_letters")
    else:
        st.caption("No dead letters for this model.")


def labels(model: str, evaluations: Sequence[WindowEvaluation], tz: tzinfo) -> None:
    lab = evidence.label_info(data.ingest(model), evaluations, tz)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Label coverage", "–" if lab.coverage is None else f"{lab.coverage:.1%}")
    delay = lab.mean_delay_seconds
    c2.metric("Mean label delay", "–" if delay is None else f"{delay:,.1f} s")
    c3.metric("Waiting for a label", f"{lab.pending:,}")
    c4.metric("Expired unlabelled", f"{lab.expired:,}")
    if not lab.joined:
        st.info("No outcome has joined a prediction yet: labels often arrive hours later.")
        return
    left, right = st.columns(2)
    left.plotly_chart(figures.label_delay_bar(lab), key="label_delay")
    right.plotly_chart(figures.labelled_share_over_time(lab), key="labelled_share")


def comparison(model: ModelSettings, evaluated: Mapping[str, WindowEvaluation], tz: tzinfo) -> None:
    """Two periods, or two model versions, side by side."""
    items = sorted(evaluated.items(), key=lambda item: item[1].window_start)
    mode = st.radio("Compare", ["two periods", "two model versions"], horizontal=True, key="cmp")
    if mode == "two periods":
        starts = sorted({ev.window_start for _, ev in items})
        if len(starts) < 2:
            st.info("A comparison of periods needs at least two evaluated windows.")
            return
        boundary = st.select_slider(
            "Second period starts at",
            options=starts[1:],
            value=starts[len(starts) // 2],
            format_func=lambda s: f"{info.local(s, tz):%Y-%m-%d %H:%M %Z}",
            key="cmp_boundary",
        )
        when = f"{info.local(boundary, tz):%m-%d %H:%M}"
        a_label, b_label = f"before {when}", f"from {when}"
        group_a = [(w, ev) for w, ev in items if ev.window_start < boundary]
        group_b = [(w, ev) for w, ev in items if ev.window_start >= boundary]
    else:
        versions = sorted({ev.version for _, ev in items})
        if len(versions) < 2:
            st.info(
                f"Only model version {', '.join(versions)} appears in the windows shown: a version "
                "comparison needs two (widen 'Windows shown' in the sidebar to look further back)."
            )
            return
        c1, c2 = st.columns(2)
        a_label = c1.selectbox("Version A", versions, index=len(versions) - 2, key="cmp_a")
        b_label = c2.selectbox("Version B", versions, index=len(versions) - 1, key="cmp_b")
        group_a = [(w, ev) for w, ev in items if ev.version == a_label]
        group_b = [(w, ev) for w, ev in items if ev.version == b_label]
    _compared(model, a_label, group_a, b_label, group_b)


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _compared(
    model: ModelSettings,
    a_label: str,
    group_a: list[tuple[str, WindowEvaluation]],
    b_label: str,
    group_b: list[tuple[str, WindowEvaluation]],
) -> None:
    evs_a, evs_b = [ev for _, ev in group_a], [ev for _, ev in group_b]
    features = info.rows_of(model)
    result = evidence.compare(
        a_label,
        evs_a,
        b_label,
        evs_b,
        features,
        evidence.headline_metric(model.task, data.settings().performance),
    )
    c1, c2, c3 = st.columns(3)
    c1.metric("Windows", f"{result.windows_a} / {result.windows_b}")
    c2.metric("Rows", f"{result.rows_a:,} / {result.rows_b:,}")
    c3.metric(result.metric, f"{_number(result.metric_a)} / {_number(result.metric_b)}")
    st.dataframe(
        widgets.frame(result.features),
        hide_index=True,
        key="cmp_table",
        column_config={
            "mean_a": st.column_config.NumberColumn(f"mean statistic: {a_label}", format="%.4g"),
            "mean_b": st.column_config.NumberColumn(f"mean statistic: {b_label}", format="%.4g"),
            "drift_share_a": st.column_config.NumberColumn(
                f"drifting windows: {a_label}", format="percent"
            ),
            "drift_share_b": st.column_config.NumberColumn(
                f"drifting windows: {b_label}", format="percent"
            ),
        },
    )
    reference = evidence.common_reference(evs_a, evs_b)
    if reference is None:
        st.caption(
            "The two groups were binned on different references (or none), so their distributions "
            "cannot be overlaid; the statistics above still compare."
        )
        return
    feature = st.selectbox(
        "Distribution of", features, format_func=info.feature_label, key="cmp_feature"
    )
    profile = profile_of(model.name, reference, feature)
    if profile is None:
        return
    series = [(f"reference {reference}", profile.counts)]
    for label, group in ((a_label, group_a), (b_label, group_b)):
        wids = tuple(w for w, _ in group)
        series.append((label, data.feature_bins(model.name, wids, feature, profile.n_bins)))
    dist = evidence.distribution_info(feature, profile, series)
    st.plotly_chart(figures.distribution_bars(dist), key="cmp_distribution")
