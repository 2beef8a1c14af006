"""Configuration: one TOML file → frozen, validated dataclasses.

Only this package parses TOML. Each component receives its own section (``Settings.kafka``,
``Settings.redis``, …) as an argument and never reads files or the environment itself. Every
problem — unknown key, wrong type, missing value, bad combination — raises
:class:`~monitor.errors.ConfigError` naming the dotted key and the fix, so a daemon with a broken
config stops at start-up instead of misbehaving at 3 a.m.

Each section's dataclass states its own rules in a ``validate(key)`` method, next to its fields;
the types are checked once, generically, from the annotations (``_parse``). Modules:

- ``settings``: :class:`Settings`, :func:`load`, :func:`parse` and the rules spanning sections;
- ``connections``: Kafka, Redis and :class:`Secret`;
- ``models``: the monitored models;
- ``ingest``: event field mapping, ingest limits, windows;
- ``verdicts``: drift, performance and data-quality verdicts;
- ``runtime``: the daemon, the dashboard, alerting and retraining switches;
- ``simulate``: the traffic simulator and its faults.

Import from ``monitor.config``, not the modules: their split may change.
"""

from __future__ import annotations

from monitor.config.connections import (
    MIN_POLL_INTERVAL_MS,
    KafkaSettings,
    RedisSettings,
    SaslMechanism,
    Secret,
    SecurityProtocol,
)
from monitor.config.ingest import (
    OUTCOME_FIELDS,
    PREDICTION_FIELDS,
    FieldMapping,
    IngestSettings,
    WindowSettings,
)
from monitor.config.models import FeatureType, ModelSettings, TaskType
from monitor.config.runtime import (
    AlertingSettings,
    DashboardSettings,
    RetrainingSettings,
    RuntimeSettings,
)
from monitor.config.settings import Settings, load, parse
from monitor.config.simulate import FaultKind, FaultSettings, SimulateSettings
from monitor.config.verdicts import (
    JUDGEABLE_METRICS,
    DriftSettings,
    PerformanceSettings,
    QualitySettings,
)

__all__ = [
    "JUDGEABLE_METRICS",
    "MIN_POLL_INTERVAL_MS",
    "OUTCOME_FIELDS",
    "PREDICTION_FIELDS",
    "AlertingSettings",
    "DashboardSettings",
    "DriftSettings",
    "FaultKind",
    "FaultSettings",
    "FeatureType",
    "FieldMapping",
    "IngestSettings",
    "KafkaSettings",
    "ModelSettings",
    "PerformanceSettings",
    "QualitySettings",
    "RedisSettings",
    "RetrainingSettings",
    "RuntimeSettings",
    "SaslMechanism",
    "Secret",
    "SecurityProtocol",
    "Settings",
    "SimulateSettings",
    "TaskType",
    "WindowSettings",
    "load",
    "parse",
]
