"""The Redis connection, built from ``[redis]`` settings, and what its failures mean.

A failure is an outage to wait out (:func:`is_outage`, :func:`unavailable`) or a refusal
(:func:`refusal`): Redis refused the credentials or the user's rights, which no wait will change.
A process checks both when it starts (:func:`check_access`, :func:`check_rights`), so a wrong
password is one line naming the setting to fix, not a retry loop or a traceback. Messages show
the URL through :func:`~monitor.config.masked_url`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import hiredis
import redis
from redis.backoff import NoBackoff
from redis.connection import (
    Encoder,
    HiredisRespSerializer,
    PythonRespSerializer,
    parse_url,
)
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, Sentinel

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
    Redis restart, or with a failover), never after a timeout: the caller decides what a timeout
    means.

    With ``redis.sentinels`` the client asks the sentinels for the primary on every new
    connection, and drops its connections when they fail or the primary they reach was demoted
    (redis-py turns its READONLY reply into a connection error), so the retry above reaches the
    promoted replica. Every process (daemon, CLI, dashboard) connects here, so all follow.
    """
    options: dict[str, Any] = {
        "command_packer": CommandPacker(),
        "socket_timeout": timeout_seconds,
        "socket_connect_timeout": timeout_seconds,
        "health_check_interval": 30,
        "retry": Retry(
            NoBackoff(), retry_connection_errors, supported_errors=(redis.ConnectionError,)
        ),
    }
    if settings.password:
        options["password"] = settings.password.reveal()
    options.update(_tls_options(settings))
    if not settings.sentinels:
        return redis.Redis.from_url(settings.url, **options)
    target = parse_url(settings.url)  # scheme, user and db; the host is the service's name
    for name in ("host", "port", "connection_class"):
        target.pop(name, None)
    if urlsplit(settings.url).scheme == "rediss":
        target["ssl"] = True
    # The sentinels get the same TLS files and timeouts, their own password and no retry (redis-py
    # moves on to the next sentinel when one fails).
    to_sentinels = {k: v for k, v in options.items() if k.startswith(("socket_", "ssl"))}
    if target.get("ssl"):
        to_sentinels["ssl"] = True
    if settings.sentinel_password:
        to_sentinels["password"] = settings.sentinel_password.reveal()
    sentinel = Sentinel(settings.sentinel_addresses(), sentinel_kwargs=to_sentinels)
    return sentinel.master_for(settings.service_name, **target, **options)


class CommandPacker:
    """Packs a command into RESP in one call to hiredis, as redis-py does but without its
    per-argument Python step: a batch's ``MGET`` of thousands of join records cost ~0.43 µs per
    key through redis-py's packer and ~0.18 through this one.

    Only what hiredis packs exactly as redis-py would takes the short way: ``str`` (UTF-8),
    ``bytes``, ``int`` and ``float`` (its ``repr``) after a one-word command name. Anything else
    (a command name with spaces such as ``"CONFIG GET"``, a ``bool``, a ``bytearray``, ``None``)
    goes to redis-py's own packer, which packs it or raises its usual error. Stateless, so one
    instance serves every connection of a pool.
    """

    def __init__(self) -> None:
        encode = Encoder(encoding="utf-8", encoding_errors="strict", decode_responses=False).encode
        self._fallback = HiredisRespSerializer(PythonRespSerializer(6000, encode).pack, encode)

    def pack(self, *args: Any) -> list[bytes]:
        name = args[0]
        if type(name) is str and " " not in name:
            try:
                return [hiredis.pack_command(args)]
            except (TypeError, UnicodeError):  # what it does not take: redis-py's turn
                pass
        return self._fallback.pack(*args)


def _tls_options(settings: RedisSettings) -> dict[str, Any]:
    """redis-py's TLS arguments from ``redis.ssl_*`` (only for ``rediss://``, as validated)."""
    names = {
        "ssl_cafile": "ssl_ca_certs",
        "ssl_certfile": "ssl_certfile",
        "ssl_keyfile": "ssl_keyfile",
    }
    return {ours: getattr(settings, key) for key, ours in names.items() if getattr(settings, key)}


def describe(settings: RedisSettings) -> str:
    """Where the client connects, fit for a message: ``Redis at <masked URL>``, or the service
    and the sentinels asked for it."""
    return f"Redis {_where(settings)}"


def _where(settings: RedisSettings) -> str:
    if not settings.sentinels:
        return f"at {masked_url(settings.url)}"
    return (
        f"through sentinels {', '.join(settings.sentinels)} (primary {settings.service_name!r}, "
        f"{masked_url(settings.url)})"
    )


