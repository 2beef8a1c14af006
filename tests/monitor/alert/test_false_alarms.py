"""Quiet when nothing is wrong: 30 simulated days of stable traffic for 5 models, hourly windows
of 100 predictions each, go through the default rules, states, routing and notification
pipeline round by round — and nobody is told anything."""

from __future__ import annotations

import pytest

from monitor.alert.evaluate import evaluate
from monitor.alert.pipeline import groups, plan
from monitor.alert.route import routing_tree
from monitor.alert.rules import Evidence
from monitor.config import DEFAULT_INHIBIT_RULES, DEFAULT_RULES, RouteSettings
from monitor.stats.window import WindowAggregator
from monitor.vocab.alerts import Alert, LogEntry
from monitor.vocab.counts import IngestCounts
from monitor.vocab.effects import Effects
from tests.monitor.stats.test_false_alarms import T0, evaluate_all, predictions, reference, settings

pytestmark = pytest.mark.slow

HOUR = 3600


def test_thirty_stable_days_of_five_models_notify_nobody() -> None:
    s = settings(min_samples=100)
    by_model = {}
    for m in s.models:
        ref = reference(s, m.name)
        changes = Effects()
        aggregator = WindowAggregator(s.models, s.windows, lambda _, ref=ref: ref)
        aggregator.predictions(changes, list(predictions(s, m.name, 7, 30 * 24 * 100, 100 / HOUR)))
        windows = {wid: {**d.counts, **d.sums} for (_, wid), d in changes.windows.items()}
        by_model[m.name] = evaluate_all(s, m.name, ref, windows)
    tree = routing_tree(RouteSettings(receiver="owners", group_by=("model",)))
    alerts: dict[str, dict[str, Alert]] = {m.name: {} for m in s.models}
    log: dict[str, LogEntry] = {}
    told, ever_firing = [], set()
    for hour in range(30 * 24):
        now = T0 + (hour + 1) * HOUR + 60
        for m in s.models:
            ev = by_model[m.name][hour]
            counts = IngestCounts(predictions=100 * (hour + 1), joined=80 * (hour + 1),
                                  expired_predictions=20 * (hour + 1),
                                  delay_sum_seconds=600.0 * 80 * (hour + 1),
                                  last_event_ts=now - 90)  # fmt: skip
            evidence = Evidence(m, now, HOUR, ev, counts)
            changed, gone = evaluate(DEFAULT_RULES, evidence, alerts[m.name])
            alerts[m.name].update((a.fingerprint, a) for a in changed)
            for key in gone:
                del alerts[m.name][key]
        every = [a for found in alerts.values() for a in found.values()]
        ever_firing |= {a.fingerprint for a in every if a.state == "firing"}
        firing = [a for a in every if a.state == "firing"]
        for group in groups(tree, every):
            due = plan(group, log.get(group.key), send_resolved=True, firing_elsewhere=firing,
                       inhibit_rules=DEFAULT_INHIBIT_RULES, silences=(), now=now)  # fmt: skip
            if due is not None:
                told.append(due.notification)
                log[group.key] = due.entry
    assert told == [] and ever_firing == set()
