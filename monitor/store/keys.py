"""Every Redis key name Driftwatch uses, and nowhere else.

State is kept per input partition (design §2): all keys of one partition share the hash tag
``{<group>:<topic>:<partition>}`` so one Lua script can touch them atomically, also on Redis
Cluster. The late-label join's pending records are keyed by model and id instead, because an
outcome must find its prediction whichever partition it came from; that works on one Redis
primary (with replicas or Sentinel). On Redis Cluster the topics must be co-partitioned
(docs/operations.md).

Layout (``P`` = the configured prefix)::

    P:layout                              version of this layout (monitor/store/layout.py)
    P:parts                               set of partition tags that hold state (read-time merge)
    P:{g:t:p}:offset                      next Kafka offset to process (the checkpoint)
    P:{g:t:p}:epoch                       owner epoch, raised on every assignment (fencing)
    P:{g:t:p}:dlq                         dead letters applied but not yet acknowledged by the
                                          dead-letter topic: source offset → MessagePack (hash)
    P:{g:t:p}:c:<model>                   counters of this partition for a model (hash)
    P:{g:t:p}:expidx                      expiry buckets of records this partition left pending
    P:{g:t:p}:exp:<ms>                    one bucket: pending records expiring by <ms> (list)
    P:j:<model>:<id>                      join record: pending prediction 'P' + JSON, early
                                          outcome 'O' + JSON, or joined marker 'J'
    P:{g:t:p}:w:<model>:<window id>       this partition's aggregate of one window (hash)
    P:wi:<model>                          window ids by window start (zset)
    P:wm:<model>:<window id>              a final window's partition hashes, merged (hash)
    P:dirty                               "<model>:<window id>" changed since evaluated (zset)
    P:ref:<model>:<ref>                   a reference profile (msgspec blob)
    P:refs:<model>                        reference versions by creation time (zset)
    P:refcur:<model>                      the current reference version
    P:ev:<model>:<window id>              a window's evaluation: verdicts, quality, performance
    P:evi:<model>                         evaluated window ids by window start (zset)
    P:health:<model>                      the model's latest health summary
    P:roll:<model>                        evaluation of the last N windows merged (rolling view)
    P:lease:evaluator                     the instance that evaluates windows (SET NX PX)
    P:lease:evaluator:fence               the evaluator lease's fencing counter: INCR on every
                                          acquisition, checked by every evaluator write
    P:{g:t:p}:det:<model>:<stream>        river detector state of this partition (MessagePack)
    P:{g:t:p}:dl:<model>:<start>          dead letters by reason, by window of *arrival* (hash)
    P:cp:<model>                          change points "<stream>|<ts>|<tag>" by event time (zset)
    P:alerts:<model>                      the model's alerts: fingerprint → MessagePack (hash)
    P:nflog:<receiver>                    notification log: group key → what was last sent (hash)
    P:silences                            silences: id → MessagePack (hash), expired ones kept 120 h

A *window id* is ``<window start>|<model version>|<reference version>``
(``monitor/vocab/effects.py``). Join records start with a tag (``PENDING``, ``EARLY_OUTCOME``,
``JOINED_MARKER`` there).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: Separates model from key in expiry-zset members; model names never contain it.
MEMBER_SEP = "\x1f"


@dataclass(frozen=True, slots=True)
class PartitionKeys:
    """The keys of one input partition's state."""

    tag: str
    offset: str
    epoch: str
    outbox: str
    counters_prefix: str
    expiry_index: str
    expiry_prefix: str
    windows_prefix: str
    detector_prefix: str
    dead_letters_prefix: str

    def counters(self, model: str) -> str:
        return self.counters_prefix + model

    def expiry_bucket(self, bucket_ms: int) -> str:
        return f"{self.expiry_prefix}{bucket_ms}"

    def window(self, model: str, wid: str) -> str:
        return f"{self.windows_prefix}{model}:{wid}"

    def dead_letters(self, model: str, start: int) -> str:
        return f"{self.dead_letters_prefix}{model}:{start}"

    def detector(self, model: str, stream: str) -> str:
        return f"{self.detector_prefix}{model}:{stream}"


