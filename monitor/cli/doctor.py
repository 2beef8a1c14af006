"""``driftwatch doctor``: check a deployment's config and dependencies, with the fix for each."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor.cli.common import config_option

if TYPE_CHECKING:
    from monitor.doctor.findings import Finding

#: Version of the ``--json`` document; raised when a field changes meaning or goes away.
JSON_VERSION = 1
_COLOURS = {"ok": "green", "warn": "yellow", "fail": "red"}


@click.command("doctor", short_help="Check config, Kafka, Redis, receivers and clocks.")
@config_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document (progress lines go to stderr).",
)
def doctor_command(config_path: Path, as_json: bool) -> None:
    """Check everything a deployment needs and print each finding with its fix.

    The config must validate (as config check); Kafka must answer and accept the credentials,
    hold the three topics, with as many outcomes partitions as predictions partitions; lag is
    counted from the Redis checkpoints. Redis must answer, be 6.2 or later, persist, never
    evict (maxmemory-policy noeviction) and have room for the configured models. Each alert
    receiver and retraining target must resolve and accept a connection (TLS verified for
    https); nothing is sent to any of them, and nothing is written to Kafka or Redis. The
    clock must agree with Redis' clock within 1 s.

    One line per finding as each check completes; every check is bounded in time (about 3 s
    when a dependency is down). Exit status: 0 when nothing failed (warnings allowed), 1 when
    a check failed, 2 when the config file itself is invalid.
    """
    from monitor.doctor import diagnose, exit_code

    def show(finding: Finding) -> None:
        colour = _COLOURS[finding.status.value]
        click.secho(finding.line, fg=colour, err=as_json)

    findings = diagnose(config_path, show)
    code = exit_code(findings)
    if as_json:
        document = {
            "version": JSON_VERSION,
            "config": str(config_path),
            "exit_code": code,
            "findings": [f.as_dict() for f in findings],
        }
        click.echo(json.dumps(document, indent=2))
    else:
        failed = sum(f.status.value == "fail" for f in findings)
        warned = sum(f.status.value == "warn" for f in findings)
        plural = "" if warned == 1 else "s"
        click.echo(f"{len(findings)} findings: {failed} failed, {warned} warning{plural}")
    sys.exit(code)
