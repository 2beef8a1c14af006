"""``driftwatch simulate``: the options and help of the traffic simulator's command.

What the command does with the values lives in :mod:`monitor.simulate.command`; the simulator
(numpy, Kafka) is imported only when the command runs, so ``--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from monitor import config as config_module
from monitor.cli.common import config_option, friendly_errors


@click.command("simulate", short_help="Produce realistic test events, with faults.")
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
        config_module.load(config_path, secrets=("kafka",)),
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
