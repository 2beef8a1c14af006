"""Delivery: send with retries inside a deadline, fall back when a receiver gives up, and never
let one slow receiver hold up the others.

- :func:`deliver` tries one receiver until it takes the notification, a permanent error says
  trying again cannot help, or the next attempt would start past the deadline (Alertmanager uses
  the group interval: by then the next notification of the group is due anyway). Waits between
  attempts are exponential with full jitter (a random wait between 0 and ``base_delay·2^k``,
  capped at ``max_delay``), so receivers recovering from an outage are not hit by every sender
  at once.
- :func:`send_with_fallback` gives the notification to the fallback receiver when the primary
  gave up, with a title that says whose message it is and why it came this way.
- :class:`Dispatcher` runs sends on a small thread pool, at most one in flight per
  (receiver, group) and a few per receiver, so a receiver that hangs until its timeouts occupies
  only its own share of the workers while the evaluator and the other receivers go on.

What happened is returned (:class:`DeliveryOutcome`), never only logged: the caller writes the
notification log after a successful send, counts give-ups in ``/metrics`` and shows the history
on the dashboard. Error texts come from the receivers, which keep credentials out of them.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Generic, TypedDict, TypeVar, Unpack

from monitor.alert import message
from monitor.alert.notification import Notification
from monitor.alert.receivers import DeliveryError, Receiver
from monitor.times import full_jitter

log = logging.getLogger(__name__)

T = TypeVar("T")
_RNG = random.Random()


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """One receiver's delivery of one notification."""

    receiver: str
    #: True: the receiver took it; False: gave up (a permanent error or the deadline).
    sent: bool
    attempts: int
    #: The last failure's text ("" if none): it names destinations, never their credentials.
    error: str
    seconds: float


@dataclass(frozen=True, slots=True)
class Delivery:
    """A notification's delivery: its receiver's, and the fallback's if the receiver gave up."""

    primary: DeliveryOutcome
    fallback: DeliveryOutcome | None = None

    @property
    def sent(self) -> bool:
        """Whether anyone got it: the notification log is written only then."""
        return self.primary.sent or (self.fallback is not None and self.fallback.sent)


class Retry(TypedDict, total=False):
    """How :func:`deliver` waits between attempts (tests inject ``sleep``, ``clock``, ``rng``)."""

    base_delay: float
    max_delay: float
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    rng: random.Random


def deliver(
    receiver: Receiver,
    notification: Notification,
    title: str,
    body: str,
    *,
    deadline_seconds: float,
    base_delay: float = 1.0,
    max_delay: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random = _RNG,
) -> DeliveryOutcome:
    """Send until the receiver takes it, a permanent error, or the deadline; never raises
    :class:`DeliveryError` (other exceptions are bugs and propagate)."""
    start = clock()
    attempts, error = 0, ""
    while True:
        attempts += 1
        try:
            receiver.send(notification, title, body)
        except DeliveryError as exc:
            error = str(exc)
            retryable = exc.retryable
        else:
            return DeliveryOutcome(receiver.name, True, attempts, error, clock() - start)
        delay = full_jitter(attempts, base_delay, max_delay, rng)
        elapsed = clock() - start
        if not retryable or elapsed + delay >= deadline_seconds:
            why = "permanent error" if not retryable else f"deadline {deadline_seconds:g} s"
            log.warning(
                "receiver %s gave up on group %s after %d attempt(s) (%s): %s",
                receiver.name,
                notification.group_key,
                attempts,
                why,
                error,
            )
            return DeliveryOutcome(receiver.name, False, attempts, error, elapsed)
        log.info(
            "receiver %s: attempt %d failed, retry in %.1f s: %s",
            receiver.name,
            attempts,
            delay,
            error,
        )
        sleep(delay)


def send_with_fallback(
    primary: Receiver,
    fallback: Receiver | None,
    notification: Notification,
    title: str,
    body: str,
    *,
    deadline_seconds: float,
    **retry: Unpack[Retry],
) -> Delivery:
    """Deliver to ``primary``; if it gives up, deliver the same notification to ``fallback``
    (marked as a fallback for ``primary``), with a deadline of its own: a dead primary must not
    eat the time the fallback needs."""
    first = deliver(primary, notification, title, body, deadline_seconds=deadline_seconds, **retry)
    if first.sent or fallback is None:
        return Delivery(first)
    reason = f"gave up after {first.attempts} attempt(s): {first.error}"
    fb_title, fb_body = message.fallback(title, body, primary.name, reason)
    second = deliver(
        fallback, notification, fb_title, fb_body, deadline_seconds=deadline_seconds, **retry
    )
    return Delivery(first, second)


class Dispatcher(Generic[T]):
    """Runs sends in the background on ``workers`` threads.

    At most one send per (receiver, group) is in flight: a newer notification of a busy group is
    refused (``submit`` returns None) and, its notification log not being written, is sent on a
    later round with whatever the group holds then. At most ``per_receiver`` sends of one
    receiver are in flight, so each receiver that hangs until its timeouts and deadline occupies
    at most that many workers: size ``workers`` above ``per_receiver`` × the receivers that may
    hang at once. A send's own timeouts and deadline bound how long it holds a worker (Python
    cannot stop a thread), and ``wait`` bounds how long a caller waits for it.
    """

    def __init__(self, *, workers: int = 8, per_receiver: int = 2) -> None:
        if not 0 < per_receiver < workers:
            raise ValueError("per_receiver must be at least 1 and fewer than workers")
        self._per_receiver = per_receiver
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dw-send")
        self._lock = threading.Lock()
        self._in_flight: dict[tuple[str, str], Future[T]] = {}

    def submit(self, receiver: str, group_key: str, send: Callable[[], T]) -> Future[T] | None:
        """Start ``send`` for ``receiver`` and ``group_key``; None if that pair is in flight or
        the receiver has ``per_receiver`` sends in flight already."""
        key = (receiver, group_key)
        with self._lock:
            busy = sum(1 for r, _ in self._in_flight if r == receiver)
            if key in self._in_flight or busy >= self._per_receiver:
                return None
            future = self._pool.submit(send)
            self._in_flight[key] = future
        future.add_done_callback(lambda done: self._finished(key, done))
        return future

    def in_flight(self) -> list[tuple[str, str]]:
        """The (receiver, group) pairs being sent now."""
        with self._lock:
            return list(self._in_flight)

    def wait(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for the sends in flight; True when none is left."""
        with self._lock:
            pending = list(self._in_flight.values())
        return not wait(pending, timeout=timeout).not_done

    def close(self, timeout: float) -> bool:
        """Stop taking sends, wait at most ``timeout`` for those in flight, drop the queued ones;
        True when every send finished."""
        finished = self.wait(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        return finished

    def _finished(self, key: tuple[str, str], future: Future[T]) -> None:
        with self._lock:
            self._in_flight.pop(key, None)
        if not future.cancelled() and future.exception() is not None:
            log.error(
                "sending to receiver %s for group %s failed", *key, exc_info=future.exception()
            )
