"""Clock skew: this host's clock against Redis' ``TIME``.

The claim script stamps epochs with Redis' clock, while the daemon judges time with its own:
events stamped further ahead than ``ingest.max_future_seconds`` are dead-lettered, a window is
final once the newest event time — capped by the wall clock — passes its end plus
``windows.allowed_lateness_seconds``, and pending predictions expire by the wall clock. Hosts
kept by NTP agree within milliseconds; a second means NTP is not running. Kafka's brokers have
no clock to read without writing a record, which the doctor never does, so they are not checked.
"""

from __future__ import annotations

import time

import redis

from monitor.config import Settings
from monitor.doctor.findings import Emit, Finding, fail, ok, warn
from monitor.store.client import connect

#: Above this, clocks are not synchronised: NTP (chrony, systemd-timesyncd) is not running.
WARN_SECONDS = 1.0
#: How long Redis may take to answer; a round trip longer than the skew measured blurs it.
TIMEOUT_SECONDS = 2.0


def check_clock(settings: Settings, emit: Emit) -> None:
    """Emit ``clock.redis``: the offset of Redis' clock from this host's, measured at the
    midpoint of one ``TIME`` round trip. Failures to connect are ``redis.connection``'s."""
    client = connect(settings.redis, timeout_seconds=TIMEOUT_SECONDS)
    try:
        client.ping()  # connect first: the measured round trip is TIME's alone
        before = time.time()
        seconds, micros = client.time()
        after = time.time()
    except redis.RedisError:
        return  # unreachable or refused: the redis.connection finding says so and what to do
    finally:
        client.close()
    emit(judge(seconds + micros / 1e6 - (before + after) / 2, after - before, settings))


def judge(skew: float, round_trip: float, settings: Settings) -> Finding:
    """The finding for Redis' clock ``skew`` seconds ahead of this host's (negative: behind)."""
    limit = min(settings.windows.allowed_lateness_seconds, settings.ingest.max_future_seconds)
    found = (
        f"Redis' clock is {abs(skew):.3f} s {'ahead of' if skew > 0 else 'behind'} this host's "
        f"(round trip {round_trip:.3f} s)"
    )
    fix = "run NTP (chrony or systemd-timesyncd) on this host and on Redis' host"
    if abs(skew) > limit:
        return fail(
            "clock.redis",
            f"{found}: more than windows.allowed_lateness_seconds or "
            f"ingest.max_future_seconds ({limit} s), so windows close at the wrong time or "
            "valid events are dead-lettered as stamped in the future",
            fix,
        )
    if abs(skew) > WARN_SECONDS:
        return warn("clock.redis", f"{found}: clocks are not synchronised", fix)
    return ok("clock.redis", found)
