"""``driftwatch config check``: validate a config file and summarise what it configures."""

from __future__ import annotations

from pathlib import Path

import click

from monitor import config as config_module
from monitor.cli.common import friendly_errors


@click.group("config")
def config_group() -> None:
    """Inspect and validate configuration files."""


@config_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@friendly_errors
def config_check(file: Path) -> None:
    """Validate FILE and summarise it; exit 2 naming the key when it is invalid."""
    settings = config_module.load(file)
    click.echo(f"{file}: OK")
    click.echo(
        f"  kafka   {', '.join(settings.kafka.bootstrap_servers)}  group={settings.kafka.group_id}"
    )
    click.echo(
        f"  topics  predictions={settings.kafka.predictions_topic} "
        f"outcomes={settings.kafka.outcomes_topic} dead letters={settings.kafka.dead_letter_topic}"
    )
    click.echo(f"  redis   {settings.redis.url}  prefix={settings.redis.key_prefix}")
    for model in settings.models:
        click.echo(
            f"  model   {model.name} ({model.task}, {len(model.features)} features, "
            f"owner {model.owner})"
        )
