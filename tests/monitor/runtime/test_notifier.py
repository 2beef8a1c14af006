"""The notifier (the evaluator's step 6) on a real Redis with real receivers on localhost.

apprise ``json://`` posts to local HTTP servers; silences are stored in and read back from Redis;
the notification log is the real one, written under a real lease's fence. Each test drives
rounds at chosen moments (the pipeline's clock) and waits for the sends of each round.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import redis
from prometheus_client import CollectorRegistry

from monitor import config
from monitor.metrics import Metrics
from monitor.runtime.notifier import Notifier
from monitor.store.audit import AuditLog
from monitor.store.keys import Keys
from monitor.store.lease import Fence, Lease
from monitor.store.query import Query
from monitor.vocab.alerts import Alert, AlertState
from monitor.vocab.silences import Silence
from tests.monitor.alert.support import Endpoint, serving

T0 = 1_800_000_000.0  # 2027-01-15 08:00 UTC, a Friday
REPEAT = 3600.0
MODELS = [
    {"name": "fraud", "owner": "fraud-team", "task": "binary", "features": {"a": "numeric"}},
    {"name": "churn", "owner": "risk-team", "task": "binary", "features": {"c": "numeric"}},
]


def alert(
    model: str,
    feature: str = "a",
    *,
    name: str = "FeatureDrift",
    severity: str = "critical",
    state: AlertState = "firing",
    at: float = T0,
) -> Alert:
    owner = next(m["owner"] for m in MODELS if m["name"] == model)
    labels = {"alertname": name, "model": model, "severity": severity, "owner": owner}
    if feature:
        labels["feature"] = feature
    notes = {"summary": f"{name}: {feature}", "value": "0.3", "threshold": "0.2", "n": "900"}
    resolved = at + 600 if state == "resolved" else None
    return Alert(labels, notes, state, at, at, at, 1, resolved_at=resolved)


def by_model(*alerts: Alert) -> dict[str, dict[str, Alert]]:
    found: dict[str, dict[str, Alert]] = {str(m["name"]): {} for m in MODELS}
    for a in alerts:
        found[a.labels["model"]][a.fingerprint] = a
    return found


class Rig:
    """A notifier for ``alerting`` (its receivers' URLs from the environment) and its fence."""

    def __init__(self, client: redis.Redis, prefix: str, alerting: dict[str, Any]) -> None:
        self.settings = config.parse(
            {
                "redis": {"key_prefix": prefix},
                "models": MODELS,
                "alerting": {"enabled": True, **alerting},
            }
        )
        keys = Keys(prefix)
        self.registry = CollectorRegistry()
        self.trail = AuditLog(client, keys, retention_days=400)
        self.notifier = Notifier(
            self.settings.alerting, "http://dash", client, keys, self.trail, Metrics(self.registry)
        )
        lease = Lease(client, keys.evaluator_lease, keys.evaluator_fence, "test", 60_000)
        fence = lease.hold()
        assert fence is not None
        self.fence: Fence = fence
        self.query = Query(client, self.settings)

    def round(self, alerts: dict[str, dict[str, Alert]], now: float) -> None:
        self.notifier.run_once(self.fence, alerts, self.query.silences(now), now)
        assert self.notifier.wait(30.0)

    def counted(self, receiver: str, result: str) -> float:
        value = self.registry.get_sample_value(
            "driftwatch_notifications_total", {"receiver": receiver, "result": result}
        )
        return value or 0.0


RECEIVERS = ("fraud", "risk", "ops")


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., dict[str, Endpoint]]]:
    """``serve(fraud={"default": 503})``: a local HTTP server per receiver, its json:// URL in
    the receiver's env var (``DW_FRAUD``), with the given :class:`Endpoint` options."""
    with ExitStack() as stack:

        def start(**options: dict[str, Any]) -> dict[str, Endpoint]:
            hooks = {}
            for name in RECEIVERS:
                hook = stack.enter_context(serving(Endpoint(**options.get(name, {}))))
                monkeypatch.setenv(f"DW_{name.upper()}", f"json://{hook.address}/{name}")
                hooks[name] = hook
            return hooks

        yield start


def receivers(**extra: dict[str, Any]) -> list[dict[str, Any]]:
    """The three receivers, with ``extra`` settings by name."""
    return [
        {"name": n, "apprise_urls": [{"env": f"DW_{n.upper()}"}], **extra.get(n, {})}
        for n in RECEIVERS
    ]


ROUTE = {
    "receiver": "ops",
    "group_by": ["model"],
    "repeat_interval_seconds": REPEAT,
    "routes": [
        {"matchers": ['owner="fraud-team"'], "receiver": "fraud"},
        {"matchers": ['owner="risk-team"'], "receiver": "risk"},
    ],
}


def titles(hook: Endpoint) -> list[str]:
    return [str(body["title"]) for body in hook.bodies()]


