"""What a check found: a status, what it saw and the fix, and the exit code they add up to."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

#: Every check passed, or only warned.
EXIT_OK = 0
#: A check failed: a dependency is missing, refused, misconfigured or would lose data.
EXIT_FAILED = 1
#: The config file itself is invalid (as ``driftwatch config check``); nothing else was checked.
EXIT_CONFIG = 2


class Status(StrEnum):
    """How bad a finding is; the value is what ``--json`` shows."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's verdict: ``check`` names it (``kafka.topics``, ``redis.eviction``),
    ``found`` says what was seen, ``fix`` what to do (empty when nothing needs doing).
    Neither ever holds a secret: URLs are shown masked or by host only."""

    check: str
    status: Status
    found: str
    fix: str = ""

    @property
    def line(self) -> str:
        """One line for a terminal: status, check, what was found and, when needed, the fix."""
        text = f"{self.status.value.upper():4}  {self.check}: {self.found}"
        return f"{text}\n      fix: {self.fix}" if self.fix else text

    def as_dict(self) -> dict[str, str]:
        return {
            "check": self.check,
            "status": self.status.value,
            "found": self.found,
            "fix": self.fix,
        }


#: How a check hands over a finding the moment it knows it (the runner prints it at once).
Emit = Callable[[Finding], None]


def ok(check: str, found: str) -> Finding:
    return Finding(check, Status.OK, found)


def warn(check: str, found: str, fix: str) -> Finding:
    return Finding(check, Status.WARN, found, fix)


def fail(check: str, found: str, fix: str) -> Finding:
    return Finding(check, Status.FAIL, found, fix)


def from_error(check: str, exc: Exception) -> Finding:
    """A refusal or an outage (:class:`~monitor.errors.AccessRefusedError`,
    :class:`~monitor.errors.StoreUnavailableError`) as a failure: their one line ends with the
    fix after the last "): ", which becomes the finding's fix."""
    found, sep, fix = str(exc).rpartition("): ")
    return fail(check, f"{found})", fix) if sep else fail(check, str(exc), "see the message")


def exit_code(findings: Iterable[Finding]) -> int:
    """:data:`EXIT_CONFIG` when the config failed, :data:`EXIT_FAILED` when any other check
    failed, else :data:`EXIT_OK` (warnings do not fail: they name a risk, not an outage)."""
    failed = {f.check.split(".", 1)[0] for f in findings if f.status is Status.FAIL}
    if "config" in failed:
        return EXIT_CONFIG
    return EXIT_FAILED if failed else EXIT_OK
