"""Kafka clients, built from ``[kafka]`` settings in one place, and the brokers' refusals.

Consumers, producers and admin clients are all created by :func:`kafka_client`, so a broker that
refuses the SASL credentials or the user's rights reads the same in the daemon and in every
command: one line (:class:`~monitor.errors.AccessRefusedError`) naming the brokers and the
settings to check, never a traceback or an endless reconnect. Anything else kafka-python raises
goes on unchanged: each caller knows what an unreachable broker means for it. The daemon's
dependency probe, which reports what fails rather than raising, words it with :func:`refusal`.

kafka-python 3.0 reports neither refusal met while a client bootstraps: it retries an untrusted
certificate or a refused login until ``bootstrap_timeout_ms`` (30 s) and then raises a bare
``KafkaTimeoutError``. So over TLS the brokers' certificate is checked first, with the very
:class:`ssl.SSLContext` the client then uses (:func:`check_tls`: milliseconds, one line naming
``kafka.ssl_cafile``), and a SASL client that timed out against brokers that do accept the
connection is reported as a refused login (:func:`login_refused`).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import Any, TypeVar

from kafka import errors as kafka_errors

from monitor.config import KafkaSettings
from monitor.errors import AccessRefusedError, ConfigError

C = TypeVar("C")


def _classes(*names: str) -> tuple[type[BaseException], ...]:
    """kafka-python's exception classes of these names; looked up by name because releases
    renamed and dropped some (``AuthenticationFailedError`` is 2.x only)."""
    return tuple(getattr(kafka_errors, name) for name in names if hasattr(kafka_errors, name))


#: The brokers refused who we are: wrong user or password, or a mechanism they do not enable.
CREDENTIALS_REFUSED = _classes(
    "SaslAuthenticationFailedError",
    "AuthenticationFailedError",
    "AuthenticationMethodNotSupported",
    "UnsupportedSaslMechanismError",
    "IllegalSaslStateError",
)
#: The brokers know the user and refuse it a topic, the group or the cluster (Kafka ACLs).
RIGHTS_REFUSED = _classes(
    "AuthorizationError",
    "TopicAuthorizationFailedError",
    "GroupAuthorizationFailedError",
    "ClusterAuthorizationFailedError",
)
#: A client gave up bootstrapping: no broker answered, or (kafka-python 3.0) none let it log in.
BOOTSTRAP_FAILED = _classes("KafkaTimeoutError", "NoBrokersAvailable")
#: How long :func:`check_tls` and :func:`login_refused` wait for one broker's TCP connection and
#: TLS handshake: a healthy broker answers in milliseconds.
CONNECT_CHECK_SECONDS = 5.0


#: Longest wait between reconnection attempts (kafka-python's default is 30 s; Java's client
#: waits 1 s). kafka-python also backs its metadata refresh off by it while no broker answers,
#: so after an outage of a few seconds the consumer went up to ~35 s without metadata, hence
#: without fetching, once the broker was back (measured with a broker restarted under a daemon
#: and a producer). Reconnecting every second costs nothing while a broker is down.
RECONNECT_BACKOFF_MAX_MS = 1000


def kafka_client(factory: Callable[..., C], settings: KafkaSettings, **options: Any) -> C:
    """``factory`` (``KafkaConsumer``, ``KafkaProducer``, ``KafkaAdminClient``) connected as
    ``settings`` say, with ``options`` for this use; a refusal raises
    :class:`~monitor.errors.AccessRefusedError` (the client connects to a broker to learn its
    version, so wrong credentials fail here)."""
    options = {"reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS, **options}
    kwargs = settings.client_kwargs()
    context = None
    if settings.security_protocol.endswith("SSL"):
        kwargs["ssl_context"] = context = tls_context(settings)
        check_tls(settings, context)
    try:
        return factory(**kwargs, **options)
    except kafka_errors.KafkaError as exc:
        refused = refusal(exc, settings) or login_refused(exc, settings, context)
        if refused is None:
            raise
        raise refused from exc


def tls_context(settings: KafkaSettings) -> ssl.SSLContext:
    """The TLS context of every client, built as kafka-python builds its own (TLS 1.2 or newer,
    certificate and host name checked, no stricter X.509 flags) but here, so :func:`check_tls`
    tests exactly what the client will use; the system's CAs unless ``kafka.ssl_cafile`` names
    one. A file that cannot be loaded is a :class:`~monitor.errors.ConfigError` naming its key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the certificate and host name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        if settings.ssl_cafile:
            context.load_verify_locations(settings.ssl_cafile)
        else:
            context.load_default_certs()
    except OSError as exc:  # ssl.SSLError is one: the file is not PEM
        raise ConfigError(
            "kafka.ssl_cafile",
            f"cannot be loaded as PEM CA certificates ({exc})",
            "name a readable PEM file holding the CA that signed the brokers' certificates",
        ) from exc
    if settings.ssl_certfile:
        try:
            context.load_cert_chain(
                settings.ssl_certfile, settings.ssl_keyfile or None, settings.ssl_password.reveal()
            )
        except OSError as exc:
            raise ConfigError(
                "kafka.ssl_certfile",
                f"the client certificate and key cannot be loaded ({exc})",
                "name readable PEM files in kafka.ssl_certfile and kafka.ssl_keyfile, and the "
                "variable holding the key's password in kafka.ssl_password_env if it has one",
            ) from exc
    return context


