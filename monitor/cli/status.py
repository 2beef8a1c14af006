"""``driftwatch status``: each model's health and why, as a table or as the JSON document.

The JSON document is defined and built in :mod:`monitor.store.status` (its schema is a contract);
this module only chooses between it and the table for people.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor import config as config_module
from monitor.cli.common import config_option, friendly_errors, open_query, require_model
from monitor.times import duration

if TYPE_CHECKING:
    from monitor.store.query import ModelStatus
    from monitor.vocab.verdicts import WindowEvaluation


@click.command("status", short_help="Show each model's health and why.")
@config_option
@click.option("--model", "models", multiple=True, help="Only this model (repeatable).")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the JSON document of docs/schemas/status.v1.json instead of the table.",
)
@friendly_errors
def status_command(config_path: Path, models: tuple[str, ...], as_json: bool) -> None:
    """Show each model's health and why: totals, since when it is unhealthy, the newest judged
    window's time range and the reasons of its verdicts, and dead letters without a model.

    Times are UTC. Exit 0 whatever the health: this command reports, alerting decides.
    """
    from monitor.store.status import encode, status_document

    settings = config_module.load(config_path, secrets=config_module.REDIS_ONLY)
    for name in models:
        require_model(settings, name)
    query = open_query(settings)
    rows = query.status(list(models) or None)
    now = time.time()
    if as_json:
        since = now - settings.performance.change_point_span_seconds
        doc = status_document(
            query,
            rows,
            change_points_since=since,
            generated_at=now,
            window_seconds=settings.windows.size_seconds,
        )
        click.echo(encode(doc).decode())
        return
    for line in table_lines(
        rows, query.unknown_model_counts().dead_by_reason, settings.windows.size_seconds, now
    ):
        click.echo(line)


#: The Benjamini–Hochberg clause the drift verdicts append to each reason
#: (``monitor/stats/verdict.py``): said once under the table, marked with ``*`` where it applied.
_BH = re.compile(r",? ?(?:significant )?after (Benjamini–Hochberg over \d+ tests at fdr [^)\s]+)")


def table_lines(
    rows: Sequence[ModelStatus],
    unknown_dead_by_reason: Mapping[str, int],
    window_seconds: int,
    now: float,
) -> list[str]:
    """The table for people: one line of totals per model, then indented below it since when
    it is unhealthy, its newest judged window and the reasons, in plain names.

    A pure function of the rows so the layout is tested without Redis.
    """
    lines = [
        f"{'model':<20} {'health':<18} {'predictions':>12} {'outcomes':>10} {'coverage':>9} "
        f"{'dead':>7}"
    ]
    corrections: set[str] = set()
    for row in rows:
        c = row.counts
        coverage = "-" if c.label_coverage is None else f"{c.label_coverage:.1%}"
        status = row.health.status if row.health else "NOT EVALUATED"
        lines.append(
            f"{row.model.name:<20} {status:<18} {c.predictions:>12,} {c.outcomes:>10,} "
            f"{coverage:>9} {c.dead:>7,}"
        )
        if row.health and row.health.since is not None:
            when = _when(row.health.since)
            lines.append(
                f"{'':<2}{row.health.status} since {when} ({duration(now - row.health.since)} ago)"
            )
        if row.latest is not None:
            ev = row.latest
            end = ev.window_start + window_seconds
            reference = f"reference {ev.reference}" if ev.reference else "no reference"
            lines.append(
                f"{'':<2}window {_when(ev.window_start)} - {_when(end, since=ev.window_start)}: "
                f"{ev.n:,} predictions, {ev.n_labelled:,} labelled, {reference}"
            )
            lines.extend(f"{'':<2}{line}" for line in estimate_lines(ev))
        for reason in row.health.reasons if row.health else []:
            said = _BH.findall(reason)
            corrections.update(said)
            lines.append(f"{'':<2}- {human_names(_BH.sub('', reason))}{' *' if said else ''}")
    if unknown_dead_by_reason:
        said = ", ".join(f"{reason} {n:,}" for reason, n in sorted(unknown_dead_by_reason.items()))
        lines.append(f"dead letters without a model (unreadable or unknown model): {said}")
    for correction in sorted(corrections):
        lines.append(
            f"* significant after {correction}: among the features a window calls drifted, "
            "at most that share are expected to be false alarms"
        )
    return lines


def estimate_lines(ev: WindowEvaluation) -> list[str]:
    """The window's performance estimated from scores, with its band and, where labels judged
    the metric, the realized value beside it (how far the estimate can be trusted)."""
    if ev.estimation_refused:
        return [f"no performance estimate: {ev.estimation_refused}"]
    if not ev.estimated_performance:
        return []
    judged = {v.statistic for v in ev.performance_verdicts if v.status != "insufficient"}
    parts = []
    for metric, value in ev.estimated_performance.items():
        low, high = ev.estimated_bands.get(metric, (math.nan, math.nan))
        realized = ev.performance.get(metric)  # shown once enough labels judged it
        seen = f", realized {realized:.3g}" if realized is not None and metric in judged else ""
        parts.append(f"{metric} {value:.3g} (95 % band {low:.3g}-{high:.3g}{seen})")
    return ["estimated from scores: " + "; ".join(parts)]


def human_names(text: str) -> str:
    """``text`` with the internal names of the model's outputs (``__prediction__``) as people
    say them."""
    from monitor.vocab.verdicts import (  # msgspec: lazy
        DECISION,
        ESTIMATED,
        MODEL,
        PERFORMANCE,
        PREDICTION,
    )

    plain = {
        ESTIMATED: "estimated performance",
        MODEL: "model (all features)",
        PREDICTION: "prediction",
        DECISION: "predicted class",
        PERFORMANCE: "performance",
    }
    for internal, said in plain.items():
        text = text.replace(internal, said)
    return text


def _when(ts: float, *, since: float | None = None) -> str:
    """A Unix time in UTC to the minute; the date is left out when it is that of ``since`` (the
    end of a range read from its start)."""
    day = time.strftime("%Y-%m-%d", time.gmtime(ts))
    same_day = since is not None and day == time.strftime("%Y-%m-%d", time.gmtime(since))
    return time.strftime("%H:%MZ" if same_day else "%Y-%m-%d %H:%MZ", time.gmtime(ts))
