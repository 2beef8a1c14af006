"""The ``driftwatch`` command line: a thin shell over the package.

Each command loads the config (``--config``, default ``config.toml``), builds the component it
needs and hands over. Errors derived from :class:`~monitor.errors.DriftwatchError` print as one
line saying what to do, with exit code 2 for config errors and 1 otherwise.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from monitor import config as config_module
from monitor.errors import ConfigError, DriftwatchError

F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("config.toml"),
    show_default=True,
    help="Driftwatch configuration file (TOML).",
)


def friendly_errors(func: F) -> F:
    """Turn our own errors into a one-line message and an exit code, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)
        except DriftwatchError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="driftwatch")
def main() -> None:
    """Driftwatch: always-on drift monitoring for ML models in production."""


@main.group("config")
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


@main.command("run")
@config_option
@click.option("--http-port", type=int, help="Override runtime.http_port (0 = any free port).")
@friendly_errors
def run_command(config_path: Path, http_port: int | None) -> None:
    """Run the monitoring daemon: consume, validate, join and checkpoint until SIGTERM.

    Run several with the same config to share the partitions of the consumer group; each
    instance needs its own --http-port when they share a host.
    """
    from monitor.runtime.signals import Shutdown

    shutdown = Shutdown()
    shutdown.install()  # first: a signal at any moment of start-up is a clean stop
    import dataclasses

    from monitor.runtime import logging as dw_logging
    from monitor.runtime.daemon import Daemon

    settings = config_module.load(config_path)
    shutdown.timeout_seconds = settings.runtime.shutdown_timeout_seconds
    if http_port is not None:
        runtime = dataclasses.replace(settings.runtime, http_port=http_port)
        settings = dataclasses.replace(settings, runtime=runtime)
    dw_logging.configure(settings.runtime.log_level, settings.runtime.log_format)
    try:
        daemon = Daemon(settings, stop_event=shutdown.event)
    except DriftwatchError:
        if shutdown.event.is_set():
            sys.exit(0)  # asked to stop while a dependency was still missing: nothing to undo
        raise
    sys.exit(daemon.run())