def test_each_owner_hears_once_per_group_then_again_after_repeat_interval(
    redis_client: redis.Redis, key_prefix: str, serve: Callable[..., dict[str, Endpoint]]
) -> None:
    hooks = serve()
    fraud, risk, ops = hooks["fraud"], hooks["risk"], hooks["ops"]
    rig = Rig(redis_client, key_prefix, {"route": ROUTE, "receivers": receivers()})
    alerts = by_model(alert("fraud", "a"), alert("fraud", "b"), alert("churn", "c"))
    rig.round(alerts, T0 + 10)  # within group_wait
    assert (fraud.requests, risk.requests) == ([], [])
    for now in (T0 + 30, T0 + 60, T0 + 600):
        rig.round(alerts, now)
    assert len(fraud.requests) == 1 and len(risk.requests) == 1 and ops.requests == []
    assert "feature drift: a, b" in titles(fraud)[0] and "churn" not in titles(fraud)[0]
    assert "churn" in titles(risk)[0]
    rig.round(alerts, T0 + 30 + REPEAT + 1)
    assert len(fraud.requests) == 2 and len(risk.requests) == 2
    logged = rig.query.notification_log(["fraud"])["fraud"]
    (entry,) = logged.values()
    assert len(entry.firing) == 2 and entry.sent_at == T0 + 30 + REPEAT + 1
    assert rig.counted("fraud", "sent") == 2
    sent = [e for e in rig.query.history("fraud") if e.kind == "notification_sent"]
    assert len(sent) == 2 and sent[0].details["receiver"] == "fraud"
    assert [e.kind for e in rig.query.history("churn")] == ["notification_sent"] * 2


def test_silences_in_redis_and_inhibition_keep_muted_alerts_out(
    redis_client: redis.Redis, key_prefix: str, serve: Callable[..., dict[str, Endpoint]]
) -> None:
    hooks = serve()
    fraud, risk = hooks["fraud"], hooks["risk"]
    rig = Rig(redis_client, key_prefix, {"route": ROUTE, "receivers": receivers()})
    store = rig.query.silence_store()
    muted = Silence.new(['model="churn"'], 3600, "ana", "retraining churn", T0)
    store.add(muted)
    # No traffic for fraud explains its drift (default inhibit rule): only StaleData is told.
    stale = alert("fraud", "", name="StaleData")
    alerts = by_model(alert("fraud", "a"), stale, alert("churn", "c"))
    rig.round(alerts, T0 + 30)
    assert risk.requests == []  # silenced
    (told,) = titles(fraud)
    assert "stale data" in told.lower() and "feature drift" not in told
    store.expire(muted.id, T0 + 100, "ana")
    rig.round(alerts, T0 + 130)
    assert len(risk.requests) == 1  # the silence ended: the still-firing alert is told
    trail = [(e.kind, e.actor) for e in rig.query.history("churn")]
    assert trail == [
        ("silence_created", "ana"),
        ("silence_expired", "ana"),
        ("notification_sent", "driftwatch"),
    ]
    assert not any(e.kind.startswith("silence") for e in rig.query.history("fraud"))


def test_a_mute_time_interval_holds_notifications_until_it_ends(
    redis_client: redis.Redis, key_prefix: str, serve: Callable[..., dict[str, Endpoint]]
) -> None:
    fraud = serve()["fraud"]
    route = {**ROUTE, "routes": [{**ROUTE["routes"][0], "mute_time_intervals": ["mornings"]}]}  # type: ignore[index]
    intervals = [{"name": "mornings", "times": ["08:00-09:00"], "location": "UTC"}]
    rig = Rig(
        redis_client,
        key_prefix,
        {
            "route": route,
            "time_intervals": intervals,
            "receivers": receivers(),
        },
    )
    alerts = by_model(alert("fraud", "a"))
    rig.round(alerts, T0 + 60)  # 08:01 UTC: muted
    rig.round(alerts, T0 + 3599)
    assert fraud.requests == []
    rig.round(alerts, T0 + 3600)  # 09:00: the interval ended
    assert len(fraud.requests) == 1


def test_a_failing_receiver_is_retried_then_its_fallback_is_told(
    redis_client: redis.Redis, key_prefix: str, serve: Callable[..., dict[str, Endpoint]]
) -> None:
    hooks = serve(fraud={"default": 503})
    fraud, ops = hooks["fraud"], hooks["ops"]
    route = {**ROUTE, "group_interval_seconds": 4}  # the retries' deadline
    rig = Rig(
        redis_client,
        key_prefix,
        {"route": route, "receivers": receivers(fraud={"fallback": "ops"})},
    )
    rig.round(by_model(alert("fraud", "a")), T0 + 30)
    assert len(fraud.requests) >= 2  # retried with backoff inside the deadline
    (told,) = titles(ops)
    assert told.startswith("[FALLBACK for fraud]")
    assert rig.counted("fraud", "fallback") == 1 and rig.counted("fraud", "sent") == 0
    assert rig.query.notification_log(["fraud"])["fraud"]  # logged: not sent again
    rig.round(by_model(alert("fraud", "a")), T0 + 40)
    assert len(titles(ops)) == 1


def test_a_receiver_that_wants_no_resolves_gets_none_and_the_group_starts_afresh(
    redis_client: redis.Redis, key_prefix: str, serve: Callable[..., dict[str, Endpoint]]
) -> None:
    fraud = serve()["fraud"]
    rig = Rig(
        redis_client,
        key_prefix,
        {
            "route": ROUTE,
            "receivers": receivers(fraud={"send_resolved": False}),
        },
    )
    rig.round(by_model(alert("fraud", "a")), T0 + 30)
    rig.round(by_model(alert("fraud", "a", state="resolved")), T0 + 700)
    assert len(fraud.requests) == 1  # the firing one only
    (entry,) = rig.query.notification_log(["fraud"])["fraud"].values()
    assert entry.firing == [] and entry.sent_at == T0 + 700  # logged as told
    again = alert("fraud", "a", at=T0 + 720)
    rig.round(by_model(again), T0 + 730)  # within group_wait of the new firing
    rig.round(by_model(again), T0 + 750)
    assert len(fraud.requests) == 2
