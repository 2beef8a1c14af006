"""Driftwatch's exception tree.

Every error the daemon raises on purpose derives from :class:`DriftwatchError`, so the CLI can
print it as one line that says what to do, and the loop boundary can tell ours from bugs::

    DriftwatchError
    ├── ConfigError            config file invalid: names the key and the fix; exit 2 at start-up
    ├── ServiceError           local Kafka/Redis could not be fetched, started or stopped
    ├── AccessRefusedError     Redis or Kafka refused the credentials or the user's rights: not
    │                          an outage, waiting will not end it; stop and say which to check
    ├── StoreUnavailableError  Redis unreachable: pause consumption, back off, resume
    ├── SinkUnavailableError   Kafka refused dead letters: pause, back off, resume
    ├── BatchRejectedError     the checkpoint refused a batch's content: not an outage, so the
    │                          loop isolates the record behind it
    └── FencedError            another instance owns the partition or the evaluator lease now:
                               drop it, never write
"""

from __future__ import annotations


class DriftwatchError(Exception):
    """Root of every error Driftwatch raises deliberately."""


class ConfigError(DriftwatchError):
    """The configuration is invalid; the message names the key and how to fix it."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        self.key = key
        self.problem = problem
        self.fix = fix
        super().__init__(f"config key '{key}': {problem}. Fix: {fix}")


class ServiceError(DriftwatchError):
    """A local development service (Kafka, Redis) could not be fetched, started or stopped."""


class AccessRefusedError(DriftwatchError):
    """Redis or Kafka refused Driftwatch's credentials (a wrong password, an unknown user) or its
    user's rights. Retrying with the same secret cannot succeed, so a process stops with a line
    naming the service and the setting to check."""


class StoreUnavailableError(DriftwatchError):
    """Redis did not answer; the caller pauses, backs off and retries the same batch."""


class SinkUnavailableError(DriftwatchError):
    """Dead letters could not be written to Kafka; the batch is retried, nothing is applied."""


class BatchRejectedError(DriftwatchError):
    """The checkpoint script refused a batch's content (a stored sum would stop being finite);
    the loop halves the batch until it finds the record behind it."""


class FencedError(DriftwatchError):
    """A newer owner claimed the partition (higher epoch) or the evaluator lease (higher fencing
    token); this instance must drop it and write nothing more."""
