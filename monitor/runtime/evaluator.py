"""The window evaluator: a background job that turns changed windows into verdicts and health.

1. Every few seconds, take (or renew) the evaluator lease; only its holder evaluates, so verdicts
   are computed once per deployment however many daemons run. Every write below presents the
   lease's fencing token: if this instance was paused past the lease and another took over, the
   write is refused and the round stops at once (one warning), so nothing stale overwrites the
   successor's results; the next round tries to take the lease again.
2. Read the oldest changed ("dirty") windows, merge each over partitions and evaluate it against
   the reference it was binned on — a window still open at most every ``OPEN_WINDOW_SECONDS``,
   a final one (the model's event time passed its end plus the allowed lateness) at once.
3. Store the evaluation; clear the dirty mark only if no batch changed the window meanwhile.
   When what looks critical in the window changed, mark the next window dirty: its critical
   verdicts are confirmed against this one, so every window ends confirmed against its final
   predecessor whatever order a backlog is evaluated in. A final window's per-partition hashes
   are then merged into one (memory ÷ partition count).
4. Recompute the health of every model touched from its newest evaluations, and its rolling
   view: the last ``windows.rolling_windows`` windows merged and evaluated as one.
5. With ``alerting.enabled``: evaluate every model's alert rules (``monitor/alert/``) — also of
   models without new windows, since no traffic is itself a signal — and store the alerts whose
   state changed.
6. Then notify: the notifications due now go to their receivers in the background
   (``monitor/runtime/notifier.py``).
7. With ``retraining.enabled``: open the retraining requests the policies want and deliver the
   due ones in the background (``monitor/runtime/retrainer.py``).

Health changes, alerts fired and resolved go to each model's audit trail (``driftwatch
history``) in the same fenced way as everything else here.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import redis

from monitor.alert.evaluate import evaluate as evaluate_alerts
from monitor.alert.evaluate import incident_start
from monitor.alert.rules import Evidence
from monitor.config import Settings
from monitor.errors import FencedError
from monitor.metrics import Metrics
from monitor.runtime.notifier import Notifier
from monitor.runtime.retrainer import Retrainer
from monitor.stats.evaluation import Judges, critical_sized, evaluate_window
from monitor.stats.health import health
from monitor.store.alerts import AlertStore
from monitor.store.audit import AuditLog
from monitor.store.evaluations import EvaluationStore
from monitor.store.keys import Keys
from monitor.store.lease import Fence, Lease
from monitor.store.query import ModelStatus, Query
from monitor.store.references import ReferenceStore
from monitor.vocab.alerts import Alert
from monitor.vocab.audit import alert_event, health_changed
from monitor.vocab.counts import WindowCounts
from monitor.vocab.effects import parse_window_id, window_id
from monitor.vocab.profile import ReferenceProfile
from monitor.vocab.retrain import RetrainRequest
from monitor.vocab.verdicts import WindowEvaluation

log = logging.getLogger(__name__)

#: How often changed windows are evaluated: the delay between an event and its verdict.
EVALUATE_SECONDS = 5.0
#: Lease lifetime: a dead evaluator is replaced after this long.
LEASE_MS = 30_000
#: Windows evaluated per round: bounds one round's time so the lease is renewed in time.
WINDOWS_PER_ROUND = 200
#: Evaluations a model's health looks back over.
HEALTH_WINDOWS = 3
#: An open window still filling is re-evaluated at most this often (a final one at once): its
#: verdicts change little between batches, and each evaluation costs bootstrap time.
OPEN_WINDOW_SECONDS = 30.0
#: Calibrated null distributions kept in memory (about 8 KB each): models × features × the
#: window sizes they are evaluated at.
CALIBRATION_CACHE_ENTRIES = 16_384


class WindowEvaluator:
    """Evaluates changed windows while it holds the lease."""

    def __init__(
        self, settings: Settings, client: redis.Redis, metrics: Metrics | None = None
    ) -> None:
        self._settings = settings
        keys = Keys(settings.redis.key_prefix)
        self._query = Query(client, settings)
        self._references = ReferenceStore(client, keys)
        retention_ms = settings.windows.retention_days * 86_400_000
        self._store = EvaluationStore(client, keys, retention_ms)
        self._alerts = AlertStore(client, keys)
        self._audit = AuditLog(client, keys, settings.audit.retention_days)
        self._notifier = (
            Notifier(
                settings.alerting, settings.dashboard.link_base, client, keys, self._audit, metrics
            )
            if settings.alerting.enabled
            else None
        )
        self._retrainer = (
            Retrainer(settings, client, keys, self._audit, metrics)
            if settings.retraining.enabled
            else None
        )
        self._lease = Lease(
            client, keys.evaluator_lease, keys.evaluator_fence, uuid.uuid4().hex, LEASE_MS
        )
        self._judges = Judges.of(settings, cache_entries=CALIBRATION_CACHE_ENTRIES)
        self._evaluated_at: dict[str, float] = {}
        self._models = {m.name: m for m in settings.models}
        self._profiles: dict[tuple[str, str], ReferenceProfile | None] = {}
        #: (model, version) pairs already filed in the trail (Redis' set decides; this saves
        #: asking it for every window).
        self._versions_seen: set[tuple[str, str]] = set()
        #: Set by the first round: the stale-data rule gives ingestion a window to catch up.
        self._started: float | None = None

    def run(self, stop: threading.Event) -> None:
        """Evaluate every few seconds until ``stop``; errors are logged, never fatal."""
        while not stop.wait(EVALUATE_SECONDS):
            try:
                self.run_once()
            except redis.RedisError as exc:
                log.warning(
                    "window evaluation skipped (%s); retrying in %.0fs", exc, EVALUATE_SECONDS
                )
            except Exception:  # a bug must not end evaluation for good: log it, try again
                log.exception("window evaluation failed; retrying in %.0fs", EVALUATE_SECONDS)
        for sender in (self._notifier, self._retrainer):  # let sends in flight finish, in bounds
            if sender is not None:
                sender.close(timeout=10.0)
        with contextlib.suppress(redis.RedisError):  # else the lease expires by itself
            self._lease.release()

    def wait_for_notifications(self, timeout: float) -> bool:
        """Wait until no notification or retraining request is being sent (tests, and a
        graceful stop)."""
        return all(
            sender is None or sender.wait(timeout) for sender in (self._notifier, self._retrainer)
        )

    def run_once(self, now: float | None = None) -> int:
        """Steps 1–4 once; returns the number of windows evaluated (0 if the lease was lost)."""
        fence = self._lease.hold()  # Step 1
        if fence is None:
            return 0
        now = time.time() if now is None else now
        if self._started is None:
            self._started = now
        try:
            return self._round(fence, now)
        except FencedError as exc:
            log.warning(
                "window evaluation stopped: %s (another instance took the evaluator lease); "
                "trying to take it again next round",
                exc,
            )
            return 0

    def _round(self, fence: Fence, now: float) -> int:
        """Steps 2–4 under ``fence``; a write refused as stale raises FencedError."""
        touched: set[str] = set()
        evaluated = 0
        dirty = self._store.dirty(WINDOWS_PER_ROUND)  # Step 2
        watermarks = {
            row.model.name: row.counts.last_event_ts or 0.0
            for row in self._query.ingest(sorted({m.split(":", 1)[0] for m, _ in dirty}))
        }
        windows = self._settings.windows
        for member, score in dirty:
            model, wid = member.split(":", 1)
            if model not in self._models:  # removed from the config: never evaluated again
                self._store.forget(fence, member)  # (its windows age out with retention)
                continue
            start, version, ref_version = parse_window_id(wid)
            end = start + windows.size_seconds
            # Event time decides finality, but never beyond the wall clock: one event stamped
            # ahead of time must not make every open window look final.
            watermark = min(watermarks.get(model, 0.0), now)
            final = watermark >= end + windows.allowed_lateness_seconds
            if not final and now - self._evaluated_at.get(member, 0.0) < OPEN_WINDOW_SECONDS:
                continue  # stays dirty: evaluated again once the interval has passed
            if final:
                self._evaluated_at.pop(member, None)
            else:
                self._evaluated_at[member] = now
            evaluated += 1
            if (model, version) not in self._versions_seen:
                self._audit.version_seen(fence, model, version, float(start))
                self._versions_seen.add((model, version))
            size = windows.size_seconds
            before = window_id(start - size, version, ref_version)
            evaluation = self._evaluate(
                model,
                wid,
                self._query.window_counts(model, wid),
                now,
                previous=self._query.evaluation(model, before),
                dead_letters=self._query.dead_letters(model, start),
                final=final,
            )
            # The next window's confirmation read this one: if what looks critical here
            # changed, evaluate that one again, whatever order the backlog comes in.
            stored = self._query.evaluation(model, wid)
            changed = critical_sized(evaluation) != critical_sized(stored)
            following = window_id(start + size, version, ref_version) if changed else ""
            self._store.save(fence, evaluation, wid, member, score, next_wid=following)  # Step 3
            if final:
                keys = self._query.window_keys(model, wid)
                self._store.merge_window(fence, keys, int(now * 1000))
            touched.add(model)
        for model in touched:  # Step 4
            recent = self._query.evaluations(model, last=HEALTH_WINDOWS)
            span = self._settings.performance.change_point_span_seconds
            changes = self._query.change_points(model, since=now - span)
            previous = self._query.health([model])[model]
            judged = health(self._models[model], recent, now, changes, previous)
            self._store.save_health(fence, judged)
            if previous is None or previous.status != judged.status:
                self._audit.append_fenced(fence, [health_changed(previous, judged, now)])
            merged = self._query.rolling_counts(model, self._settings.windows.rolling_windows)
            if merged is not None:
                self._store.save_rolling(fence, self._evaluate(model, *merged, now))
        if self._notifier is not None:
            rows = self._query.status()
            requests = self._query.retrain_requests()
            alerts, incidents = self._evaluate_alerts(fence, rows, requests, now)  # Step 5
            silences = self._query.silences(now)
            self._notifier.run_once(fence, alerts, silences, now)  # Step 6
            if self._retrainer is not None:
                self._retrainer.run_once(fence, rows, alerts, incidents, requests, now)  # Step 7
        if evaluated:
            log.debug("evaluated %d windows of %d models", evaluated, len(touched))
        return evaluated

    def _evaluate_alerts(
        self,
        fence: Fence,
        rows: Sequence[ModelStatus],
        requests: Sequence[RetrainRequest],
        now: float,
    ) -> tuple[dict[str, dict[str, Alert]], dict[str, float | None]]:
        """Evaluate and store every model's alerts and the start of its current incident, and
        file the alerts that fired or resolved in its trail; returns the alerts and incident
        starts as stored now (steps 6 and 7 read them from here rather than from Redis
        again)."""
        current = self._query.alerts()
        incidents = self._query.incident_starts()
        span = self._settings.performance.change_point_span_seconds
        newest: dict[str, RetrainRequest] = {}
        for request in sorted(requests, key=lambda r: r.created_at):
            newest[request.model] = request
        for row in rows:
            model = row.model.name
            points = self._query.change_points(model, since=now - span)
            evidence = Evidence(
                model=row.model,
                now=now,
                window_seconds=self._settings.windows.size_seconds,
                judged=row.latest,
                counts=row.counts,
                error_change_points=[ts for stream, ts in points if stream == "error"],
                retraining=newest.get(model),
                evaluating_since=self._started,
            )
            changed, gone = evaluate_alerts(self._settings.alerting.rules, evidence, current[model])
            trail = [e for a in changed if (e := alert_event(current[model].get(a.fingerprint), a))]
            current[model].update((a.fingerprint, a) for a in changed)
            for key in gone:
                current[model].pop(key, None)
            began = incident_start(incidents.get(model), current[model].values())
            if changed or gone or began != incidents.get(model):
                self._alerts.save(fence, model, changed, gone, began)
                incidents[model] = began
            self._audit.append_fenced(fence, trail)
        return current, incidents

    def _evaluate(
        self,
        model: str,
        wid: str,
        counts: WindowCounts,
        now: float,
        **context: Any,
    ) -> WindowEvaluation:
        """Evaluate ``counts`` as window ``wid`` against the reference they were binned on."""
        start, version, ref_version = parse_window_id(wid)
        return evaluate_window(
            self._models[model],
            self._profile(model, ref_version),
            counts,
            window_start=start,
            version=version,
            judges=self._judges,
            now=now,
            **context,
        )

    def _profile(self, model: str, version: str) -> ReferenceProfile | None:
        """References are immutable once stored, so each is read once."""
        key = (model, version)
        if key not in self._profiles:
            self._profiles[key] = self._references.get(model, version)
        return self._profiles[key]
