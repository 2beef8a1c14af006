"""The one error the local-services package raises.

``ServiceError`` here extends the project-wide :class:`monitor.errors.ServiceError` (so the CLI's
``DriftwatchError`` handler prints it as one actionable line) and :class:`RuntimeError` (so callers
that only know "something at run time went wrong" can still catch it without importing Driftwatch).
"""

from __future__ import annotations

from monitor.errors import ServiceError as _DriftwatchServiceError

__all__ = ["ServiceError"]


class ServiceError(_DriftwatchServiceError, RuntimeError):
    """Kafka or Redis could not be fetched, installed, started or stopped.

    The message always says what to do next (install a package, free a port, read a log file).
    """
