"""``driftwatch baseline``: compute and list the reference profiles windows are judged against."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from monitor import config as config_module
from monitor.cli.common import config_option, friendly_errors, open_query, require_model
from monitor.times import iso_utc, parse_start

#: ``--from-stream`` reports progress every this many records read from Kafka.
_PROGRESS_EVERY = 100_000


@click.group("baseline", short_help="Set and list reference profiles.")
def baseline_group() -> None:
    """Reference profiles: what each model's inputs and outputs looked like when it was good."""


@baseline_group.command("set", short_help="Compute a reference profile and make it current.")
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
@click.option(
    "--prediction-column",
    default="prediction",
    show_default=True,
    help="Column of --file holding the model's predictions.",
)
@click.option("--score-column", default=None, help="Binary: probability of the positive class.")
@click.option("--label-column", default=None, help="Ground truth, for reference performance.")
@click.option("--version", "ref_version", default=None, help="Reference version [default: time].")
@click.option(
    "--by",
    "who",
    default=lambda: os.environ.get("USER", "unknown"),
    show_default="$USER",
    help="Who sets it (filed in the model's audit trail).",
)
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
    who: str,
) -> None:
    """Compute a model's reference profile and make it current.

    From a file (--file) or from a period of the stream (--from-stream --start T1 [--end T2]).
    Windows binned from then on use it; earlier windows keep the reference they were binned on.

    \b
    Examples:
      driftwatch baseline set --model churn --file train.csv --label-column churned
      driftwatch baseline set --model churn --from-stream --start now-14d --end now-7d
    """
    from monitor.baseline import profile_from_file, profile_from_stream
    from monitor.vocab.audit import AuditEvent

    settings = config_module.load(config_path, secrets=("redis", "kafka"))
    model = require_model(settings, model_name)
    if (path is None) == (not from_stream):
        raise click.UsageError("give either --file or --from-stream (with --start)")
    if path is not None:
        source = str(path)
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
        read = 0

        def progress(n: int) -> None:
            nonlocal read
            read += n
            if read // _PROGRESS_EVERY != (read - n) // _PROGRESS_EVERY:
                click.echo(f"  {read:,} records read", err=True)

        source = f"stream {iso_utc(start)}..{iso_utc(end)}"
        profile = profile_from_stream(
            settings, model, start, end, version=ref_version, progress=progress
        )
    query = open_query(settings)
    query.references().put(profile)
    summary = f"reference {profile.version} set from {source} ({profile.n:,} rows)"
    details = {"version": profile.version, "source": source, "rows": str(profile.n)}
    event = AuditEvent(time.time(), "reference_set", model_name, who, summary, details)
    query.audit_log().append(event)
    click.echo(
        f"{model_name}: reference {profile.version} from {profile.n:,} rows "
        f"({len(profile.features)} features) is now current"
    )
    calibration = profile.calibration
    if calibration is not None and calibration.refused:
        click.echo(f"  no performance estimate before labels: {calibration.refused}")
    elif calibration is not None:
        click.echo(
            f"  performance estimates before labels: calibrated on {calibration.n:,} labelled "
            f"scores (raw scores' expected calibration error {calibration.ece:.3f}, calibrated "
            f"Brier score {calibration.brier:.3f})"
        )


@baseline_group.command("list", short_help="List a model's reference versions.")
@config_option
@click.option("--model", "model_name", required=True, help="A configured model.")
@friendly_errors
def baseline_list(config_path: Path, model_name: str) -> None:
    """Show a model's reference versions, oldest first; the current one is marked."""

    settings = config_module.load(config_path, secrets=config_module.REDIS_ONLY)
    store = open_query(settings).references()
    current = store.current_versions([model_name])[model_name]
    for version, created in store.history(model_name):
        mark = "*" if version == current else " "
        click.echo(f"{mark} {version:<24} {datetime.fromtimestamp(created, UTC):%Y-%m-%d %H:%M}Z")
