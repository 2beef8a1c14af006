"""Configuration: one TOML file → frozen, validated dataclasses.

Only this module parses TOML. Each component receives its own section (``Settings.kafka``,
``Settings.redis``, …) as an argument and never reads files or the environment itself. Every
problem — unknown key, wrong type, missing value, bad combination — raises
:class:`~monitor.errors.ConfigError` naming the dotted key and the fix, so a daemon with a broken
config stops at start-up instead of misbehaving at 3 a.m.

Secrets are never written in the file: a key ending in ``_env`` names an environment variable and
``_file`` names a file holding the value (Kubernetes secret mounts). :class:`Secret` resolves them
when a client connects and masks itself in ``repr``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from monitor.errors import ConfigError

TaskType = Literal["binary", "multiclass", "regression"]
FeatureType = Literal["numeric", "categorical", "boolean"]
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

#: Contract fields a user may remap to paths in their own events (``docs/events.md``).
PREDICTION_FIELDS = ("id", "model", "version", "ts", "features", "prediction", "score", "tags")
OUTCOME_FIELDS = ("id", "model", "ts", "label")
#: Twice the Redis socket timeout (``monitor/store/client.py``): the longest the poll loop can wait
#: on one Redis call, with room to spare.
MIN_POLL_INTERVAL_MS = 10_000

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret named by an environment variable or a file; the value never enters config."""

    env: str = ""
    file: str = ""

    def __bool__(self) -> bool:
        return bool(self.env or self.file)

    def __repr__(self) -> str:
        source = f"env:{self.env}" if self.env else f"file:{self.file}" if self.file else "unset"
        return f"Secret({source}, value=***)"

    def reveal(self) -> str | None:
        """Return the secret's value, or ``None`` when no source is configured."""
        if self.env:
            return os.environ.get(self.env)
        if self.file:
            return Path(self.file).read_text().strip()
        return None


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    """Where events come from and where dead letters go."""

    bootstrap_servers: tuple[str, ...] = ("127.0.0.1:9092",)
    group_id: str = "driftwatch"
    client_id: str = "driftwatch"
    predictions_topic: str = "predictions"
    outcomes_topic: str = "outcomes"
    dead_letter_topic: str = "driftwatch-dead-letters"
    #: Records per poll: large enough to amortise Redis round trips, small enough that one
    #: batch's work stays far below max_poll_interval.
    max_poll_records: int = 2000
    #: How long the group waits for a silent member before moving its partitions elsewhere:
    #: the pause a crashed instance causes. Heartbeats go out at a third of it.
    session_timeout_ms: int = 10_000
    #: Longest gap between polls before the client leaves the group. The poll loop never waits
    #: on a batch (workers apply them), only on its own Redis calls (claims, sweeps), each bounded
    #: by the Redis socket timeout; the first timeout pauses them. The minimum leaves room.
    max_poll_interval_ms: int = 300_000
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "PLAIN"
    sasl_username_env: str = ""
    sasl_password_env: str = ""
    sasl_password_file: str = ""
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""
    ssl_password_env: str = ""

    @property
    def sasl_password(self) -> Secret:
        return Secret(env=self.sasl_password_env, file=self.sasl_password_file)

    @property
    def ssl_password(self) -> Secret:
        return Secret(env=self.ssl_password_env)

    def client_kwargs(self) -> dict[str, Any]:
        """kafka-python connection arguments, secrets resolved (never log the result)."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": list(self.bootstrap_servers),
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol.startswith("SASL"):
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = os.environ.get(self.sasl_username_env, "")
            kwargs["sasl_plain_password"] = self.sasl_password.reveal()
        if self.security_protocol.endswith("SSL"):
            for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
                if getattr(self, key):
                    kwargs[key] = getattr(self, key)
            if self.ssl_password:
                kwargs["ssl_password"] = self.ssl_password.reveal()
        return kwargs


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """The shared state store. All instances of one deployment point at the same Redis."""

    url: str = "redis://127.0.0.1:6379/0"
    password_env: str = ""
    password_file: str = ""
    #: Prefix of every key, so several deployments (or tests) can share one Redis.
    key_prefix: str = "dw"

    @property
    def password(self) -> Secret:
        return Secret(env=self.password_env, file=self.password_file)


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """Dotted paths of contract fields in the user's own events (empty = the contract name)."""

    predictions: Mapping[str, str] = field(default_factory=dict)
    outcomes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IngestSettings:
    """Validation and join limits."""

    #: How long a prediction waits for its outcome (and an early outcome for its prediction).
    label_horizon_seconds: int = 7 * 24 * 3600
    #: Larger events are dead-lettered: protects memory and Redis from a runaway producer.
    max_event_bytes: int = 256 * 1024
    #: Events stamped further in the future than this are dead-lettered as bad timestamps.
    max_future_seconds: int = 24 * 3600
    #: Where a partition with no checkpoint in Redis starts: its oldest or its next record.
    start_from: Literal["earliest", "latest"] = "earliest"
    #: Most records of one partition applied as one atomic batch. Records that arrive while the
    #: partition's previous batch is being applied wait and form the next one, so batches grow
    #: with load (amortising each batch's fixed cost) up to this size, which bounds how long one
    #: checkpoint script keeps Redis busy (~25 ms at 5000).
    max_batch_records: int = 5000


