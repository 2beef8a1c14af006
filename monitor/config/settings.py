"""The whole file: :class:`Settings`, and :func:`load` / :func:`parse`, which build and check it.

Loading has two passes, so a file with several mistakes reports a type mistake first, wherever it
is: the generic pass turns TOML into dataclasses (unknown keys, wrong types, missing values), then
:meth:`Settings.validate` hands each section to its own ``validate`` and adds the rules that span
sections.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.config._parse import build
from monitor.config.alerting import AlertingSettings
from monitor.config.connections import KafkaSettings, RedisSettings
from monitor.config.ingest import FieldMapping, IngestSettings, WindowSettings
from monitor.config.models import ModelSettings
from monitor.config.retraining import RetrainingSettings
from monitor.config.runtime import (
    AuditSettings,
    DashboardSettings,
    RuntimeSettings,
)
from monitor.config.simulate import SimulateSettings
from monitor.config.verdicts import DriftSettings, PerformanceSettings, QualitySettings
from monitor.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole configuration file."""

    models: tuple[ModelSettings, ...]
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    fields: FieldMapping = field(default_factory=FieldMapping)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    windows: WindowSettings = field(default_factory=WindowSettings)
    drift: DriftSettings = field(default_factory=DriftSettings)
    performance: PerformanceSettings = field(default_factory=PerformanceSettings)
    quality: QualitySettings = field(default_factory=QualitySettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    alerting: AlertingSettings = field(default_factory=AlertingSettings)
    retraining: RetrainingSettings = field(default_factory=RetrainingSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    simulate: SimulateSettings = field(default_factory=SimulateSettings)

    def model(self, name: str) -> ModelSettings | None:
        return next((m for m in self.models if m.name == name), None)

    def validate(self) -> None:
        """Check each section's own rules, then whether the secrets it names can be found.

        Only what no single section can know is checked here: at least one model, unique model
        names, faults and retraining policies that name configured models, retraining only
        with alerting (its policies act on alerts). Secrets come last: they depend on the
        environment, not the file, so mistakes in the file itself are reported first.
        """
        if not self.models:
            raise ConfigError("models", "no model configured", "add at least one [[models]] table")
        seen: set[str] = set()
        for i, m in enumerate(self.models):
            key = f"models[{i}]"
            if m.name in seen:
                raise ConfigError(
                    f"{key}.name", f"model {m.name!r} is configured twice", "merge them"
                )
            seen.add(m.name)
            m.validate(key)
        self.fields.validate("fields")
        self.simulate.validate("simulate", {m.name: m for m in self.models})
        self.kafka.validate("kafka")
        self.performance.validate("performance")
        self.quality.validate("quality")
        self.drift.validate("drift")
        self.windows.validate("windows")
        self.ingest.validate("ingest")
        self.alerting.validate("alerting", frozenset(seen))
        self.retraining.validate("retraining")
        self.audit.validate("audit")
        if self.retraining.enabled and not self.alerting.enabled:
            raise ConfigError(
                "retraining.enabled",
                "retraining policies act on alerts, and alerting is off",
                "set alerting.enabled = true, or retraining.enabled = false",
            )
        for i, policy in enumerate(self.retraining.policies):
            for model in policy.models:
                if model not in seen:
                    raise ConfigError(
                        f"retraining.policies[{i}].models",
                        f"model {model!r} is not configured",
                        "name a [[models]] entry",
                    )
        secrets = (
            *self.redis.secrets("redis"),
            *self.kafka.secrets("kafka"),
            *self.alerting.secrets("alerting"),
            *self.retraining.secrets("retraining"),
        )
        for key, secret in secrets:
            secret.check(key)


def load(path: str | Path) -> Settings:
    """Read and validate a config file; raises :class:`ConfigError` on any problem."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError("<file>", f"{path} does not exist", "pass --config PATH") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("<file>", f"{path} is not valid TOML ({exc})", "fix the syntax") from None
    return parse(raw)


def parse(raw: Mapping[str, Any]) -> Settings:
    """Validate an already-parsed TOML document."""
    settings: Settings = build(Settings, raw, "")
    settings.validate()
    return settings
