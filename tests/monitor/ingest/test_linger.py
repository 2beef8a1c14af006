"""``ingest.batch_linger_ms``: a trickle is applied in fewer, larger batches, and records waiting
out the linger are never applied twice or lost — not across a revocation, not at a stop."""

from __future__ import annotations

import time
from collections.abc import Callable

from kafka import TopicPartition

from monitor.events import Record
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
