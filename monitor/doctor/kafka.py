"""Kafka: brokers reachable and credentials accepted, the three topics, co-partitioning, lag.

Lag is counted from the checkpoints in Redis (``P:{group:topic:p}:offset``), not from the
consumer group's committed offsets: the daemon seeks to the Redis checkpoint on every claim and
only copies it to Kafka every few seconds for lag tools (``monitor/ingest/progress.py``), so
Redis is the truth and Kafka's copy can only trail it. A committed offset *ahead* of Redis'
checkpoint therefore means Redis lost acknowledged writes, and is reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import redis
from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import OffsetSpec
from kafka.errors import KafkaError

from monitor.config import KafkaSettings, Settings
from monitor.doctor.findings import Emit, Finding, fail, from_error, ok, warn
from monitor.errors import AccessRefusedError, ConfigError
from monitor.ingest.clients import kafka_client, refusal
from monitor.store.client import connect
from monitor.store.keys import Keys

#: How long a broker may take to answer: bounds the whole check when Kafka is down.
TIMEOUT_MS = 3000
#: Kafka's error codes in a topic's metadata that the check words itself.
_UNKNOWN_TOPIC = 3
_TOPIC_AUTHORIZATION_FAILED = 29


@dataclass(frozen=True, slots=True)
class Topic:
    """One of the deployment's topics: its role, the key naming it, and its partition count
    (``None``: missing)."""

    role: str
    key: str
    name: str
    partitions: int | None


def check_kafka(settings: Settings, emit: Emit) -> None:
    """Emit ``kafka.connection``, then (when the brokers answer) ``kafka.topics``,
    ``kafka.partitions`` and one ``kafka.lag`` per consumed topic."""
    admin = _connect(settings.kafka, emit)
    if admin is None:
        return
    try:
        topics = _topics(admin, settings.kafka, emit)
        if topics is None:
            return
        _co_partitioning(topics, emit)
        _lag(admin, settings, [t for t in topics[:2] if t.partitions], emit)
    finally:
        admin.close()


def _connect(kafka: KafkaSettings, emit: Emit) -> KafkaAdminClient | None:
    check = "kafka.connection"
    servers = ", ".join(kafka.bootstrap_servers)
    try:
        admin = kafka_client(
            KafkaAdminClient, kafka, request_timeout_ms=TIMEOUT_MS, bootstrap_timeout_ms=TIMEOUT_MS
        )
    except AccessRefusedError as exc:
        emit(from_error(check, exc))
        return None
    except ConfigError as exc:  # a TLS file that cannot be loaded
        emit(fail(check, f"{exc.key}: {exc.problem}", exc.fix))
        return None
    except (KafkaError, OSError) as exc:
        emit(
            fail(
                check,
                f"no broker answered at {servers} within {TIMEOUT_MS / 1000:g} s ({exc})",
                "start Kafka, or fix kafka.bootstrap_servers (and kafka.security_protocol when "
                "the brokers want TLS or SASL)",
            )
        )
        return None
    try:
        cluster = admin.describe_cluster()
    except KafkaError as exc:
        admin.close()
        denied = refusal(exc, kafka)
        emit(
            from_error(check, denied)
            if denied
            else fail(
                check,
                f"{servers} answered but did not describe the cluster ({exc})",
                "read the broker log",
            )
        )
        return None
    brokers = len(cluster.get("brokers", []))
    emit(ok(check, f"{servers} answered: {brokers} broker(s), cluster {cluster.get('cluster_id')}"))
    return admin


def _topics(admin: KafkaAdminClient, kafka: KafkaSettings, emit: Emit) -> list[Topic] | None:
    """The predictions, outcomes and dead-letter topics, in that order; ``None`` when the
    brokers would not describe them."""
    check = "kafka.topics"
    named = [
        ("predictions", "kafka.predictions_topic", kafka.predictions_topic),
        ("outcomes", "kafka.outcomes_topic", kafka.outcomes_topic),
        ("dead letters", "kafka.dead_letter_topic", kafka.dead_letter_topic),
    ]
    try:
        described = {t["name"]: t for t in admin.describe_topics([name for _, _, name in named])}
    except KafkaError as exc:
        emit(
            fail(check, f"the brokers did not describe the topics ({exc})", "check the broker log")
        )
        return None
    topics: list[Topic] = []
    denied: list[str] = []
    for role, key, name in named:
        meta = described.get(name, {})
        code = meta.get("error_code", _UNKNOWN_TOPIC)
        if code == _TOPIC_AUTHORIZATION_FAILED:
            denied.append(f"{name} ({key})")
        count = len(meta.get("partitions", [])) if code == 0 else None
        topics.append(Topic(role, key, name, count))
    if denied:
        emit(
            fail(
                check,
                f"the brokers refuse this user the topics {', '.join(denied)}",
                "grant it describe and read on the event topics and write on the dead-letter "
                "topic (Kafka ACLs), or name the topics the user may use",
            )
        )
        return None
    missing = [t for t in topics if t.partitions is None]
    if missing:
        emit(
            fail(
                check,
                "missing: " + ", ".join(f"{t.role} topic {t.name!r} ({t.key})" for t in missing),
                "create them with `driftwatch topics create --config <this file> --partitions N` "
                "(existing topics are left alone), or correct the key to name an existing topic",
            )
        )
    else:
        emit(
            ok(check, ", ".join(f"{t.role} {t.name!r} ({t.partitions} partitions)" for t in topics))
        )
    return topics


def _co_partitioning(topics: list[Topic], emit: Emit) -> None:
    """Predictions and outcomes keyed by prediction id with equal partition counts keep a
    pair on one partition number (design §2.6): the join stays local to its partition."""
    predictions, outcomes = topics[0], topics[1]
    if predictions.partitions is None or outcomes.partitions is None:
        return  # reported as missing
    check = "kafka.partitions"
    if predictions.partitions == outcomes.partitions:
        emit(
            ok(
                check,
                f"predictions and outcomes both have {predictions.partitions} partitions "
                "(co-partitioned: a prediction and its outcome, keyed by id, meet on one "
                "partition number)",
            )
        )
        return
    smaller, larger = sorted((predictions, outcomes), key=lambda t: t.partitions or 0)
    emit(
        fail(
            check,
            f"predictions {predictions.name!r} has {predictions.partitions} partitions, outcomes "
            f"{outcomes.name!r} has {outcomes.partitions}: a prediction and its outcome land on "
            "different partition numbers, so every pairing crosses partitions (planned again "
            "under contention, impossible on Redis Cluster)",
            f"raise {smaller.name!r} to {larger.partitions} partitions (kafka-topics.sh --alter "
            f"--topic {smaller.name} --partitions {larger.partitions}; Kafka cannot remove "
            "partitions), and key both topics by prediction id",
        )
    )


def _lag(admin: KafkaAdminClient, settings: Settings, topics: list[Topic], emit: Emit) -> None:
    """Records each consumed topic holds beyond the daemon's Redis checkpoints."""
    if not topics:
        return
    tps = [TopicPartition(t.name, p) for t in topics for p in range(t.partitions or 0)]
    try:
        latest = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in tps})
        earliest = admin.list_partition_offsets({tp: OffsetSpec.EARLIEST for tp in tps})
    except KafkaError as exc:
        emit(warn("kafka.lag", f"the brokers did not list offsets ({exc})", "check the broker log"))
        return
    try:
        checkpoints = _checkpoints(settings, tps)
    except redis.RedisError as exc:
        emit(
            warn(
                "kafka.lag",
                f"not measured: Redis, which holds the checkpoints, did not answer ({exc})",
                "see the redis.connection finding",
            )
        )
        return
    committed = _committed(admin, settings.kafka.group_id, tps)
    for topic in topics:
        mine = [tp for tp in tps if tp.topic == topic.name]
        emit(
            _topic_lag(
                topic,
                settings.kafka.group_id,
                {tp: latest[tp].offset for tp in mine},
                {tp: earliest[tp].offset for tp in mine},
                {tp: checkpoints[tp] for tp in mine},
                {tp: committed[tp] for tp in mine if tp in committed},
            )
        )