@main.command("status")
@config_option
@click.option("--model", "models", multiple=True, help="Only this model (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@friendly_errors
def status_command(config_path: Path, models: tuple[str, ...], as_json: bool) -> None:
    """Show each model's health and why, drifted features, performance, totals, dead letters."""
    import msgspec

    from monitor.store.client import connect
    from monitor.store.query import Query

    settings = config_module.load(config_path)
    for name in models:
        if settings.model(name) is None:
            raise ConfigError("--model", f"no model named {name!r}", "see config check")
    query = Query(connect(settings.redis), settings)
    rows = query.status(list(models) or None)
    if as_json:
        since = time.time() - settings.performance.change_point_span_seconds
        doc = {
            "models": [
                _status_doc(row, query.change_points(row.model.name, since=since)) for row in rows
            ],
            "unknown_model_dead_letters": query.unknown_model_counts().dead_by_reason,
        }
        click.echo(msgspec.json.format(msgspec.json.encode(doc), indent=2).decode())
        return
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
    unknown = query.unknown_model_counts().dead_by_reason
    if unknown:
        said = ", ".join(f"{reason} {n:,}" for reason, n in sorted(unknown.items()))
        click.echo(f"dead letters without a model (unreadable or unknown model): {said}")


def _status_doc(row: Any, change_points: list[tuple[str, float]]) -> dict[str, Any]:
    """The JSON shape of one model's status (stable: scripts and alerting read it);
    ``change_points``: the online detectors' recent ones, (stream, event time)."""
    import msgspec

    c = row.counts
    latest = row.latest
    return {
        "model": row.model.name,
        "owner": row.model.owner,
        "task": row.model.task,
        "health": row.health.status if row.health else None,
        "reasons": row.health.reasons if row.health else [],
        "since": row.health.since if row.health else None,
        "predictions": c.predictions,
        "outcomes": c.outcomes,
        "joined": c.joined,
        "label_coverage": c.label_coverage,
        "mean_label_delay_seconds": c.mean_label_delay_seconds,
        "expired_predictions": c.expired_predictions,
        "orphan_outcomes": c.orphan_outcomes,
        "dead_letters": c.dead,
        "dead_by_reason": c.dead_by_reason,
        "last_event_ts": c.last_event_ts,
        "change_points": [{"stream": stream, "ts": ts} for stream, ts in change_points],
        "latest_window": None
        if latest is None
        else {
            "window_start": latest.window_start,
            "version": latest.version,
            "reference": latest.reference,
            "n": latest.n,
            "n_labelled": latest.n_labelled,
            "drifted": [
                {
                    "feature": v.feature,
                    "statistic": v.statistic,
                    "value": v.value,
                    "threshold": v.threshold,
                    "p_value": v.p_value,
                    "severity": v.severity,
                    "expected_false_alarm_rate": v.expected_false_alarm_rate,
                }
                for v in latest.verdicts
                if v.status == "drift" and v.feature != "__model__"
            ],
            "performance": latest.performance,
            "reference_performance": latest.reference_performance,
            "performance_verdicts": [_verdict_doc(v) for v in latest.performance_verdicts],
            "quality": {
                feature: msgspec.structs.asdict(q) for feature, q in latest.quality.items()
            },
            "quality_raised": [
                _verdict_doc(v) for v in latest.quality_verdicts if v.status == "degraded"
            ],
        },
        "rolling": None
        if row.rolling is None
        else {
            "since": row.rolling.window_start,
            "n": row.rolling.n,
            "n_labelled": row.rolling.n_labelled,
            "drifted": [
                v.feature
                for v in row.rolling.verdicts
                if v.status == "drift" and v.feature != "__model__"
            ],
            "performance": row.rolling.performance,
        },
    }


def _verdict_doc(v: Any) -> dict[str, Any]:
    """A performance or data-quality verdict in the status JSON."""
    return {
        "feature": v.feature,
        "statistic": v.statistic,
        "value": v.value,
        "threshold": v.threshold,
        "p_value": v.p_value,
        "n": v.n,
        "status": v.status,
        "severity": v.severity,
        "expected_false_alarm_rate": v.expected_false_alarm_rate,
        "reasons": list(v.reasons),
    }


@main.group("baseline")
def baseline_group() -> None:
    """Reference profiles: what each model's inputs and outputs looked like when it was good."""


@baseline_group.command("set")
@config_option
@click.option("--model", "model_name", required=True, help="A configured model.")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Training or validation data: .csv (header row) or .parquet, one column per feature.",
)
@click.option(
    "--from-stream", is_flag=True, help="Use the model's events of a period, read again from Kafka."
)
@click.option("--start", "start_text", help="Period start for --from-stream (ISO 8601 or now-7d).")
@click.option("--end", "end_text", help="Period end for --from-stream [default: now].")
@click.option("--prediction-column", default="prediction", show_default=True)
@click.option("--score-column", default=None, help="Binary: probability of the positive class.")
@click.option("--label-column", default=None, help="Ground truth, for reference performance.")
@click.option("--version", "ref_version", default=None, help="Reference version [default: time].")
@friendly_errors
def baseline_set(
    config_path: Path,
    model_name: str,
    path: Path | None,
    from_stream: bool,
    start_text: str | None,
    end_text: str | None,
    prediction_column: str,
    score_column: str | None,
    label_column: str | None,
    ref_version: str | None,
) -> None:
    """Compute a model's reference profile and make it current.

    From a file (--file) or from a period of the stream (--from-stream --start T1 [--end T2]).
    Windows binned from then on use it; earlier windows keep the reference they were binned on.

    \b
    Examples:
      driftwatch baseline set --model churn --file train.csv --label-column churned
      driftwatch baseline set --model churn --from-stream --start now-14d --end now-7d
    """
    import time

    from monitor.baseline import profile_from_file, profile_from_stream
    from monitor.simulate import parse_start
    from monitor.store.client import connect
    from monitor.store.keys import Keys
    from monitor.store.references import ReferenceStore

    settings = config_module.load(config_path)
    model = settings.model(model_name)
    if model is None:
        raise ConfigError("--model", f"no model named {model_name!r}", "see config check")
    if (path is None) == (not from_stream):
        raise click.UsageError("give either --file or --from-stream (with --start)")
    if path is not None:
        profile = profile_from_file(
            model,
            path,
            prediction_column=prediction_column,
            score_column=score_column,
            label_column=label_column,
            version=ref_version,
        )
    else:
        if not start_text:
            raise click.UsageError("--from-stream needs --start")
        now = time.time()
        try:
            start = parse_start(start_text, now)
            end = parse_start(end_text, now) if end_text else now
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        read = [0]

        def progress(n: int) -> None:
            read[0] += n
            if read[0] // 100_000 != (read[0] - n) // 100_000:
                click.echo(f"  {read[0]:,} records read", err=True)

        profile = profile_from_stream(
            settings, model, start, end, version=ref_version, progress=progress
        )
    ReferenceStore(connect(settings.redis), Keys(settings.redis.key_prefix)).put(profile)
    click.echo(
        f"{model_name}: reference {profile.version} from {profile.n:,} rows "
        f"({len(profile.features)} features) is now current"
    )


