"""``driftwatch status``: each model's health and why, as a table or as the JSON document.

The JSON document is defined and built in :mod:`monitor.store.status` (its schema is a contract);
this module only chooses between it and the table for people.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor import config as config_module
from monitor.cli.common import config_option, friendly_errors, require_model

if TYPE_CHECKING:
    from monitor.store.query import ModelStatus


@click.command("status")
@config_option
@click.option("--model", "models", multiple=True, help="Only this model (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@friendly_errors
def status_command(config_path: Path, models: tuple[str, ...], as_json: bool) -> None:
    """Show each model's health and why, drifted features, performance, totals, dead letters."""
    import msgspec

    from monitor.store.client import connect
    from monitor.store.query import Query
    from monitor.store.status import status_document

    settings = config_module.load(config_path)
    for name in models:
        require_model(settings, name)
    query = Query(connect(settings.redis), settings)
    rows = query.status(list(models) or None)
    if as_json:
        since = time.time() - settings.performance.change_point_span_seconds
        doc = status_document(query, rows, change_points_since=since)
        click.echo(msgspec.json.format(msgspec.json.encode(doc), indent=2).decode())
        return
    _print_table(rows, query.unknown_model_counts().dead_by_reason)


def _print_table(rows: Sequence[ModelStatus], unknown_dead_by_reason: dict[str, int]) -> None:
    """One line of totals per model, then its health's reasons indented below it."""
    click.echo(
        f"{'model':<20} {'health':<18} {'predictions':>12} {'outcomes':>10} {'coverage':>9} "
        f"{'dead':>7}"
    )
    for row in rows:
        c = row.counts
        coverage = "-" if c.label_coverage is None else f"{c.label_coverage:.1%}"
        status = row.health.status if row.health else "NOT EVALUATED"
        click.echo(
            f"{row.model.name:<20} {status:<18} {c.predictions:>12} {c.outcomes:>10} "
            f"{coverage:>9} {c.dead:>7}"
        )
        if row.health and row.health.since is not None:
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(row.health.since))
            click.echo(f"{'':<21}- {row.health.status} since {when}")
        for reason in row.health.reasons if row.health else []:
            click.echo(f"{'':<21}- {reason}")
    if unknown_dead_by_reason:
        said = ", ".join(f"{reason} {n:,}" for reason, n in sorted(unknown_dead_by_reason.items()))
        click.echo(f"dead letters without a model (unreadable or unknown model): {said}")
