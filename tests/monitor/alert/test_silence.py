"""The silence stage leaves out the alerts an active silence mutes, whatever their state."""

from __future__ import annotations

import msgspec

from monitor.alert.silence import unsilenced
from monitor.vocab.alerts import Alert, AlertState
from monitor.vocab.silences import Silence

NOW = 1000.0


def alert(model: str, state: AlertState = "firing", feature: str = "a") -> Alert:
    labels = {"alertname": "FeatureDrift", "model": model, "severity": "warning", "owner": "o",
              "feature": feature}  # fmt: skip
    return Alert(labels, {}, state, 1.0, 2.0, 2.0)


def silence(matcher: str, start: float = NOW - 10, duration: float = 60.0) -> Silence:
    return Silence.new([matcher], duration, "ana", "maintenance", now=start)


def test_alerts_an_active_silence_selects_are_left_out_in_any_state() -> None:
    alerts = [alert("fraud"), alert("churn"), alert("fraud", "resolved", "b"), alert("eta")]
    kept = unsilenced(alerts, [silence('model="fraud"')], NOW)
    assert kept == [alerts[1], alerts[3]]


def test_pending_and_expired_silences_mute_nothing() -> None:
    alerts = [alert("fraud"), alert("churn"), alert("eta")]
    pending = msgspec.structs.replace(silence('model="fraud"'), starts_at=NOW + 1)
    expired = silence('model="churn"', start=NOW - 60, duration=60.0)  # ended exactly now
    active = silence('model="eta"')
    assert unsilenced(alerts, [pending, expired, active], NOW) == alerts[:2]
    assert unsilenced(alerts, [], NOW) == alerts