@baseline_group.command("list")
@config_option
@click.option("--model", "model_name", required=True, help="A configured model.")
@friendly_errors
def baseline_list(config_path: Path, model_name: str) -> None:
    """Show a model's reference versions, oldest first; the current one is marked."""
    from datetime import UTC, datetime

    from monitor.store.client import connect
    from monitor.store.query import Query

    settings = config_module.load(config_path)
    store = Query(connect(settings.redis), settings).references()
    current = store.current_versions([model_name])[model_name]
    for version, created in store.history(model_name):
        mark = "*" if version == current else " "
        click.echo(f"{mark} {version:<24} {datetime.fromtimestamp(created, UTC):%Y-%m-%d %H:%M}Z")


state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder holding the services' data, logs and pid files [default: .driftwatch/services].",
)


@main.group("services")
def services_group() -> None:
    """Local Kafka (KRaft, from Maven Central jars) and Redis for development: no Docker needed."""


@services_group.command("up")
@state_dir_option
@click.option("--kafka-port", default=9092, show_default=True)
@click.option("--controller-port", default=9093, show_default=True)
@click.option("--redis-port", default=6379, show_default=True)
@friendly_errors
def services_up(
    state_dir: Path | None, kafka_port: int, controller_port: int, redis_port: int
) -> None:
    """Start Redis and a single-node Kafka on 127.0.0.1 (reuses them when already running)."""
    from monitor import services

    endpoints = services.up(
        state_dir or services.DEFAULT_STATE_DIR,
        kafka_port=kafka_port,
        controller_port=controller_port,
        redis_port=redis_port,
        progress=lambda line: click.echo(line, err=True),
    )
    click.echo(f"kafka {endpoints.kafka_bootstrap}\nredis {endpoints.redis_url}")


@services_group.command("down")
@state_dir_option
@friendly_errors
def services_down(state_dir: Path | None) -> None:
    """Stop the services started from this folder (by recorded pid; data is kept)."""
    from monitor import services

    services.down(state_dir or services.DEFAULT_STATE_DIR)
    click.echo("services stopped")


@services_group.command("status")
@state_dir_option
@friendly_errors
def services_status(state_dir: Path | None) -> None:
    """Show whether Kafka and Redis from this folder are running; exit 1 if one is not."""
    from monitor import services

    report = services.status(state_dir or services.DEFAULT_STATE_DIR)
    for name, st in report.items():
        state = f"running pid {st.pid}" if st.running else "stopped"
        click.echo(f"{name:<6} {state:<20} {st.address or '-':<28} log {st.log_file or '-'}")
    if not all(st.running for st in report.values()):
        sys.exit(1)


@services_group.command("fetch")
@friendly_errors
def services_fetch() -> None:
    """Download the Kafka broker jars from Maven Central into the cache (needs mvn)."""
    from monitor import services

    click.echo(f"Kafka {services.KAFKA_VERSION} jars in {services.fetch_jars()}")


@main.group("topics")
def topics_group() -> None:
    """Manage the Kafka topics named in the config."""


@topics_group.command("create")
@config_option
@click.option(
    "--partitions",
    default=6,
    show_default=True,
    help="Partitions of the predictions and outcomes topics (equal counts keep joins local).",
)
@click.option("--replication-factor", default=1, show_default=True)
@friendly_errors
def topics_create(config_path: Path, partitions: int, replication_factor: int) -> None:
    """Create the predictions, outcomes and dead-letter topics; existing ones are left alone."""
    from monitor.ingest.topics import ensure_topics

    settings = config_module.load(config_path)
    for topic, created in ensure_topics(settings.kafka, partitions, replication_factor).items():
        click.echo(f"{topic}: {'created' if created else 'exists'}")


