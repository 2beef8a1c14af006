"""Logging set-up: JSON lines for machines or plain text for people; applied only by the CLI.

Records carry context as ``extra`` fields (model, topic, partition, offset, epoch) which the JSON
formatter emits as keys. Secrets and payloads are never logged by Driftwatch's code.
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any

import msgspec

#: Attributes every LogRecord has; anything else on a record was passed as ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return msgspec.json.encode(entry, enc_hook=str).decode()


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Apply the logging configuration for a Driftwatch process."""
    formatter = (
        {"()": JsonFormatter}
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"}
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"default": formatter},
            "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "default"}},
            "root": {"level": level, "handlers": ["stderr"]},
            # kafka-python logs every reconnect attempt at WARNING/ERROR; ours say what matters.
            # Its heartbeat thread's warnings stay: they are the only word that this member left
            # its group (a poll gap over kafka.max_poll_interval_ms, an expired session).
            "loggers": {
                "kafka": {"level": "CRITICAL" if level != "DEBUG" else "INFO"},
                "kafka.coordinator.heartbeat": {"level": "WARNING" if level != "DEBUG" else "INFO"},
            },
        }
    )
