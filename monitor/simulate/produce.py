"""Producing simulated events to Kafka, paced or as fast as the broker takes them."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kafka import KafkaProducer

from monitor.config import Settings
from monitor.ingest.clients import kafka_client
from monitor.simulate.generate import SimEvent, TopicKind

#: Producer batching: linger lets batches fill at demo rates; large batches at backfill rates.
PRODUCER_LINGER_MS = 20
PRODUCER_BATCH_BYTES = 512 * 1024
#: How often ``produce`` reports progress: often enough for a smooth bar, rarely enough to cost
#: nothing.
PROGRESS_INTERVAL_SECONDS = 0.2


@dataclass(slots=True)
class ProduceReport:
    """What :func:`produce` sent: the CLI's summary and the tests' expected counts."""

    #: Records sent per (topic kind, model), malformed ones included.
    counts: Counter[tuple[TopicKind, str]] = field(default_factory=Counter)
    #: Injected malformed events among them.
    n_invalid: int = 0
    #: Records the broker did not acknowledge; ``first_error`` says why.
    n_failed: int = 0
    first_error: str = ""
    elapsed_seconds: float = 0.0
    #: True when ``stop`` ended the run before the events did.
    interrupted: bool = False

    @property
    def n_predictions(self) -> int:
        return sum(n for (kind, _), n in self.counts.items() if kind == "prediction")

    @property
    def n_outcomes(self) -> int:
        return sum(n for (kind, _), n in self.counts.items() if kind == "outcome")


def produce(
    settings: Settings,
    events: Iterable[SimEvent],
    *,
    realtime_rate: float | None,
    progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> ProduceReport:
    """Send ``events`` to the topics of ``settings.kafka`` and wait until all are acknowledged.

    With ``realtime_rate``, predictions are paced at that many per second (outcomes go out as
    soon as they are due); otherwise events go out as fast as the broker takes them.
    ``progress`` receives the number of predictions sent since its previous call, a few times a
    second. Setting ``stop`` ends the run early; what was sent is still flushed. Any exception
    (a Kafka error, a ``KeyboardInterrupt``) aborts without waiting for buffered records.

    Raises ``kafka.errors.KafkaError`` when the brokers cannot be reached.
    """
    producer = kafka_client(
        KafkaProducer,
        settings.kafka,
        acks="all",
        linger_ms=PRODUCER_LINGER_MS,
        batch_size=PRODUCER_BATCH_BYTES,
        compression_type=None,
    )
    topics = {
        "prediction": settings.kafka.predictions_topic,
        "outcome": settings.kafka.outcomes_topic,
    }
    report = ProduceReport()
    errors: list[BaseException] = []
    started = last_progress = time.monotonic()
    n_sent = n_unreported = 0
    try:
        for event in events:
            if event.topic_kind == "prediction" and realtime_rate:
                wait = started + n_sent / realtime_rate - time.monotonic()
                if wait > 0 and stop is not None:
                    stop.wait(wait)  # returns early when stopped
                elif wait > 0:
                    time.sleep(wait)
            if stop is not None and stop.is_set():
                report.interrupted = True
                break
            if event.topic_kind == "prediction":
                n_sent += 1
                n_unreported += 1
            future = producer.send(topics[event.topic_kind], key=event.key, value=event.value)
            future.add_errback(errors.append)
            report.counts[(event.topic_kind, event.model)] += 1
            report.n_invalid += not event.valid
            if (
                progress is not None
                and time.monotonic() - last_progress >= PROGRESS_INTERVAL_SECONDS
            ):
                progress(n_unreported)
                n_unreported, last_progress = 0, time.monotonic()
    except BaseException:  # a Kafka error or a second Ctrl-C: drop what is still buffered
        producer.close(timeout=0)
        raise
    producer.flush()
    producer.close()
    report.elapsed_seconds = time.monotonic() - started
    report.n_failed = len(errors)
    report.first_error = repr(errors[0]) if errors else ""
    if progress is not None and n_unreported:
        progress(n_unreported)
    return report
