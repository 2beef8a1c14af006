"""``driftwatch run``: the monitoring daemon in the foreground, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from monitor import config as config_module
from monitor.cli.common import config_option, friendly_errors
from monitor.errors import DriftwatchError


@click.command("run", short_help="Run the monitoring daemon.")
@config_option
@click.option("--http-port", type=int, help="Override runtime.http_port (0 = any free port).")
@friendly_errors
def run_command(config_path: Path, http_port: int | None) -> None:
    """Run the monitoring daemon: consume, validate, join and checkpoint until SIGTERM.

    Run several with the same config to share the partitions of the consumer group; each
    instance needs its own --http-port when they share a host.
    """
    from monitor.runtime.signals import Shutdown

    shutdown = Shutdown()
    shutdown.install()  # first: a signal at any moment of start-up is a clean stop
    # Only now the daemon's imports (Kafka, Redis, numpy, river): they take a while.
    from monitor.runtime import logging as dw_logging
    from monitor.runtime.daemon import Daemon

    settings = config_module.load(config_path)
    shutdown.timeout_seconds = settings.runtime.shutdown_timeout_seconds
    if http_port is not None:
        runtime = dataclasses.replace(settings.runtime, http_port=http_port)
        settings = dataclasses.replace(settings, runtime=runtime)
    dw_logging.configure(settings.runtime.log_level, settings.runtime.log_format)
    try:
        daemon = Daemon(settings, stop_event=shutdown.event)
    except DriftwatchError:
        if shutdown.event.is_set():
            sys.exit(0)  # asked to stop while a dependency was still missing: nothing to undo
        raise
    shutdown.started.set()
    sys.exit(daemon.run())
