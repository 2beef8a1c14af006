"""Statistics end to end: reference from a file, a backfilled stream with injected drift, verdicts.

The simulator's ground truth says which feature drifts from when; the daemon, fed through real
Kafka and Redis, must flag exactly that feature within two windows of the change, nothing on the
stable windows, and compute performance equal to scikit-learn's on the same joined pairs.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec
import pytest
from kafka import KafkaProducer
from sklearn.metrics import mean_absolute_error, roc_auc_score

from monitor.config import FaultSettings
from monitor.simulate import Simulator, produce
from monitor.stats import estimation
from monitor.times import parse_ts
from tests.support import cli, set_baseline

pytestmark = pytest.mark.slow

WINDOW = 60
SHIFT_AT = 600  # simulated seconds after the start: window 10 of 20


def test_drift_is_flagged_on_the_drifted_feature_only_and_metrics_match_sklearn(
    deployment_factory: Any, daemon_factory: Any, wait_for: Any, tmp_path: Path
) -> None:
    dep = deployment_factory(
        partitions=3,
        windows={"size_seconds": WINDOW, "allowed_lateness_seconds": 10},
        simulate={"rate": 20.0, "label_delay_seconds": 5.0},
    )
    for model in ("fraud-detector", "delivery-eta"):
        set_baseline(dep.path, dep.settings, model, tmp_path)

    start = (int(time.time()) // WINDOW - 25) * WINDOW  # 20 simulated minutes, aligned to windows
    fault = {"kind": "covariate_shift", "model": "fraud-detector", "feature": "amount"}
    events = list(
        Simulator(
            dep.settings,
            seed=5,
            start=start,
            faults=[
                FaultSettings(**fault, start_seconds=SHIFT_AT, magnitude=1.5),
                FaultSettings("concept_drift", "delivery-eta", start_seconds=SHIFT_AT),
            ],
        ).events(24_000)
    )
    # Live order: the daemon runs while the stream is produced, so each outcome comes after its
    # prediction and pairs form on the outcome's partition. (A backlog of both topics read side
    # by side forms pairs on either side, and each partition's detector would see only a part.)
    query = run_through(dep, daemon_factory, wait_for, events, realtime_rate=4000)

    evaluations = {e.window_start: e for e in query.evaluations("fraud-detector")}
    shift_window = start + SHIFT_AT
    stable = [e for s, e in evaluations.items() if s < shift_window]
    drifted = [e for s, e in evaluations.items() if s >= shift_window + WINDOW]  # full windows
    assert len(stable) >= 8 and len(drifted) >= 8

    def flagged(ev: Any) -> set[str]:
        return {v.feature for v in ev.verdicts if v.status == "drift" and v.feature != "__model__"}

    assert all(not flagged(e) for e in stable), [flagged(e) for e in stable]
    assert all(e.final for e in stable)  # the newest event time is far past their end
    # Final windows were folded into one hash each; their counts read back unchanged.
    for ev in stable:
        wid = f"{ev.window_start}|{ev.version}|{ev.reference}"
        merged, *parts = query.window_keys("fraud-detector", wid)
        assert query._redis.exists(merged) and not query._redis.exists(*parts)
        assert query.window_counts("fraud-detector", wid).n == ev.n
    first_two = [evaluations[shift_window + i * WINDOW] for i in range(2)]
    assert any("amount" in flagged(e) for e in first_two)
    assert all("amount" in flagged(e) for e in drifted)
    assert all(flagged(e) <= {"amount", "__prediction__", "__decision__"} for e in drifted)

    status = json.loads(cli("status", "--config", str(dep.path), "--json"))
    fraud = next(m for m in status["models"] if m["model"] == "fraud-detector")
    assert fraud["health"] in ("WARN", "CRITICAL")
    assert any("amount" in reason for reason in fraud["reasons"])
    assert "amount" in {d["feature"] for d in fraud["latest_window"]["drifted"]}
    rolling_windows = dep.settings.windows.rolling_windows
    newest = sorted(evaluations.values(), key=lambda e: e.window_start)[-rolling_windows:]
    assert fraud["rolling"]["n"] == sum(e.n for e in newest)
    assert "amount" in fraud["rolling"]["drifted"]

    # The concept drift changes delivery-eta's errors: its error detector fires after the change
    # (allowing for labels that arrive up to a minute late), never before it.
    points = query.change_points("delivery-eta")
    error_points = [ts for stream, ts in points if stream == "error"]
    assert error_points, points
    assert min(error_points) >= start + SHIFT_AT
    assert not [ts for _, ts in query.change_points("fraud-detector") if ts < start + SHIFT_AT]

    # Performance per window equals scikit-learn's on the same joined pairs (AUC on binned scores).
    truth = joined_pairs(events)
    for model, metric in (("fraud-detector", "roc_auc"), ("delivery-eta", "mae")):
        checked = 0
        for ev in query.evaluations(model):
            pairs = truth[model].get(ev.window_start, [])
            assert ev.n_labelled == len(pairs), (model, ev.window_start)
            if len(pairs) < 50:
                continue
            checked += 1
            preds, scores, labels = zip(*pairs, strict=True)
            if metric == "mae":
                assert ev.performance["mae"] == pytest.approx(
                    mean_absolute_error(labels, preds), rel=1e-9
                )
            elif len(set(labels)) == 2:
                binned = [min(int(s * 100), 99) for s in scores]
                assert ev.performance["roc_auc"] == pytest.approx(
                    roc_auc_score(labels, binned), abs=1e-12
                )
        assert checked >= 15, f"only {checked} windows of {model} had enough labels"

    # Performance estimated from the scores alone (stats/estimation.py) equals a direct
    # computation on each window's predictions with the reference's calibration, and the
    # shift's drop is estimated (and judged) without waiting for a label.
    reference = query.references().current("fraud-detector")
    assert reference is not None and reference.calibration is not None
    scored = scored_predictions(events)
    for ev in query.evaluations("fraud-detector"):
        scores, decisions = zip(*scored[ev.window_start], strict=True)
        expected = estimation.estimate(
            reference.calibration,
            *estimation.decision_histograms(scores, decisions),
            draws=dep.settings.performance.bootstrap_draws,
            seed=ev.window_start,
        )
        assert ev.estimated_performance == pytest.approx(expected.metrics, rel=1e-9)
        assert ev.estimated_bands["f1"] == pytest.approx((expected.low["f1"], expected.high["f1"]))
    assert all(
        any(v.statistic == "f1" and v.status == "degraded" for v in e.estimated_verdicts)
        for e in drifted
    )
    assert not any(v.status == "degraded" for e in stable for v in e.estimated_verdicts)


def scored_predictions(events: list[Any]) -> dict[int, list[tuple[float, float]]]:
    """(score, decision) of fraud-detector's valid predictions per window, from the events."""
    out: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for e in events:
        if e.valid and e.topic_kind == "prediction" and e.model == "fraud-detector":
            doc = msgspec.json.decode(e.value)
            window = int(parse_ts(doc["ts"]) // WINDOW) * WINDOW
            out[window].append((doc["score"], float(doc["prediction"])))
    return out


def run_through(
    dep: Any, daemon_factory: Any, wait_for: Any, events: list[Any], realtime_rate: float | None
) -> Any:
    """Start a daemon, produce ``events`` (live at ``realtime_rate``, or as fast as the broker
    takes them), wait until every event is counted and every window evaluated; the query."""
    daemon = daemon_factory(dep)
    wait_for(lambda: "claimed" in daemon.log_text(), 60, "the daemon to claim its partitions")
    produce(dep.settings, events, realtime_rate=realtime_rate)
    wait_for(
        lambda: sum(c.predictions + c.outcomes for c in dep.counts().values()) >= len(events),
        180,
        "every event counted",
    )
    query = dep.query()
    wait_for(lambda: query._redis.zcard(query._keys.dirty) == 0, 60, "every window evaluated")
    return query


def joined_pairs(events: list[Any]) -> dict[str, dict[int, list[tuple[Any, Any, Any]]]]:
    """(prediction, score, label) per model and window of the prediction, from the ground truth."""
    preds: dict[bytes, dict[str, Any]] = {}
    out: dict[str, dict[int, list[tuple[Any, Any, Any]]]] = defaultdict(lambda: defaultdict(list))
    for e in events:
        if not e.valid:
            continue
        doc = msgspec.json.decode(e.value)
        if e.topic_kind == "prediction":
            preds[e.key] = doc
        elif e.key in preds:
            p = preds[e.key]
            window = int(parse_ts(p["ts"]) // WINDOW) * WINDOW
            out[e.model][window].append((p["prediction"], p.get("score"), doc["label"]))
    return out


def test_baseline_from_a_period_of_the_stream(
    deployment_factory: Any, kafka_bootstrap: str, tmp_path: Path
) -> None:
    dep = deployment_factory(partitions=2)
    now = time.time()
    period = (now - 3 * 3600, now - 2 * 3600)
    sim = Simulator(dep.settings, seed=3, start=now - 4 * 3600, rate=2.0, faults=[])
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    inside = 0
    topics = {"prediction": dep.settings.kafka.predictions_topic}
    topics["outcome"] = dep.settings.kafka.outcomes_topic
    for e in sim.events(4 * 3600 * 2):  # four hours at 2 predictions/s, record time = event time
        producer.send(topics[e.topic_kind], key=e.key, value=e.value, timestamp_ms=int(e.ts * 1000))
        in_period = period[0] <= e.ts < period[1]
        inside += e.topic_kind == "prediction" and e.model == "fraud-detector" and in_period
    producer.flush()
    producer.close()
    out = cli(
        "baseline", "set", "--config", str(dep.path), "--model", "fraud-detector",
        "--from-stream", "--start", "now-3h", "--end", "now-2h", "--version", "from-stream",
    )  # fmt: skip
    assert f"from {inside:,} rows" in out
    reference = dep.query().references().current("fraud-detector")
    assert reference is not None and reference.version == "from-stream"
    assert reference.performance  # the outcomes of the period were found and joined
    listing = cli("baseline", "list", "--config", str(dep.path), "--model", "fraud-detector")
    assert listing.startswith("* from-stream")


def test_a_gradual_concept_drift_raises_performance_and_no_drift(
    deployment_factory: Any, daemon_factory: Any, wait_for: Any, tmp_path: Path
) -> None:
    """The label relation changes step by step (10 % more of it each window, up to half) while
    features, scores and decisions keep their distribution: accuracy falls from about 0.76 to
    about 0.58. A performance warning must come by the half-way window, critical once a second
    critical-sized window confirms it (measured: a warning at 0.69 in the 20 % window, critical
    from the next); status says so with the metric, its size and the label count — and no drift
    verdict fires anywhere."""
    dep = deployment_factory(
        partitions=3,
        windows={"size_seconds": WINDOW, "allowed_lateness_seconds": 10},
        simulate={"rate": 40.0, "label_rate": 0.8, "label_delay_seconds": 5.0},
    )
    set_baseline(dep.path, dep.settings, "fraud-detector", tmp_path, n=20_000)
    start = (int(time.time()) // WINDOW - 25) * WINDOW
    shares = [0.1, 0.2, 0.3, 0.4, 0.5]  # of the new concept, from window 8 on
    faults, reached = [], 0.0
    for i, share in enumerate(shares):
        # Concept faults compose: each mixes a further part of the new concept in.
        step = (share - reached) / (1 - reached)
        at = (8 + i) * WINDOW
        faults.append(FaultSettings("concept_drift", "fraud-detector", start_seconds=at,
                                    magnitude=step))  # fmt: skip
        reached = share
    sim = Simulator(dep.settings, seed=6, start=start, faults=faults, models=["fraud-detector"])
    events = list(sim.events(40 * 20 * WINDOW))  # 20 windows of 2,400 predictions
    query = run_through(dep, daemon_factory, wait_for, events, realtime_rate=6000)

    evaluations = sorted(query.evaluations("fraud-detector"), key=lambda e: e.window_start)
    full = [e for e in evaluations if e.window_start + WINDOW <= start + 20 * WINDOW]
    assert len(full) == 20 and all(e.n_labelled >= 1_500 for e in full)
    assert not [v for e in evaluations for v in e.verdicts if v.status == "drift"]

    def accuracy(ev: Any) -> Any:
        return next(v for v in ev.performance_verdicts if v.statistic == "accuracy")

    stable, ramp = full[:8], full[8:]
    assert not [v for e in stable for v in e.performance_verdicts if v.status == "degraded"]
    half = ramp[len(shares) - 1]  # the first window where half the labels follow the new concept
    assert any(accuracy(e).status == "degraded" for e in ramp[: len(shares)])
    assert accuracy(half).status == "degraded"
    critical = [i for i, e in enumerate(ramp) if accuracy(e).severity == "critical"]
    assert critical and critical[0] <= len(shares)  # confirmed by the window after half-way
    assert all(accuracy(e).severity == "critical" for e in ramp[critical[0] :])

    status = json.loads(cli("status", "--config", str(dep.path), "--json"))
    fraud = next(m for m in status["models"] if m["model"] == "fraud-detector")
    assert fraud["health"] == "CRITICAL" and fraud["since"] is not None
    said = next(r for r in fraud["reasons"] if r.startswith("accuracy"))
    assert "worse by" in said and "labels" in said and "vs reference" in said
    assert fraud["latest_window"]["drifted"] == []


def test_a_replay_of_six_month_old_events_keeps_its_windows_and_verdicts(
    deployment_factory: Any, daemon_factory: Any, wait_for: Any, tmp_path: Path
) -> None:
    """Retention counts from the last write: old event times are judged like live ones and stay
    for ``retention_days`` from now, instead of expiring as soon as they are written."""
    dep = deployment_factory(
        partitions=3,
        windows={"size_seconds": WINDOW, "allowed_lateness_seconds": 10, "retention_days": 30},
        simulate={"rate": 20.0, "label_delay_seconds": 5.0},
    )
    set_baseline(dep.path, dep.settings, "fraud-detector", tmp_path)
    start = (int(time.time()) // WINDOW - 180 * 1440) * WINDOW  # 180 days ago
    events = list(
        Simulator(dep.settings, seed=7, start=start, faults=[], models=["fraud-detector"]).events(
            20 * 10 * WINDOW  # 10 windows
        )
    )
    query = run_through(dep, daemon_factory, wait_for, events, realtime_rate=None)  # a replay
    evaluations = query.evaluations("fraud-detector")
    assert len(evaluations) >= 10 and min(e.window_start for e in evaluations) == start
    month = 30 * 86400
    for ev in evaluations:
        wid = f"{ev.window_start}|{ev.version}|{ev.reference}"
        ttls = [query._redis.ttl(k) for k in query.window_keys("fraud-detector", wid)]
        kept = [t for t in ttls if t != -2]  # -2: a partition that has no hash (or was folded)
        assert kept and all(t > month - 600 for t in kept), ttls
        assert query._redis.ttl(query._keys.evaluation("fraud-detector", wid)) > month - 600
        assert query.window_counts("fraud-detector", wid).n == ev.n
    status = json.loads(cli("status", "--config", str(dep.path), "--json"))
    fraud = next(m for m in status["models"] if m["model"] == "fraud-detector")
    assert fraud["health"] == "OK", fraud["reasons"]
    assert parse_ts(fraud["latest_window"]["window_start"]) >= start
