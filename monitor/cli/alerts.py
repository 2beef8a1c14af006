"""``driftwatch alerts list``: the alerts the rules keep, firing first, as a table or JSON."""

from __future__ import annotations

import time
from pathlib import Path

import click

from monitor import config as config_module
from monitor.cli.common import config_option, friendly_errors, require_model

#: Table order: what needs a person first.
_STATE_ORDER = {"firing": 0, "pending": 1, "resolved": 2}


@click.group("alerts")
def alerts_group() -> None:
    """Alerts turned from verdicts by the rules of [alerting] (docs/alerting.md)."""


@alerts_group.command("list")
@config_option
@click.option("--model", "models", multiple=True, help="Only this model (repeatable).")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(["firing", "pending", "resolved"]),
    help="Only alerts in this state (repeatable) [default: all].",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@friendly_errors
def alerts_list(
    config_path: Path, models: tuple[str, ...], states: tuple[str, ...], as_json: bool
) -> None:
    """List firing, pending and recently resolved alerts with their evidence."""
    import msgspec

    from monitor.store.client import connect
    from monitor.store.query import Query

    settings = config_module.load(config_path)
    for name in models:
        require_model(settings, name)
    by_model = Query(connect(settings.redis), settings).alerts(list(models) or None)
    alerts = sorted(
        (
            a
            for found in by_model.values()
            for a in found.values()
            if a.state in (states or _STATE_ORDER)
        ),
        key=lambda a: (_STATE_ORDER[a.state], -(a.active_since or 0.0)),
    )
    if as_json:
        docs = [{"fingerprint": a.fingerprint, **msgspec.to_builtins(a)} for a in alerts]
        click.echo(msgspec.json.format(msgspec.json.encode(docs), indent=2).decode())
        return
    if not settings.alerting.enabled:
        click.echo("alerting is disabled ([alerting] enabled = false): no rule is evaluated")
    click.echo(f"{'state':<9} {'severity':<9} {'alert':<20} {'model':<20} {'since (UTC)':<17} what")
    for a in alerts:
        since = a.fired_at if a.state == "firing" else a.active_since
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(since)) if since else "-"
        click.echo(
            f"{a.state:<9} {a.labels['severity']:<9} {a.labels['alertname']:<20} "
            f"{a.labels['model']:<20} {when:<17} {a.annotations.get('summary', '')}"
        )
