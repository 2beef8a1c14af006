"""Helpers of the doctor's tests (fixtures are in conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from monitor import config
from monitor.config import Settings
from monitor.doctor.findings import Emit, Finding

BASE = """
[kafka]
bootstrap_servers = ["{bootstrap}"]
group_id = "{group}"
predictions_topic = "{predictions}"
outcomes_topic = "{outcomes}"
dead_letter_topic = "{dead}"

[redis]
url = "{redis_url}"
key_prefix = "{prefix}"

[[models]]
name = "m"
owner = "o"
task = "binary"
features = {{ a = "numeric", b = "categorical" }}
"""


#: An alert receiver whose URL comes from ``$DW_DOCTOR_HOOK`` and a retraining webhook on
#: ``127.0.0.1:{port}``: the doctor's reachability checks' targets.
TARGETS = """
[alerting]
enabled = true
route = {{ receiver = "owners" }}

[[alerting.receivers]]
name = "owners"
apprise_urls = [{{ env = "DW_DOCTOR_HOOK" }}]

[retraining]
enabled = true
allowed_hosts = ["127.0.0.1:{port}"]

[[retraining.targets]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:{port}/retrain"

[[retraining.policies]]
name = "p"
models = ["m"]
target = "hook"
"""


def config_text(
    bootstrap: str, redis_url: str, prefix: str, predictions: str, outcomes: str, dead: str
) -> str:
    """A deployment on these services, with a consumer group of its own."""
    group = f"dwtest-{uuid.uuid4().hex[:8]}"
    return BASE.format(
        bootstrap=bootstrap,
        group=group,
        predictions=predictions,
        outcomes=outcomes,
        dead=dead,
        redis_url=redis_url,
        prefix=prefix,
    )


def settings_of(path: Path) -> Settings:
    return config.load(path)


def collect(check: Callable[[Settings, Emit], None], settings: Settings) -> dict[str, Finding]:
    """Run one check; its findings by name (a name met twice keeps the last)."""
    found: list[Finding] = []
    check(settings, found.append)
    return {f.check: f for f in found}
