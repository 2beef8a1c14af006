"""``driftwatch dashboard``: the read-only Streamlit app for a config, in this process's place."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from monitor import config as config_module
from monitor.cli.common import config_option, friendly_errors
from monitor.errors import StoreUnavailableError


@click.command("dashboard", short_help="Start the read-only web dashboard.")
@config_option
@click.option("--host", help="Address to listen on.  [default: dashboard.host]")
@click.option("--port", type=int, help="Port to listen on.  [default: dashboard.port]")
@friendly_errors
def dashboard_command(config_path: Path, host: str | None, port: int | None) -> None:
    """Start the read-only Streamlit dashboard for this config (beside the daemon).

    It listens on dashboard.host and dashboard.port of the config unless --host or --port say
    otherwise, and prints its address; it does not start when Redis refuses its password. This
    process becomes "streamlit run", so signals reach Streamlit directly and its exit code is
    this command's; the config path reaches the app through the DRIFTWATCH_CONFIG environment
    variable.
    """
    import dashboard
    from monitor.store import layout
    from monitor.store.client import check_access, connect

    settings = config_module.load(
        config_path, secrets=config_module.REDIS_ONLY
    )  # one line if broken
    try:
        client = connect(settings.redis)
        check_access(client, settings.redis)  # a refused password: one line
        layout.check(client, settings.redis)  # data a newer release wrote: one line
    except StoreUnavailableError as exc:  # a Redis started later is fine: the pages retry
        click.echo(f"warning: {exc}; the dashboard starts anyway and retries", err=True)
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
        # Streamlit's welcome message asks checkip.amazonaws.com for the public address when
        # bound to all interfaces (a container): no request leaves an air-gapped install, and
        # the URL is printed below.
        "--logger.hideWelcomeMessage", "true",
    ]  # fmt: skip
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    click.echo(f"dashboard: http://{shown}:{port}")
    sys.stdout.flush()
    env = {**os.environ, dashboard.ENV_CONFIG: str(config_path.resolve())}
    os.execve(sys.executable, argv, env)
