"""Alerting end to end: simulated traffic through Kafka, the daemon, Redis, to real receivers.

Each owner's receiver is apprise ``json://`` to an HTTP server of its own on localhost, so the
test sees exactly what every owner was told.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from monitor.config import FaultSettings
from monitor.simulate import Simulator, produce
from tests.monitor.alert.support import Endpoint, serving
from tests.support import set_baseline

WINDOW = 60
SHIFT_AT, SHIFT_END = 10 * WINDOW, 16 * WINDOW


def test_a_drift_is_told_to_its_owner_once_and_its_end_resolves_it(
    deployment_factory: Any,
    daemon_factory: Any,
    wait_for: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A covariate shift on fraud-detector's ``amount`` for six windows, then stable traffic:
    its owner hears of it once (firing) and once more when it ends (resolved); the other owner
    and the catch-all receiver hear nothing."""
    with serving(Endpoint()) as risk, serving(Endpoint()) as eta, serving(Endpoint()) as rest:
        for name, hook in (("RISK", risk), ("ETA", eta), ("REST", rest)):
            monkeypatch.setenv(f"DW_TEST_{name}_HOOK", f"json://{hook.address}/{name.lower()}")
        route = {
            "receiver": "platform",
            "group_by": ["model"],
            "group_wait_seconds": 0.0,
            "group_interval_seconds": 2.0,
            "repeat_interval_seconds": 86_400.0,
            "routes": [
                {"matchers": ['owner="risk@example.com"'], "receiver": "risk"},
                {"matchers": ['owner="eta@example.com"'], "receiver": "eta"},
            ],
        }
        receivers = [
            {"name": name, "apprise_urls": [{"env": f"DW_TEST_{env}_HOOK"}]}
            for name, env in (("risk", "RISK"), ("eta", "ETA"), ("platform", "REST"))
        ]
        dep = deployment_factory(
            partitions=3,
            windows={"size_seconds": WINDOW, "allowed_lateness_seconds": 10},
            simulate={"rate": 20.0, "label_delay_seconds": 5.0},
            # Drift only: the replayed stream ends minutes before now, which the stale-data
            # rule would rightly report.
            alerting={"enabled": True, "rules": [{"kind": "feature_drift"}], "route": route,
                      "receivers": receivers},
        )  # fmt: skip
        for model in ("fraud-detector", "delivery-eta"):
            set_baseline(dep.path, dep.settings, model, tmp_path)
        start = (int(time.time()) // WINDOW - 25) * WINDOW
        shift = FaultSettings(
            "covariate_shift", "fraud-detector", "amount", SHIFT_AT, SHIFT_END, magnitude=1.5
        )
        events = list(Simulator(dep.settings, seed=5, start=start, faults=[shift]).events(24_000))
        # Two phases, so the test does not depend on which windows an evaluator round happens to
        # see: through the end of the drift, then the stable traffic after it.
        cut = start + SHIFT_END
        during = [e for e in events if e.ts < cut]
        after = [e for e in events if e.ts >= cut]
        daemon = daemon_factory(dep)
        wait_for(lambda: "claimed" in daemon.log_text(), 60, "the daemon to claim its partitions")
        query = dep.query()

        def consumed(n: int) -> None:
            def counted() -> bool:
                return sum(c.predictions + c.outcomes for c in dep.counts().values()) >= n

            wait_for(counted, 180, "every event counted")
            wait_for(lambda: query._redis.zcard(query._keys.dirty) == 0, 120, "windows judged")

        produce(dep.settings, during, realtime_rate=4000)
        consumed(len(during))
        wait_for(lambda: len(risk.requests) >= 1, 60, "the firing notification")
        produce(dep.settings, after, realtime_rate=4000)
        consumed(len(events))
        wait_for(lambda: len(risk.requests) >= 2, 60, "the resolved notification")
        time.sleep(12)  # a few more evaluator rounds: nothing more may be sent

        titles = [body["title"] for body in risk.bodies()]
        assert len(titles) == 2, titles
        assert titles[0].startswith("[CRITICAL] fraud-detector: feature drift: amount"), titles
        assert titles[1].startswith("[RESOLVED]"), titles
        assert "/feature?model=fraud-detector&feature=amount" in risk.bodies()[0]["message"]
        assert eta.requests == [] and rest.requests == []
        alerts = query.alerts(["fraud-detector"])["fraud-detector"]
        assert [a.state for a in alerts.values()] == ["resolved"]


@pytest.mark.slow
def test_a_daemon_killed_while_sending_leaves_the_notification_to_its_successor(
    deployment_factory: Any,
    daemon_factory: Any,
    wait_for: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """kill -9 while the receiver holds the request: nothing was logged, so the next evaluator
    (another instance, once the lease expired) sends the notification again — at least once,
    never lost — and then never more, however many rounds follow."""
    with serving(Endpoint(hold=threading.Event())) as hook:
        monkeypatch.setenv("DW_TEST_HOOK", f"json://{hook.address}/hook")
        dep = deployment_factory(
            partitions=2,
            windows={"size_seconds": WINDOW, "allowed_lateness_seconds": 10},
            simulate={"rate": 20.0, "label_delay_seconds": 5.0},
            alerting={"enabled": True, "rules": [{"kind": "feature_drift"}],
                      "route": {"receiver": "owners", "group_wait_seconds": 0.0,
                                "group_interval_seconds": 2.0},
                      "receivers": [{"name": "owners",
                                     "apprise_urls": [{"env": "DW_TEST_HOOK"}]}]},
        )  # fmt: skip
        set_baseline(dep.path, dep.settings, "fraud-detector", tmp_path)
        start = (int(time.time()) // WINDOW - 25) * WINDOW
        shift = FaultSettings(
            "covariate_shift", "fraud-detector", "amount", SHIFT_AT, magnitude=1.5
        )
        sim = Simulator(
            dep.settings, seed=5, start=start, faults=[shift], models=["fraud-detector"]
        )
        events = [e for e in sim.events(24_000) if e.ts < start + SHIFT_END]
        first = daemon_factory(dep)
        wait_for(lambda: "claimed" in first.log_text(), 60, "the daemon to claim its partitions")
        produce(dep.settings, events, realtime_rate=4000)
        wait_for(lambda: len(hook.requests) >= 1, 120, "the notification to reach the receiver")
        first.kill9()  # the receiver has it, unanswered: the log was not written
        assert hook.hold is not None
        hook.hold.set()
        second = daemon_factory(dep)
        wait_for(lambda: len(hook.requests) >= 2, 90, "the successor's notification")
        time.sleep(12)  # more rounds of the successor: nothing more may be sent
        titles = [body["title"] for body in hook.bodies()]
        assert len(titles) == 2 and titles[0] == titles[1], titles
        assert titles[0].startswith("[CRITICAL] fraud-detector: feature drift: amount")
        assert second.alive()
