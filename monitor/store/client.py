"""The Redis connection, built from ``[redis]`` settings."""

from __future__ import annotations

import redis

from monitor.config import RedisSettings

#: Fail a command fast when Redis is down, so the loop pauses and backs off instead of hanging.
SOCKET_TIMEOUT_SECONDS = 5.0


def connect(settings: RedisSettings) -> redis.Redis:
    """A client for the shared state store; the password comes from env or file, never config."""
    extra = {"password": settings.password.reveal()} if settings.password else {}
    return redis.Redis.from_url(
        settings.url,
        **extra,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        health_check_interval=30,
    )
