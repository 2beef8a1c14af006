"""The window evaluator on a real Redis when its lease is taken over in the middle of a round."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec
import numpy as np
import pytest
import redis

from monitor import config
from monitor.runtime.evaluator import WindowEvaluator
from monitor.store.checkpoint import Checkpoint
from monitor.store.keys import Keys
from monitor.store.lease import Lease
from monitor.store.query import Query
from monitor.store.retrain import RetrainStore
from monitor.vocab.effects import LAST_EVENT_TS, Effects, parse_window_id, window_id
from monitor.vocab.retrain import RetrainRequest
from monitor.vocab.verdicts import WindowEvaluation

T0 = 1_800_000_000
WID = window_id(T0, "v1", "r1")
#: Long after the window's end and allowed lateness: it is final.
NOW = T0 + 10 * 3600


class PausedEvaluator(WindowEvaluator):
    """Runs ``pause`` in its first evaluation: a GC or VM stall in the middle of a round."""

    def __init__(
        self, settings: config.Settings, client: redis.Redis, pause: Callable[[], None]
    ) -> None:
        super().__init__(settings, client)
        self._pause: Callable[[], None] | None = pause

    def _evaluate(self, *args: Any, **kwargs: Any) -> WindowEvaluation:
        if self._pause is not None:
            pause, self._pause = self._pause, None
            pause()
        return super()._evaluate(*args, **kwargs)


@pytest.fixture
def settings(key_prefix: str, redis_url: str) -> config.Settings:
    return config.parse(
        {
            "redis": {"url": redis_url, "key_prefix": key_prefix},
            "models": [{"name": "m", "owner": "o", "task": "binary", "features": {"a": "numeric"}}],
        }
    )


@pytest.fixture
def keys(settings: config.Settings, redis_client: redis.Redis) -> Keys:
    """One final, dirty window of model "m", counted by one partition."""
    keys = Keys(settings.redis.key_prefix)
    checkpoint = Checkpoint(redis_client, keys, settings.kafka.group_id)
    claim = checkpoint.claim("t", 0)
    changes = Effects()
    changes.window("m", WID, T0).counts["n"] += 5
    changes.counters["m"]["predictions"] += 5
    changes.maximum("m", LAST_EVENT_TS, float(NOW))
    checkpoint.apply(claim, 0, 1, changes, int(time.time() * 1000), fresh=True)
    return keys


def test_an_evaluator_that_lost_its_lease_mid_round_stops_and_takes_it_again_later(
    settings: config.Settings,
    redis_client: redis.Redis,
    keys: Keys,
    key_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    successor = Lease(redis_client, keys.evaluator_lease, keys.evaluator_fence, "b", 10_000)
    during: dict[bytes, bytes | None] = {}

    def pause() -> None:
        """The lease runs out meanwhile and another instance takes it."""
        redis_client.pexpire(keys.evaluator_lease, 1)
        while redis_client.exists(keys.evaluator_lease):
            time.sleep(0.005)
        assert successor.hold() is not None
        during.update({k: redis_client.dump(k) for k in redis_client.scan_iter(f"{key_prefix}:*")})

    evaluator = PausedEvaluator(settings, redis_client, pause)
    with caplog.at_level(logging.WARNING, logger="monitor.runtime.evaluator"):
        assert evaluator.run_once(NOW) == 0
        after = {k: redis_client.dump(k) for k in redis_client.scan_iter(f"{key_prefix}:*")}
        assert after == during  # the stale round wrote nothing
        assert not redis_client.exists(keys.evaluation("m", WID), keys.health("m"))
        assert redis_client.zscore(keys.dirty, f"m:{WID}") is not None
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "lease" in warnings[0].getMessage()

        assert evaluator.run_once(NOW) == 0  # the successor holds the lease: no round, no warning
        assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1

    successor.release()
    assert evaluator.run_once(NOW) == 1  # the lease again, with a new token: evaluates
    assert redis_client.zscore(keys.dirty, f"m:{WID}") is None
    assert redis_client.exists(keys.evaluation("m", WID), keys.health("m")) == 2
    assert int(redis_client.get(keys.evaluator_fence)) == 3  # a, then b, then a again


def drifting_windows(
    settings: config.Settings, client: redis.Redis, order: list[int], seed: int = 0
) -> list[int]:
    """Six hourly windows of model "m" (1,000 rows each), the last four shifted by 2σ, and a
    reference; the windows are marked dirty in ``order`` (an outage's backlog comes in any)."""
    from monitor.stats.reference import build_profile
    from monitor.store.references import ReferenceStore

    rng = np.random.default_rng(seed)
    model = settings.models[0]
    reference = build_profile(
        model,
        {"a": rng.normal(size=10_000)},
        predictions=(rng.random(10_000) < 0.5).astype(float),
        version="r1",
        source="test",
        created_at=0.0,
    )
    keys = Keys(settings.redis.key_prefix)
    ReferenceStore(client, keys).put(reference)
    checkpoint = Checkpoint(client, keys, settings.kafka.group_id)
    claim = checkpoint.claim("t", 0)
    starts = [T0 + i * 3600 for i in range(6)]
    profile = reference.features["a"]
    samples = [rng.normal(2.0 if i >= 2 else 0.0, size=1000) for i in range(len(starts))]
    now_ms = int(time.time() * 1000)
    for rank, i in enumerate(order):  # one batch per window: marked dirty in this order
        start = starts[i]
        changes = Effects()
        fields = changes.window("m", window_id(start, "v1", "r1"), start).counts
        fields["n"] += 1000
        counts = np.bincount(profile.bin_index(samples[i]), minlength=profile.n_bins)
        for b, count in enumerate(counts):
            if count:
                fields[f"b:a:{b}"] += int(count)
        changes.counters["m"]["predictions"] += 1000
        changes.maximum("m", LAST_EVENT_TS, float(NOW))
        checkpoint.apply(claim, rank, rank + 1, changes, now_ms + rank, fresh=rank == 0)
    return starts


@pytest.mark.parametrize("order", [[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [3, 0, 5, 2, 4, 1]])
def test_confirmed_severities_do_not_depend_on_the_evaluation_order(
    settings: config.Settings, redis_client: redis.Redis, order: list[int]
) -> None:
    """A critical verdict stands when the window before it is critical-sized too. Evaluated
    oldest first, backwards or shuffled, every window ends with the same severities: the first
    shifted window is a warning awaiting confirmation, the next three are critical."""
    starts = drifting_windows(settings, redis_client, order)
    evaluator = WindowEvaluator(settings, redis_client)
    for _ in range(10):
        if evaluator.run_once(NOW) == 0:
            break
    query = Query(redis_client, settings)
    severities = []
    for start in starts:
        ev = query.evaluation("m", window_id(start, "v1", "r1"))
        assert ev is not None
        severities.append(next(v.severity for v in ev.verdicts if v.feature == "a"))
    assert severities == ["ok", "ok", "warning", "critical", "critical", "critical"]


def one_window(
    client: redis.Redis, settings: config.Settings, start: int, version: str, last_event: float
) -> str:
    """A window of model "m" written now (counts, index, dirty mark), its model's newest event
    time ``last_event``."""
    keys = Keys(settings.redis.key_prefix)
    partition = len(client.keys(f"{settings.redis.key_prefix}:*:offset"))  # a new one each time
    claim = Checkpoint(client, keys, settings.kafka.group_id).claim("t", partition)
    wid = window_id(start, version, "none")
    changes = Effects()
    changes.window("m", wid, start).counts["n"] += 5
    changes.maximum("m", LAST_EVENT_TS, last_event)
    checkpoint = Checkpoint(client, keys, settings.kafka.group_id)
    checkpoint.apply(claim, 0, 1, changes, int(time.time() * 1000), fresh=True)
    return wid


def test_a_replay_of_old_events_keeps_its_windows_for_the_retention(
    settings: config.Settings, redis_client: redis.Redis
) -> None:
    """Windows of events six months old, written today: evaluated, indexed, and kept
    retention_days from their evaluation — not expired at once because their time is old."""
    now = time.time()
    old = int(now - 180 * 86_400) // 3600 * 3600
    wid = one_window(redis_client, settings, old, "v1", last_event=now - 180 * 86_400 + 7200)
    assert WindowEvaluator(settings, redis_client).run_once(now) == 1
    keys = Keys(settings.redis.key_prefix)
    retention = settings.windows.retention_days * 86_400_000
    assert redis_client.pexpiretime(keys.evaluation("m", wid)) == int(now * 1000) + retention
    assert Query(redis_client, settings).window_ids("m") == [wid]
    assert [e.window_start for e in Query(redis_client, settings).evaluations("m")] == [old]


def test_one_event_stamped_ahead_of_time_does_not_close_open_windows(
    settings: config.Settings, redis_client: redis.Redis
) -> None:
    now = time.time()
    start = int(now) // 3600 * 3600
    wid = one_window(redis_client, settings, start, "v1", last_event=now + 20 * 3600)
    assert WindowEvaluator(settings, redis_client).run_once(now) == 1
    evaluation = Query(redis_client, settings).evaluation("m", wid)
    assert evaluation is not None and not evaluation.final


def test_windows_of_a_model_removed_from_the_config_leave_the_dirty_set(
    settings: config.Settings, redis_client: redis.Redis
) -> None:
    keys = Keys(settings.redis.key_prefix)
    redis_client.zadd(keys.dirty, {"gone:1800000000|v1|none": 1.0})
    WindowEvaluator(settings, redis_client).run_once(time.time())
    assert redis_client.zscore(keys.dirty, "gone:1800000000|v1|none") is None


def test_the_rolling_view_follows_the_newest_version_not_the_greatest_name(
    settings: config.Settings, redis_client: redis.Redis
) -> None:
    """v9 ran first, v10 was deployed after it: "v9" > "v10" as strings, but v10 is newer."""
    now = time.time()
    start = int(now) // 3600 * 3600 - 3 * 3600
    one_window(redis_client, settings, start, "v9", last_event=now)
    one_window(redis_client, settings, start + 3600, "v9", last_event=now)
    one_window(redis_client, settings, start + 3600, "v10", last_event=now)
    wid, counts = Query(redis_client, settings).rolling_counts("m", last=24)  # type: ignore[misc]
    assert parse_window_id(wid)[1] == "v10" and counts.n == 5


def test_with_alerting_on_a_drifting_feature_fires_for_its_owner_and_clears_nothing_else(
    settings: config.Settings, redis_client: redis.Redis
) -> None:
    """Step 5: the evaluator turns the newest judged window's critical verdict into a firing
    alert with the model's owner; the stable model output and the rules on numbers say nothing
    that fires."""
    enabled = dataclasses.replace(
        settings, alerting=dataclasses.replace(settings.alerting, enabled=True)
    )
    drifting_windows(enabled, redis_client, [0, 1, 2, 3, 4, 5])
    evaluator = WindowEvaluator(enabled, redis_client)
    for _ in range(10):
        if evaluator.run_once(NOW) == 0:
            break
    alerts = Query(redis_client, enabled).alerts()["m"]
    firing = {a.labels["alertname"]: a for a in alerts.values() if a.state == "firing"}
    assert set(firing) == {"FeatureDrift"}
    drift = firing["FeatureDrift"]
    assert drift.labels == {"alertname": "FeatureDrift", "model": "m", "severity": "critical",
                            "owner": "o", "feature": "a"}  # fmt: skip
    assert drift.annotations["version"] == "v1" and drift.fired_at == NOW
    assert Query(redis_client, enabled).incident_starts() == {"m": NOW}  # its incident began
    evaluator.run_once(NOW + 5)  # nothing new: the same window counts once
    again = Query(redis_client, enabled).alerts()["m"][drift.fingerprint]
    assert (again.state, again.breaches, again.fired_at) == ("firing", 1, NOW)


def test_without_alerting_no_alert_is_kept(
    settings: config.Settings, redis_client: redis.Redis
) -> None:
    drifting_windows(settings, redis_client, [0, 1, 2, 3, 4, 5])
    evaluator = WindowEvaluator(settings, redis_client)
    for _ in range(10):
        if evaluator.run_once(NOW) == 0:
            break
    assert Query(redis_client, settings).alerts() == {"m": {}}


def stable_window(
    client: redis.Redis, settings: config.Settings, start: int, partition: int
) -> None:
    """One more window of model "m" (1,000 rows as the reference), written by its own partition
    after ``drifting_windows``."""
    from monitor.store.references import ReferenceStore

    keys = Keys(settings.redis.key_prefix)
    profile = ReferenceStore(client, keys).get("m", "r1").features["a"]  # type: ignore[union-attr]
    checkpoint = Checkpoint(client, keys, settings.kafka.group_id)
    claim = checkpoint.claim("t", partition)
    changes = Effects()
    fields = changes.window("m", window_id(start, "v1", "r1"), start).counts
    fields["n"] += 1000
    values = np.random.default_rng(start).normal(size=1000)
    for b, count in enumerate(np.bincount(profile.bin_index(values), minlength=profile.n_bins)):
        if count:
            fields[f"b:a:{b}"] += int(count)
    changes.maximum("m", LAST_EVENT_TS, float(start + 3600))
    checkpoint.apply(claim, 0, 1, changes, int(time.time() * 1000), fresh=True)


def test_a_drift_notifies_its_owner_once_and_its_end_resolves_it(
    settings: config.Settings, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Steps 5 and 6 against a real receiver: apprise json:// to a local HTTP server. The drift
    fires, waits group_wait, is sent once (however many rounds follow), and once a stable window
    clears it, one resolve follows after group_interval."""
    from tests.monitor.alert.support import Endpoint, serving

    with serving(Endpoint()) as hook:
        monkeypatch.setenv("DW_TEST_HOOK", f"json://{hook.address}/hook")
        enabled = config.parse(
            {
                "redis": {"url": settings.redis.url, "key_prefix": settings.redis.key_prefix},
                "models": [{"name": "m", "owner": "o", "task": "binary",
                            "features": {"a": "numeric"}}],
                "alerting": {
                    "enabled": True,
                    "route": {"receiver": "owners", "group_by": ["model"]},
                    "receivers": [{"name": "owners", "apprise_urls": [{"env": "DW_TEST_HOOK"}]}],
                },
            }
        )  # fmt: skip
        drifting_windows(enabled, redis_client, [0, 1, 2, 3, 4, 5])
        evaluator = WindowEvaluator(enabled, redis_client)

        def rounds(now: float, n: int = 3) -> None:
            for _ in range(n):
                evaluator.run_once(now)
            evaluator.wait_for_notifications(10.0)

        rounds(NOW)  # fires; within group_wait
        assert hook.requests == []
        for later in (NOW + 31, NOW + 60, NOW + 120):
            rounds(later)
        assert len(hook.requests) == 1
        first = hook.bodies()[0]
        assert "feature drift: a" in first["title"] and "CRITICAL" in first["title"]
        assert "owner o" in first["message"] or "o" in first["message"]

        stable_window(redis_client, enabled, T0 + 6 * 3600, partition=1)
        rounds(NOW + 200)  # resolved now; within group_interval of the first notification
        assert len(hook.requests) == 1
        rounds(NOW + 31 + 301)
        rounds(NOW + 400)
        assert len(hook.requests) == 2
        assert "RESOLVED" in hook.bodies()[1]["title"]
        # the model's audit trail tells the same story, each step once
        trail = Query(redis_client, enabled).history("m")
        kinds = [e.kind for e in trail]
        assert kinds.count("version_first_seen") == 1 and kinds.count("health_changed") >= 1
        told = [k for k in kinds if k.startswith(("alert_", "notification_"))]
        assert told == ["alert_fired", "notification_sent", "alert_resolved", "notification_sent"]
        (fired,) = [e for e in trail if e.kind == "alert_fired"]
        assert fired.details["alertname"] == "FeatureDrift" and "problem_since" in fired.details


def test_a_failed_retraining_request_fires_retraining_failed_for_the_owner(
    settings: config.Settings, redis_client: redis.Redis
) -> None:
    """A request the target refused for good is dead-lettered; step 5 turns it into an alert,
    which the routes take to the model's owner like any other."""
    enabled = config.parse(
        {
            "redis": {"url": settings.redis.url, "key_prefix": settings.redis.key_prefix},
            "models": [{"name": "m", "owner": "o", "task": "binary",
                        "features": {"a": "numeric"}}],
            "alerting": {"enabled": True, "route": {"receiver": "nobody"},
                         "receivers": [{"name": "nobody"}]},
            "retraining": {
                "enabled": True,
                "allowed_hosts": ["127.0.0.1:1"],
                "targets": [{"name": "t", "kind": "webhook", "url": "http://127.0.0.1:1/x"}],
                "policies": [{"name": "p", "target": "t"}],
            },
        }
    )  # fmt: skip
    store = RetrainStore(redis_client, Keys(enabled.redis.key_prefix))
    queued = RetrainRequest("retrain:m:1", "m", "p", "t", "queued", NOW - 60, "driftwatch",
                            "performance degraded", "{}")  # fmt: skip
    store.open(queued)
    refused = msgspec.structs.replace(queued, state="failed", attempts=1, last_status=403,
                                      last_error="POST 127.0.0.1:1/x: HTTP 403")  # fmt: skip
    store.change(queued, refused)
    WindowEvaluator(enabled, redis_client).run_once(NOW)
    firing = [a for a in Query(redis_client, enabled).alerts()["m"].values() if a.state == "firing"]
    (alert,) = firing
    assert alert.labels == {"alertname": "RetrainingFailed", "model": "m", "severity": "warning",
                            "owner": "o"}  # fmt: skip
    assert "HTTP 403" in alert.annotations["description"]