@dataclass(frozen=True, slots=True)
class WindowSettings:
    """Event-time tumbling windows."""

    size_seconds: int = 3600
    #: Windows start at origin + k × size_seconds (unix seconds): align them with business
    #: periods, e.g. days that start at 06:00 UTC.
    origin: int = 0
    #: Events later than this behind the newest window are still counted in their own window.
    allowed_lateness_seconds: int = 600
    #: Windows and their evaluations are kept this long after they were last written (wall
    #: clock), so a backfill of old data stays visible as long as live data does.
    retention_days: int = 30
    #: Number of recent windows in the rolling view.
    rolling_windows: int = 24


@dataclass(frozen=True, slots=True)
class DriftSettings:
    """How drift verdicts are reached (docs/statistics.md)."""

    #: "calibrated": thresholds from the statistic's null distribution for the window's size,
    #: bootstrapped from the reference; "fixed": the familiar PSI 0.1 / 0.25 and p < 0.05.
    method: Literal["calibrated", "fixed"] = "calibrated"
    #: No verdict on fewer rows: small windows make every statistic noisy.
    min_samples: int = 200
    #: Per-feature false-alarm rate of the calibrated test on a window without drift.
    alpha: float = 0.01
    #: Benjamini–Hochberg false discovery rate across a model's features.
    fdr: float = 0.05
    #: Effect-size floor: below this PSI a statistically significant change is not drift
    #: (protects huge windows from flagging trivia).
    min_psi: float = 0.05
    #: Familiar fixed thresholds (method = "fixed", and the "major" level for critical).
    psi_warning: float = 0.1
    psi_critical: float = 0.25
    p_value: float = 0.05
    #: Weighted share of drifted features at which the model-level verdict is critical.
    critical_share: float = 0.5
    #: Bootstrap draws per calibrated threshold (cached per reference, feature and size).
    bootstrap_draws: int = 500
    #: Online change detector on each model's error and prediction streams (river).
    detector: Literal["adwin", "page_hinkley", "kswin", "ddm"] = "adwin"


@dataclass(frozen=True, slots=True)
class PerformanceSettings:
    """How performance verdicts are reached (docs/statistics.md, performance verdicts)."""

    #: Metrics judged per task; the first is the headline of tables and charts.
    binary_metrics: tuple[str, ...] = ("accuracy", "roc_auc", "f1")
    multiclass_metrics: tuple[str, ...] = ("accuracy", "macro_f1")
    regression_metrics: tuple[str, ...] = ("mae", "rmse")
    #: No verdict on fewer labelled pairs: a metric on a few dozen labels is mostly noise.
    min_labels: int = 200
    #: Probability that a window whose performance did not change flags any metric (Holm's
    #: correction across the model's metrics).
    alpha: float = 0.01
    #: Practical floors: a significant change smaller than these is reported, not raised.
    #: Points for metrics in [0, 1] (accuracy, ROC AUC, F1, …) ...
    min_drop: float = 0.01
    critical_drop: float = 0.05
    #: ... and a relative increase for errors (MAE, RMSE, MAPE, log loss, Brier).
    min_relative_increase: float = 0.05
    critical_relative_increase: float = 0.20
    #: Bootstrap draws per metric and label count (cached per reference).
    bootstrap_draws: int = 2000
    #: A change point of the online detector on a model's error stream warns for this long
    #: (critical once a window's performance verdict confirms it), then it is history.
    change_point_span_seconds: int = 6 * 3600

    def metrics(self, task: TaskType) -> tuple[str, ...]:
        return {
            "binary": self.binary_metrics,
            "multiclass": self.multiclass_metrics,
            "regression": self.regression_metrics,
        }[task]


