"""The Redis connection, built from ``[redis]`` settings."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from monitor.config import RedisSettings
from monitor.errors import StoreUnavailableError

#: Fail a command fast when Redis is down, so the loop pauses and backs off instead of hanging.
SOCKET_TIMEOUT_SECONDS = 5.0


def connect(
    settings: RedisSettings,
    *,
    timeout_seconds: float = SOCKET_TIMEOUT_SECONDS,
    retry_connection_errors: int = 1,
) -> redis.Redis:
    """A client for the shared state store; the password comes from env or file, never config.

    redis-py retries a failed command 10 times with backoff by default, timeouts included: a hung
    Redis would hold every call for about a minute instead of ``timeout_seconds``. Here a command
    is retried only after a connection error, at once (a pooled connection that died with a
    Redis restart), never after a timeout: the caller decides what a timeout means.
    """
    extra = {"password": settings.password.reveal()} if settings.password else {}
    retry = Retry(NoBackoff(), retry_connection_errors, supported_errors=(redis.ConnectionError,))
    return redis.Redis.from_url(
        settings.url,
        **extra,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        health_check_interval=30,
        retry=retry,
    )


#: Replies that mean "Redis cannot serve this now", not "this command is wrong".
_OUTAGE_REPLIES = ("BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN")


def is_outage(exc: redis.RedisError) -> bool:
    """True when ``exc`` is a dependency problem to wait out (or to fix in Redis), not an error
    of the command: unreachable, hung, full, read-only, missing rights, busy with a script."""
    if isinstance(
        exc,
        redis.ConnectionError
        | redis.TimeoutError
        | redis.exceptions.OutOfMemoryError
        | redis.exceptions.ReadOnlyError
        | redis.exceptions.NoPermissionError,
    ):
        return True
    return isinstance(exc, redis.ResponseError) and str(exc).startswith(_OUTAGE_REPLIES)


def unavailable(action: str, exc: redis.RedisError) -> StoreUnavailableError:
    """The outage to wait out, saying what to do when waiting alone will not end it."""
    hint = ""
    if isinstance(exc, redis.exceptions.OutOfMemoryError):
        hint = (
            "; Redis is at its maxmemory: raise it, or shorten ingest.label_horizon_seconds "
            "(memory budget in docs/operations.md)"
        )
    elif isinstance(exc, redis.exceptions.ReadOnlyError):
        hint = "; this Redis is a read-only replica: point redis.url at the primary"
    elif isinstance(exc, redis.exceptions.NoPermissionError):
        hint = "; the Redis user lacks a right Driftwatch needs (docs/operations.md, Redis rights)"
    return StoreUnavailableError(f"{action}: {exc}{hint}")