def check_tls(settings: KafkaSettings, context: ssl.SSLContext) -> None:
    """Complete one TLS handshake with the first bootstrap broker that accepts a connection;
    raise :class:`~monitor.errors.AccessRefusedError` when it fails (an untrusted certificate, a
    host name the certificate does not name, a listener that does not speak TLS). Brokers that
    do not answer are left to the client, which reports them as unreachable."""
    for server in settings.bootstrap_servers:
        host, port = _host_port(server)
        try:
            with (
                socket.create_connection((host, port), CONNECT_CHECK_SECONDS) as raw,
                context.wrap_socket(raw, server_hostname=host),
            ):
                return
        except ssl.SSLCertVerificationError as exc:
            ca = f"the CA in {settings.ssl_cafile}" if settings.ssl_cafile else "the system's CAs"
            raise AccessRefusedError(
                f"Kafka at {server}: its TLS certificate is not trusted ({exc.verify_message}): "
                f"set kafka.ssl_cafile to the CA that signed the brokers' certificates (now "
                f"{ca}), and name the brokers as their certificates do in kafka.bootstrap_servers"
            ) from exc
        except ssl.SSLError as exc:
            raise AccessRefusedError(
                f"Kafka at {server}: the TLS handshake failed ({exc.reason or exc}): check that "
                f"kafka.bootstrap_servers names TLS listeners (kafka.security_protocol is "
                f"{settings.security_protocol}), and kafka.ssl_certfile / kafka.ssl_keyfile if "
                "the brokers ask for a client certificate"
            ) from exc
        except OSError:
            continue


def login_refused(
    exc: BaseException, settings: KafkaSettings, context: ssl.SSLContext | None
) -> AccessRefusedError | None:
    """The SASL login refused, inferred: a SASL client gave up bootstrapping although a broker
    accepts connections now (and completes the TLS handshake with the client's ``context``, if
    any). kafka-python 3.0 retries a refused login until its bootstrap timeout and keeps the
    broker's answer to itself, so nothing else can tell; ``None`` when no broker answers (then it
    is unreachable) or for other errors."""
    if not (isinstance(exc, BOOTSTRAP_FAILED) and settings.security_protocol.startswith("SASL")):
        return None
    for server in settings.bootstrap_servers:
        host, port = _host_port(server)
        try:
            with socket.create_connection((host, port), CONNECT_CHECK_SECONDS) as raw:
                if context is not None:
                    context.wrap_socket(raw, server_hostname=host).close()
        except OSError:  # ssl.SSLError included
            continue
        tls = " and completes the TLS handshake" if context is not None else ""
        return AccessRefusedError(
            f"Kafka at {server} accepts the connection{tls} but let no client log in "
            f"({exc}): it refused the user, the password or the mechanism: {_sasl_fix(settings)}"
        )
    return None


def _host_port(server: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` of a bootstrap server (Kafka's default port if none)."""
    host, _, port = server.rpartition(":")
    if not host or not port.isdigit():
        host, port = server, "9092"
    return host.strip("[]"), int(port)


def refusal(exc: BaseException, settings: KafkaSettings | None = None) -> AccessRefusedError | None:
    """The one line for brokers refusing the credentials or the user's rights; ``None`` for any
    other error. Without ``settings`` (an error met outside :func:`kafka_client`) it names the
    settings' keys only."""
    where = f"Kafka at {', '.join(settings.bootstrap_servers)}" if settings else "Kafka"
    if isinstance(exc, CREDENTIALS_REFUSED):
        return AccessRefusedError(f"{where} refused the credentials ({exc}): {_sasl_fix(settings)}")
    if isinstance(exc, RIGHTS_REFUSED):
        group = f" ({settings.group_id})" if settings else ""
        return AccessRefusedError(
            f"{where} refused the user a right Driftwatch needs ({exc}): grant it read on the "
            f"event topics, write on the dead-letter topic and the consumer group "
            f"kafka.group_id{group}"
        )
    return None


def _sasl_fix(settings: KafkaSettings | None) -> str:
    """What to check when the brokers refuse the SASL credentials: where the user and the
    password come from, and the mechanism."""
    if settings is None:
        return (
            "check the user and password named by kafka.sasl_username_env and "
            "kafka.sasl_password_env (or kafka.sasl_password_file), and kafka.sasl_mechanism"
        )
    named = " and ".join(
        secret.named(key) for key, secret in settings.secrets("kafka") if secret and ".sasl_" in key
    )
    named = named or "kafka.sasl_username_env and kafka.sasl_password_env"
    mechanism = settings.sasl_mechanism
    return f"check the user and password in {named}, and kafka.sasl_mechanism ({mechanism})"
