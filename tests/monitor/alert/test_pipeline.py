"""The notification pipeline without the network: which notifications are due, round by round."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from monitor.alert.dedup import Reason
from monitor.alert.pipeline import Due, Group, groups, plan
from monitor.alert.route import routing_tree
from monitor.config import DEFAULT_INHIBIT_RULES, RouteSettings
from monitor.vocab.alerts import Alert, AlertState, LogEntry

T0 = 1_800_000_000.0
TREE = routing_tree(
    RouteSettings(
        receiver="ops",
        group_by=("model",),
        routes=(RouteSettings(receiver="fraud-team", matchers=('owner="fraud"',)),),
    )
)


def alert(model: str, feature: str, owner: str = "fraud", state: AlertState = "firing",
          fired_at: float = T0) -> Alert:  # fmt: skip
    labels = {"alertname": "FeatureDrift", "model": model, "severity": "critical",
              "owner": owner, "feature": feature}  # fmt: skip
    resolved_at = fired_at + 600 if state == "resolved" else None
    return Alert(labels, {}, state, fired_at, fired_at, fired_at, resolved_at=resolved_at)


def due(
    group: Group, entry: LogEntry | None, now: float, firing: Sequence[Alert] = ()
) -> Due | None:
    return plan(group, entry, send_resolved=True, firing_elsewhere=firing,
                inhibit_rules=DEFAULT_INHIBIT_RULES, silences=(), now=now)  # fmt: skip


def test_alerts_reach_their_owner_in_one_group_per_model() -> None:
    alerts = [alert("m", "a"), alert("m", "b"), alert("n", "a", owner="risk"),
              alert("m", "c", state="pending")]  # fmt: skip
    found = {(g.route.opts.receiver, g.labels["model"]): g for g in groups(TREE, alerts)}
    assert set(found) == {("fraud-team", "m"), ("ops", "n")}
    assert [a.labels["feature"] for a in found["fraud-team", "m"].alerts] == ["a", "b"]


def test_a_new_group_waits_group_wait_then_sends_once_then_repeats() -> None:
    (group,) = groups(TREE, [alert("m", "a"), alert("m", "b")])
    assert due(group, None, T0 + 10) is None  # within group_wait (30 s)
    first = due(group, None, T0 + 30)
    assert first is not None and first.reason is Reason.FIRST
    assert len(first.notification.firing) == 2 and first.notification.receiver == "fraud-team"
    entry = first.entry
    assert due(group, entry, T0 + 600) is None  # nothing new
    later = T0 + 30 + 4 * 3600 + 1
    repeat = due(group, entry, later)
    assert repeat is not None and repeat.reason is Reason.REPEAT


def test_a_new_alert_joins_after_group_interval_and_a_resolve_is_sent() -> None:
    (group,) = groups(TREE, [alert("m", "a")])
    first = due(group, None, T0 + 30)
    assert first is not None
    (grown,) = groups(TREE, [alert("m", "a"), alert("m", "b", fired_at=T0 + 60)])
    assert due(grown, first.entry, T0 + 100) is None  # within group_interval (300 s)
    second = due(grown, first.entry, T0 + 330)
    assert second is not None and second.reason is Reason.NEW_ALERTS
    (ended,) = groups(TREE, [alert("m", "a", state="resolved"), alert("m", "b", state="resolved")])
    resolve = due(ended, second.entry, T0 + 700)
    assert resolve is not None and resolve.reason is Reason.ALL_RESOLVED
    assert resolve.notification.status == "resolved" and len(resolve.notification.resolved) == 2
    assert due(ended, resolve.entry, T0 + 2000) is None  # told once


def test_an_alert_resolved_before_anyone_heard_of_it_sends_nothing() -> None:
    (group,) = groups(TREE, [alert("m", "a", state="resolved")])
    assert due(group, None, T0 + 3600) is None


def test_an_inhibited_group_sends_nothing() -> None:
    labels = {"alertname": "StaleData", "model": "m", "severity": "critical", "owner": "fraud"}
    stale = msgspec.structs.replace(alert("m", ""), labels=labels)
    drift = alert("m", "a")
    (group,) = groups(TREE, [drift])
    assert due(group, None, T0 + 60, firing=[stale, drift]) is None
    assert due(group, None, T0 + 60, firing=[drift]) is not None


def test_without_send_resolved_a_resolved_group_is_logged_not_sent() -> None:
    (group,) = groups(TREE, [alert("m", "a")])
    first = due(group, None, T0 + 30)
    assert first is not None and not first.log_only
    (ended,) = groups(TREE, [alert("m", "a", state="resolved")])
    quiet = plan(ended, first.entry, send_resolved=False, firing_elsewhere=(), inhibit_rules=(),
                 silences=(), now=T0 + 700)  # fmt: skip
    assert quiet is not None and quiet.reason is Reason.ALL_RESOLVED and quiet.log_only
    assert quiet.entry.firing == [] and due(ended, quiet.entry, T0 + 2000) is None


def test_after_everything_resolved_a_new_firing_waits_group_wait_not_group_interval() -> None:
    (group,) = groups(TREE, [alert("m", "a")])
    first = due(group, None, T0 + 30)
    assert first is not None
    (ended,) = groups(TREE, [alert("m", "a", state="resolved")])
    resolve = due(ended, first.entry, T0 + 700)
    assert resolve is not None
    again = T0 + 720  # 20 s after the resolve: well within group_interval (300 s)
    (back,) = groups(TREE, [alert("m", "a", fired_at=again)])
    assert due(back, resolve.entry, again + 10) is None  # group_wait (30 s) not over
    fresh = due(back, resolve.entry, again + 30)
    assert fresh is not None and fresh.reason is Reason.FIRST