def _topic_lag(
    topic: Topic,
    group: str,
    end: Mapping[TopicPartition, int],
    start: Mapping[TopicPartition, int],
    checkpoint: Mapping[TopicPartition, int | None],
    committed: Mapping[TopicPartition, int],
) -> Finding:
    check = "kafka.lag"
    lag: dict[TopicPartition, int] = {}
    unclaimed: list[int] = []
    lost: list[int] = []
    ahead: list[int] = []
    for tp, high in end.items():
        stored = checkpoint[tp]
        if stored is None:  # never checkpointed: the daemon would start from the beginning
            lag[tp] = high - start[tp]
            if high > start[tp]:
                unclaimed.append(tp.partition)
            continue
        lag[tp] = max(0, high - stored)
        if stored > high:
            ahead.append(tp.partition)
        if committed.get(tp, -1) > stored:
            lost.append(tp.partition)
    total = sum(lag.values())
    worst = max(lag, key=lambda tp: lag[tp])
    summary = (
        f"{topic.role} {topic.name!r}: {total:,} records behind the Redis checkpoints of group "
        f"{group!r} over {len(end)} partitions (most on partition {worst.partition}: "
        f"{lag[worst]:,})"
    )
    if ahead:
        return fail(
            check,
            f"{summary}; the Redis checkpoints are past the end of partitions {ahead}: the topic "
            "was deleted and created again under the same name (or Kafka lost its log); a "
            "daemon claiming such a partition moves its checkpoint back to the log's end, so "
            "the records the topic holds by then would be taken as already counted",
            "give the deployment a new kafka.group_id (its checkpoints start afresh) before the "
            "daemon reads the new topic, or restore the topic",
        )
    if lost:
        return warn(
            check,
            f"{summary}; Kafka's committed offsets are ahead of Redis' on partitions {lost}: "
            "Redis lost acknowledged writes (restore, failover or crash)",
            "the daemon re-reads the span from Kafka at its next claim (exact while Kafka still "
            "holds it); check the redis.persistence finding",
        )
    if unclaimed:
        return warn(
            check,
            f"{summary}; partitions {unclaimed} hold records but no daemon of the group has "
            "checkpointed them",
            f"start `driftwatch run` with this config (group {group!r}), or read its log",
        )
    return ok(
        check,
        f"{summary}; one reading: if it grows between two runs the daemons fall behind "
        "(docs/operations.md, consumer lag growing)",
    )


def _checkpoints(settings: Settings, tps: list[TopicPartition]) -> dict[TopicPartition, int | None]:
    """The next offset stored in Redis for each partition, ``None`` where none is stored."""
    keys = Keys(settings.redis.key_prefix)
    group = settings.kafka.group_id
    names = [keys.partition(keys.tag(group, tp.topic, tp.partition)).offset for tp in tps]
    client = connect(settings.redis, timeout_seconds=TIMEOUT_MS / 1000)
    try:
        values = client.mget(names)
    finally:
        client.close()
    return {tp: None if v is None else int(v) for tp, v in zip(tps, values, strict=True)}


def _committed(
    admin: KafkaAdminClient, group: str, tps: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """Kafka's advisory copy of the checkpoints; empty when the group has none yet or the
    coordinator is not ready (a fresh cluster): only a cross-check, never the lag itself."""
    try:
        offsets = admin.list_group_offsets({group: tps}).get(group, {})
    except KafkaError:
        return {}
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
