"""What the commands share: the ``--config`` option, one-line errors, model lookup and the
checked connection to Redis."""

from __future__ import annotations

import difflib
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ParamSpec, TypeVar

import click

from monitor.config import ModelSettings, Settings
from monitor.errors import ConfigError, DriftwatchError

if TYPE_CHECKING:
    from monitor.store.query import Query

P = ParamSpec("P")
R = TypeVar("R")

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("config.toml"),
    show_default=True,
    help="Driftwatch configuration file (TOML).",
)


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn our own errors into a one-line message and an exit code, never a traceback.

    Config errors exit 2 (fix the file), every other :class:`~monitor.errors.DriftwatchError`
    exits 1 (a service is missing, failed or refused the credentials), so scripts can tell the
    two apart. Redis and Kafka errors the commands do not handle themselves are worded here.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)
        except DriftwatchError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(1)
        except Exception as exc:
            hint = _explained(exc)
            if hint is None:
                raise
            click.secho(f"error: {hint}", fg="red", err=True)
            sys.exit(1)

    return wrapper


def open_query(settings: Settings) -> Query:
    """The query layer over the deployment's Redis, reached first: a refused password, or data a
    newer release wrote, is one line saying what to do, before the command reads anything."""
    from monitor.store import layout
    from monitor.store.client import check_access, connect
    from monitor.store.query import Query

    client = connect(settings.redis)
    check_access(client, settings.redis)
    layout.check(client, settings.redis)
    return Query(client, settings)


def _explained(exc: Exception) -> str | None:
    """What to do when Redis or Kafka refused or could not be reached; ``None`` for any other
    error.

    redis-py and kafka-python are imported only by commands that use them, so ``--help`` stays
    fast; a library is loaded by the time its error reaches here, and so are the modules that
    word its refusals. Commands that talk to Kafka mostly say so themselves (with the servers
    they tried); this catches the paths that do not: a right refused in the middle of a command,
    a connection lost after the first command.
    """
    redis = sys.modules.get("redis")
    if redis is not None and isinstance(exc, redis.RedisError):
        from monitor.store.client import refusal

        refused = refusal(exc)
        if refused is not None:
            return str(refused)
        if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
            return (
                f"Redis is unreachable ({exc}): start it (driftwatch services up) or point "
                "redis.url (or redis.sentinels) at it"
            )
    kafka_errors = sys.modules.get("kafka.errors")
    if kafka_errors is None:
        return None
    from monitor.ingest.clients import refusal as kafka_refusal

    refused = kafka_refusal(exc)
    if refused is not None:
        return str(refused)
    # Looked up by name: kafka-python renamed and dropped some of these between releases.
    unreachable = tuple(
        getattr(kafka_errors, name)
        for name in ("NoBrokersAvailable", "KafkaConnectionError", "KafkaTimeoutError")
        if hasattr(kafka_errors, name)
    )
    if unreachable and isinstance(exc, unreachable):
        return (
            f"Kafka is unreachable ({exc}): start it (driftwatch services up) or point "
            "kafka.bootstrap_servers at it"
        )
    return None


def require_model(settings: Settings, name: str) -> ModelSettings:
    """The configured model called ``name``. A ``--model`` naming no model is a usage error
    (exit 2, :class:`CommandLineError`) that lists the configured models, its near miss first,
    caught before anything connects to Redis or Kafka: the command line is wrong, not the config
    file."""
    model = settings.model(name)
    if model is None:
        names = [m.name for m in settings.models]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise CommandLineError(
            f"--model: no model named {name!r}; {hint}configured: {', '.join(names)}"
        )
    return model


class CommandLineError(click.ClickException):
    """A command line naming something that does not exist: one line, exit 2 like click's usage
    errors, but without the usage block, which would bury the list of what does exist."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.secho(f"error: {self.format_message()}", fg="red", err=True, file=file)
