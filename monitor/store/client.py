"""The Redis connection, built from ``[redis]`` settings, and what its failures mean.

A failure is an outage to wait out (:func:`is_outage`, :func:`unavailable`) or a refusal
(:func:`refusal`): Redis refused the credentials or the user's rights, which no wait will change.
A process checks both when it starts (:func:`check_access`, :func:`check_rights`), so a wrong
password is one line naming the setting to fix, not a retry loop or a traceback. Messages show
the URL through :func:`~monitor.config.masked_url`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from monitor.config import RedisSettings, masked_url
from monitor.errors import AccessRefusedError, StoreUnavailableError

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
    of the command: unreachable, hung, full, read-only, missing rights, busy with a script.

    A refusal of the credentials after start-up (a rotated password) is an outage too for the
    running loop: it isolates bad records on any other error, and these are not the records'
    fault. At start-up :func:`check_access` reports it as a refusal instead.
    """
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
    elif _credentials_refused(exc):
        hint = (
            "; Redis now refuses the credentials (was its password changed?): fix the secret "
            "named by redis.password_env or redis.password_file and restart"
        )
    return StoreUnavailableError(f"{action}: {exc}{hint}")


def refusal(exc: BaseException, settings: RedisSettings | None = None) -> AccessRefusedError | None:
    """The one line for Redis refusing the credentials or the user's rights, naming what to
    check; ``None`` for any other error. Without ``settings`` (an error met after the start-up
    checks) it names the settings' keys only."""
    where = f"Redis at {masked_url(settings.url)}" if settings else "Redis"
    user = _user(settings.url) if settings else ""
    if _credentials_refused(exc):
        if settings is None:
            fix = "check the password named by redis.password_env or redis.password_file"
        elif settings.password:
            key, secret = settings.secrets("redis")[0]
            fix = f"check the password in {secret.named(key)}"
        else:
            fix = (
                "this Redis wants a password: name the environment variable holding it in "
                "redis.password_env (or a file holding it in redis.password_file)"
            )
        fix += f" and the user {user!r} in redis.url" if user else ""
        return AccessRefusedError(f"{where} refused the credentials ({exc}): {fix}")
    if isinstance(exc, redis.exceptions.NoPermissionError):
        who = (
            f"user {user!r}"
            if user
            else "the default user"
            if settings
            else "the user of redis.url"
        )
        return AccessRefusedError(
            f"{where} refused {who} a command Driftwatch needs ({exc}): grant the rights of "
            "docs/operations.md (Redis rights), or name another user in redis.url"
        )
    return None


def check_access(client: redis.Redis, settings: RedisSettings) -> None:
    """PING at start-up: raise :class:`~monitor.errors.AccessRefusedError` when Redis refuses
    the credentials, :class:`~monitor.errors.StoreUnavailableError` when it does not answer
    (the client connects and authenticates on its first command)."""
    try:
        client.ping()
    except redis.RedisError as exc:
        refused = refusal(exc, settings)
        if refused is not None:
            raise refused from exc
        raise StoreUnavailableError(
            f"Redis is unreachable at {masked_url(settings.url)} ({exc}): start it (`driftwatch "
            "services up` for a local one) or fix redis.url"
        ) from exc


#: The daemon's rights in one round trip, changing nothing: a read, a write that removes a
#: member no set can hold (names never contain the unit separator) and TIME, from a script.
_RIGHTS_PROBE = (
    "redis.call('EXISTS', KEYS[1]) redis.call('SREM', KEYS[1], ARGV[1]) return redis.call('TIME')"
)


def check_rights(client: redis.Redis, settings: RedisSettings, key: str) -> None:
    """Raise :class:`~monitor.errors.AccessRefusedError` when the Redis user lacks a right the
    daemon needs (docs/operations.md, Redis rights) on ``key``, one of the deployment's keys.

    Without it the daemon would start, then wait for ever on its first write. An outage met here
    (a read-only replica, a full Redis) is left to the loop, which waits it out.
    """
    try:
        client.eval(_RIGHTS_PROBE, 1, key, "\x1f")
    except redis.RedisError as exc:
        refused = refusal(exc, settings)
        if refused is not None:
            raise refused from exc
        if not is_outage(exc):
            raise


def _credentials_refused(exc: BaseException) -> bool:
    """Wrong password, unknown or disabled user, or no password where one is needed."""
    if isinstance(
        exc,
        redis.AuthenticationError
        | redis.exceptions.AuthenticationWrongNumberOfArgsError
        | redis.exceptions.AuthorizationError,
    ):
        return True
    return isinstance(exc, redis.ResponseError) and str(exc).startswith(("WRONGPASS", "NOAUTH"))


def _user(url: str) -> str:
    """The ACL user named in a Redis URL, ``""`` for the default user."""
    try:
        return urlsplit(url).username or ""
    except ValueError:
        return ""
