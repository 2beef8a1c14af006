"""The evidence sections of the model and feature pages: distributions, prediction drift,
performance, data quality, labels and comparisons.

Each section reads through ``dashboard/data.py``, prepares and draws with its figure family in
``dashboard/figures/`` and, when the data it needs does not exist yet, says what is missing and
what to do. They live apart from the pages because both pages use some of them (the distribution,
the quality table), and a page is a script that ``st.navigation`` runs, not a module to import."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo

import streamlit as st

from dashboard import data, widgets
from dashboard.figures import common, comparison, distribution, drift, ingest, performance, quality
from monitor.config import ModelSettings
from monitor.vocab.profile import Profile
from monitor.vocab.verdicts import WindowEvaluation

#: Columns of a quality table: rates as percentages; means are text (``common.sig``), since one
#: column holds every feature's, of any magnitude.
QUALITY_FORMATS = {
    "severity": st.column_config.TextColumn(
        "quality", help="The worst of the feature's data-quality verdicts in this window."
    ),
    "missing_rate": st.column_config.NumberColumn("missing rate", format="percent"),
    "type_error_rate": st.column_config.NumberColumn("type error rate", format="percent"),
    "novel_rate": st.column_config.NumberColumn(
        "out of range / unseen rate",
        format="percent",
        help="Numeric: share outside the reference's range. Categorical: share of categories "
        "the reference never saw.",
    ),
    "mean": st.column_config.TextColumn("mean"),
    "reference_mean": st.column_config.TextColumn("reference mean"),
    "reference_missing_rate": st.column_config.NumberColumn(
        "reference missing rate", format="percent"
    ),
}
#: The two views of a distribution (``figures/distribution.py``): a numeric feature opens on its
#: value axis, where a shift shows as one; its quantile bins hold the exact counts.
VALUE_AXIS, BINS = "value axis", "bins"


def profile_of(model: str, reference: str, feature: str) -> Profile | None:
    """The reference profile of a feature (or of an output) a window was binned on."""
    ref = data.reference(model, reference)
    if ref is None:
        return None
    outputs = {common.PREDICTION_ROW: ref.prediction, common.DECISION_ROW: ref.decision}
    return outputs[feature] if feature in outputs else ref.features.get(feature)


def distribution_section(model: str, wid: str, ev: WindowEvaluation, feature: str) -> None:
    """Reference vs one window: a numeric feature on its value axis (or on its reference bins,
    at the viewer's choice), a categorical one per category; the counts in an expander."""
    profile = profile_of(model, ev.reference, feature)
    if profile is None:
        st.info(
            f"Window binned without a reference for {common.md(common.feature_label(feature))}: no "
            f"distribution to compare. Set one with `{common.baseline_hint(model)}`; new windows "
            "use it."
        )
        return
    current = data.feature_bins(model, (wid,), feature, profile.n_bins)
    when = common.stamp(ev.window_start, widgets.viewer_zone())
    series = [(f"reference {ev.reference}", profile.counts), (f"window {when}", current)]
    distribution_views(feature, profile, series, key=f"dist_{feature}")


def distribution_views(
    feature: str, profile: Profile, series: Sequence[tuple[str, Sequence[int]]], key: str
) -> None:
    """Series on a reference's bins: a numeric feature on its value axis or on the bins, at the
    viewer's choice (value axis first), a categorical one per category; counts in an expander.
    ``key`` names the bar chart; the value-axis chart and the choice add a suffix to it."""
    dist = distribution.distribution_info(feature, profile, series)
    values = distribution.value_axis_info(feature, profile, series)
    view = BINS
    if values is not None:
        view = st.segmented_control(
            "View",
            [VALUE_AXIS, BINS],
            default=VALUE_AXIS,
            required=True,
            key=f"{key}_view",
            help="Value axis: densities and cumulative shares on the feature's own scale. Bins: "
            "the reference's equal-frequency bins, where missing values show too.",
        )
    if values is not None and view == VALUE_AXIS:
        st.plotly_chart(distribution.value_axis_chart(values), key=f"{key}_values")
        tails = values.tails()
        st.caption(
            "Top: share of non-missing rows per unit, each bar as wide as its reference bin; "
            "bottom: cumulative share."
            + (
                " Beyond the reference's range (in the cumulative curve as a jump at its ends, "
                "not in the density): " + "; ".join(common.md(t) for t in tails) + "."
                if tails
                else ""
            )
        )
    else:
        st.plotly_chart(distribution.distribution_bars(dist), key=key)
    with st.expander("Counts per bin"):
        table: dict[str, object] = {"bin": dist.labels}
        shares = {}
        for name, counts, share in zip(dist.names, dist.counts, dist.shares, strict=True):
            table[f"{name}: rows"] = counts
            table[f"{name}: share"] = share
            shares[f"{name}: share"] = st.column_config.NumberColumn(format="percent")
        st.dataframe(table, hide_index=True, key=f"{key}_table", column_config=shares)


def prediction_drift_section(
    model: str, evaluations: Sequence[WindowEvaluation], wid: str, ev: WindowEvaluation, tz: tzinfo
) -> None:
    """The model's output drifting: often the first sign, before any label arrives."""
    series = drift.statistic_series(evaluations, common.PREDICTION_ROW, tz)
    if not series.times:
        st.info(
            "No prediction-drift verdicts: windows were binned without a reference. "
            f"Run `{common.baseline_hint(model)}`."
        )
        return
    st.plotly_chart(drift.statistic_over_time(series), key="prediction_statistic")
    distribution_section(model, wid, ev, common.PREDICTION_ROW)
    widgets.feature_link(model, common.PREDICTION_ROW, ev.window_start, "Open in the feature view")


def performance_section(
    model: ModelSettings, evaluations: Sequence[WindowEvaluation], tz: tzinfo
) -> None:
    """A metric over time against its band, with the change points that explain sudden drops;
    then, for a binary classifier, its performance estimated from the scores before labels."""
    metrics = performance.metrics_available(evaluations)
    if not metrics:
        st.info(
            "No labelled predictions in these windows yet: performance appears once outcomes "
            "arrive and join their predictions (label coverage and delay: the Labels view)."
        )
    else:
        realized_section(model, evaluations, metrics, tz)
    estimate_section(model, evaluations, tz)


def estimate_section(
    model: ModelSettings, evaluations: Sequence[WindowEvaluation], tz: tzinfo
) -> None:
    """Performance estimated from the scores alone, its band, and the realized value where labels
    judged it (the estimate's error per window: how far to trust it)."""
    if model.task != "binary":
        return
    st.subheader("Estimated before labels")
    refused = next((ev.estimation_refused for ev in evaluations if ev.estimation_refused), "")
    metrics = performance.estimated_metrics(evaluations)
    if not metrics:
        st.info(
            f"No estimate: {common.md(refused)}"
            if refused
            else "No estimate in these windows: the model sends no scores, or no reference "
            "evaluated them."
        )
        return
    metric = st.selectbox("Estimated metric", metrics, key="estimated_metric")
    info = performance.estimate_info(evaluations, metric, tz)
    st.plotly_chart(performance.estimate_over_time(info), key="estimate_chart")
    st.caption(
        f"{performance.estimate_summary(info)} The estimate assumes the scores are as calibrated "
        "as on the reference: a change of what the inputs mean (concept drift) leaves it flat, "
        "and only labels show it (docs/statistics.md, estimation)."
    )


def realized_section(
    model: ModelSettings, evaluations: Sequence[WindowEvaluation], metrics: list[str], tz: tzinfo
) -> None:
    """A metric from the labels over time against its band, with the detector's change points."""
    settings = data.settings().performance
    headline = performance.headline_metric(model.task, settings)
    metric = st.selectbox(
        "Metric",
        metrics,
        index=metrics.index(headline) if headline in metrics else 0,
        key="performance_metric",
    )
    since = min(ev.window_start for ev in evaluations)
    changes = data.change_points(model.name, since)
    perf = performance.performance_info(evaluations, metric, tz, settings, changes)
    st.plotly_chart(performance.performance_over_time(perf), key="performance_chart")
    if not common.present(perf.reference):  # all NaN: the reference was built without labels
        st.caption(
            "The reference has no performance, so there is no band: re-run `driftwatch baseline "
            "set` with `--label-column` (and `--score-column` for binary models)."
        )
    st.caption(
        "Shaded: within each window's band, where performance is judged unchanged at its label "
        "count (blue), and up to the critical drop (amber). "
        "Purple dotted lines: the online change detector fired on the model's error or prediction "
        f"stream ({len(changes)} in these windows)."
    )


def window_quality(model: str, ev: WindowEvaluation) -> list[quality.QualityRow]:
    """A window's quality table beside the reference it was binned on (if it had one)."""
    ref = data.reference(model, ev.reference)
    return quality.quality_rows(ev, ref.features if ref else None)


def quality_table(rows: Sequence[quality.QualityRow], key: str) -> None:
    """Quality rows as a table, formatted the same on every page."""
    table = widgets.frame(rows).dropna(axis="columns", how="all")  # e.g. no means, no reference
    for column in {"mean", "reference_mean"} & set(table.columns):
        table[column] = table[column].map(common.sig)
    st.dataframe(table, hide_index=True, key=key, column_config=QUALITY_FORMATS)


def quality_section(
    model: ModelSettings,
    evaluations: Sequence[WindowEvaluation],
    ev: WindowEvaluation,
    tz: tzinfo,
) -> None:
    """Bad inputs over time, this window's table, and the records that never got that far."""
    q = quality.quality_info(evaluations, list(model.features), tz)
    st.plotly_chart(quality.quality_over_time(q), key="quality_chart")
    st.caption(
        "The rates that were ever above zero, worst first: one colour per feature, one dash per "
        "rate; a marker turns amber (warning) or red (critical) where the window's verdict on "
        "that rate degraded. Each feature's page shows its rates against the reference's."
    )
    quality_table(window_quality(model.name, ev), "quality_table")
    dead = data.ingest(model.name).dead_by_reason
    if any(dead.values()):
        st.plotly_chart(ingest.dead_letters_bar(dead), key="dead_letters")
    else:
        st.caption("No dead letters for this model.")


def feature_quality_section(
    model: str,
    evaluations: Sequence[WindowEvaluation],
    ev: WindowEvaluation,
    feature: str,
    tz: tzinfo,
) -> None:
    """One feature's missing (and other judged) rates over time against the reference's, then
    this window's row of the quality table."""
    versions = {e.reference for e in evaluations}
    profiles = {version: profile_of(model, version, feature) for version in versions}
    info = quality.feature_quality_info(evaluations, feature, profiles, tz)
    st.plotly_chart(quality.feature_quality_over_time(info), key="feature_quality_chart")
    st.caption(
        "A marker turns amber (warning) or red (critical) where the window's verdict on that "
        "rate degraded; hover it for the verdict. A rate degrades when it is significantly above "
        "the reference's and at least the threshold (the reference's rate plus "
        "`[quality] min_increase`)."
    )
    rows = [r for r in window_quality(model, ev) if r.feature == feature]
    if rows:
        quality_table(rows, "feature_quality")


def labels_section(model: str, evaluations: Sequence[WindowEvaluation], tz: tzinfo) -> None:
    """Label coverage and delay: why performance may lag behind drift, or be missing."""
    lab = ingest.label_info(data.ingest(model), evaluations, tz)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(
        "Label coverage",
        widgets.number_text(lab.coverage, ".1%"),
        help="Of the predictions that settled (got their label, or their label horizon passed), "
        "the share that got their label; those still waiting count in neither.",
    )
    c2.metric("Mean label delay", widgets.number_text(lab.mean_delay_seconds, ",.1f", " s"))
    c3.metric("Waiting for a label", f"{lab.pending:,}")
    c4.metric("Expired unlabelled", f"{lab.expired:,}")
    if not lab.joined:
        st.info("No outcome has joined a prediction yet: labels often arrive hours later.")
        return
    left, right = st.columns(2)
    left.plotly_chart(ingest.label_delay_bar(lab), key="label_delay")
    right.plotly_chart(ingest.labelled_share_over_time(lab), key="labelled_share")


def comparison_section(
    model: ModelSettings, evaluated: Mapping[str, WindowEvaluation], tz: tzinfo
) -> None:
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
            format_func=lambda s: common.stamp(s, tz),
            key="cmp_boundary",
        )
        when = f"{common.local(boundary, tz):%m-%d %H:%M}"
        a_label, b_label = f"before {when}", f"from {when}"
        group_a = [(w, ev) for w, ev in items if ev.window_start < boundary]
        group_b = [(w, ev) for w, ev in items if ev.window_start >= boundary]
    else:
        versions = sorted({ev.version for _, ev in items})
        if len(versions) < 2:
            st.info(
                f"Only model version {common.md(', '.join(versions))} appears in the windows "
                "shown: a version comparison needs two (widen 'Windows shown' in the sidebar to "
                "look further back)."
            )
            return
        c1, c2 = st.columns(2)
        a_label = c1.selectbox("Version A", versions, index=len(versions) - 2, key="cmp_a")
        b_label = c2.selectbox("Version B", versions, index=len(versions) - 1, key="cmp_b")
        group_a = [(w, ev) for w, ev in items if ev.version == a_label]
        group_b = [(w, ev) for w, ev in items if ev.version == b_label]
    _compared(model, a_label, group_a, b_label, group_b)


