"""Incidents and their timings, computed from a model's audit trail (``monitor/vocab/audit.py``).

Nothing stores incidents: ``driftwatch history``, the dashboard and the ``/metrics`` gauges
derive them from the same trail with these functions, so the three always agree.

An incident runs from a model's first firing alert (one that fires while none of the model's
alerts is firing) to the resolve of its last firing alert: alerts that overlap, or that fire
again while another still fires, belong to the same incident. Its timings all count from
``detected_from``, the start of the first window that showed the problem (the earliest
``problem_since`` of its alerts, else when it started), so they nest — detect ≤ acknowledge ≤
recover:

- *time to detect*: until the first alert fired;
- *time to acknowledge*: until someone reacted during the incident — a silence whose matchers
  select one of the incident's alerts fired so far, or an approved retraining of the model;
- *time to recover*: until the last alert resolved (none while the incident is open).

A trail is trimmed by age, so its oldest events may resolve alerts it never saw fire: such a
resolve ends nothing, and an alert that "fires" while already firing (a window evaluated again
after a Redis rollback) starts nothing. Times only ever move forward through a sorted trail, so
no duration can be negative.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from monitor.vocab.audit import AuditEvent, labels_of, matchers_of
from monitor.vocab.matchers import matches_all

#: The periods, in days, that mean times are reported over (history, dashboard, ``/metrics``);
#: the trail must be kept at least as long as the longest (``[audit] retention_days``).
MTTR_DAYS = (30, 90)

_DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident of one model (Unix seconds)."""

    model: str
    started: float
    #: When its last firing alert resolved; None while it is open.
    ended: float | None
    detected_from: float
    acknowledged: float | None
    #: Its alerts, in the order they first fired.
    fingerprints: tuple[str, ...]
    alertnames: tuple[str, ...]

    @property
    def time_to_detect(self) -> float:
        return self.started - self.detected_from

    @property
    def time_to_acknowledge(self) -> float | None:
        return None if self.acknowledged is None else self.acknowledged - self.detected_from

    @property
    def time_to_recover(self) -> float | None:
        return None if self.ended is None else self.ended - self.detected_from


@dataclass(frozen=True, slots=True)
class MeanTimes:
    """Mean timings of the incidents that ended within a period; None where none had one."""

    incidents: int
    detect: float | None
    acknowledge: float | None
    recover: float | None


def incidents(events: Iterable[AuditEvent]) -> list[Incident]:
    """The incidents in audit trails (any order, any models), oldest first."""
    by_model: dict[str, list[AuditEvent]] = {}
    for event in sorted(events, key=lambda e: e.ts):
        by_model.setdefault(event.model, []).append(event)
    found = [i for model, trail in by_model.items() for i in _incidents(model, trail)]
    return sorted(found, key=lambda i: (i.started, i.model))


def mean_times(incidents: Iterable[Incident], now: float, days: float) -> MeanTimes:
    """Mean times to detect, acknowledge and recover of the incidents that *ended* in the
    ``days`` days up to ``now``: an open incident has no time to recover yet, and counting it
    by its start would make MTTR improve while it drags on."""
    ended = [i for i in incidents if i.ended is not None and now - days * _DAY < i.ended <= now]
    return MeanTimes(
        len(ended),
        _mean(ended, lambda i: i.time_to_detect),
        _mean(ended, lambda i: i.time_to_acknowledge),
        _mean(ended, lambda i: i.time_to_recover),
    )


def mttr(incidents: Iterable[Incident], now: float, days: float) -> float | None:
    """Mean time to recover over the last ``days`` days; None without an incident ended then."""
    return mean_times(incidents, now, days).recover


@dataclass(slots=True)
class _Open:
    """An incident still being read from the trail."""

    started: float
    detected_from: float
    firing: set[str] = field(default_factory=set)
    #: Labels of every alert that fired during it, by fingerprint, in firing order.
    alerts: dict[str, dict[str, str]] = field(default_factory=dict)
    alertnames: dict[str, None] = field(default_factory=dict)
    acknowledged: float | None = None

    def fire(self, event: AuditEvent, fingerprint: str) -> None:
        self.firing.add(fingerprint)
        self.alerts[fingerprint] = labels_of(event)
        self.alertnames[event.details.get("alertname", "")] = None
        since = event.details.get("problem_since")
        if since is not None:
            self.detected_from = min(self.detected_from, float(since))

    def acknowledges(self, event: AuditEvent) -> bool:
        if event.kind == "retrain_approved":
            return True
        if event.kind != "silence_created":
            return False
        matchers = matchers_of(event)
        return any(matches_all(matchers, labels) for labels in self.alerts.values())

    def close(self, model: str, ended: float | None) -> Incident:
        return Incident(
            model,
            self.started,
            ended,
            self.detected_from,
            self.acknowledged,
            tuple(self.alerts),
            tuple(self.alertnames),
        )


def _incidents(model: str, trail: list[AuditEvent]) -> list[Incident]:
    """One model's incidents from its trail, sorted by time."""
    out: list[Incident] = []
    current: _Open | None = None
    for event in trail:
        fingerprint = event.details.get("fingerprint", "")
        if event.kind == "alert_fired":
            if current is None:
                current = _Open(event.ts, event.ts)
            if fingerprint not in current.firing:
                current.fire(event, fingerprint)
        elif current is None:
            continue  # nothing is firing: no resolve ends, no reaction acknowledges anything
        elif event.kind == "alert_resolved":
            current.firing.discard(fingerprint)
            if not current.firing:
                out.append(current.close(model, event.ts))
                current = None
        elif current.acknowledged is None and current.acknowledges(event):
            current.acknowledged = event.ts
    if current is not None:
        out.append(current.close(model, None))
    return out


def _mean(incidents: list[Incident], time: Callable[[Incident], float | None]) -> float | None:
    values = [t for t in map(time, incidents) if t is not None]
    return sum(values) / len(values) if values else None
