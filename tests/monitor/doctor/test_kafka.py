"""The Kafka checks against the session's broker: topics, co-partitioning, lag from Redis."""

from __future__ import annotations

from collections.abc import Callable

import redis
from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition

from monitor.doctor.findings import Status
from monitor.doctor.kafka import check_kafka
from monitor.store.keys import Keys
from tests.monitor.doctor.support import collect, settings_of


def test_a_missing_topic_fails_naming_its_key_and_the_command_that_creates_it(
    write_config: Callable[..., object], topic_factory: Callable[..., str]
) -> None:
    predictions, outcomes = topic_factory("p", 2), topic_factory("o", 2)
    path = write_config(predictions=predictions, outcomes=outcomes, dead="dwtest-no-such-topic")
    found = collect(check_kafka, settings_of(path))
    topics = found["kafka.topics"]
    assert topics.status is Status.FAIL
    assert "dead letters topic 'dwtest-no-such-topic' (kafka.dead_letter_topic)" in topics.found
    assert "driftwatch topics create" in topics.fix
    assert found["kafka.partitions"].status is Status.OK  # the two event topics are fine


def test_unequal_partition_counts_fail_with_the_alter_command(
    write_config: Callable[..., object], topic_factory: Callable[..., str]
) -> None:
    predictions, outcomes = topic_factory("p", 3), topic_factory("o", 2)
    path = write_config(predictions=predictions, outcomes=outcomes, dead=topic_factory("d"))
    found = collect(check_kafka, settings_of(path))
    partitions = found["kafka.partitions"]
    assert partitions.status is Status.FAIL
    assert f"{predictions!r} has 3 partitions" in partitions.found
    assert f"{outcomes!r} has 2" in partitions.found
    assert f"--topic {outcomes} --partitions 3" in partitions.fix


def test_lag_counts_from_the_redis_checkpoint_and_names_unclaimed_partitions(
    write_config: Callable[..., object],
    topic_factory: Callable[..., str],
    kafka_bootstrap: str,
    redis_client: redis.Redis,
) -> None:
    predictions, outcomes = topic_factory("p", 2), topic_factory("o", 2)
    path = write_config(predictions=predictions, outcomes=outcomes, dead=topic_factory("d"))
    settings = settings_of(path)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for i in range(5):
        producer.send(predictions, b"{}", partition=0)
        producer.send(outcomes, b"{}", partition=1 if i < 2 else 0)
    producer.flush()
    producer.close()
    keys = Keys(settings.redis.key_prefix)
    group = settings.kafka.group_id
    # The daemon applied 2 of partition 0's 5 predictions, and the outcomes of both partitions.
    redis_client.set(keys.partition(keys.tag(group, predictions, 0)).offset, 2)
    redis_client.set(keys.partition(keys.tag(group, outcomes, 0)).offset, 3)
    redis_client.set(keys.partition(keys.tag(group, outcomes, 1)).offset, 2)

    lags = []
    check_kafka(settings, lambda f: lags.append(f) if f.check == "kafka.lag" else None)
    by_topic = {f.found.split("'")[1]: f for f in lags}
    assert by_topic[predictions].status is Status.OK
    assert "3 records behind" in by_topic[predictions].found
    assert by_topic[outcomes].status is Status.OK and "0 records behind" in by_topic[outcomes].found

    # Kafka's advisory copy ahead of the checkpoint: Redis lost acknowledged writes.
    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    consumer.commit({TopicPartition(predictions, 0): OffsetAndMetadata(4, "", -1)})
    consumer.close()
    lags.clear()
    check_kafka(settings, lambda f: lags.append(f) if f.check == "kafka.lag" else None)
    lost = next(f for f in lags if predictions in f.found)
    assert lost.status is Status.WARN and "lost acknowledged writes" in lost.found
    assert "partitions [0]" in lost.found and "re-reads the span" in lost.fix

    redis_client.delete(keys.partition(keys.tag(group, predictions, 0)).offset)
    lags.clear()
    check_kafka(settings, lambda f: lags.append(f) if f.check == "kafka.lag" else None)
    unclaimed = next(f for f in lags if predictions in f.found)
    assert unclaimed.status is Status.WARN
    assert "5 records behind" in unclaimed.found and "partitions [0]" in unclaimed.found
    assert "driftwatch run" in unclaimed.fix

    # Checkpoints past the partition's end: the topic was created again under its name, and its
    # new records would be taken as already applied.
    redis_client.set(keys.partition(keys.tag(group, predictions, 0)).offset, 40)
    lags.clear()
    check_kafka(settings, lambda f: lags.append(f) if f.check == "kafka.lag" else None)
    ahead = next(f for f in lags if predictions in f.found)
    assert ahead.status is Status.FAIL
    assert "0 records behind" in ahead.found and "past the end of partitions [0]" in ahead.found
    assert "kafka.group_id" in ahead.fix