@dataclass(frozen=True, slots=True)
class QualitySettings:
    """How data-quality verdicts are reached (docs/statistics.md, data quality)."""

    #: Probability that a window whose data quality did not change flags any rate (Holm's
    #: correction across the model's features and rates).
    alpha: float = 0.01
    #: Practical floors: an increase of a rate (missing, wrong type, out of range, unseen) by
    #: fewer points than this is reported, not raised ...
    min_increase: float = 0.02
    #: ... and by at least this many points it is critical (once the next window confirms it).
    critical_increase: float = 0.2
    #: Unseen categories named per feature in verdicts and status.
    unseen_named: int = 5


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """One monitored model."""

    name: str
    owner: str
    task: TaskType
    features: Mapping[str, FeatureType]
    #: Binary classifiers: score at or above which the positive class is predicted, for events
    #: that send a score and no prediction (an event's prediction is the model's own decision).
    threshold: float = 0.5
    #: Multiclass classifiers: the class labels, for per-class metrics.
    classes: tuple[str, ...] = ()
    #: Relative weight of each feature in the model-level drift verdict (default 1).
    importance: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """The daemon process: health/metrics endpoint and logging."""

    http_host: str = "127.0.0.1"
    http_port: int = 9108
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    #: Bound on a graceful stop: finish the batch, flush, commit, exit.
    shutdown_timeout_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    """The Streamlit app started by ``driftwatch dashboard``."""

    host: str = "127.0.0.1"
    port: int = 8501
    refresh_seconds: int = 30


@dataclass(frozen=True, slots=True)
class AlertingSettings:
    """Owner-routed alerting (filled by the alerting capability)."""

    enabled: bool = False


@dataclass(frozen=True, slots=True)
class RetrainingSettings:
    """Retraining webhooks (filled by the retraining capability)."""

    enabled: bool = False


FaultKind = Literal[
    "covariate_shift",
    "concept_drift",
    "prediction_shift",
    "nulls",
    "out_of_range",
    "unseen_category",
    "malformed_json",
]


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """One injected fault of the traffic simulator, on the simulated clock."""

    kind: FaultKind
    model: str
    #: Affected feature (covariate shift and data-quality faults); empty = the first feature.
    feature: str = ""
    start_seconds: float = 0.0
    #: 0 = until the end of the run.
    end_seconds: float = 0.0
    #: Shift in reference standard deviations, or the share of affected events for
    #: data-quality faults.
    magnitude: float = 1.0


