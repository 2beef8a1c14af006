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
        if not self.security_protocol.endswith("SSL"):
            _refuse_tls_files(
                report,
                key,
                self,
                f"security_protocol {self.security_protocol}",
                "set security_protocol to SASL_SSL (or SSL), or remove the TLS files",
            )
        require_positive(report, f"{key}.max_poll_records", self.max_poll_records)

    def secrets(self, key: str) -> tuple[tuple[str, Secret], ...]:
        """The secrets this section names, each with the key an error about it should name."""
        sasl = self.security_protocol.startswith("SASL")
        return (
            (f"{key}.sasl_username_env", Secret(env=self.sasl_username_env if sasl else "")),
            (_source_key(key, "sasl_password", self.sasl_password), self.sasl_password),
            (f"{key}.ssl_password_env", self.ssl_password),
            *_tls_files(key, self),
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
    """The shared state store. All instances of one deployment point at the same Redis.

    ``url`` names one Redis; with ``sentinels`` the primary is found through Redis Sentinel
    instead, and ``url`` names the service (``redis://driftwatch@mymaster/0``): its scheme
    (``rediss`` for TLS, to the primary and the sentinels), user and db still apply.
    """

    url: str = "redis://127.0.0.1:6379/0"
    password_env: str = ""
    password_file: str = ""
    #: Prefix of every key, so several deployments (or tests) can share one Redis.
    key_prefix: str = "dw"
    #: TLS (``rediss://``): the CA that signed the server's certificate, and a client
    #: certificate and key when the server asks for one (``tls-auth-clients``).
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""
    #: Sentinels (``host:port``) that know the primary of ``service_name``.
    sentinels: tuple[str, ...] = ()
    service_name: str = ""
    #: The sentinels' own password (``requirepass`` in sentinel.conf), when they have one.
    sentinel_password_env: str = ""
    sentinel_password_file: str = ""

    @property
    def password(self) -> Secret:
        return Secret(env=self.password_env, file=self.password_file)

    @property
    def sentinel_password(self) -> Secret:
        return Secret(env=self.sentinel_password_env, file=self.sentinel_password_file)

    def validate(self, key: str, errors: list[ConfigError] | None = None) -> None:
        """A URL redis-py can open, without a password in it: one there would be shown by every
        message naming the URL, and would override the password named by ``password_env``.
        TLS files only with ``rediss://``; with sentinels, a URL naming the service."""
        report = Report(errors)
        try:
            parts = urlsplit(self.url)
            scheme, host, port = parts.scheme, parts.hostname or "", parts.port
        except ValueError:
            scheme, host, port = "", "", None
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
        if scheme != "rediss":
            _refuse_tls_files(
                report,
                key,
                self,
                f"{key}.url",
                "write the URL as rediss://…, or remove the TLS files",
            )
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            report(
                f"{key}.ssl_keyfile" if self.ssl_certfile else f"{key}.ssl_certfile",
                "a client certificate needs its key and the key its certificate",
                "set both ssl_certfile and ssl_keyfile, or neither",
            )
        self._validate_sentinels(key, report, scheme, host, port)

    def _validate_sentinels(
        self, key: str, report: Report, scheme: str, host: str, port: int | None
    ) -> None:
        """Sentinels need a service name, and the URL then names that service, not a host:
        a host written there would be shown in every message while never being used."""
        if not self.sentinels:
            if self.service_name or self.sentinel_password:
                report(
                    f"{key}.service_name" if self.service_name else f"{key}.sentinel_password_env",
                    f"only used with {key}.sentinels",
                    f'list the sentinels in {key}.sentinels = ["host:26379", …], or remove it',
                )
            return
        for i, sentinel in enumerate(self.sentinels):
            if not _host_port(sentinel):
                report(
                    f"{key}.sentinels[{i}]",
                    "is not host:port" if "@" not in sentinel else "credentials must not be here",
                    "write host:port (26379 is Sentinel's usual port); a password goes in "
                    f"{key}.sentinel_password_env or {key}.sentinel_password_file",
                )
        if not self.service_name:
            report(
                f"{key}.service_name",
                f"{key}.sentinels need the name of the monitored primary",
                "write the name given in sentinel.conf's `sentinel monitor NAME …` line",
            )
        elif scheme == "unix" or host != self.service_name.lower() or port is not None:
            user = urlsplit(self.url).username if scheme else None
            report(
                f"{key}.url",
                f"with {key}.sentinels the URL names the service, not a host: the sentinels "
                "give the primary's address",
                f"write {'rediss' if scheme == 'rediss' else 'redis'}://"
                f"{user + '@' if user else ''}{self.service_name}/0 (rediss:// for TLS; the user "
                "and db still apply)",
            )

    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """``sentinels`` as (host, port) pairs, for redis-py (validated: none is malformed)."""
        return [pair for address in self.sentinels if (pair := _host_port(address))]

    def secrets(self, key: str) -> tuple[tuple[str, Secret], ...]:
        """The secrets this section names, each with the key an error about it should name."""
        return (
            (_source_key(key, "password", self.password), self.password),
            (_source_key(key, "sentinel_password", self.sentinel_password), self.sentinel_password),
            *_tls_files(key, self),
        )


#: The TLS files a connection section may name: a CA, and a client certificate and its key.
TLS_FILES = ("ssl_cafile", "ssl_certfile", "ssl_keyfile")


def _refuse_tls_files(report: Report, key: str, section: object, what: str, fix: str) -> None:
    """TLS files named by a section whose connection (``what``) does not use TLS."""
    for name in TLS_FILES:
        if getattr(section, name):
            report(f"{key}.{name}", f"TLS files are set but {what} does not use TLS", fix)


def _tls_files(key: str, section: object) -> tuple[tuple[str, Secret], ...]:
    """The section's TLS files, checked with the secrets (they must exist and be readable
    where the process runs, and only processes using the section need them: the dashboard
    never opens Kafka's CA)."""
    return tuple((f"{key}.{name}", Secret(file=getattr(section, name))) for name in TLS_FILES)


def _host_port(address: str) -> tuple[str, int] | None:
    """``("host", port)`` from ``host:port``, or ``None`` when it is not one."""
    host, _, port = address.rpartition(":")
    if not host or "@" in host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host.strip("[]"), int(port)


def _source_key(key: str, name: str, secret: Secret) -> str:
    """The key that names ``secret``'s source: ``{name}_env``, or ``{name}_file`` when only a
    file is named."""
    return f"{key}.{name}_file" if secret.file and not secret.env else f"{key}.{name}_env"


#: The URL schemes redis-py opens.
REDIS_SCHEMES = ("redis", "rediss", "unix")
