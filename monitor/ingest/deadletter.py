"""Dead letters: the original bytes of an invalid record, with headers saying why and where from.

Dead letters are produced *before* their batch is checkpointed, so a crash can repeat them but
never lose them (at-least-once). Each carries its source topic, partition and offset, which
identify it uniquely: a consumer of the dead-letter topic can drop repeats.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from kafka import KafkaProducer
from kafka.errors import KafkaError

from monitor.config import KafkaSettings
from monitor.errors import SinkUnavailableError
from monitor.events import DeadLetter

log = logging.getLogger(__name__)

#: How long to wait for the broker to acknowledge a batch's dead letters before giving up on
#: this attempt (the batch is retried): keeps one batch far below max_poll_interval_ms.
FLUSH_TIMEOUT_SECONDS = 10.0


class DeadLetterSink:
    """Produces dead letters to the configured topic (acks=all, so they survive a broker crash)."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._topic = settings.dead_letter_topic
        self._producer = KafkaProducer(
            **settings.client_kwargs(), acks="all", linger_ms=5, retries=5
        )

    def send(self, topic: str, partition: int, letters: Sequence[DeadLetter]) -> None:
        """Produce and wait for acknowledgement; raise :class:`SinkUnavailableError` if not."""
        if not letters:
            return
        try:
            futures = [
                self._producer.send(
                    self._topic,
                    key=letter.key,
                    value=letter.value if letter.value is not None else b"",
                    headers=[
                        ("dw-reason", letter.reason.value.encode()),
                        ("dw-detail", letter.detail.encode()),
                        ("dw-model", letter.model.encode()),
                        ("dw-topic", topic.encode()),
                        ("dw-partition", str(partition).encode()),
                        ("dw-offset", str(letter.offset).encode()),
                    ],
                )
                for letter in letters
            ]
            self._producer.flush(timeout=FLUSH_TIMEOUT_SECONDS)
            for future in futures:
                future.get(timeout=0)
        except KafkaError as exc:
            raise SinkUnavailableError(f"dead-letter topic {self._topic}: {exc}") from exc

    def close(self) -> None:
        self._producer.close(timeout=FLUSH_TIMEOUT_SECONDS)
