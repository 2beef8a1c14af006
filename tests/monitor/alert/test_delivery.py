"""Delivery: backoff inside a deadline, permanent errors not retried, the fallback, and a
dispatcher on which a hanging receiver holds up nobody else."""

from __future__ import annotations

import logging
import random
import threading
import time

import pytest

from monitor.alert.delivery import Dispatcher, deliver, send_with_fallback
from monitor.alert.notification import Notification
from monitor.alert.receivers import AppriseReceiver, DeliveryError, PagerDutyReceiver
from tests.monitor.alert.support import (
    ROUTING_KEY,
    Endpoint,
    free_port,
    notification,
    secrets_absent,
    serving,
)


class FakeClock:
    """``clock`` and ``sleep`` for deliver(): time passes only when it sleeps (or a send takes
    ``send_seconds``), and every wait is recorded."""

    def __init__(self, send_seconds: float = 0.0) -> None:
        self.now = 1000.0
        self.waits: list[float] = []
        self.send_seconds = send_seconds

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


class Failing:
    """A receiver that fails ``failures`` times (then takes it), for the retry arithmetic; the
    network paths are tested with real servers below."""

    def __init__(self, clock: FakeClock, failures: int = 10**6, retryable: bool = True) -> None:
        self.name = "flaky"
        self.clock = clock
        self.failures = failures
        self.retryable = retryable
        self.calls = 0

    def send(self, notification: Notification, title: str, body: str) -> None:
        self.calls += 1
        self.clock.now += self.clock.send_seconds
        if self.calls <= self.failures:
            raise DeliveryError(f"attempt {self.calls} failed", retryable=self.retryable)


