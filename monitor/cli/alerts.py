"""``driftwatch alerts list``: the alerts the rules keep, firing first, as a table or JSON."""

from __future__ import annotations

import time
from pathlib import Path

import click

from monitor import config as config_module
from monitor.cli.common import config_option, friendly_errors, open_query, require_model

#: Table order: what needs a person first.
_STATE_ORDER = {"firing": 0, "pending": 1, "resolved": 2}


@click.group("alerts", short_help="List firing alerts; send a test notification.")
def alerts_group() -> None:
    """Alerts turned from verdicts by the rules of [alerting] (docs/alerting.md)."""


@alerts_group.command("list", short_help="List firing, pending and resolved alerts.")
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

    settings = config_module.load(config_path, secrets=config_module.REDIS_ONLY)
    for name in models:
        require_model(settings, name)
    by_model = open_query(settings).alerts(list(models) or None)
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


@alerts_group.command("test", short_help="Send a test notification to a receiver.")
@config_option
@click.option("--receiver", "receiver_name", required=True, help="A configured receiver.")
@friendly_errors
def alerts_test(config_path: Path, receiver_name: str) -> None:
    """Send a clearly marked test notification to every destination of a receiver."""
    from monitor.alert import message
    from monitor.alert.delivery import deliver
    from monitor.alert.notification import Notification
    from monitor.errors import ConfigError
    from monitor.runtime.notifier import receiver_of

    settings = config_module.load(config_path, secrets=("alerting",))
    configured = {r.name: (i, r) for i, r in enumerate(settings.alerting.receivers)}
    if receiver_name not in configured:
        names = ", ".join(sorted(configured)) or "none configured"
        raise ConfigError("--receiver", f"no receiver named {receiver_name!r}", f"use {names}")
    index, receiver_settings = configured[receiver_name]
    for key, secret in receiver_settings.secrets(f"alerting.receivers[{index}]"):
        secret.check(key)
    receiver = receiver_of(receiver_settings, f"alerting.receivers[{index}]")
    if receiver is None:
        raise ConfigError(
            f"alerting.receivers[{index}]", "has no destination", "add apprise_urls or a key"
        )
    test = Notification(receiver_name, "driftwatch-test", {}, (), (), test=True)
    title, body = message.render(test, settings.dashboard.link_base)
    outcome = deliver(receiver, test, title, body, deadline_seconds=30.0)
    if not outcome.sent:
        raise click.ClickException(
            f"the test notification to {receiver_name} failed after {outcome.attempts} "
            f"attempt(s): {outcome.error}"
        )
    click.echo(f"test notification delivered to {receiver_name} ({outcome.attempts} attempt(s))")
