"""How Driftwatch reaches its services: the ``[kafka]`` and ``[redis]`` sections and their secrets.

Secrets are never written in the file: a key ending in ``_env`` names an environment variable and
``_file`` names a file holding the value (Kubernetes secret mounts). :class:`Secret` resolves them
when a client connects and masks itself in ``repr``. Nor are they written in a URL or a broker
address, which are shown in messages and logs: those are refused.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from monitor.config._parse import Report, require_positive
from monitor.config.urls import refuse_url_credentials
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

    def check(self, key: str, errors: list[ConfigError] | None = None) -> None:
        """Fail at start-up, not at the first connect, when the named source is missing.

        The variable's name is repeated only when it may be shown (:meth:`named`), the file's
        never: a secret written here by mistake must not reach the terminal or a log.
        """
        report = Report(errors)
        shown = self._shown_env
        if self.env and not _ENV_NAME.fullmatch(self.env):
            report(
                key,
                "is not the name of an environment variable (letters, digits and _, not "
                "starting with a digit)",
                "write the name of the variable holding the secret, never the secret itself "
                "(if it was, rotate it: it is in the file now)",
            )
        elif self.env and self.env not in os.environ:
            report(
                key,
                f"environment variable {shown} is not set"
                if shown
                else "the environment variable it names is not set",
                f"export {shown or 'it'} before starting, or name the variable that holds it",
            )
        if self.file and not Path(self.file).is_file():
            report(key, "the file it names does not exist", "mount or create it, or fix the path")
        elif self.file and not os.access(self.file, os.R_OK):
            report(key, "the file it names cannot be read", "let Driftwatch's user read it")

    def named(self, key: str) -> str:
        """Where the secret comes from, for a message: ``$DW_PASSWORD (redis.password_env)``.

        A name not in capitals (it may be the secret itself, written in the wrong place) and a
        file's path are not shown, only the key naming them.
        """
        if self.env and self._shown_env:
            return f"${self.env} ({key})"
        return f"the {'environment variable' if self.env else 'file'} {key} names"

    @property
    def _shown_env(self) -> str:
        """The variable's name if it may be shown: written in capitals, as variables are."""
        return self.env if _SHOWN_ENV_NAME.fullmatch(self.env) else ""


#: POSIX's portable environment variable names: what a shell can ``export``.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: The names shown in messages: capitals, digits and _, as environment variables are written.
#: Anything else may be a secret pasted where its variable's name belongs.
_SHOWN_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


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

    def validate(self, key: str, errors: list[ConfigError] | None = None) -> None:
        """Reject settings that would mix event streams, drop the group or fail to authenticate,
        and credentials written in a broker address."""
        report = Report(errors)
        for i, server in enumerate(self.bootstrap_servers):
            if "@" in server:  # not repeated: what precedes the @ may be a password
                report(
                    f"{key}.bootstrap_servers[{i}]",
                    "credentials must not be written in a broker address",
                    f"write host:port only; the SASL user and password go in the variables "
                    f"named by {key}.sasl_username_env and {key}.sasl_password_env",
                )
        topics = {self.predictions_topic, self.outcomes_topic, self.dead_letter_topic}
        if len(topics) != 3:
            report(
                f"{key}.dead_letter_topic", "topics must be distinct", "use three different topics"
            )
        if self.max_poll_interval_ms < MIN_POLL_INTERVAL_MS:
            report(
                f"{key}.max_poll_interval_ms",
                f"{self.max_poll_interval_ms} ms is shorter than one Redis call may take on the "
                "poll loop",
                f"use at least {MIN_POLL_INTERVAL_MS}",
            )
        if self.security_protocol.startswith("SASL") and not self.sasl_password:
            report(
                f"{key}.sasl_password_env",
                f"security_protocol {self.security_protocol} needs a password",
                "name the environment variable holding it (or set sasl_password_file)",
            )
        require_positive(report, f"{key}.max_poll_records", self.max_poll_records)

    def secrets(self, key: str) -> tuple[tuple[str, Secret], ...]:
        """The secrets this section names, each with the key an error about it should name."""
        sasl = self.security_protocol.startswith("SASL")
        return (
            (f"{key}.sasl_username_env", Secret(env=self.sasl_username_env if sasl else "")),
            (_source_key(key, "sasl_password", self.sasl_password), self.sasl_password),
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

    def validate(self, key: str, errors: list[ConfigError] | None = None) -> None:
        """A URL redis-py can open, without a password in it: one there would be shown by every
        message naming the URL, and would override the password named by ``password_env``."""
        report = Report(errors)
        try:
            scheme = urlsplit(self.url).scheme
        except ValueError:
            scheme = ""
        if scheme not in REDIS_SCHEMES:
            report(
                f"{key}.url",
                "is not a Redis URL",
                "write redis://host:port/db (rediss:// for TLS, unix:///path/to.sock)",
            )
        refuse_url_credentials(
            report,
            f"{key}.url",
            self.url,
            f"remove it from the URL and name the environment variable holding it in "
            f"{key}.password_env (or a file holding it in {key}.password_file); a user name may "
            "stay in the URL",
        )

    def secrets(self, key: str) -> tuple[tuple[str, Secret], ...]:
        """The secrets this section names, each with the key an error about it should name."""
        return ((_source_key(key, "password", self.password), self.password),)


def _source_key(key: str, name: str, secret: Secret) -> str:
    """The key that names ``secret``'s source: ``{name}_env``, or ``{name}_file`` when only a
    file is named."""
    return f"{key}.{name}_file" if secret.file and not secret.env else f"{key}.{name}_env"


#: The URL schemes redis-py opens.
REDIS_SCHEMES = ("redis", "rediss", "unix")
