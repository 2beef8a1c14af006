"""Driftwatch: always-on drift monitoring for ML models in production.

The public surface is small; everything else is reached through the ``driftwatch`` command::

    from monitor import Query, load
    settings = load("config.toml")

``Query`` is imported on first use: it pulls in numpy and scipy, and the ``driftwatch`` command
must start in milliseconds (its signal handlers go in before any heavy import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from monitor.config import Settings, load
from monitor.errors import ConfigError, DriftwatchError

if TYPE_CHECKING:
    from monitor.store.query import Query

__all__ = ["ConfigError", "DriftwatchError", "Query", "Settings", "load"]


def __getattr__(name: str) -> Any:
    if name == "Query":
        from monitor.store.query import Query

        return Query
    raise AttributeError(f"module 'monitor' has no attribute {name!r}")
