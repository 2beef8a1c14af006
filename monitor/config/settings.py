"""The whole file: :class:`Settings`, and :func:`load` / :func:`parse`, which build and check it.

Loading has two passes, so a file with several mistakes reports a type mistake first, wherever it
is: the generic pass turns TOML into dataclasses (unknown keys, wrong types, missing values), then
:meth:`Settings.validate` hands each section to its own ``validate`` and adds the rules that span
sections.

:func:`load` and :func:`parse` raise the first problem: the daemon stops at start-up. :func:`check`
returns them all, for ``driftwatch config check``. Both name a model by its index and its name
(``models[2] (churn).features``).
"""

from __future__ import annotations

import difflib
import functools
import re
import tomllib
import typing
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields, make_dataclass
from pathlib import Path
from typing import Any

from monitor.config._parse import Report, Unbuildable, build, unknown_key
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

#: Sections holding secrets (Kafka SASL, the Redis password, receivers' URLs and keys, webhook
#: secrets and tokens), checked last and only for the processes that use them.
SECRET_SECTIONS = ("redis", "kafka", "alerting", "retraining")
#: What a command that only reads and writes Redis needs.
REDIS_ONLY = ("redis",)


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

    def validate(self, secrets: Collection[str] = SECRET_SECTIONS) -> None:
        """Check each section's own rules and those spanning sections; raise the first error.

        The rules are :meth:`rules`, in order; :func:`check` runs them all instead. ``secrets``:
        the sections whose secrets must be found (:data:`SECRET_SECTIONS`).
        """
        for _, rule in self.rules(secrets=secrets):
            rule(None)

    def rules(
        self,
        model_keys: Sequence[str] = (),
        secrets: Collection[str] = SECRET_SECTIONS,
        broken_models: Collection[str] = (),
    ) -> list[tuple[frozenset[str], Rule]]:
        """Every check, each with the top-level sections it reads, in the order they run.

        Only what no single section can know is checked here: at least one model, unique model
        names, faults and retraining policies that name configured models, retraining only
        with alerting (its policies act on alerts). Secrets come last: they depend on the
        environment, not the file, so mistakes in the file itself are reported first. A rule
        given a list appends every problem it finds, else raises the first;
        :func:`check` skips rules reading a section that could not be built, so a broken
        section is never blamed twice. ``model_keys``: the key of each model (``models[i]``),
        when some models of the file are missing here; ``broken_models``: the names of those
        (their tables could not be built), which still count as configured.
        """
        keys = list(model_keys) or [f"models[{i}]" for i in range(len(self.models))]
        names = frozenset(m.name for m in self.models) | frozenset(broken_models)
        # A broken model's features are unknown: a fault naming it is not judged on them.
        by_name: dict[str, ModelSettings | None] = dict.fromkeys(broken_models)
        by_name.update((m.name, m) for m in self.models)
        rules: list[tuple[frozenset[str], Rule]] = []

        def add(sections: str, rule: Rule) -> None:
            rules.append((frozenset(sections.split()), rule))

        def at_least_one_model(errors: list[ConfigError] | None) -> None:
            if not names:
                Report(errors)("models", "no model configured", "add at least one [[models]] table")

        add("models", at_least_one_model)
        seen: set[str] = set()
        for key, m in zip(keys, self.models, strict=True):
            if m.name in seen:
                add(
                    "",
                    _failing(f"{key}.name", f"model {m.name!r} is configured twice", "merge them"),
                )
            seen.add(m.name)
            add("", functools.partial(m.validate, key))
        add("fields", functools.partial(self.fields.validate, "fields"))
        add("simulate models", functools.partial(self.simulate.validate, "simulate", by_name))
        add("redis", functools.partial(self.redis.validate, "redis"))
        for section in ("kafka", "performance", "quality", "drift", "windows", "ingest"):
            add(section, functools.partial(getattr(self, section).validate, section))
        add("alerting models", functools.partial(self.alerting.validate, "alerting", names))
        add("retraining", functools.partial(self.retraining.validate, "retraining"))
        add("audit", functools.partial(self.audit.validate, "audit"))
        add("dashboard", functools.partial(self.dashboard.validate, "dashboard"))
        add("retraining alerting", self._retraining_needs_alerting)
        for i, policy in enumerate(self.retraining.policies):
            for model in policy.models:
                if model not in names:
                    add(
                        "retraining models",
                        _failing(
                            f"retraining.policies[{i}].models",
                            f"model {model!r} is not configured",
                            _one_of(model, names),
                        ),
                    )
        for section in SECRET_SECTIONS:
            if section not in secrets:
                continue
            for key, secret in getattr(self, section).secrets(section):
                add(section, functools.partial(secret.check, key))
        return rules

    def _retraining_needs_alerting(self, errors: list[ConfigError] | None) -> None:
        if self.retraining.enabled and not self.alerting.enabled:
            Report(errors)(
                "retraining.enabled",
                "retraining policies act on alerts, and alerting is off",
                "set alerting.enabled = true, or retraining.enabled = false",
            )


