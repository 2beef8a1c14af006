"""How Driftwatch reaches its services: the ``[kafka]`` and ``[redis]`` sections and their secrets.

Secrets are never written in the file: a key ending in ``_env`` names an environment variable and
``_file`` names a file holding the value (Kubernetes secret mounts). :class:`Secret` resolves them
when a client connects and masks itself in ``repr``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from monitor.config._parse import require_positive
from monitor.errors import ConfigError

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

#: Twice the Redis socket timeout (``monitor/store/client.py``): the longest the poll loop can wait
#: on one Redis call, with room to spare.
MIN_POLL_INTERVAL_MS = 10_000


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret named by an environment variable or a file; the value never enters config."""

    env: str = ""
    file: str = ""

    def __bool__(self) -> bool:
        return bool(self.env or self.file)

    def __repr__(self) -> str:
        source = f"env:{self.env}" if self.env else f"file:{self.file}" if self.file else "unset"
        return f"Secret({source}, value=***)"

    def reveal(self) -> str | None:
        """Return the secret's value, or ``None`` when no source is configured."""
        if self.env:
            return os.environ.get(self.env)
        if self.file:
            return Path(self.file).read_text().strip()
        return None

    def check(self, key: str) -> None:
        """Fail at start-up, not at the first connect, when the named source is missing."""
        if self.env and self.env not in os.environ:
            raise ConfigError(
                key,
                f"environment variable {self.env} is not set",
                f"export {self.env} before starting, or name the variable that holds it",
            )
        if self.file and not Path(self.file).is_file():
            raise ConfigError(
                key,
                f"secret file {self.file} does not exist",
                "mount or create it, or correct the path",
            )


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    """Where events come from and where dead letters go."""

    bootstrap_servers: tuple[str, ...] = ("127.0.0.1:9092",)
    group_id: str = "driftwatch"
    client_id: str = "driftwatch"
    predictions_topic: str = "predictions"
    outcomes_topic: str = "outcomes"
    dead_letter_topic: str = "driftwatch-dead-letters"
    #: Records per poll: large enough to amortise Redis round trips, small enough that one
    #: batch's work stays far below max_poll_interval.
    max_poll_records: int = 2000
    #: How long the group waits for a silent member before moving its partitions elsewhere:
    #: the pause a crashed instance causes. Heartbeats go out at a third of it.
    session_timeout_ms: int = 10_000
    #: Longest gap between polls before the client leaves the group. The poll loop never waits
    #: on a batch (workers apply them), only on its own Redis calls (claims, sweeps), each bounded
    #: by the Redis socket timeout; the first timeout pauses them. The minimum leaves room.
    max_poll_interval_ms: int = 300_000
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "PLAIN"
    sasl_username_env: str = ""
    sasl_password_env: str = ""
    sasl_password_file: str = ""
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""
    ssl_password_env: str = ""

    @property
    def sasl_password(self) -> Secret:
        return Secret(env=self.sasl_password_env, file=self.sasl_password_file)

    @property
    def ssl_password(self) -> Secret:
        return Secret(env=self.ssl_password_env)

    def validate(self, key: str) -> None:
        """Reject settings that would mix event streams, drop the group or fail to authenticate."""
        topics = {self.predictions_topic, self.outcomes_topic, self.dead_letter_topic}
        if len(topics) != 3:
            raise ConfigError(
                f"{key}.dead_letter_topic", "topics must be distinct", "use three different topics"
            )
        if self.max_poll_interval_ms < MIN_POLL_INTERVAL_MS:
            raise ConfigError(
                f"{key}.max_poll_interval_ms",
                f"{self.max_poll_interval_ms} ms is shorter than one Redis call may take on the "
                "poll loop",
                f"use at least {MIN_POLL_INTERVAL_MS}",
            )
        if self.security_protocol.startswith("SASL") and not self.sasl_password:
            raise ConfigError(
                f"{key}.sasl_password_env",
                f"security_protocol {self.security_protocol} needs a password",
                "name the environment variable holding it (or set sasl_password_file)",
            )
        require_positive(f"{key}.max_poll_records", self.max_poll_records)

    def secrets(self, key: str) -> tuple[tuple[str, Secret], ...]:
        """The secrets this section names, each with the key an error about it should name."""
        return (
            (f"{key}.sasl_password_env", self.sasl_password),
            (f"{key}.ssl_password_env", self.ssl_password),
        )

    def client_kwargs(self) -> dict[str, Any]:
        """kafka-python connection arguments, secrets resolved (never log the result)."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": list(self.bootstrap_servers),
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol.startswith("SASL"):
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = os.environ.get(self.sasl_username_env, "")
            kwargs["sasl_plain_password"] = self.sasl_password.reveal()
        if self.security_protocol.endswith("SSL"):
            for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
                if getattr(self, key):
                    kwargs[key] = getattr(self, key)
            if self.ssl_password:
                kwargs["ssl_password"] = self.ssl_password.reveal()
        return kwargs


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """The shared state store. All instances of one deployment point at the same Redis."""

    url: str = "redis://127.0.0.1:6379/0"
    password_env: str = ""
    password_file: str = ""
    #: Prefix of every key, so several deployments (or tests) can share one Redis.
    key_prefix: str = "dw"

    @property
    def password(self) -> Secret:
        return Secret(env=self.password_env, file=self.password_file)

    def secrets(self, key: str) -> tuple[tuple[str, Secret], ...]:
        """The secrets this section names, each with the key an error about it should name."""
        return ((f"{key}.password_env", self.password),)
