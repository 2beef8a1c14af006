"""``driftwatch simulate``: command-line values in, a produced run and its summary out.

The click options and the help text stay in :mod:`monitor.cli`; this module parses the values,
runs the simulator into Kafka with a progress bar (bounded runs) or a periodic rate report
(endless runs), stops cleanly on the first Ctrl-C and prints what was sent.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import click
from kafka.errors import KafkaError

from monitor.config import FaultSettings, Settings
from monitor.simulate.faults import parse_fault
from monitor.simulate.generate import SimEvent, Simulator
from monitor.simulate.produce import ProduceReport, produce
from monitor.times import parse_start

#: How often an endless run prints its one-line rate report.
REPORT_SECONDS = 10.0


def run_command(
    settings: Settings,
    *,
    n_events: int | None,
    rate: float | None,
    seed: int,
    fast: bool,
    start_text: str | None,
    fault_specs: Sequence[str],
    no_config_faults: bool,
    model_names: Sequence[str],
    bootstrap: str | None,
) -> None:
    """Run ``driftwatch simulate`` with its options' values; exits 1 when Kafka fails.

    Bad ``--fault`` and ``--start`` values raise ``click.BadParameter``; impossible faults and
    unknown models raise :class:`~monitor.errors.ConfigError` from the simulator.
    """
    if bootstrap:
        servers = tuple(s.strip() for s in bootstrap.split(",") if s.strip())
        kafka = dataclasses.replace(settings.kafka, bootstrap_servers=servers)
        settings = dataclasses.replace(settings, kafka=kafka)
    rate = rate or settings.simulate.rate
    faults = _faults(settings, fault_specs, no_config_faults)
    now = time.time()
    try:
        start = parse_start(start_text, now) if start_text else now
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--start") from None
    if start_text is None and fast and n_events is not None:
        start = now - n_events / rate
    simulator = Simulator(
        settings, seed=seed, start=start, rate=rate, faults=faults, models=model_names or None
    )
    names = ", ".join(model_names or [m.name for m in settings.models])
    click.echo(
        f"simulating {names}: {n_events if n_events is not None else 'endless'} predictions at "
        f"{rate:g}/s {'(fast)' if fast else '(real time)'} from "
        f"{datetime.fromtimestamp(start, UTC):%Y-%m-%d %H:%M:%S}Z, seed {seed}, "
        f"{len(faults)} fault(s) -> {','.join(settings.kafka.bootstrap_servers)}",
        err=True,
    )
    report = _produce(settings, simulator.events(n_events), n_events, None if fast else rate)
    _summarise(settings, report)


def _faults(
    settings: Settings, fault_specs: Sequence[str], no_config_faults: bool
) -> list[FaultSettings]:
    """The config's faults (unless ``--no-config-faults``), then those of ``--fault``."""
    faults = [] if no_config_faults else list(settings.simulate.faults)
    try:
        faults += [parse_fault(spec) for spec in fault_specs]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None
    return faults


def _produce(
    settings: Settings,
    events: Iterable[SimEvent],
    n_events: int | None,
    realtime_rate: float | None,
) -> ProduceReport:
    """:func:`produce` with progress output; the first Ctrl-C (or SIGTERM) stops and flushes."""
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        if stop.is_set():  # a second Ctrl-C gives up on flushing; a SIGTERM after it does not
            if signum == signal.SIGINT:  # (Ctrl-C in a script reaches its whole process group,
                raise KeyboardInterrupt  # which then often sends SIGTERM to its children too)
            return
        stop.set()
        click.echo("\nstopping: flushing what was sent (Ctrl-C again to abort)", err=True)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if n_events is not None:
            with click.progressbar(length=n_events, label="predictions", file=sys.stderr) as bar:
                return produce(
                    settings, events, realtime_rate=realtime_rate, progress=bar.update, stop=stop
                )
        sent, last = 0, time.monotonic()
        started = last

        def rate_report(n: int) -> None:
            nonlocal sent, last
            sent += n
            if time.monotonic() - last >= REPORT_SECONDS:
                last = time.monotonic()
                elapsed = last - started
                click.echo(
                    f"{datetime.now():%H:%M:%S} {sent:,} predictions sent, {sent / elapsed:,.0f}/s",
                    err=True,
                )

        return produce(
            settings, events, realtime_rate=realtime_rate, progress=rate_report, stop=stop
        )
    except KafkaError as exc:
        click.secho(
            f"error: Kafka at {','.join(settings.kafka.bootstrap_servers)}: {exc!r}. Fix: start "
            "it (driftwatch services up) or pass --bootstrap HOST:PORT",
            fg="red",
            err=True,
        )
        sys.exit(1)
    finally:
        if not stop.is_set():  # once stopping, a later SIGTERM stays "already stopping"
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _summarise(settings: Settings, report: ProduceReport) -> None:
    """Records per topic and model, rates, and an error (exit 1) for unacknowledged records."""
    topics = {
        "prediction": settings.kafka.predictions_topic,
        "outcome": settings.kafka.outcomes_topic,
    }
    click.echo(f"{'topic':<28} {'model':<24} {'events':>10}")
    for (kind, model), count in sorted(report.counts.items()):
        click.echo(f"{topics[kind]:<28} {model:<24} {count:>10,}")
    elapsed = max(report.elapsed_seconds, 1e-9)
    click.echo(f"malformed (injected, invalid): {report.n_invalid:,}")
    click.echo(
        f"{report.n_predictions:,} predictions and {report.n_outcomes:,} outcomes in "
        f"{report.elapsed_seconds:.1f} s: {report.n_predictions / elapsed:,.0f} predictions/s, "
        f"{(report.n_predictions + report.n_outcomes) / elapsed:,.0f} events/s"
    )
    if report.interrupted:
        click.echo("stopped early; everything sent was flushed")
    if report.n_failed:
        click.secho(
            f"error: {report.n_failed:,} records were not acknowledged ({report.first_error})",
            fg="red",
            err=True,
        )
        sys.exit(1)
