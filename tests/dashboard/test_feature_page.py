"""The Feature page through AppTest on a real Redis: it leads with the feature's worst finding in
the window (drift or data quality), shows a numeric feature on its value axis and every feature's
missing rate over time, in people's names and precision, with nothing meaningless."""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
import pytest
import redis

from dashboard.figures import common
from monitor.store.evaluations import EvaluationStore
from monitor.store.keys import Keys
from monitor.store.lease import Lease
from monitor.vocab.verdicts import FeatureQuality, Verdict, WindowEvaluation
from tests.dashboard.conftest import WINDOW, Deployment
from tests.dashboard.test_pages import figure, stored_window, texts

#: Windows of the stored data-quality problem: clean, then 30 % of ``amount`` missing.
CLEAN, BROKEN = 1_795_449_600, 1_795_449_600 + WINDOW


def metrics(at: Any) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def everything(at: Any) -> str:
    """Prose, metric labels and values, and picker choices: all the words the page shows."""
    parts = [texts(at)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [o for box in at.selectbox for o in box.options]
    return "\n".join(parts)


def assert_readable(at: Any) -> None:
    """No exception, no internal row name and no "None" anywhere a reader looks."""
    assert not at.exception, at.exception
    shown = everything(at)
    for internal in ("__model__", "__prediction__", "__decision__", "None"):
        assert internal not in shown, internal


def test_a_numeric_feature_on_its_value_axis_and_its_missing_rate_over_time(
    pipeline: Deployment, app_factory: Any
) -> None:
    start = pipeline.shift_window + 2 * WINDOW
    wid, ev = stored_window(pipeline, "fraud-detector", start)
    at = app_factory(pipeline, "feature", model="fraud-detector", feature="amount",
                     window=str(start))  # fmt: skip
    assert_readable(at)
    v = common.verdict_of(ev, "amount")
    assert v is not None and v.status == "drift"
    shown = metrics(at)
    assert shown["psi"] == common.sig(v.value)
    assert shown["threshold"] == common.sig(v.threshold)
    assert shown["p-value"] == common.sig(v.p_value)
    assert shown["n (non-missing rows)"] == f"{v.n:,}"
    assert ("expected false-alarm rate" in shown) == (v.expected_false_alarm_rate > 0)
    badge = next(m.value for m in at.markdown if "drift · psi" in m.value)
    assert f"{common.severity_glyph(v.severity)} {v.severity}" in badge

    # the value axis by default: densities of the stored counts on the reference's edges
    assert at.segmented_control(key="dist_amount_view").value == "value axis"
    query = pipeline.query()
    profile = query.references().get("fraud-detector", ev.reference).features["amount"]
    stored = query.window_counts("fraud-detector", wid).bins("amount", profile.n_bins)
    chart = figure(at, "dist_amount_values")["data"]
    bars = [t for t in chart if t["type"] == "bar"]
    present = stored[:-1].sum()
    assert v.n == present  # the verdict's n and the legend's count the same rows
    assert bars[1]["name"].endswith(f"({present:,} non-missing rows)")
    edges = np.asarray(profile.edges)
    assert bars[1]["y"] == pytest.approx((stored[1:-2] / present / np.diff(edges)).tolist())
    cdf = [t for t in chart if t["type"] == "scatter"][1]["y"]
    assert cdf[0] == 0.0 and cdf[-1] == 1.0 and cdf == sorted(cdf)
    beyond = stored[0] + stored[-2] > 0  # rows past the reference's range: said in a caption
    assert any("Beyond the reference's range" in c.value for c in at.caption) == beyond

    # the missing rate per window against the reference's
    lines = {t["name"]: t for t in figure(at, "feature_quality_chart")["data"]}
    windows = common.newest_per_window(query.evaluations("fraud-detector"))
    assert lines["missing"]["y"] == pytest.approx([e.quality["amount"].missing_rate
                                                   for e in windows])  # fmt: skip
    assert lines["missing: reference"]["y"] == pytest.approx(
        [profile.n_missing / profile.n] * len(windows)
    )
    headings = [h.value for h in at.subheader]
    assert headings == ["Reference vs this window", "Drift statistic over time",
                        "Data quality over time"]  # fmt: skip

    at.segmented_control(key="dist_amount_view").set_value("bins").run()
    assert not at.exception
    bins = figure(at, "dist_amount")["data"]
    assert bins[1]["customdata"] == stored.tolist()
    total = int(stored.sum())
    assert bins[1]["name"].endswith(f"({total:,} rows, {present:,} non-missing)")


def test_a_categorical_feature_keeps_its_bars_and_gets_its_missing_rate(
    pipeline: Deployment, app_factory: Any
) -> None:
    at = app_factory(pipeline, "feature", model="fraud-detector", feature="country")
    assert_readable(at)
    assert not at.segmented_control  # categories have no value axis
    assert figure(at, "dist_country")["data"]
    assert "missing" in {t["name"] for t in figure(at, "feature_quality_chart")["data"]}


def test_the_prediction_is_named_and_has_no_quality_section(
    pipeline: Deployment, app_factory: Any
) -> None:
    at = app_factory(pipeline, "feature", model="fraud-detector", feature="__prediction__")
    assert_readable(at)
    assert "prediction (model output)" in texts(at)
    assert "Data quality over time" not in texts(at)
    assert any(m.startswith("n (non-missing rows)") for m in metrics(at))
    assert figure(at, "dist___prediction___values")["data"]  # a score: on its value axis


# --- a data-quality problem -----------------------------------------------------------------------


@pytest.fixture
def missing_values(partial: Deployment, redis_client: redis.Redis, key_prefix: str) -> Deployment:
    """fraud-detector with its reference and two stored windows: ``amount`` clean, then 30 %
    missing (critical data quality) while its drift verdict stays ok. Written by the daemon's
    store writer."""
    keys = Keys(key_prefix)
    reference = partial.query().references().current_versions(["fraud-detector"])["fraud-detector"]
    assert reference is not None
    fence = Lease(redis_client, keys.evaluator_lease, keys.evaluator_fence, "t", 10_000).hold()
    assert fence is not None

    def verdict(start: int, statistic: str, value: float, severity: str) -> Verdict:
        quality = statistic != "psi"
        return Verdict(
            "fraud-detector", "amount", statistic, value, 0.07 if quality else 0.0812,
            1e-12 if severity == "critical" else 0.5, 400 if quality else 280,
            "degraded" if severity == "critical" else "ok", severity, start, reference,
            0.0125 if quality else 0.0,
            (f"amount: missing rate {value:.1%} vs reference 2.0% at n=400",) * (
                severity == "critical"),
        )  # fmt: skip

    store = EvaluationStore(redis_client, keys, 86_400_000)
    for start, missing, severity in ((CLEAN, 0.02, "ok"), (BROKEN, 0.3, "critical")):
        ev = WindowEvaluation(
            "fraud-detector", start, "v1", reference, 400, 0, time.time(),
            verdicts=[verdict(start, "psi", 0.0123, "ok")],
            quality_verdicts=[verdict(start, "missing_rate", missing, severity)],
            quality={"amount": FeatureQuality(missing, 0.0, 0.0)},
        )  # fmt: skip
        store.save(fence, ev, str(start), "", 0.0)
    return partial


def test_a_data_quality_link_lands_on_the_missing_values(
    missing_values: Deployment, app_factory: Any
) -> None:
    at = app_factory(missing_values, "feature", model="fraud-detector", feature="amount",
                     window=str(BROKEN))  # fmt: skip
    assert_readable(at)
    first = next(m.value for m in at.markdown if "·" in m.value)
    assert "✕ critical" in first and "data quality · missing rate" in first
    shown = metrics(at)
    assert shown["missing rate"] == "30%" and shown["threshold"] == "7%"
    assert shown["n (rows)"] == "400" and shown["p-value"] == "1e-12"
    assert "reference" in shown and "expected false-alarm rate" not in shown
    assert "Also in this window" in texts(at)
    also = [m.value for m in at.markdown if "drift" in m.value and "psi" in m.value]
    assert also and "✓ ok" in also[-1] and "n = 280 non-missing rows" in re.sub(r"\\", "", also[-1])
    headings = [h.value for h in at.subheader]
    assert headings[0] == "Data quality over time"  # its evidence first
    traces = {t["name"]: t for t in figure(at, "feature_quality_chart")["data"]}
    assert traces["missing"]["y"] == [0.02, 0.3]
    marked = traces["missing: warning, critical"]  # the critical window's marker
    assert marked["y"] == [0.3] and marked["marker"]["color"] == [
        common.SEVERITY_COLORS["critical"]
    ]
    picker = at.selectbox(key="feature_window")
    assert picker.format_func(picker.value).endswith("✕ critical")


def test_a_clean_window_shows_the_rate_beside_the_ok(
    missing_values: Deployment, app_factory: Any
) -> None:
    at = app_factory(missing_values, "feature", model="fraud-detector", feature="amount",
                     window=str(CLEAN))  # fmt: skip
    assert_readable(at)
    first = next(m.value for m in at.markdown if "·" in m.value)
    assert "✓ ok" in first and "drift · psi" in first
    also = re.sub(r"\\", "", "\n".join(m.value for m in at.markdown))
    assert "data quality: missing rate 2% (reference " in also
    assert at.subheader[0].value == "Reference vs this window"