#: Replies that mean "Redis cannot serve this now", not "this command is wrong".
#: NOREPLICAS: a primary with ``min-replicas-to-write`` refuses writes while too few replicas
#: keep up (docs/operations.md, Sentinel).
_OUTAGE_REPLIES = ("BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS")


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
    elif str(exc).startswith("NOREPLICAS"):
        hint = (
            "; the primary's min-replicas-to-write is not met: bring its replicas back (or "
            "lower the setting)"
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
    checks) it names the settings' keys only. A server certificate the CA of ``redis.ssl_cafile``
    did not sign, or a TLS handshake the server refused, is a refusal too: waiting changes
    neither."""
    where = describe(settings) if settings else "Redis"
    user = _user(settings.url) if settings else ""
    if tls := _tls_failure(exc):
        return AccessRefusedError(f"{where}: the TLS handshake failed ({tls}): {_TLS_FIX[tls]}")
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
        if isinstance(exc, MasterNotFoundError):
            raise _no_primary(client, settings) from exc
        fix = "redis.sentinels and redis.service_name" if settings.sentinels else "redis.url"
        raise StoreUnavailableError(
            f"Redis is unreachable {_where(settings)} ({exc}): start it (`driftwatch services up` "
            f"for a local one) or fix {fix}"
        ) from exc


def _no_primary(
    client: redis.Redis, settings: RedisSettings
) -> AccessRefusedError | StoreUnavailableError:
    """Why no sentinel named a primary, asking each in turn: redis-py's own message repeats
    every sentinel client's whole configuration, and does not tell a refused password (to fix)
    from a sentinel that is down or a primary being failed over (to wait out)."""
    where = describe(settings)
    said: list[str] = []
    for sentinel in client.connection_pool.sentinel_manager.sentinels:
        options = sentinel.connection_pool.connection_kwargs
        address = f"{options['host']}:{options['port']}"
        try:
            primary = sentinel.sentinel_get_master_addr_by_name(settings.service_name)
        except redis.RedisError as exc:
            if tls := _tls_failure(exc):
                return AccessRefusedError(
                    f"{where}: the TLS handshake with sentinel {address} failed ({tls}): "
                    f"{_TLS_FIX[tls]}"
                )
            if _credentials_refused(exc):
                key, secret = settings.secrets("redis")[1]
                fix = (
                    f"check the password in {secret.named(key)}"
                    if secret
                    else "they want a password: name the environment variable holding it in "
                    "redis.sentinel_password_env (or a file holding it in "
                    "redis.sentinel_password_file)"
                )
                return AccessRefusedError(
                    f"{where}: sentinel {address} refused the credentials ({exc}): {fix}"
                )
            said.append(f"{address} {exc}")
            continue
        said.append(
            f"{address} does not monitor {settings.service_name!r}"
            if primary is None
            else f"{address} names {primary[0]}:{primary[1]}, which is down or being failed over"
        )
    return StoreUnavailableError(
        f"Redis is unreachable {_where(settings)}: no sentinel names a reachable primary "
        f"({'; '.join(said)}): start the sentinels and the primary, or fix redis.sentinels and "
        "redis.service_name"
    )


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


#: What to fix for each kind of TLS failure :func:`_tls_failure` tells apart.
_TLS_FIX = {
    "certificate verify failed": (
        "the server's certificate is not signed by the CA in redis.ssl_cafile (or its name does "
        "not match the URL's host): name the CA that signed it in redis.ssl_cafile"
    ),
    "handshake refused": (
        "the server refused this client: if it requires client certificates (tls-auth-clients), "
        "set redis.ssl_certfile and redis.ssl_keyfile to a certificate its CA signed; check that "
        "redis.url uses rediss:// only for a TLS port"
    ),
}


def _tls_failure(exc: BaseException) -> str:
    """Which TLS failure ``exc`` is (a key of :data:`_TLS_FIX`), ``""`` for any other error.

    redis-py reports a failed handshake as a ``ConnectionError`` whose text carries OpenSSL's: a
    TLS alert from the server, the server closing the TLS session at once (how Redis turns away
    a client without a certificate under TLS 1.3), or a reply that is not TLS at all.
    """
    if not isinstance(exc, redis.ConnectionError):
        return ""
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "certificate verify failed"
    refused = ("alert", "EOF occurred in violation of protocol", "WRONG_VERSION_NUMBER")
    if "_ssl.c" in text and any(sign in text for sign in refused):
        return "handshake refused"
    return ""


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
