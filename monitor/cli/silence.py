"""``driftwatch silence add|list|expire``: mute the notifications of some alerts for a while.

A silence selects alerts with Alertmanager's label matchers and mutes only what receivers are
told; the alerts keep their states (``monitor/vocab/silences.py``). Each one names its author and
says why, so whoever is paged next can see who muted what.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import IO, Any

import click

from monitor import config as config_module
from monitor.cli.common import config_option, friendly_errors, open_query
from monitor.times import parse_duration


class _InvalidInput(click.ClickException):
    """A value typed on the command line is wrong: one line saying what to fix, exit 2 like a
    config mistake, without the usage text click prints for its own parameter errors."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.secho(f"error: {self.format_message()}", fg="red", err=True)


@click.group("silence", short_help="Add, list and expire alert silences.")
def silence_group() -> None:
    """Mute the notifications of the alerts that label matchers select (docs/alerting.md)."""


@silence_group.command("add", short_help="Silence matching alerts for a duration.")
@config_option
@click.option(
    "--matcher",
    "matchers",
    multiple=True,
    required=True,
    metavar="MATCHER",
    help="""Alertmanager matcher: model="fraud", feature!="", alertname=~"Feature.*" """
    "(repeatable: all must match).",
)
@click.option("--duration", required=True, help="How long from now: 30m, 2h, 1d.")
@click.option("--author", required=True, help="Who silences (shown by silence list).")
@click.option("--comment", required=True, help="Why: the incident, the ticket, the plan.")
@friendly_errors
def silence_add(
    config_path: Path, matchers: tuple[str, ...], duration: str, author: str, comment: str
) -> None:
    """Silence matching alerts from now for --duration; print the silence's id, then the current
    alerts it mutes."""
    from monitor.vocab.matchers import format_labels
    from monitor.vocab.silences import Silence

    settings = config_module.load(config_path, secrets=config_module.REDIS_ONLY)
    now = time.time()
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        raise _InvalidInput(f"--duration: {exc}") from None
    try:
        silence = Silence.new(matchers, seconds, author, comment, now)
    except ValueError as exc:
        raise _InvalidInput(str(exc)) from None
    query = open_query(settings)
    query.silence_store().add(silence)
    muted = [
        a
        for found in query.alerts().values()
        for a in found.values()
        if a.state in ("firing", "pending") and silence.silences(a.labels, now)
    ]
    click.echo(silence.id)
    until = f"until {_utc(silence.ends_at)} UTC"
    if not muted:
        click.echo(f"no current alert matches; it mutes those that do {until}")
        return
    click.echo(f"mutes {len(muted)} current alert(s) {until}:")
    for a in sorted(muted, key=lambda a: format_labels(a.labels)):
        click.echo(f"  {a.state:<8} {format_labels(a.labels)}")


@silence_group.command("list", short_help="List active and pending silences.")
@config_option
@click.option("--expired", is_flag=True, help="Also those expired in the last 120 h.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@friendly_errors
def silence_list(config_path: Path, expired: bool, as_json: bool) -> None:
    """List active and pending silences, oldest first."""
    import msgspec

    settings = config_module.load(config_path, secrets=config_module.REDIS_ONLY)
    now = time.time()
    silences = open_query(settings).silences(now, include_expired=expired)
    if as_json:
        docs = [{**msgspec.to_builtins(s), "state": s.state(now)} for s in silences]
        click.echo(msgspec.json.format(msgspec.json.encode(docs), indent=2).decode())
        return
    click.echo(f"{'id':<32} {'state':<8} {'ends (UTC)':<16} {'author':<12} matchers: comment")
    for s in silences:
        click.echo(
            f"{s.id:<32} {s.state(now):<8} {_utc(s.ends_at):<16} {s.created_by:<12} "
            f"{', '.join(s.matchers)}: {s.comment}"
        )


@silence_group.command("expire", short_help="End a silence now.")
@config_option
@click.argument("silence_id", metavar="ID")
@click.option(
    "--author",
    default=lambda: os.environ.get("USER", "unknown"),
    show_default="$USER",
    help="Who ends it (filed in the audit trail of the models it concerns).",
)
@friendly_errors
def silence_expire(config_path: Path, silence_id: str, author: str) -> None:
    """End the silence ID now: the alerts it muted are notified again."""

    settings = config_module.load(config_path, secrets=config_module.REDIS_ONLY)
    now = time.time()
    store = open_query(settings).silence_store()
    ended = store.expire(silence_id, now, author)
    if ended is None:
        raise _InvalidInput(
            f"no silence has the id {silence_id!r}: driftwatch silence list --expired shows them"
        )
    if ended.ends_at < now:
        click.echo(f"silence {silence_id} had already expired at {_utc(ended.ends_at)} UTC")
    else:
        click.echo(f"expired silence {silence_id}")


def _utc(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))
