"""Configuration: one TOML file → frozen, validated dataclasses.

Only this package parses TOML. Each component receives its own section (``Settings.kafka``,
``Settings.redis``, …) as an argument and never reads files or the environment itself. Every
problem — unknown key, wrong type, missing value, bad combination — raises
:class:`~monitor.errors.ConfigError` naming the dotted key and the fix, so a daemon with a broken
config stops at start-up instead of misbehaving at 3 a.m.

Each section's dataclass states its own rules in a ``validate(key)`` method, next to its fields;
the types are checked once, generically, from the annotations (``_parse``). Modules:

- ``settings``: :class:`Settings`, :func:`load`, :func:`parse`, :func:`check` (every problem at
  once) and the rules spanning sections;
- ``connections``: Kafka, Redis and :class:`Secret`;
- ``alerting``: the routing tree and the receivers of alerts;
- ``models``: the monitored models;
- ``ingest``: event field mapping, ingest limits, windows;
- ``verdicts``: drift, performance and data-quality verdicts;
- ``runtime``: the daemon, the dashboard and the audit trail;
- ``retraining``: retraining policies and webhook targets;
- ``simulate``: the traffic simulator and its faults;
- ``urls``: no password in a URL, and :func:`masked_url` for showing one.

Import from ``monitor.config``, not the modules: their split may change.
"""

from __future__ import annotations

from monitor.config.alerting import (
    DEFAULT_GROUP_INTERVAL_SECONDS,
    DEFAULT_GROUP_WAIT_SECONDS,
    DEFAULT_INHIBIT_RULES,
    DEFAULT_REPEAT_INTERVAL_SECONDS,
    GROUP_BY_ALL,
    AlertingSettings,
    InhibitRuleSettings,
    ReceiverSettings,
    RouteSettings,
    validate_routing,
)
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
from monitor.config.retraining import (
    PolicySettings,
    RetrainingSettings,
    TargetSettings,
    host_allowed,
    host_entry,
)
from monitor.config.rules import DEFAULT_RULES, RuleKind, RuleSettings
from monitor.config.runtime import (
    AuditSettings,
    DashboardSettings,
    RuntimeSettings,
)
from monitor.config.settings import (
    REDIS_ONLY,
    SECRET_SECTIONS,
    Settings,
    check,
    load,
    parse,
    read,
)
from monitor.config.simulate import FaultKind, FaultSettings, SimulateSettings
from monitor.config.time_intervals import TimeIntervalSettings
from monitor.config.urls import masked_url
from monitor.config.verdicts import (
    JUDGEABLE_METRICS,
    DriftSettings,
    PerformanceSettings,
    QualitySettings,
)

__all__ = [
    "DEFAULT_GROUP_INTERVAL_SECONDS",
    "DEFAULT_GROUP_WAIT_SECONDS",
    "DEFAULT_INHIBIT_RULES",
    "DEFAULT_REPEAT_INTERVAL_SECONDS",
    "DEFAULT_RULES",
    "GROUP_BY_ALL",
    "JUDGEABLE_METRICS",
    "MIN_POLL_INTERVAL_MS",
    "OUTCOME_FIELDS",
    "PREDICTION_FIELDS",
    "REDIS_ONLY",
    "SECRET_SECTIONS",
    "AlertingSettings",
    "AuditSettings",
    "DashboardSettings",
    "DriftSettings",
    "FaultKind",
    "FaultSettings",
    "FeatureType",
    "FieldMapping",
    "IngestSettings",
    "InhibitRuleSettings",
    "KafkaSettings",
    "ModelSettings",
    "PerformanceSettings",
    "PolicySettings",
    "QualitySettings",
    "ReceiverSettings",
    "RedisSettings",
    "RetrainingSettings",
    "RouteSettings",
    "RuleKind",
    "RuleSettings",
    "RuntimeSettings",
    "SaslMechanism",
    "Secret",
    "SecurityProtocol",
    "Settings",
    "SimulateSettings",
    "TargetSettings",
    "TaskType",
    "TimeIntervalSettings",
    "WindowSettings",
    "check",
    "host_allowed",
    "host_entry",
    "load",
    "masked_url",
    "parse",
    "read",
    "validate_routing",
]
