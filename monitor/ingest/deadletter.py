"""Dead letters: the original bytes of an invalid record, with headers saying why and where from.

Dead letters are published only after their batch was applied (they wait in the Redis outbox,
``monitor/store/outbox.py``, until the topic acknowledges them), so the topic holds exactly the
dead letters that the counters count, possibly twice after a crash or an outage, never zero
times. Each carries its source topic, partition and offset, which identify it: a consumer of the
dead-letter topic can drop repeats.

A record that no longer fits the topic once the headers are added is published cut to its first
:data:`TRUNCATED_BYTES`, with headers ``dw-original-size`` and ``dw-sha256`` of the whole value.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError
from kafka.producer.future import FutureRecordMetadata

from monitor.config import KafkaSettings
from monitor.errors import SinkUnavailableError
from monitor.ingest.clients import kafka_client
from monitor.vocab.deadletter import DeadLetter

log = logging.getLogger(__name__)

#: How long to wait for the broker to acknowledge a batch's dead letters (and, while it is down,
#: for metadata before a send) before giving up on this attempt: the letters stay in the outbox.
FLUSH_TIMEOUT_SECONDS = 10.0
#: What is left of a record too large for the dead-letter topic.
TRUNCATED_BYTES = 1024


class DeadLetterSink:
    """Produces dead letters to the configured topic (acks=all, so they survive a broker crash)."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._topic = settings.dead_letter_topic
        self._producer = kafka_client(
            KafkaProducer,
            settings,
            acks="all",
            linger_ms=5,
            retries=5,
            max_block_ms=int(FLUSH_TIMEOUT_SECONDS * 1000),
            # The idempotent producer (kafka-python 3's default) treats a record the broker finds
            # too large as fatal and fails every later send; dead letters are at-least-once anyway.
            enable_idempotence=False,
        )

    def send(self, topic: str, partition: int, letters: Sequence[DeadLetter]) -> None:
        """Produce and wait for acknowledgement; raise :class:`SinkUnavailableError` if not."""
        if not letters:
            return
        try:
            too_large = self._produce(topic, partition, letters)
            if too_large:
                log.warning(
                    "%d dead letters of %s[%d] are too large for %s; published cut to %d bytes",
                    len(too_large), topic, partition, self._topic, TRUNCATED_BYTES,
                )  # fmt: skip
                for letter in too_large:  # one by one: never batched with another into too much
                    if self._produce(topic, partition, [letter.truncated(TRUNCATED_BYTES)]):
                        raise SinkUnavailableError(
                            f"dead-letter topic {self._topic} refuses even {TRUNCATED_BYTES}-byte "
                            "records: raise its max.message.bytes"
                        )
        except KafkaError as exc:
            raise SinkUnavailableError(f"dead-letter topic {self._topic}: {exc}") from exc

    def _produce(
        self, topic: str, partition: int, letters: Sequence[DeadLetter]
    ) -> list[DeadLetter]:
        """Send and wait; return the letters refused as too large (others raise)."""
        too_large: list[DeadLetter] = []
        sent: list[tuple[DeadLetter, FutureRecordMetadata]] = []
        for letter in letters:
            try:
                sent.append((letter, self._send(topic, partition, letter)))
            except MessageSizeTooLargeError:  # larger than the producer's max_request_size
                too_large.append(letter)
        deadline = time.monotonic() + FLUSH_TIMEOUT_SECONDS
        for letter, future in sent:
            try:
                future.get(timeout=max(0.0, deadline - time.monotonic()))
            except MessageSizeTooLargeError:  # larger than the topic's max.message.bytes
                too_large.append(letter)
        return too_large

    def _send(self, topic: str, partition: int, letter: DeadLetter) -> FutureRecordMetadata:
        headers = [
            ("dw-reason", letter.reason.value.encode()),
            ("dw-detail", letter.detail.encode()),
            ("dw-model", letter.model.encode()),
            ("dw-topic", topic.encode()),
            ("dw-partition", str(partition).encode()),
            ("dw-offset", str(letter.offset).encode()),
        ]
        if letter.original_size is not None:
            headers.append(("dw-original-size", str(letter.original_size).encode()))
            headers.append(("dw-sha256", (letter.sha256 or "").encode()))
        future: FutureRecordMetadata = self._producer.send(
            self._topic,
            key=letter.key,
            value=letter.value if letter.value is not None else b"",
            headers=headers,
        )
        return future

    def close(self) -> None:
        self._producer.close(timeout=FLUSH_TIMEOUT_SECONDS)
