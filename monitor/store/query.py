"""The one read API over Driftwatch's state: the CLI, alerting and the dashboard all use it.

Per-partition aggregates are merged here, at read time (design §2.5): nothing ever
read-modify-writes a total shared by two partitions.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec
import redis

from monitor.config import ModelSettings, Settings
from monitor.store import layout
from monitor.store.audit import AuditLog
from monitor.store.keys import Keys
from monitor.store.nflog import NotificationLog
from monitor.store.references import ReferenceStore
from monitor.store.retrain import RetrainStore
from monitor.store.silences import SilenceStore
from monitor.vocab.alerts import Alert, LogEntry
from monitor.vocab.audit import AuditEvent
from monitor.vocab.counts import IngestCounts, WindowCounts
from monitor.vocab.deadletter import UNKNOWN_MODEL
from monitor.vocab.effects import (
    DEAD,
    DEAD_PREFIX,
    DELAY_LABELS,
    DELAY_PREFIX,
    DELAY_SUM,
    EXPIRED_PREDICTIONS,
    JOINED,
    LAST_EVENT_TS,
    LAST_SEEN,
    ORPHAN_OUTCOMES,
    OUTCOMES,
    PREDICTIONS,
    N,
    bin_field,
    parse_window_id,
)
from monitor.vocab.retrain import RetrainRequest
from monitor.vocab.silences import Silence
from monitor.vocab.verdicts import Health, WindowEvaluation, in_force


@dataclass(frozen=True, slots=True)
class ModelIngest:
    """A configured model and its ingestion totals."""

    model: ModelSettings
    counts: IngestCounts


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """Everything ``driftwatch status`` shows of a model: totals, health, newest evaluation."""

    model: ModelSettings
    counts: IngestCounts
    health: Health | None
    latest: WindowEvaluation | None
    rolling: WindowEvaluation | None


class VerdictBrief(msgspec.Struct, frozen=True, gc=False):
    """The part of a stored :class:`~monitor.vocab.verdicts.Verdict` a trend reads: what it is
    about and how bad (not tracked by the garbage collector: a read makes ~10⁵ of them)."""

    feature: str
    severity: str
    statistic: str
    status: str


class WindowBrief(msgspec.Struct, frozen=True):
    """What a trend needs of one evaluated window: its start, its rows and its verdicts' subjects
    and severities — the attributes of a :class:`WindowEvaluation` that judge the window. The
    rest of the stored evaluation (reasons, data quality, performance; ~30 KB at 30 features) is
    skipped while decoding, which takes a tenth of the time of the whole."""

    window_start: int
    n: int
    verdicts: list[VerdictBrief] = []
    performance_verdicts: list[VerdictBrief] = []
    quality_verdicts: list[VerdictBrief] = []
    estimated_verdicts: list[VerdictBrief] = []

    def estimates_in_force(self) -> list[VerdictBrief]:
        """As :meth:`WindowEvaluation.estimates_in_force`."""
        return in_force(self.performance_verdicts, self.estimated_verdicts)


#: Newest evaluations ``status`` looks at to find the newest window with a verdict (the tail
#: window may still be nearly empty).
STATUS_WINDOWS = 3


def _newest_judged(evaluations: list[WindowEvaluation]) -> WindowEvaluation | None:
    """The newest evaluation whose window had enough rows for a verdict, else the newest."""
    for ev in reversed(evaluations):
        if any(v.status != "insufficient" for v in ev.verdicts):
            return ev
    return evaluations[-1] if evaluations else None


class Query:
    """Reads one deployment's state (one key prefix and consumer group)."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self._redis = client
        self._settings = settings
        self._keys = Keys(settings.redis.key_prefix)

    def check_layout(self) -> None:
        """Raise :class:`~monitor.store.layout.NewerLayoutError` when a newer release migrated
        the data: a reader that starts without ``driftwatch``'s own start-up check (the
        dashboard under ``streamlit run``) asks here."""
        layout.check(self._redis, self._settings.redis)

    def partition_tags(self) -> list[str]:
        """Tags of the partitions this deployment's consumer group has claimed."""
        mine = f"{{{self._settings.kafka.group_id}:"
        tags = (t.decode() for t in self._redis.smembers(self._keys.parts))
        return sorted(t for t in tags if t.startswith(mine))

    def ingest(self, models: list[str] | None = None) -> list[ModelIngest]:
        """Ingestion totals of the configured models (or of ``models``), one round trip."""
        chosen = [m for m in self._settings.models if models is None or m.name in models]
        tags = self.partition_tags()
        pipe = self._redis.pipeline(transaction=False)
        for model in chosen:
            for tag in tags:
                pipe.hgetall(self._keys.partition(tag).counters(model.name))
        replies = pipe.execute()
        out = []
        for i, model in enumerate(chosen):
            hashes = replies[i * len(tags) : (i + 1) * len(tags)]
            out.append(ModelIngest(model, _merge_counters(hashes)))
        return out

    def unknown_model_counts(self) -> IngestCounts:
        """Dead letters whose model could not be read or is not configured."""
        pipe = self._redis.pipeline(transaction=False)
        for tag in self.partition_tags():
            pipe.hgetall(self._keys.partition(tag).counters(UNKNOWN_MODEL))
        return _merge_counters(pipe.execute())

    # --- windows, evaluations, health ---------------------------------------------------------

    def window_ids(self, model: str, last: int | None = None) -> list[str]:
        """Window ids of a model, oldest first (``last``: only the newest ones)."""
        start = -last if last else 0
        return [w.decode() for w in self._redis.zrange(self._keys.window_index(model), start, -1)]

    def window_keys(self, model: str, wid: str, tags: list[str] | None = None) -> list[str]:
        """Every hash holding part of a window: the merged one and each partition's."""
        tags = self.partition_tags() if tags is None else tags
        parts = [self._keys.partition(tag).window(model, wid) for tag in tags]
        return [self._keys.merged_window(model, wid), *parts]

    def window_counts(self, model: str, wid: str) -> WindowCounts:
        """One window's counts, summed over every partition that wrote part of it."""
        pipe = self._redis.pipeline(transaction=False)
        for key in self.window_keys(model, wid):
            pipe.hgetall(key)
        fields: dict[str, float] = {}
        for h in pipe.execute():
            for name, value in h.items():
                key = name.decode()
                fields[key] = fields.get(key, 0.0) + float(value)
        return WindowCounts(int(fields.get(N, 0)), fields)

    def evaluations(self, model: str, last: int | None = None) -> list[WindowEvaluation]:
        """Evaluated windows of a model, oldest first (``last``: only the newest ones)."""
        return list(self.evaluations_by_window(model, last).values())

    def dead_letters(self, model: str, window_start: int) -> dict[str, int]:
        """Dead letters of a model by reason that *arrived* in the window starting then."""
        pipe = self._redis.pipeline(transaction=False)
        for tag in self.partition_tags():
            pipe.hgetall(self._keys.partition(tag).dead_letters(model, window_start))
        totals: dict[str, int] = {}
        for h in pipe.execute():
            for reason, n in h.items():
                totals[reason.decode()] = totals.get(reason.decode(), 0) + int(n)
        return totals

    def rolling(self, model: str) -> WindowEvaluation | None:
        """The evaluation of the model's last ``windows.rolling_windows`` windows merged."""
        blob = self._redis.get(self._keys.rolling(model))
        return None if blob is None else _evaluation.decode(blob)

    def rolling_counts(self, model: str, last: int) -> tuple[str, WindowCounts] | None:
        """The first window's id and the counts of up to ``last`` windows of the model's newest
        version and reference, merged (counts add: that is what makes windows mergeable).

        "Newest" is the version (with its reference) whose first window is the latest — what
        was deployed (or profiled) last — not the greatest name: ``v10`` follows ``v9``.
        """
        wids = self.window_ids(model, last=last * 4)  # other versions may be interleaved
        if not wids:
            return None
        first_seen: dict[tuple[str, str], int] = {}
        for wid in wids:  # oldest first
            start, version, ref = parse_window_id(wid)
            first_seen.setdefault((version, ref), start)
        newest = max(first_seen, key=lambda group: (first_seen[group], group))
        same = [w for w in wids if parse_window_id(w)[1:] == newest][-last:]
        fields: dict[str, float] = {}
        for wid in same:
            for name, value in self.window_counts(model, wid).fields.items():
                fields[name] = fields.get(name, 0.0) + value
        return same[0], WindowCounts(int(fields.get(N, 0)), fields)

    def evaluation(self, model: str, wid: str) -> WindowEvaluation | None:
        """One window's evaluation, if it has one."""
        blob = self._redis.get(self._keys.evaluation(model, wid))
        return None if blob is None else _evaluation.decode(blob)

    def health(self, models: list[str] | None = None) -> dict[str, Health | None]:
        """Each model's latest health summary (None before its first evaluation)."""
        names = models or [m.name for m in self._settings.models]
        blobs = self._redis.mget([self._keys.health(m) for m in names])
        return {m: (_health.decode(b) if b else None) for m, b in zip(names, blobs, strict=True)}

    def status(self, models: list[str] | None = None) -> list[ModelStatus]:
        """Totals, health, newest window with a verdict and rolling view of each model.

        Five round trips whatever the number of models: the dashboard's overview lists hundreds
        of models on every refresh, and round trips per model would dominate its render time.
        """
        rows = self.ingest(models)
        names = [row.model.name for row in rows]
        if not names:
            return []
        health = self.health(names)
        pipe = self._redis.pipeline(transaction=False)
        for name in names:
            pipe.zrange(self._keys.evaluation_index(name), -STATUS_WINDOWS, -1)
        recent = [[w.decode() for w in ids] for ids in pipe.execute()]
        keys = [
            self._keys.evaluation(n, w) for n, ws in zip(names, recent, strict=True) for w in ws
        ]
        blobs = self._redis.mget([*keys, *(self._keys.rolling(n) for n in names)])
        evaluated = iter(blobs[: len(keys)])
        out = []
        for row, wids, rolling in zip(rows, recent, blobs[len(keys) :], strict=True):
            mine = [next(evaluated) for _ in wids]
            evaluations = [_evaluation.decode(b) for b in mine if b is not None]
            out.append(
                ModelStatus(
                    row.model,
                    row.counts,
                    health[row.model.name],
                    _newest_judged(evaluations),
                    _evaluation.decode(rolling) if rolling is not None else None,
                )
            )
        return out

    def recent_windows(
        self, models: list[str] | None = None, last: int = 24
    ) -> dict[str, list[WindowBrief]]:
        """The newest ``last`` evaluated windows of each model (or of ``models``), oldest first,
        in brief: two round trips whatever the number of models, for the overview's trend of
        every model at once."""
        names = models or [m.name for m in self._settings.models]
        pipe = self._redis.pipeline(transaction=False)
        for name in names:
            pipe.zrange(self._keys.evaluation_index(name), -last, -1)
        recent = [[w.decode() for w in ids] for ids in pipe.execute()] if names else []
        keys = [
            self._keys.evaluation(n, w) for n, ws in zip(names, recent, strict=True) for w in ws
        ]
        blobs = iter(self._redis.mget(keys) if keys else [])
        out: dict[str, list[WindowBrief]] = {}
        for name, wids in zip(names, recent, strict=True):
            mine = [next(blobs) for _ in wids]
            out[name] = [_brief.decode(b) for b in mine if b is not None]
        return out

    def change_points(
        self, model: str, since: float = float("-inf"), until: float = float("inf")
    ) -> list[tuple[str, float]]:
        """(stream, event time) where the model's online detectors fired, oldest first."""
        rows = self._redis.zrangebyscore(self._keys.change_points(model), since, until)
        out = []
        for row in rows:
            stream, ts, _tag = row.decode().split("|", 2)
            out.append((stream, float(ts)))
        return out

    def alerts(self, models: list[str] | None = None) -> dict[str, dict[str, Alert]]:
        """Each model's alerts by fingerprint, in one round trip (pending, firing, resolved)."""
        names = models or [m.name for m in self._settings.models]
        pipe = self._redis.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(self._keys.alerts(name))
        return {
            name: {fp.decode(): _alert.decode(blob) for fp, blob in stored.items()}
            for name, stored in zip(names, pipe.execute(), strict=True)
        }

    def incident_starts(self, models: list[str] | None = None) -> dict[str, float | None]:
        """When each model's current incident began (None: no alert of it fires)."""
        names = models or [m.name for m in self._settings.models]
        values = self._redis.mget([self._keys.incident(n) for n in names]) if names else []
        return {n: None if v is None else float(v) for n, v in zip(names, values, strict=True)}

    def silences(self, now: float | None = None, *, include_expired: bool = False) -> list[Silence]:
        """The silences not yet expired at ``now`` (default: the clock), oldest first;
        ``include_expired`` adds the expired ones still kept (swept 120 h after their end)."""
        now = time.time() if now is None else now
        found = (_silence.decode(b) for b in self._redis.hvals(self._keys.silences))
        chosen = (s for s in found if include_expired or s.state(now) != "expired")
        return sorted(chosen, key=lambda s: (s.starts_at, s.id))

    def silence_store(self) -> SilenceStore:
        """The silences' writer (``add``, ``expire``): the dashboard's way to them when it is
        configured writable, since it may name no store module but this one."""
        models = [m.name for m in self._settings.models]
        return SilenceStore(self._redis, self._keys, self.audit_log(), models)

    def notification_log(self, receivers: Iterable[str]) -> dict[str, dict[str, LogEntry]]:
        """Each receiver's notification log by group key: what it was last told, and when."""
        log = NotificationLog(self._redis, self._keys)
        return {name: log.entries(name) for name in receivers}

    def retrain_requests(self, model: str | None = None) -> list[RetrainRequest]:
        """The retraining requests (of ``model``, or all), newest first."""
        blobs = self._redis.hvals(self._keys.retrain_requests)
        found = (_request.decode(b) for b in blobs)
        chosen = [r for r in found if model is None or r.model == model]
        return sorted(chosen, key=lambda r: (-r.created_at, r.id))

    def retrain_store(self) -> RetrainStore:
        """The retraining requests' writer for people (approve, reject, trigger): the
        dashboard's way to it, since it may name no store module but this one."""
        return RetrainStore(self._redis, self._keys)

    def references(self) -> ReferenceStore:
        """The reference profiles: history and current versions, and ``put`` for a new one."""
        return ReferenceStore(self._redis, self._keys)

    def history(
        self,
        model: str,
        since: float | None = None,
        until: float | None = None,
        limit: int | None = None,
    ) -> list[AuditEvent]:
        """The model's audit trail from ``since`` to ``until`` (Unix seconds, inclusive), oldest
        first; ``limit``: only the newest events. Empty for a model without one."""
        return self.audit_log().events(model, since, until, limit)

    def audit_log(self) -> AuditLog:
        """The audit trails, for what people do through the CLI (references, retraining
        decisions): appended over this query's connection, kept ``audit.retention_days``."""
        return AuditLog(self._redis, self._keys, self._settings.audit.retention_days)

    # --- dashboard reads: few round trips whatever the number of models or windows ----------

    def evaluations_by_window(
        self, model: str, last: int | None = None
    ) -> dict[str, WindowEvaluation]:
        """Like :meth:`evaluations`, keyed by window id, so a window's counts can be read too."""
        index = self._keys.evaluation_index(model)
        wids = [w.decode() for w in self._redis.zrange(index, -last if last else 0, -1)]
        if not wids:
            return {}
        blobs = self._redis.mget([self._keys.evaluation(model, w) for w in wids])
        return {w: _evaluation.decode(b) for w, b in zip(wids, blobs, strict=True) if b is not None}

    def feature_bins(
        self, model: str, wids: list[str], feature: str, n_bins: int
    ) -> dict[str, list[int]]:
        """One feature's reference-bin counts in each window, merged over partitions.

        Reads only that feature's fields (``b:<feature>:<bin>``, see ``vocab/effects.py``), so
        comparing two periods of many windows stays one cheap round trip.
        """
        tags = self.partition_tags()
        per_window = len(tags) + 1  # the merged hash and each partition's
        fields = [bin_field(feature, i) for i in range(n_bins)]
        pipe = self._redis.pipeline(transaction=False)
        for wid in wids:
            for key in self.window_keys(model, wid, tags):
                pipe.hmget(key, fields)
        replies = pipe.execute() if wids else []
        out: dict[str, list[int]] = {}
        for i, wid in enumerate(wids):
            merged = [0] * n_bins
            for reply in replies[i * per_window : (i + 1) * per_window]:
                for b, value in enumerate(reply):
                    if value is not None:
                        merged[b] += int(float(value))
            out[wid] = merged
        return out


