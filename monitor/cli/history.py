"""``driftwatch history``: what happened to a model, then its incidents and MTTR.

The events are the model's audit trail (``monitor/vocab/audit.py``); the incidents and their
timings are computed from the whole trail (``monitor/vocab/incidents.py``), not only from the
events shown: an incident that ended in the period may have started long before it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from monitor import config as config_module
from monitor.cli.common import config_option, friendly_errors, open_query, require_model
from monitor.times import iso_utc, parse_duration, parse_start

if TYPE_CHECKING:
    from monitor.vocab.audit import AuditEvent
    from monitor.vocab.incidents import Incident


@click.command("history", short_help="Show a model's audit trail, incidents and MTTR.")
@config_option
@click.option("--model", "model_name", required=True, help="The model.")
@click.option(
    "--since",
    "since_text",
    help="From: 7d (the last 7 days), now-12h or an ISO 8601 time [default: all kept].",
)
@click.option("--until", "until_text", help="To: the same forms [default: now].")
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest N events.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@friendly_errors
def history_command(
    config_path: Path,
    model_name: str,
    since_text: str | None,
    until_text: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Show what happened to a model — references, health, alerts, notifications, silences,
    retraining, new versions — then its incidents in that period and MTTR over 30 and 90 days.

    \b
    Examples:
      driftwatch history --model churn --since 7d
      driftwatch history --model churn --since 2026-01-01 --until 2026-02-01 --json
    """
    from monitor.vocab.incidents import incidents

    settings = config_module.load(config_path, secrets=config_module.REDIS_ONLY)
    require_model(settings, model_name)
    now = time.time()
    since = _moment("--since", since_text, now)
    until = _moment("--until", until_text, now)
    query = open_query(settings)
    shown = query.history(model_name, since, until, limit)
    found = incidents(query.history(model_name))
    during = [
        i
        for i in found
        if (until is None or i.started <= until) and (since is None or (i.ended or now) >= since)
    ]
    if as_json:
        _print_json(model_name, now, shown, during, found)
    else:
        _print_text(model_name, now, shown, during, found)


def _moment(option: str, text: str | None, now: float) -> float | None:
    """A duration back from ``now`` (``7d``), ``now-12h`` or an ISO time; None if not given."""
    if text is None:
        return None
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        return parse_start(text, now)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither a duration like 7d, nor now-DURATION, nor an ISO 8601 time",
            param_hint=f"'{option}'",
        ) from None


def _print_text(
    model: str,
    now: float,
    events: Sequence[AuditEvent],
    during: Sequence[Incident],
    every: Sequence[Incident],
) -> None:
    from monitor.alert.message import utc
    from monitor.times import duration
    from monitor.vocab.incidents import MTTR_DAYS, mean_times

    def span(seconds: float | None) -> str:
        return "-" if seconds is None else duration(seconds)

    if not events:
        click.echo(f"no event of {model} in that period")
    else:
        click.echo(f"{'time':<20} {'kind':<19} {'actor':<12} summary")
    for e in events:
        click.echo(f"{utc(e.ts):<20} {e.kind:<19} {e.actor:<12} {e.summary}")
    click.echo("")
    click.echo(f"incidents: {len(during)} (times from the first window that showed the problem)")
    for i in during:
        end = "open" if i.ended is None else utc(i.ended)
        click.echo(
            f"  {utc(i.started)} → {end}: detected {span(i.time_to_detect)}, acknowledged "
            f"{span(i.time_to_acknowledge)}, recovered {span(i.time_to_recover)} "
            f"({', '.join(i.alertnames)})"
        )
    for days in MTTR_DAYS:
        means = mean_times(every, now, days)
        if means.incidents == 0:
            click.echo(f"MTTR over {days} days: - (no incident ended)")
            continue
        click.echo(
            f"MTTR over {days} days: {span(means.recover)} over {means.incidents} incident(s); "
            f"mean time to detect {span(means.detect)}, to acknowledge {span(means.acknowledge)}"
        )


def _print_json(
    model: str,
    now: float,
    events: Sequence[AuditEvent],
    during: Sequence[Incident],
    every: Sequence[Incident],
) -> None:
    import msgspec

    from monitor.vocab.incidents import MTTR_DAYS, mttr

    doc: dict[str, Any] = {
        "model": model,
        "generated_at": _iso(now),
        "events": [
            {
                "id": e.id,
                "time": _iso(e.ts),
                "kind": e.kind,
                "actor": e.actor,
                "summary": e.summary,
                "details": e.details,
            }
            for e in events
        ],
        "incidents": [
            {
                "started": _iso(i.started),
                "ended": _iso(i.ended),
                "detected_from": _iso(i.detected_from),
                "acknowledged": _iso(i.acknowledged),
                "time_to_detect_seconds": i.time_to_detect,
                "time_to_acknowledge_seconds": i.time_to_acknowledge,
                "time_to_recover_seconds": i.time_to_recover,
                "fingerprints": list(i.fingerprints),
                "alertnames": list(i.alertnames),
            }
            for i in during
        ],
        "mttr_seconds": {f"{days}d": mttr(every, now, days) for days in MTTR_DAYS},
    }
    click.echo(msgspec.json.format(msgspec.json.encode(doc), indent=2).decode())


def _iso(ts: float | None) -> str | None:
    """ISO 8601 in UTC, to the millisecond (the trail's precision)."""
    return None if ts is None else iso_utc(ts, "milliseconds")
