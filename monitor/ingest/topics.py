"""Creating the three topics a deployment uses, with the layout the join prefers."""

from __future__ import annotations

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from monitor.config import KafkaSettings
from monitor.errors import DriftwatchError
from monitor.ingest.clients import kafka_client


def ensure_topics(
    settings: KafkaSettings, partitions: int, replication_factor: int = 1
) -> dict[str, bool]:
    """Create missing topics; returns topic → created. Dead letters get one partition per 6."""
    wanted = {
        settings.predictions_topic: partitions,
        settings.outcomes_topic: partitions,
        settings.dead_letter_topic: max(1, partitions // 6),
    }
    try:
        admin = kafka_client(KafkaAdminClient, settings)
    except KafkaError as exc:
        raise DriftwatchError(
            f"Kafka at {', '.join(settings.bootstrap_servers)} did not answer ({exc}); start it "
            "or fix kafka.bootstrap_servers"
        ) from exc
    try:
        existing = set(admin.list_topics())
        result: dict[str, bool] = {}
        for topic, n in wanted.items():
            if topic in existing:
                result[topic] = False
                continue
            try:
                admin.create_topics([NewTopic(topic, n, replication_factor)])
                result[topic] = True
            except TopicAlreadyExistsError:
                result[topic] = False
        return result
    finally:
        admin.close()
