"""Quiet when nothing is wrong, end to end: 10 simulated days of stable traffic for five models go
through Kafka, the daemon, Redis and the default alert rules, with every owner's receiver a real
local endpoint — and nobody is told anything.

The windows are hourly with about a hundred predictions each, the smallest size the verdicts judge
(``drift.min_samples``): 1,200 windows, each a chance for a false alarm; the test also checks that
they were judged, so silence cannot come from having nothing to judge. Thirty days of the same
traffic are judged without Kafka by ``tests/monitor/stats/test_false_alarms.py`` (the verdicts)
and ``tests/monitor/alert/test_false_alarms.py`` (the rules and routing); this test adds what the
deployed pipeline could add on its own (partial windows, lateness, the join, restarts of the
evaluator's rounds). It ran 30 days until the CI run neared its 30-minute budget (254 s of it).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from monitor.simulate import Simulator, produce
from tests.monitor.alert.support import Endpoint, serving
from tests.monitor.stats.test_false_alarms import FEATURES, TASKS
from tests.support import set_baseline

pytestmark = pytest.mark.slow

HOUR = 3600
DAYS = 10
PER_HOUR = 100  # predictions per model and window


def test_ten_stable_days_of_five_models_notify_nobody(
    deployment_factory: Any,
    daemon_factory: Any,
    wait_for: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    models = [
        {"name": f"m{i}", "owner": f"team-{i}", "task": TASKS[i], "features": FEATURES[i]}
        for i in range(5)
    ]
    with serving(Endpoint()) as hook:
        monkeypatch.setenv("DW_TEST_HOOK", f"json://{hook.address}/owners")
        dep = deployment_factory(
            partitions=3,
            models=models,
            windows={"size_seconds": HOUR, "allowed_lateness_seconds": 60, "retention_days": 40},
            drift={"min_samples": PER_HOUR},
            simulate={"rate": 5 * PER_HOUR / HOUR, "label_delay_seconds": 600.0},
            # The default rules, every owner routed to the one receiver (any request fails)
            alerting={"enabled": True,
                      "route": {"receiver": "owners", "group_by": ["model"],
                                "group_wait_seconds": 0.0, "group_interval_seconds": 1.0},
                      "receivers": [{"name": "owners",
                                     "apprise_urls": [{"env": "DW_TEST_HOOK"}]}]},
        )  # fmt: skip
        for m in models:
            set_baseline(dep.path, dep.settings, str(m["name"]), tmp_path)
        now = time.time()
        start = (int(now) // HOUR - DAYS * 24 - 1) * HOUR
        sim = Simulator(dep.settings, seed=11, start=start, faults=[])
        events = [e for e in sim.events(int(5 * PER_HOUR * DAYS * 24 * 1.9)) if e.ts < now - 120]
        daemon = daemon_factory(dep)
        wait_for(lambda: "claimed" in daemon.log_text(), 60, "the daemon to claim its partitions")
        produce(dep.settings, events, realtime_rate=None)
        query = dep.query()

        def counted() -> bool:
            return sum(c.predictions + c.outcomes for c in dep.counts().values()) >= len(events)

        wait_for(counted, 600, "every event counted")
        dirty = query._keys.dirty
        wait_for(lambda: query._redis.zcard(dirty) == 0, 900, "every window judged")
        time.sleep(12)  # a few more evaluator rounds, with the rules on the final windows
        judged = {
            str(m["name"]): sum(
                any(v.status != "insufficient" for v in ev.verdicts)
                for ev in query.evaluations(str(m["name"]))
            )
            for m in models
        }
        assert all(n >= DAYS * 24 * 0.9 for n in judged.values()), judged
        alerts = query.alerts()
        assert hook.requests == [], [body["title"] for body in hook.bodies()]
        fired = {m: [a.labels for a in found.values()] for m, found in alerts.items() if found}
        assert fired == {}
        assert daemon.alive()
