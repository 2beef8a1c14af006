"""The Redis connection, built from ``[redis]`` settings."""

from __future__ import annotations

import redis

from monitor.config import RedisSettings
from monitor.errors import StoreUnavailableError

#: Fail a command fast when Redis is down, so the loop pauses and backs off instead of hanging.
SOCKET_TIMEOUT_SECONDS = 5.0


def connect(
    settings: RedisSettings, *, timeout_seconds: float = SOCKET_TIMEOUT_SECONDS
) -> redis.Redis:
    """A client for the shared state store; the password comes from env or file, never config."""
    extra = {"password": settings.password.reveal()} if settings.password else {}
    return redis.Redis.from_url(
        settings.url,
        **extra,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        health_check_interval=30,
    )


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
    return StoreUnavailableError(f"{action}: {exc}{hint}")
