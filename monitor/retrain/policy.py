"""Retraining policies: whether a model's firing alerts call for a retraining request now.

Not every alert does: a covariate shift that leaves performance intact usually does not, so a
policy names the alerts that count (label matchers, as routes and silences do) and how long they
must have fired. Then, per model:

- at most one request in flight (awaiting approval or queued);
- one request per incident: the event id is made from the incident's start (its first alert
  firing while none was, which the evaluator keeps while any alert fires, however the firing
  ones take over from each other), so a rejected, failed or delivered request is not asked
  again while the same incident goes on;
- a cooldown after the last delivered request (a retrained model needs time to show its effect);
- optionally, a minimum of new labelled rows since the last delivered request (retraining on
  the same data again helps nobody).

The first policy (in config order) that wants a request wins. A pure function of the alerts,
the requests and the clock, so every case is tested without Redis.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from monitor.config.retraining import PolicySettings
from monitor.vocab.alerts import Alert
from monitor.vocab.matchers import Matcher, matches_all
from monitor.vocab.retrain import RetrainRequest, event_id


@dataclass(frozen=True, slots=True)
class Opening:
    """A request a policy wants opened: its event id, its policy and the alerts behind it."""

    id: str
    policy: PolicySettings
    alerts: tuple[Alert, ...]
    incident_start: float


def decide(
    policies: Sequence[PolicySettings],
    model: str,
    alerts: Iterable[Alert],
    requests: Sequence[RetrainRequest],
    labelled: int,
    now: float,
    incident_start: float | None = None,
) -> Opening | None:
    """The request to open for ``model`` now, or None.

    ``alerts``: the model's alerts (any state); ``requests``: the model's requests (any state);
    ``labelled``: the labelled rows the model has now (``IngestCounts.joined``);
    ``incident_start``: when its current incident began (None: the earliest ``fired_at`` of
    its firing alerts, all that is known before the evaluator first recorded it).
    """
    firing = [a for a in alerts if a.state == "firing" and a.fired_at is not None]
    if not firing or any(r.open for r in requests):
        return None
    start = incident_start
    if start is None:
        start = min(a.fired_at for a in firing if a.fired_at is not None)
    incident = event_id(model, start)
    if any(r.id == incident for r in requests):
        return None
    delivered = [r for r in requests if r.delivered_at is not None]
    last = max(delivered, key=lambda r: r.delivered_at or 0.0, default=None)
    for policy in policies:
        if policy.models and model not in policy.models:
            continue
        matchers = [Matcher.parse(text) for text in policy.matchers]
        held = tuple(
            a
            for a in firing
            if matches_all(matchers, a.labels)
            and now - (a.fired_at or now) >= policy.firing_for_seconds
        )
        if not held:
            continue
        if last is not None and now < (last.delivered_at or 0.0) + policy.cooldown_seconds:
            continue
        since = last.labels_at_request if last is not None else 0
        if labelled - since < policy.min_new_labels:
            continue
        return Opening(incident, policy, held, start)
    return None
