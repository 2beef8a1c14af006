"""Kafka clients, built from ``[kafka]`` settings in one place, and the brokers' refusals.

Consumers, producers and admin clients are all created by :func:`kafka_client`, so a broker that
refuses the SASL credentials or the user's rights reads the same in the daemon and in every
command: one line (:class:`~monitor.errors.AccessRefusedError`) naming the brokers and the
settings to check, never a traceback or an endless reconnect. Anything else kafka-python raises
goes on unchanged: each caller knows what an unreachable broker means for it. The daemon's
dependency probe, which reports what fails rather than raising, words it with :func:`refusal`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from kafka import errors as kafka_errors

from monitor.config import KafkaSettings
from monitor.errors import AccessRefusedError

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


def kafka_client(factory: Callable[..., C], settings: KafkaSettings, **options: Any) -> C:
    """``factory`` (``KafkaConsumer``, ``KafkaProducer``, ``KafkaAdminClient``) connected as
    ``settings`` say, with ``options`` for this use; a refusal raises
    :class:`~monitor.errors.AccessRefusedError` (the client connects to a broker to learn its
    version, so wrong credentials fail here)."""
    try:
        return factory(**settings.client_kwargs(), **options)
    except kafka_errors.KafkaError as exc:
        refused = refusal(exc, settings)
        if refused is None:
            raise
        raise refused from exc


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