@dataclass(frozen=True, slots=True)
class SimulateSettings:
    """``driftwatch simulate`` defaults; the demo reads its fault schedule from here."""

    rate: float = 200.0
    #: Mean delay between a prediction and its outcome, on the simulated clock.
    label_delay_seconds: float = 30.0
    #: Share of predictions that ever receive an outcome.
    label_rate: float = 0.9
    faults: tuple[FaultSettings, ...] = ()


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole configuration file."""

    models: tuple[ModelSettings, ...]
    kafka: KafkaSettings = KafkaSettings()
    redis: RedisSettings = RedisSettings()
    fields: FieldMapping = FieldMapping()
    ingest: IngestSettings = IngestSettings()
    windows: WindowSettings = WindowSettings()
    drift: DriftSettings = DriftSettings()
    performance: PerformanceSettings = PerformanceSettings()
    quality: QualitySettings = QualitySettings()
    runtime: RuntimeSettings = RuntimeSettings()
    dashboard: DashboardSettings = DashboardSettings()
    alerting: AlertingSettings = AlertingSettings()
    retraining: RetrainingSettings = RetrainingSettings()
    simulate: SimulateSettings = SimulateSettings()

    def model(self, name: str) -> ModelSettings | None:
        return next((m for m in self.models if m.name == name), None)


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
    settings = _build(Settings, raw, "")
    _check(settings)
    return settings


def _check(s: Settings) -> None:
    """Cross-field rules the types alone cannot express."""
    if not s.models:
        raise ConfigError("models", "no model configured", "add at least one [[models]] table")
    seen: set[str] = set()
    for i, m in enumerate(s.models):
        key = f"models[{i}]"
        if not _NAME.match(m.name):
            raise ConfigError(
                f"{key}.name",
                f"{m.name!r} is not a valid model name",
                "use 1-64 of A-Z a-z 0-9 _ . -",
            )
        if m.name in seen:
            raise ConfigError(f"{key}.name", f"model {m.name!r} is configured twice", "merge them")
        seen.add(m.name)
        if not m.features:
            raise ConfigError(f"{key}.features", "no feature listed", "add name = 'numeric'")
        if m.task == "binary" and not 0.0 < m.threshold < 1.0:
            raise ConfigError(f"{key}.threshold", "must be between 0 and 1", "e.g. 0.5")
        if m.task == "multiclass" and len(m.classes) < 2:
            raise ConfigError(f"{key}.classes", "multiclass needs >= 2 classes", "list them")
        for feature in m.importance:
            if feature not in m.features:
                raise ConfigError(
                    f"{key}.importance.{feature}", "not a feature of this model", "remove it"
                )
    for name, fields, allowed in (
        ("predictions", s.fields.predictions, PREDICTION_FIELDS),
        ("outcomes", s.fields.outcomes, OUTCOME_FIELDS),
    ):
        for contract_field in fields:
            if contract_field not in allowed:
                raise ConfigError(
                    f"fields.{name}.{contract_field}",
                    "not a field of the event contract",
                    f"map one of {', '.join(allowed)}",
                )
    for i, fault in enumerate(s.simulate.faults):
        key = f"simulate.faults[{i}]"
        model = s.model(fault.model)
        if model is None:
            raise ConfigError(f"{key}.model", f"no model named {fault.model!r}", "fix the name")
        if fault.feature and fault.feature not in model.features:
            raise ConfigError(f"{key}.feature", f"{fault.model} has no {fault.feature!r}", "fix it")
    k = s.kafka
    topics = {k.predictions_topic, k.outcomes_topic, k.dead_letter_topic}
    if len(topics) != 3:
        raise ConfigError(
            "kafka.dead_letter_topic", "topics must be distinct", "use three different topics"
        )
    if k.max_poll_interval_ms < MIN_POLL_INTERVAL_MS:
        raise ConfigError(
            "kafka.max_poll_interval_ms",
            f"{k.max_poll_interval_ms} ms is shorter than one Redis call may take on the poll loop",
            f"use at least {MIN_POLL_INTERVAL_MS}",
        )
    if k.security_protocol.startswith("SASL") and not k.sasl_password:
        raise ConfigError(
            "kafka.sasl_password_env",
            f"security_protocol {k.security_protocol} needs a password",
            "name the environment variable holding it (or set sasl_password_file)",
        )
    _check_performance(s.performance)
    q = s.quality
    if not 0.0 < q.alpha < 1.0:
        raise ConfigError("quality.alpha", f"{q.alpha} is not a probability", "use (0, 1)")
    if not 0.0 <= q.min_increase <= q.critical_increase <= 1.0:
        raise ConfigError(
            "quality.min_increase", "floors must satisfy 0 <= min <= critical <= 1", "fix them"
        )
    d = s.drift
    if d.min_samples < 30:
        raise ConfigError("drift.min_samples", "below 30 rows no statistic is usable", "use >= 30")
    for key, prob in (("drift.alpha", d.alpha), ("drift.fdr", d.fdr), ("drift.p_value", d.p_value)):
        if not 0.0 < prob < 1.0:
            raise ConfigError(key, f"{prob} is not a probability", "use a value in (0, 1)")
    for key, value in (
        ("kafka.max_poll_records", k.max_poll_records),
        ("windows.size_seconds", s.windows.size_seconds),
        ("ingest.label_horizon_seconds", s.ingest.label_horizon_seconds),
        ("ingest.max_event_bytes", s.ingest.max_event_bytes),
        ("ingest.max_batch_records", s.ingest.max_batch_records),
        ("windows.retention_days", s.windows.retention_days),
    ):
        if value <= 0:
            raise ConfigError(key, f"must be positive, got {value}", "use a number above 0")
    for key, secret in (
        ("redis.password_env", s.redis.password),
        ("kafka.sasl_password_env", k.sasl_password),
        ("kafka.ssl_password_env", k.ssl_password),
    ):
        if secret.env and secret.env not in os.environ:
            raise ConfigError(key, f"environment variable {secret.env} is not set", "export it")
        if secret.file and not Path(secret.file).is_file():
            raise ConfigError(key, f"secret file {secret.file} does not exist", "mount it")


#: The metrics a performance verdict can judge, per task (stats/performance_verdict.py).
JUDGEABLE_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "brier"),
    "multiclass": ("accuracy", "macro_f1"),
    "regression": ("mae", "rmse", "mape"),
}


def _check_performance(p: PerformanceSettings) -> None:
    for task, allowed in JUDGEABLE_METRICS.items():
        key = f"performance.{task}_metrics"
        metrics = p.metrics(task)  # type: ignore[arg-type]
        for metric in metrics:
            if metric not in allowed:
                raise ConfigError(key, f"{metric!r} cannot be judged", f"use {', '.join(allowed)}")
        if len(set(metrics)) != len(metrics):
            raise ConfigError(key, "a metric is listed twice", "list each once")
    if p.min_labels < 30:
        raise ConfigError("performance.min_labels", "below 30 labels no metric is usable", ">= 30")
    if not 0.0 < p.alpha < 1.0:
        raise ConfigError("performance.alpha", f"{p.alpha} is not a probability", "use (0, 1)")
    for key, low, high in (
        ("min_drop", p.min_drop, p.critical_drop),
        ("min_relative_increase", p.min_relative_increase, p.critical_relative_increase),
    ):
        if not 0.0 <= low <= high:
            raise ConfigError(
                f"performance.{key}", "floors must satisfy 0 <= warning <= critical", "fix them"
            )
    if p.bootstrap_draws < 200:
        raise ConfigError("performance.bootstrap_draws", "too few for alpha", "use >= 200")


# --- generic TOML → dataclass conversion ------------------------------------------------------


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (tuple, list):
        return "list"
    if origin in (dict, Mapping) or (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
        return "table"
    return getattr(tp, "__name__", str(tp))


def _build(cls: type, raw: Any, key: str) -> Any:
    """Instantiate dataclass ``cls`` from a TOML table, rejecting unknown and mistyped keys."""
    if not isinstance(raw, Mapping):
        raise ConfigError(key or "<root>", f"expected a table, got {type(raw).__name__}", "fix it")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    for name in raw:
        if name not in known:
            where = f"{key}.{name}" if key else name
            raise ConfigError(
                where, "unknown key", f"remove it or use one of: {', '.join(sorted(known))}"
            )
    values: dict[str, Any] = {}
    for name, f in known.items():
        where = f"{key}.{name}" if key else name
        if name not in raw:
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if required:
                raise ConfigError(where, "missing required value", f"add {name} = …")
            continue
        values[name] = _convert(hints[name], raw[name], where)
    return cls(**values)


def _convert(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    wrong = ConfigError(
        key, f"expected {_type_name(tp)}, got {type(value).__name__} {value!r}", "correct the type"
    )
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    if origin is Literal:
        if value not in args:
            raise ConfigError(key, f"{value!r} is not allowed", f"use one of {_type_name(tp)}")
        return value
    if origin in (types.UnionType, typing.Union):
        for arg in args:
            try:
                return _convert(arg, value, key)
            except ConfigError:
                continue
        raise wrong
    if origin is tuple:
        if not isinstance(value, list):
            raise wrong
        return tuple(_convert(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise wrong
        return {str(k): _convert(args[1], v, f"{key}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if tp in (str, bool):
        if not isinstance(value, tp):
            raise wrong
        return value
    raise TypeError(f"unsupported config type {tp!r} at {key}")  # a bug in Settings, not input
