"""What the commands share: the ``--config`` option, one-line errors and model lookup."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from monitor.config import ModelSettings, Settings
from monitor.errors import ConfigError, DriftwatchError

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
    exits 1 (a service is missing or failed), so scripts can tell the two apart.
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
            hint = _unreachable(exc)
            if hint is None:
                raise
            click.secho(f"error: {hint}", fg="red", err=True)
            sys.exit(1)

    return wrapper


def _unreachable(exc: Exception) -> str | None:
    """What to do when a command cannot reach Redis (redis-py is imported only by commands that
    use it, so ``--help`` stays fast; it is loaded by then if this is its error)."""
    redis = sys.modules.get("redis")
    if redis is None or not isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return None
    return (
        f"Redis is unreachable ({exc}): start it (driftwatch services up) or point redis.url at it"
    )


def require_model(settings: Settings, name: str) -> ModelSettings:
    """The configured model called ``name``; a ``--model`` naming no model is a config error
    (exit 2), caught before anything connects to Redis or Kafka."""
    model = settings.model(name)
    if model is None:
        names = ", ".join(m.name for m in settings.models)
        raise ConfigError("--model", f"no model named {name!r}", f"use one of {names}")
    return model