def _merge_counters(hashes: Iterable[dict[bytes, bytes]]) -> IngestCounts:
    """Sum per-partition counter hashes (as returned by ``HGETALL``)."""
    ints: dict[str, int] = {}
    delay_sum = 0.0
    latest: dict[str, float] = {}
    for h in hashes:
        for raw_name, raw_value in h.items():
            name = raw_name.decode()
            if name == DELAY_SUM:
                delay_sum += float(raw_value)
            elif name in (LAST_EVENT_TS, LAST_SEEN):
                latest[name] = max(latest.get(name, 0.0), float(raw_value))
            else:
                ints[name] = ints.get(name, 0) + int(raw_value)
    return IngestCounts(
        predictions=ints.get(PREDICTIONS, 0),
        outcomes=ints.get(OUTCOMES, 0),
        joined=ints.get(JOINED, 0),
        dead=ints.get(DEAD, 0),
        expired_predictions=ints.get(EXPIRED_PREDICTIONS, 0),
        orphan_outcomes=ints.get(ORPHAN_OUTCOMES, 0),
        dead_by_reason={
            k.removeprefix(DEAD_PREFIX): v for k, v in ints.items() if k.startswith(DEAD_PREFIX)
        },
        delay_histogram={label: ints.get(DELAY_PREFIX + label, 0) for label in DELAY_LABELS},
        delay_sum_seconds=delay_sum,
        last_event_ts=latest.get(LAST_EVENT_TS),
        last_seen=latest.get(LAST_SEEN),
    )


_evaluation = msgspec.msgpack.Decoder(WindowEvaluation)
_brief = msgspec.msgpack.Decoder(WindowBrief)
_health = msgspec.msgpack.Decoder(Health)
_alert = msgspec.msgpack.Decoder(Alert)
_silence = msgspec.msgpack.Decoder(Silence)
_request = msgspec.msgpack.Decoder(RetrainRequest)