class Ceiling(random.Random):
    """Full jitter at its largest: every wait is its cap, so the caps are visible."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_waits_double_up_to_max_delay_and_stop_inside_the_deadline() -> None:
    fake = FakeClock()
    outcome = deliver(Failing(fake), notification(), "t", "b", deadline_seconds=30,
                      base_delay=1, max_delay=8, sleep=fake.sleep, clock=fake.clock,
                      rng=Ceiling())  # fmt: skip
    assert fake.waits == [1, 2, 4, 8, 8]  # a sixth wait (8) would end past 30 s
    assert (outcome.sent, outcome.attempts) == (False, 6)
    assert outcome.error == "attempt 6 failed"
    assert outcome.seconds == sum(fake.waits) <= 30


def test_jittered_waits_stay_under_their_caps_and_the_deadline() -> None:
    fake = FakeClock(send_seconds=0.5)  # attempts take time too, and it counts
    outcome = deliver(Failing(fake), notification(), "t", "b", deadline_seconds=60,
                      base_delay=1, max_delay=10, sleep=fake.sleep, clock=fake.clock,
                      rng=random.Random(7))  # fmt: skip
    caps = [min(10, 2**k) for k in range(len(fake.waits))]
    assert all(0 <= w <= cap for w, cap in zip(fake.waits, caps, strict=True))
    assert len(set(fake.waits)) == len(fake.waits)  # jittered, not a fixed schedule
    assert fake.now - 1000.0 <= 60 and outcome.attempts == len(fake.waits) + 1


def test_a_retry_that_succeeds_reports_the_attempts_and_the_last_failure() -> None:
    fake = FakeClock()
    outcome = deliver(Failing(fake, failures=2), notification(), "t", "b", deadline_seconds=60,
                      sleep=fake.sleep, clock=fake.clock, rng=Ceiling())  # fmt: skip
    assert (outcome.sent, outcome.attempts, outcome.error) == (True, 3, "attempt 2 failed")
    assert fake.waits == [1, 2]


def test_a_permanent_error_is_not_retried() -> None:
    fake = FakeClock()
    receiver = Failing(fake, retryable=False)
    outcome = deliver(receiver, notification(), "t", "b", deadline_seconds=60,
                      sleep=fake.sleep, clock=fake.clock)  # fmt: skip
    assert (outcome.sent, outcome.attempts, receiver.calls, fake.waits) == (False, 1, 1, [])


def test_a_dead_receiver_gives_up_and_the_fallback_gets_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    dead = PagerDutyReceiver("pagerduty", ROUTING_KEY, url=f"http://127.0.0.1:{free_port()}/")
    with serving(Endpoint()) as inbox:
        spare = AppriseReceiver("ops-email", [f"json://{inbox.address}/fallback"])
        started = time.monotonic()
        result = send_with_fallback(dead, spare, notification(), "[CRITICAL] m: x", "details",
                                    deadline_seconds=0.5, base_delay=0.05)  # fmt: skip
        took = time.monotonic() - started
    assert not result.primary.sent and result.primary.attempts > 1
    assert "ConnectionRefusedError" in result.primary.error
    assert result.fallback is not None and result.fallback.sent and result.sent
    ((path, sent),) = inbox.requests
    assert path == "/fallback"
    assert sent["title"] == "[FALLBACK for pagerduty] [CRITICAL] m: x"
    assert sent["message"].startswith("Receiver pagerduty could not be reached (gave up after")
    assert sent["message"].endswith("details")
    assert took < 0.5 + 2.0  # the primary stopped at its deadline
    assert "pagerduty gave up on group g1" in caplog.text
    secrets_absent(caplog.text + result.primary.error, ROUTING_KEY)


def test_without_a_fallback_a_give_up_is_reported_not_raised() -> None:
    dead = PagerDutyReceiver("pagerduty", ROUTING_KEY, url=f"http://127.0.0.1:{free_port()}/")
    result = send_with_fallback(dead, None, notification(), "t", "b", deadline_seconds=0.0)
    assert (result.sent, result.fallback, result.primary.attempts) == (False, None, 1)


def test_a_hanging_receiver_does_not_hold_up_another() -> None:
    dispatcher: Dispatcher[object] = Dispatcher(workers=4, per_receiver=2)
    hold = threading.Event()
    with serving(Endpoint(hold=hold)) as stuck, serving(Endpoint()) as quick:
        slow = AppriseReceiver("slow", [f"json://{stuck.address}/"], read_timeout=20)
        fast = AppriseReceiver("fast", [f"json://{quick.address}/"])
        note = notification()
        hanging = dispatcher.submit("slow", "g1", lambda: slow.send(note, "t", "b"))
        assert hanging is not None
        started = time.monotonic()
        done = dispatcher.submit("fast", "g1", lambda: fast.send(note, "t", "b"))
        assert done is not None
        done.result(timeout=5)
        assert time.monotonic() - started < 5 and not hanging.done()
        assert len(quick.requests) == 1
        # One send per (receiver, group) in flight; per_receiver caps the receiver's share.
        assert dispatcher.submit("slow", "g1", lambda: None) is None
        assert dispatcher.submit("slow", "g2", lambda: time.sleep(0.01)) is not None
        assert dispatcher.submit("slow", "g3", lambda: None) is None
        assert dispatcher.in_flight().count(("slow", "g1")) == 1
        # The caller's wait is bounded while the slow send hangs.
        started = time.monotonic()
        assert dispatcher.wait(0.3) is False
        assert 0.25 < time.monotonic() - started < 2
        hold.set()
        assert dispatcher.wait(10) is True
    assert hanging.result() is None and dispatcher.in_flight() == []
    assert dispatcher.submit("slow", "g1", lambda: None) is not None  # free again
    assert dispatcher.close(5)


def test_a_bug_in_a_send_is_logged_not_lost(caplog: pytest.LogCaptureFixture) -> None:
    dispatcher: Dispatcher[None] = Dispatcher(workers=2, per_receiver=1)

    def broken() -> None:
        raise RuntimeError("a bug")

    future = dispatcher.submit("r", "g", broken)
    assert future is not None and dispatcher.wait(5)
    assert isinstance(future.exception(), RuntimeError)
    assert "sending to receiver r for group g failed" in caplog.text
    assert dispatcher.close(5)


def test_a_dispatcher_needs_workers_beyond_one_receivers_share() -> None:
    with pytest.raises(ValueError, match="per_receiver"):
        Dispatcher(workers=2, per_receiver=2)