@main.command("simulate")
@config_option
@click.option(
    "--events",
    "n_events",
    type=click.IntRange(min=0),
    metavar="N",
    help="Number of predictions to produce (outcomes come on top).  [default: endless, Ctrl-C]",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    metavar="R",
    help="Predictions per second across all models: the simulated clock's pace, and the real "
    "pace unless --fast.  [default: simulate.rate]",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Random seed: the same seed and --start give byte-identical events.",
)
@click.option(
    "--fast",
    is_flag=True,
    help="No pacing: produce as fast as Kafka accepts. Timestamps still advance by 1/rate per "
    "prediction, so without --events they soon run ahead of the real clock.",
)
@click.option(
    "--start",
    "start_text",
    metavar="TIME",
    help="Simulated time of the first event: ISO 8601 (no zone = UTC), 'now', 'now-3d' or "
    "'now+1h' (units s, m, h, d).  [default: now; with --fast and --events, now minus "
    "events/rate, so the data ends now]",
)
@click.option(
    "--fault",
    "fault_specs",
    multiple=True,
    metavar="SPEC",
    help="Inject a fault, KIND:MODEL[:FEATURE]@START-END[xMAGNITUDE] (repeatable; added to "
    "the config's faults; syntax above).",
)
@click.option("--no-config-faults", is_flag=True, help="Ignore the config's [[simulate.faults]].")
@click.option(
    "--model",
    "model_names",
    multiple=True,
    metavar="NAME",
    help="Simulate only this model (repeatable).  [default: all configured models]",
)
@click.option(
    "--bootstrap",
    metavar="HOST:PORT",
    help="Kafka to produce to, overriding kafka.bootstrap_servers (comma-separated for several).",
)
@friendly_errors
def simulate_command(
    config_path: Path,
    n_events: int | None,
    rate: float | None,
    seed: int,
    fast: bool,
    start_text: str | None,
    fault_specs: tuple[str, ...],
    no_config_faults: bool,
    model_names: tuple[str, ...],
    bootstrap: str | None,
) -> None:
    """Produce realistic prediction and outcome events for the configured models to Kafka.

    Features, scores and labels follow each model's config; a share of predictions
    (simulate.label_rate) gets an outcome after a random delay (simulate.label_delay_seconds),
    keyed by the prediction id. Faults run on the simulated clock, counted from --start.

    \b
    Fault syntax: KIND:MODEL[:FEATURE]@START-END[xMAGNITUDE]
      KIND       covariate_shift   feature mean += MAGNITUDE std (categorical:
                                   mass moves to the rarest category)
                 concept_drift     the true label function changes (MAGNITUDE 0..1)
                 prediction_shift  model output += MAGNITUDE std of its output
                 nulls             share MAGNITUDE of the feature's values are null
                 out_of_range      share MAGNITUDE are 10-20 std out (numeric)
                 unseen_category   share MAGNITUDE get a new category (categorical)
                 malformed_json    share MAGNITUDE of predictions are broken JSON
      FEATURE    default: the model's first (fitting) feature
      START-END  seconds after the start, units s m h d allowed; no END = to the end
      MAGNITUDE  default 1

    \b
    Examples:
      driftwatch simulate                                  # real time, until Ctrl-C
      driftwatch simulate --events 100000 --fast           # backfill ending now
      driftwatch simulate --start now-1d --events 50000 --fast --seed 7
      driftwatch simulate --fault covariate_shift:churn:monthly_spend@10m-x2
      driftwatch simulate --no-config-faults --fault nulls:churn:plan@0-5mx0.3
    """
    from monitor.simulate import run_command

    run_command(
        config_module.load(config_path),
        n_events=n_events,
        rate=rate,
        seed=seed,
        fast=fast,
        start_text=start_text,
        fault_specs=fault_specs,
        no_config_faults=no_config_faults,
        model_names=model_names,
        bootstrap=bootstrap,
    )


@main.command("dashboard")
@config_option
@click.option("--host", help="Address to listen on.  [default: dashboard.host]")
@click.option("--port", type=int, help="Port to listen on.  [default: dashboard.port]")
@friendly_errors
def dashboard_command(config_path: Path, host: str | None, port: int | None) -> None:
    """Start the read-only Streamlit dashboard for this config (beside the daemon).

    Replaces this process with ``streamlit run``, so signals reach Streamlit directly and its exit
    code is this command's. The config path reaches the app through DRIFTWATCH_CONFIG.
    """
    import os

    import dashboard

    settings = config_module.load(config_path)  # a broken config fails here, in one line
    host = host or settings.dashboard.host
    port = settings.dashboard.port if port is None else port
    app = Path(dashboard.__file__).with_name("streamlit_app.py")
    argv = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--client.toolbarMode", "viewer",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    click.echo(f"dashboard: http://{shown}:{port}")
    sys.stdout.flush()
    env = {**os.environ, dashboard.ENV_CONFIG: str(config_path.resolve())}
    os.execve(sys.executable, argv, env)
