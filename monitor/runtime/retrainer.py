"""Step 7 of the evaluator round: open the retraining requests the policies want, deliver the due
ones, record every outcome.

The decisions are ``monitor/retrain/policy.py``'s, the requests' shape ``monitor/retrain/
targets.py``'s and one attempt ``monitor/retrain/send.py``'s; this module does the I/O around
them, under the evaluator's lease, so however many daemons run, each request is opened once and
sent by one of them at a time:

- the outbox is the requests hash in Redis (``monitor/store/retrain.py``): a queued request is
  due at its ``next_attempt_at``, whoever holds the lease then, and is sent again after a crash,
  always with its one event id — the target answers a repeat with "duplicate" (409, or the
  signature's ``webhook-id``), so at-least-once delivery has one effect;
- attempts run on a small pool (the alerting ``Dispatcher``), at most one per request in flight
  and a few per target, so a hanging orchestrator never holds the evaluator or ingestion;
- each attempt's record (delivered, retry at a later time, failed) is written under the fence of
  the round that started it: an instance that lost the lease meanwhile records nothing, and the
  next holder sends again.

A request that failed for good (a 4xx, or every attempt used) stays listed as ``failed`` (the
dead-letter list: ``driftwatch retrain list --state failed``) and fires the model's
``RetrainingFailed`` alert, which the alerting routes take to its owner.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import time
from collections.abc import Mapping, Sequence

import msgspec
import redis

from monitor.alert.delivery import Dispatcher
from monitor.config import Settings
from monitor.errors import FencedError
from monitor.metrics import Metrics
from monitor.retrain import payload
from monitor.retrain.policy import Opening, decide
from monitor.retrain.send import Outcome, attempt, next_delay
from monitor.retrain.targets import ResolvedTarget, build_request
from monitor.store.audit import AuditLog
from monitor.store.keys import Keys
from monitor.store.lease import Fence
from monitor.store.query import ModelStatus
from monitor.store.retrain import Change, RetrainStore
from monitor.vocab.alerts import Alert
from monitor.vocab.audit import DAEMON, AuditKind
from monitor.vocab.retrain import RetrainRequest, retrain_event

log = logging.getLogger(__name__)


class Retrainer:
    """Opens and delivers the retraining requests of one deployment (``[retraining]``)."""

    def __init__(
        self,
        settings: Settings,
        client: redis.Redis,
        keys: Keys,
        audit: AuditLog,
        metrics: Metrics | None = None,
    ) -> None:
        self._settings = settings
        self._retraining = settings.retraining
        self._targets = {
            t.name: ResolvedTarget.resolve(t, f"retraining.targets[{i}]")
            for i, t in enumerate(settings.retraining.targets)
        }
        self._store = RetrainStore(client, keys)
        self._audit = audit
        self._metrics = metrics
        self._dispatcher: Dispatcher[None] = Dispatcher()
        self._rng = random.Random()

    def run_once(
        self,
        fence: Fence,
        rows: Sequence[ModelStatus],
        alerts: Mapping[str, Mapping[str, Alert]],
        incidents: Mapping[str, float | None],
        requests: Sequence[RetrainRequest],
        now: float,
    ) -> None:
        """Open what the policies want now, then submit every queued request that is due.

        ``incidents``: when each model's current incident began (step 5 keeps it)."""
        by_model: dict[str, list[RetrainRequest]] = {}
        for request in requests:
            by_model.setdefault(request.model, []).append(request)
        opened = []
        for row in rows:
            model = row.model.name
            found = alerts.get(model, {}).values()
            mine = by_model.get(model, [])
            opening = decide(
                self._retraining.policies,
                model,
                found,
                mine,
                row.counts.joined,
                now,
                incident_start=incidents.get(model),
            )
            if opening is not None:
                opened += self._open(fence, row, opening, now)
        for request in (*requests, *opened):
            if request.state == "queued" and request.next_attempt_at <= now:
                self._dispatcher.submit(
                    request.target, request.id, functools.partial(self._deliver, fence, request)
                )

    def wait(self, timeout: float) -> bool:
        """Wait until no attempt is in flight; False if some still are after ``timeout``."""
        return self._dispatcher.wait(timeout)

    def close(self, timeout: float) -> None:
        self._dispatcher.close(timeout)

    def _open(
        self, fence: Fence, row: ModelStatus, opening: Opening, now: float
    ) -> list[RetrainRequest]:
        """Store the request the policy wants (and file it); it, if stored."""
        policy = opening.policy
        reason = "; ".join(
            a.annotations.get("summary") or a.labels.get("alertname", "") for a in opening.alerts
        )
        document = payload.build(
            request_id=opening.id,
            model=row.model,
            alerts=opening.alerts,
            evaluation=row.latest,
            window_seconds=self._settings.windows.size_seconds,
            reason=reason,
            requested_by=DAEMON,
            policy=policy.name,
            link_base=self._settings.dashboard.link_base,
            now=now,
        )
        request = RetrainRequest(
            id=opening.id,
            model=row.model.name,
            policy=policy.name,
            target=policy.target,
            state="awaiting_approval" if policy.approval == "required" else "queued",
            created_at=now,
            requested_by=DAEMON,
            reason=reason,
            payload=json.dumps(document),
            alerts=[a.fingerprint for a in opening.alerts],
            labels_at_request=row.counts.joined,
            next_attempt_at=now,
        )
        if self._store.open(request, fence) is not Change.DONE:
            return []  # a person's trigger took the model's slot meanwhile
        self._audit.append_fenced(fence, [retrain_event("retrain_requested", request, now)])
        log.info("retraining of %s requested (%s): %s", request.model, request.id, reason)
        return [request]

    def _deliver(self, fence: Fence, request: RetrainRequest) -> None:
        """One attempt, then its record (in a pool thread)."""
        now = time.time()
        outcome = self._attempt(request, now)
        after = self._after(request, outcome, now)
        if self._metrics is not None:
            self._metrics.retrain_attempts.labels(request.target, outcome.result).inc()
        try:
            change = self._store.change(request, after, fence)
            if change is Change.DONE and not after.open:
                kind: AuditKind = (
                    "retrain_delivered" if after.state == "delivered" else "retrain_failed"
                )
                self._audit.append_fenced(fence, [retrain_event(kind, after, now)])
        except (FencedError, redis.RedisError) as exc:  # due again for the lease's holder
            log.warning("retraining request %s attempted but not recorded (%s)", request.id, exc)
            return
        if after.state == "queued":
            log.info(
                "retraining request %s: attempt %d failed (%s); next at %.0f",
                request.id, after.attempts, outcome.error, after.next_attempt_at,
            )  # fmt: skip
        elif after.state == "failed":
            log.warning(
                "retraining request %s failed after %d attempt(s): %s",
                request.id, after.attempts, outcome.error,
            )  # fmt: skip

    def _attempt(self, request: RetrainRequest, now: float) -> Outcome:
        target = self._targets.get(request.target)
        if target is None:
            why = f"target {request.target!r} is no longer configured in retraining.targets"
            return Outcome("rejected", None, why)
        http = build_request(target, request.id, json.loads(request.payload), now)
        return attempt(
            http,
            allowed_hosts=self._retraining.allowed_hosts,
            timeout=self._retraining.timeout_seconds,
        )

    def _after(self, request: RetrainRequest, outcome: Outcome, now: float) -> RetrainRequest:
        """The request once this attempt is recorded."""
        tried = msgspec.structs.replace(
            request,
            attempts=request.attempts + 1,
            last_status=outcome.status,
            last_error=outcome.error,
            last_response=outcome.body,
        )
        if outcome.delivered:
            return msgspec.structs.replace(tried, state="delivered", delivered_at=now)
        if outcome.retryable and tried.attempts < self._retraining.max_attempts:
            wait = next_delay(
                tried.attempts,
                base=self._retraining.base_delay_seconds,
                cap=self._retraining.max_delay_seconds,
                retry_after=outcome.retry_after,
                rng=self._rng,
            )
            return msgspec.structs.replace(tried, next_attempt_at=now + wait)
        return msgspec.structs.replace(tried, state="failed")