def _compared(
    model: ModelSettings,
    a_label: str,
    group_a: list[tuple[str, WindowEvaluation]],
    b_label: str,
    group_b: list[tuple[str, WindowEvaluation]],
) -> None:
    """The comparison of two chosen groups: totals, per-feature drift, and the distributions when
    both groups were binned on one reference (window ids are kept to read their bins)."""
    evs_a, evs_b = [ev for _, ev in group_a], [ev for _, ev in group_b]
    features = common.rows_of(model)
    result = comparison.compare(
        a_label,
        evs_a,
        b_label,
        evs_b,
        features,
        performance.headline_metric(model.task, data.settings().performance),
    )
    c1, c2, c3 = st.columns(3)
    c1.metric("Windows", f"{result.windows_a} / {result.windows_b}")
    c2.metric("Rows", f"{result.rows_a:,} / {result.rows_b:,}")
    c3.metric(
        common.md(result.metric), f"{common.sig(result.metric_a)} / {common.sig(result.metric_b)}"
    )
    table = widgets.frame(result.features)
    table["feature"] = table["feature"].map(common.feature_label)
    st.dataframe(
        table,
        hide_index=True,
        key="cmp_table",
        column_config={
            "mean_a": st.column_config.NumberColumn(
                f"mean statistic: {result.label_a}", format="%.3g"
            ),
            "mean_b": st.column_config.NumberColumn(
                f"mean statistic: {result.label_b}", format="%.3g"
            ),
            "drift_share_a": st.column_config.NumberColumn(
                f"drifting windows: {result.label_a}", format="percent"
            ),
            "drift_share_b": st.column_config.NumberColumn(
                f"drifting windows: {result.label_b}", format="percent"
            ),
        },
    )
    reference = comparison.common_reference(evs_a, evs_b)
    if reference is None:
        st.caption(
            "The two groups were binned on different references (or none), so their distributions "
            "cannot be overlaid; the statistics above still compare."
        )
        return
    feature = st.selectbox(
        "Distribution of", features, format_func=common.feature_label, key="cmp_feature"
    )
    profile = profile_of(model.name, reference, feature)
    if profile is None:
        return
    series: list[tuple[str, Sequence[int]]] = [(f"reference {reference}", profile.counts)]
    for label, group in ((a_label, group_a), (b_label, group_b)):
        wids = tuple(w for w, _ in group)
        series.append((label, data.feature_bins(model.name, wids, feature, profile.n_bins)))
    distribution_views(feature, profile, series, key="cmp_distribution")
