"""Driftwatch: always-on drift monitoring for ML models in production.

The public surface is small; everything else is reached through the ``driftwatch`` command::

    from monitor import Query, load
    settings = load("config.toml")
"""

from monitor.config import Settings, load
from monitor.errors import ConfigError, DriftwatchError
from monitor.store.query import Query

__all__ = ["ConfigError", "DriftwatchError", "Query", "Settings", "load"]
