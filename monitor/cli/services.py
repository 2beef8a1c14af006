"""``driftwatch services``: local Kafka and Redis for development, managed by pid files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor.cli.common import friendly_errors
from monitor.config import masked_url

state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder holding the services' data, logs and pid files [default: .driftwatch/services].",
)


@click.group("services", short_help="Start and stop local Kafka and Redis.")
def services_group() -> None:
    """Local Kafka (KRaft, from Maven Central jars) and Redis for development: no Docker needed."""


@services_group.command("up", short_help="Start local Redis and Kafka.")
@state_dir_option
@click.option("--kafka-port", default=9092, show_default=True, help="Kafka broker port.")
@click.option(
    "--controller-port", default=9093, show_default=True, help="Kafka KRaft controller port."
)
@click.option("--redis-port", default=6379, show_default=True, help="Redis port.")
@friendly_errors
def services_up(
    state_dir: Path | None, kafka_port: int, controller_port: int, redis_port: int
) -> None:
    """Start Redis and a single-node Kafka on 127.0.0.1 (reuses them when already running).

    Redis gets a random password, generated on its first start into a file only you can read
    (redis/password in the state folder, kept across restarts): name it in redis.password_file.
    The state folder is made readable by you only.
    """
    from monitor import services

    endpoints = services.up(
        state_dir or services.DEFAULT_STATE_DIR,
        kafka_port=kafka_port,
        controller_port=controller_port,
        redis_port=redis_port,
        redis_password=True,
        progress=lambda line: click.echo(line, err=True),
    )
    click.echo(f"kafka {endpoints.kafka_bootstrap}\nredis {masked_url(endpoints.redis_url)}")
    if endpoints.redis_password_file is not None:
        click.echo(f"redis password in {endpoints.redis_password_file} (redis.password_file)")


@services_group.command("down", short_help="Stop the local services (data is kept).")
@state_dir_option
@friendly_errors
def services_down(state_dir: Path | None) -> None:
    """Stop the services started from this folder (by recorded pid; data is kept)."""
    from monitor import services

    services.down(state_dir or services.DEFAULT_STATE_DIR)
    click.echo("services stopped")


@services_group.command("status", short_help="Show whether the local services run.")
@state_dir_option
@friendly_errors
def services_status(state_dir: Path | None) -> None:
    """Show whether Kafka and Redis from this folder are running; exit 1 if one is not."""
    from monitor import services

    report = services.status(state_dir or services.DEFAULT_STATE_DIR)
    for name, st in report.items():
        state = f"running pid {st.pid}" if st.running else "stopped"
        address = masked_url(st.address) if st.address else "-"
        line = f"{name:<6} {state:<20} {address:<28} log {st.log_file or '-'}"
        click.echo(line + (f" password in {st.password_file}" if st.password_file else ""))
    if not all(st.running for st in report.values()):
        sys.exit(1)


@services_group.command("fetch", short_help="Download the Kafka jars (needs mvn).")
@friendly_errors
def services_fetch() -> None:
    """Download the Kafka broker jars from Maven Central into the cache (needs mvn)."""
    from monitor import services

    click.echo(f"Kafka {services.KAFKA_VERSION} jars in {services.fetch_jars()}")
