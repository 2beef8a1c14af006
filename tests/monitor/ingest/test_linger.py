"""``ingest.batch_linger_ms``: a trickle is applied in fewer, larger batches, and records waiting
out the linger are never applied twice or lost — not across a revocation, not at a stop."""

from __future__ import annotations

import time
from collections.abc import Callable

from kafka import TopicPartition

from monitor.events import Record
from monitor.ingest.consumer import BUSY_POLL_TIMEOUT_MS, FETCH_MIN_BYTES
from tests.monitor.ingest.conftest import PREDICTIONS, Loop, prediction

P0 = TopicPartition(PREDICTIONS, 0)


def trickle(log: list[Record], rounds: int, per_round: int, pause: float) -> None:
    """Append ``per_round`` predictions every ``pause`` seconds, as a steady producer would."""
    for _ in range(rounds):
        start = len(log)
        log.extend((i, f"id-{i}".encode(), prediction(i)) for i in range(start, start + per_round))
        time.sleep(pause)


def queued(loop: Loop, n: int) -> Callable[[], bool]:
    def check() -> bool:
        owned = loop.ingestor.state.owned.get(P0)
        return owned is not None and len(owned.queued) == n

    return check


def test_a_linger_applies_a_trickle_in_fewer_batches(
    loop_factory: Callable[..., Loop], key_prefix: str
) -> None:
    batches = {}
    for linger_ms in (0, 400):
        log: list[Record] = []
        loop = loop_factory({P0: log}, batch_linger_ms=linger_ms, group=f"g{linger_ms}",
                            prefix=f"{key_prefix}:{linger_ms}").start()  # fmt: skip
        loop.wait(lambda loop=loop: P0 in loop.ingestor.state.owned, "the claim")
        trickle(log, rounds=8, per_round=10, pause=0.03)
        loop.wait(lambda loop=loop: loop.caught_up(P0), "every record applied")
        loop.finish()
        assert loop.counts().predictions == 80
        batches[linger_ms] = loop.metric("driftwatch_batches_total", result="applied")
    assert batches[400] <= 2 < 5 <= batches[0], batches


def test_records_lingering_at_a_revocation_are_applied_once_by_the_next_owner(
    loop_factory: Callable[..., Loop],
) -> None:
    log = {P0: [(i, f"id-{i}".encode(), prediction(i)) for i in range(50)]}
    first = loop_factory(log, batch_linger_ms=1000).start()
    first.wait(queued(first, 50), "the records to be queued")
    first.consumer.revoke({P0})
    first.wait(lambda: P0 not in first.ingestor.state.owned, "the revocation to be handled")
    assert first.stored_offset(P0) is None, "lingering records were applied"
    second = loop_factory(log, assigned={P0}).start()
    second.wait(lambda: second.caught_up(P0), "the next owner to apply them")
    first.finish()
    second.finish()
    assert second.counts().predictions == 50


def test_a_stop_applies_lingering_records_without_waiting(
    loop_factory: Callable[..., Loop],
) -> None:
    log = {P0: [(i, f"id-{i}".encode(), prediction(i)) for i in range(50)]}
    loop = loop_factory(log, batch_linger_ms=1000).start()
    loop.wait(queued(loop, 50), "the records to be queued")
    assert loop.stored_offset(P0) is None
    stopping = time.monotonic()
    loop.finish()
    assert time.monotonic() - stopping < 0.8
    assert (loop.stored_offset(P0), loop.counts().predictions) == (50, 50)


def test_lingering_records_are_waited_for_in_long_polls_half_the_linger_at_the_broker(
    loop_factory: Callable[..., Loop],
) -> None:
    """While records only linger, poll waits until the oldest has lingered out, not a few
    milliseconds at a time (at a steady 2k events/s that polling was 40 % of the daemon's CPU); the
    broker holds each fetch for the first half of the linger, so a record waits at most the linger
    from its arrival at the broker."""
    log = {P0: [(i, f"id-{i}".encode(), prediction(i)) for i in range(50)]}
    loop = loop_factory(log, batch_linger_ms=1000).start()
    assert loop.consumer.options["fetch_max_wait_ms"] == 500
    assert loop.consumer.options["fetch_min_bytes"] == FETCH_MIN_BYTES
    loop.wait(queued(loop, 50), "the records to be queued")
    time.sleep(0.1)
    lingering = loop.consumer.timeouts[-3:]
    assert all(BUSY_POLL_TIMEOUT_MS < t <= 501 for t in lingering), lingering
    loop.wait(lambda: loop.caught_up(P0), "the records to be applied after the linger")
    assert loop.counts().predictions == 50


def test_without_a_linger_fetches_return_at_once(loop_factory: Callable[..., Loop]) -> None:
    loop = loop_factory({P0: []}, batch_linger_ms=0)
    assert "fetch_min_bytes" not in loop.consumer.options
    assert "fetch_max_wait_ms" not in loop.consumer.options
