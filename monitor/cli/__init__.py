"""The ``driftwatch`` command line: a thin shell over the package.

Each command loads the config (``--config``, default ``config.toml``), builds the component it
needs and hands over. Errors derived from :class:`~monitor.errors.DriftwatchError` print as one
line saying what to do, with exit code 2 for config errors and 1 otherwise
(:func:`~monitor.cli.common.friendly_errors`).

One module per command or command group; this one only assembles them under :func:`main`, the
entry point of the ``driftwatch`` script and of ``python -m monitor``. Commands import the heavy
parts of the package (Kafka, Redis, numpy) inside their bodies, so that ``--help`` stays fast and
``run`` installs its signal handlers before any of that loads.
"""

from __future__ import annotations

import click

from monitor.cli.alerts import alerts_group
from monitor.cli.baseline import baseline_group
from monitor.cli.config import config_group
from monitor.cli.dashboard import dashboard_command
from monitor.cli.doctor import doctor_command
from monitor.cli.history import history_command
from monitor.cli.retrain import retrain_group
from monitor.cli.run import run_command
from monitor.cli.services import services_group
from monitor.cli.silence import silence_group
from monitor.cli.simulate import simulate_command
from monitor.cli.status import status_command
from monitor.cli.topics import topics_group

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="driftwatch")
def main() -> None:
    """Driftwatch: always-on drift monitoring for ML models in production."""


main.add_command(config_group)
main.add_command(run_command)
main.add_command(status_command)
main.add_command(baseline_group)
main.add_command(services_group)
main.add_command(topics_group)
main.add_command(simulate_command)
main.add_command(dashboard_command)
main.add_command(alerts_group)
main.add_command(silence_group)
main.add_command(history_command)
main.add_command(retrain_group)
main.add_command(doctor_command)
