"""``driftwatch config check``: validate a config file and summarise what it configures."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor import config as config_module
from monitor.cli.common import friendly_errors


@click.group("config", short_help="Validate configuration files.")
def config_group() -> None:
    """Inspect and validate configuration files."""


@config_group.command("check", short_help="List every problem of a config file, or summarise it.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@friendly_errors
def config_check(file: Path) -> None:
    """Validate FILE and summarise it.

    Every problem is listed at once, one per line with the key and its fix (exit 2), so a file
    can be corrected in one pass rather than one error per run.
    """
    raw = config_module.read(file)
    errors = config_module.check(raw)
    if errors:
        count = f"{len(errors)} problem{'s' if len(errors) > 1 else ''}"
        click.secho(f"{file}: {count}", fg="red", err=True)
        for error in errors:
            click.echo(f"  {error.key}: {error.problem}. Fix: {error.fix}", err=True)
        sys.exit(2)
    settings = config_module.parse(raw)
    click.echo(f"{file}: OK")
    click.echo(
        f"  kafka   {', '.join(settings.kafka.bootstrap_servers)}  group={settings.kafka.group_id}"
    )
    click.echo(
        f"  topics  predictions={settings.kafka.predictions_topic} "
        f"outcomes={settings.kafka.outcomes_topic} dead letters={settings.kafka.dead_letter_topic}"
    )
    redis_url = config_module.masked_url(settings.redis.url)
    if settings.redis.sentinels:
        redis_url += f" (primary from sentinels {','.join(settings.redis.sentinels)})"
    click.echo(f"  redis   {redis_url}  prefix={settings.redis.key_prefix}")
    for model in settings.models:
        click.echo(
            f"  model   {model.name} ({model.task}, {len(model.features)} features, "
            f"owner {model.owner})"
        )
