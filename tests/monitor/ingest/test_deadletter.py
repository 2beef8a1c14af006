"""Dead letters on a real broker: original bytes and headers, and records too large to publish."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic

from monitor.config import KafkaSettings
from monitor.ingest.deadletter import TRUNCATED_BYTES, DeadLetterSink
from monitor.vocab.deadletter import DeadLetter, InvalidReason

#: The dead-letter topic's own limit in this test: a 1,900-byte record fits, not with headers.
TOPIC_MAX_BYTES = 2000


@pytest.fixture
def small_topic(kafka_bootstrap: str) -> Iterator[str]:
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="dwtest-dlq")
    name = f"dwtest-dlq-small-{uuid.uuid4().hex[:8]}"
    config = {"max.message.bytes": str(TOPIC_MAX_BYTES)}
    admin.create_topics([NewTopic(name, 1, 1, topic_configs=config)])
    admin.wait_for_topics([name], timeout_ms=30_000)
    try:
        yield name
    finally:
        admin.delete_topics([name])
        admin.close()


def test_letters_too_large_for_the_topic_are_published_cut_with_their_hash(
    kafka_bootstrap: str, small_topic: str
) -> None:
    settings = KafkaSettings(bootstrap_servers=(kafka_bootstrap,), dead_letter_topic=small_topic)
    sink = DeadLetterSink(settings)
    reason = InvalidReason.TOO_LARGE
    letters = [
        DeadLetter(5, InvalidReason.BAD_JSON, "truncated JSON", "_unknown", b"k", b'{"id": '),
        DeadLetter(6, reason, "too large", "m", b"k", b"v" * 1900),  # too large with headers
        DeadLetter(7, reason, "too large", "m", None, bytes(range(256)) * 8000),  # > 1 MB request
    ]
    after = DeadLetter(8, InvalidReason.EMPTY, "empty record value", "_unknown", None, None)
    try:
        sink.send("predictions", 3, letters)
        sink.send("predictions", 3, [after])  # the producer still works afterwards
    finally:
        sink.close()
    consumer = KafkaConsumer(
        small_topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    got = {}
    deadline = time.monotonic() + 30
    while len(got) < 4 and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            got.update({int(dict(m.headers)["dw-offset"]): m for m in batch})
    consumer.close()
    assert sorted(got) == [5, 6, 7, 8]
    assert got[5].value == letters[0].value and "dw-original-size" not in dict(got[5].headers)
    for offset in (6, 7):
        original = letters[offset - 5].value or b""
        headers = dict(got[offset].headers)
        assert got[offset].value == original[:TRUNCATED_BYTES]
        assert int(headers["dw-original-size"]) == len(original)
        assert headers["dw-sha256"].decode() == hashlib.sha256(original).hexdigest()
        assert headers["dw-reason"] == b"too_large" and headers["dw-partition"] == b"3"