class Keys:
    """Key names under one prefix; the only place that formats them."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.parts = f"{prefix}:parts"
        self.layout = f"{prefix}:layout"
        self._join = f"{prefix}:j:"

    def tag(self, group: str, topic: str, partition: int) -> str:
        return f"{{{group}:{topic}:{partition}}}"

    def partition(self, tag: str) -> PartitionKeys:
        base = f"{self.prefix}:{tag}"
        return PartitionKeys(
            tag=tag,
            offset=f"{base}:offset",
            epoch=f"{base}:epoch",
            outbox=f"{base}:dlq",
            counters_prefix=f"{base}:c:",
            expiry_index=f"{base}:expidx",
            expiry_prefix=f"{base}:exp:",
            windows_prefix=f"{base}:w:",
            detector_prefix=f"{base}:det:",
            dead_letters_prefix=f"{base}:dl:",
        )

    def join_record(self, model: str, event_id: str) -> str:
        return f"{self._join}{model}:{event_id}"

    def join_records(self, ids: Iterable[tuple[str, str]]) -> list[bytes]:
        """The join records of many (model, id)s, as bytes: a batch reads thousands in one
        ``MGET``, and redis-py passes bytes on without encoding each argument in Python."""
        join = self._join
        return [f"{join}{model}:{event_id}".encode() for model, event_id in ids]

    def merged_window(self, model: str, wid: str) -> str:
        return f"{self.prefix}:wm:{model}:{wid}"

    def window_index(self, model: str) -> str:
        return f"{self.prefix}:wi:{model}"

    @property
    def dirty(self) -> str:
        return f"{self.prefix}:dirty"

    def reference(self, model: str, ref: str) -> str:
        return f"{self.prefix}:ref:{model}:{ref}"

    def references(self, model: str) -> str:
        return f"{self.prefix}:refs:{model}"

    def current_reference(self, model: str) -> str:
        return f"{self.prefix}:refcur:{model}"

    def evaluation(self, model: str, window_id: str) -> str:
        return f"{self.prefix}:ev:{model}:{window_id}"

    def evaluation_index(self, model: str) -> str:
        return f"{self.prefix}:evi:{model}"

    def health(self, model: str) -> str:
        return f"{self.prefix}:health:{model}"

    def rolling(self, model: str) -> str:
        return f"{self.prefix}:roll:{model}"

    def change_points(self, model: str) -> str:
        return f"{self.prefix}:cp:{model}"

    def alerts(self, model: str) -> str:
        return f"{self.prefix}:alerts:{model}"

    def incident(self, model: str) -> str:
        """When the model's current incident began (its first alert firing while none was);
        absent while none fires. Retraining keys its one request per incident by it."""
        return f"{self.prefix}:incident:{model}"

    def notification_log(self, receiver: str) -> str:
        return f"{self.prefix}:nflog:{receiver}"

    @property
    def silences(self) -> str:
        return f"{self.prefix}:silences"

    def versions(self, model: str) -> str:
        """The model versions seen so far (a set): the first sighting is filed in the trail."""
        return f"{self.prefix}:versions:{model}"

    def audit(self, model: str) -> str:
        """The model's audit trail: a stream, append-only, trimmed by age."""
        return f"{self.prefix}:audit:{model}"

    @property
    def retrain_requests(self) -> str:
        """Every retraining request by event id: the retraining outbox."""
        return f"{self.prefix}:retrain:requests"

    @property
    def retrain_open(self) -> str:
        """Model → the id of its request in flight: at most one per model, checked atomically."""
        return f"{self.prefix}:retrain:open"

    @property
    def evaluator_lease(self) -> str:
        return f"{self.prefix}:lease:evaluator"

    @property
    def evaluator_fence(self) -> str:
        return f"{self.prefix}:lease:evaluator:fence"
