"""``driftwatch topics create``: the Kafka topics the config names, with matching partitions."""

from __future__ import annotations

from pathlib import Path

import click

from monitor import config as config_module
from monitor.cli.common import config_option, friendly_errors


@click.group("topics", short_help="Create the Kafka topics of the config.")
def topics_group() -> None:
    """Manage the Kafka topics named in the config."""


@topics_group.command("create", short_help="Create the configured topics.")
@config_option
@click.option(
    "--partitions",
    default=6,
    show_default=True,
    help="Partitions of the predictions and outcomes topics (equal counts keep joins local).",
)
@click.option(
    "--replication-factor",
    default=1,
    show_default=True,
    help="Copies of each partition; at most the number of brokers.",
)
@friendly_errors
def topics_create(config_path: Path, partitions: int, replication_factor: int) -> None:
    """Create the predictions, outcomes and dead-letter topics; existing ones are left alone."""
    from monitor.ingest.topics import ensure_topics

    settings = config_module.load(config_path, secrets=("kafka",))
    for topic, created in ensure_topics(settings.kafka, partitions, replication_factor).items():
        click.echo(f"{topic}: {'created' if created else 'exists'}")