#: Every section of :class:`Settings` but the models, each with its default: what :func:`check`
#: builds in one go before it builds the models one by one.
_Sections = make_dataclass(
    "_Sections",
    [
        (f.name, typing.get_type_hints(Settings)[f.name], field(default_factory=f.default_factory))
        for f in fields(Settings)
        if f.name != "models"
    ],
    frozen=True,
)

#: One rule of :meth:`Settings.rules`: given a list, appends each problem it finds to it; given
#: ``None``, raises the first as a :class:`ConfigError` (:class:`~monitor.config._parse.Report`).
Rule = Callable[[list[ConfigError] | None], None]


def _failing(key: str, problem: str, fix: str) -> Rule:
    """A rule already known to fail (found while listing the rules)."""

    def rule(errors: list[ConfigError] | None) -> None:
        Report(errors)(key, problem, fix)

    return rule


def _one_of(name: str, names: Collection[str]) -> str:
    """The fix for a model name that names no model: its near miss, else every model."""
    close = difflib.get_close_matches(name, list(names), n=1)
    if close:
        return f"use {close[0]!r}"
    return f"name a [[models]] entry: {', '.join(sorted(names))}"


def load(path: str | Path, *, secrets: Collection[str] = SECRET_SECTIONS) -> Settings:
    """Read and validate a config file; raises :class:`ConfigError` on the first problem.

    ``secrets``: the sections whose secrets this process uses and must find (all, for the
    daemon and ``config check``). A command that only reads Redis names ``("redis",)``, so the
    dashboard or ``status`` never needs the webhook or receiver credentials it does not use.
    """
    return parse(read(path), secrets=secrets)


def read(path: str | Path) -> dict[str, Any]:
    """The TOML document in ``path``; a missing file or broken syntax is a :class:`ConfigError`
    (syntax is all-or-nothing: nothing can be checked before it is fixed)."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError("<file>", f"{path} does not exist", "pass --config PATH") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            "<file>",
            f"{path} is not valid TOML ({exc})",
            "correct the syntax at the line and column shown",
        ) from None


def parse(raw: Mapping[str, Any], *, secrets: Collection[str] = SECRET_SECTIONS) -> Settings:
    """Validate an already-parsed TOML document; raises the first :class:`ConfigError`
    (``secrets`` as for :func:`load`)."""
    try:
        settings: Settings = build(Settings, raw, "")
        settings.validate(secrets)
    except ConfigError as error:
        raise _named(error, raw) from None
    return settings


def check(raw: Mapping[str, Any]) -> list[ConfigError]:
    """Every problem of an already-parsed TOML document, in file order where possible; empty
    when :func:`parse` would succeed.

    For ``config check``: every unknown, mistyped or missing key is reported, and every rule
    reports each independent problem it finds. The rules reading a section with a mistyped key
    are skipped (they would judge values that are not there). A model whose table cannot be
    built still counts by its name, so the rules spanning sections (faults, alert rules and
    retraining policies naming models) run; they wait only when a model's name itself cannot
    be read. A second run may find more once these are fixed.
    """
    known = {f.name for f in fields(Settings)}
    errors = [unknown_key(name, name, known) for name in raw if name not in known]
    sections = {k: v for k, v in raw.items() if k in known and k != "models"}
    top = build(_Sections, sections, "", errors)  # never Unbuildable: every section has defaults
    failed = {error.key.split(".")[0].split("[")[0] for error in errors}
    models: list[ModelSettings] = []
    keys: list[str] = []
    broken: list[str] = []
    raw_models = raw.get("models")
    if raw_models is None:
        errors.append(ConfigError("models", "missing required value", "add a [[models]] table"))
        failed.add("models")
    elif not isinstance(raw_models, list):
        errors.append(
            ConfigError("models", "expected a list of tables", "write each model as [[models]]")
        )
        failed.add("models")
    else:
        for i, table in enumerate(raw_models):
            key = f"models[{i}]"
            try:
                models.append(build(ModelSettings, table, key, errors))
                keys.append(key)
            except (ConfigError, Unbuildable) as error:
                if isinstance(error, ConfigError):
                    errors.append(error)
                name = table.get("name") if isinstance(table, Mapping) else None
                if isinstance(name, str):
                    broken.append(name)
                else:
                    failed.add("models")
    settings = Settings(
        models=tuple(models), **{f.name: getattr(top, f.name) for f in fields(_Sections)}
    )
    for sections, rule in settings.rules(keys, broken_models=broken):
        if not sections & failed:
            rule(errors)
    return [_named(error, raw) for error in errors]


_MODEL_KEY = re.compile(r"^models\[(\d+)\]")


def _named(error: ConfigError, raw: Mapping[str, Any]) -> ConfigError:
    """``error`` with a model's name beside its index (``models[2] (churn).features``), so the
    reader need not count ``[[models]]`` tables."""
    match = _MODEL_KEY.match(error.key)
    raw_models = raw.get("models")
    if match is None or not isinstance(raw_models, list):
        return error
    i = int(match.group(1))
    table = raw_models[i] if i < len(raw_models) else None
    name = table.get("name") if isinstance(table, Mapping) else None
    if not isinstance(name, str) or not name:
        return error
    key = f"{match.group(0)} ({name}){error.key[match.end() :]}"
    return ConfigError(key, error.problem, error.fix)
