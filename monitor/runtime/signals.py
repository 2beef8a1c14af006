"""SIGTERM and SIGINT as a stop request, from the first moment of start-up to the end of the drain.

The handler is installed before anything connects, so a signal during start-up (a deployment
rolled back seconds after it began) is a stop request like any other: start-up finishes its
bounded steps, the daemon drains at once and exits 0. A second SIGINT (a person pressing Ctrl-C
twice) or a drain longer than ``runtime.shutdown_timeout_seconds`` exits at once — safe, because
Redis holds every checkpoint and an unfinished batch is simply replayed by the next owner.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

log = logging.getLogger(__name__)

#: Drain bound until the config says otherwise (``runtime.shutdown_timeout_seconds``).
DEFAULT_TIMEOUT_SECONDS = 30.0


class Shutdown:
    """Turns SIGTERM and SIGINT into ``event``; exits at once on a second SIGINT or a long drain."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.timeout_seconds = DEFAULT_TIMEOUT_SECONDS
        #: Set when start-up is over: before it no batch can be open, so a stop that outlasts
        #: the bound while start-up still waits on a dependency (kafka-python's bootstrap waits
        #: 30 s for a broker that is not there) is a clean stop, not a cut-short drain.
        self.started = threading.Event()

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.event.is_set():
            if signum == signal.SIGINT:
                log.warning("second SIGINT: exiting now; the next owner replays the open batch")
                os._exit(1)
            return  # repeated SIGTERM (e.g. sent to the whole process group): already stopping
        log.info("%s received: finishing the current batch", name)
        self.event.set()
        watchdog = threading.Timer(self.timeout_seconds, self._timed_out)
        watchdog.daemon = True
        watchdog.start()

    def _timed_out(self) -> None:
        if not self.started.is_set():
            log.warning(
                "stopping took longer than %.0fs: start-up is still waiting on a dependency; "
                "exiting (nothing was applied yet)", self.timeout_seconds,
            )  # fmt: skip
            os._exit(0)
        log.warning(
            "stopping took longer than %.0fs: exiting; the next owner replays the open batch",
            self.timeout_seconds,
        )
        os._exit(1)
