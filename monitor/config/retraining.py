"""Retraining webhooks (``[retraining]``): policies that decide, targets that receive.

A *policy* (``[[retraining.policies]]``) says which alerts, firing for how long, ask for a model's
retraining; a *target* (``[[retraining.targets]]``) is the orchestrator that gets the request: a
plain webhook, GitHub ``repository_dispatch``, Airflow's create-DAG-run API or a Kubeflow
Pipelines run. Requests leave the daemon, so every host a target may reach is listed in
``allowed_hosts`` (:func:`host_allowed`, the one rule the config check and the sender share): a
typo or an edited file cannot make Driftwatch POST to an arbitrary address.

Credentials (a bearer token, an Airflow password, the ``whsec_`` signing secret) are
:class:`Secret` s, named by environment variable or file and never written here; their values are
read and checked where they are used (``monitor/retrain/targets.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from monitor.config._parse import Report, require_positive
from monitor.config.alerting import _check_matchers
from monitor.config.connections import Secret
from monitor.config.urls import refuse_url_credentials
from monitor.errors import ConfigError

TargetKind = Literal["webhook", "github", "airflow", "kubeflow"]
AirflowApi = Literal["v1", "v2"]
Approval = Literal["none", "required"]

#: Where a ``github`` target points unless ``url`` says otherwise (GitHub Enterprise: its API).
GITHUB_API_URL = "https://api.github.com"
#: The port each scheme implies when a URL names none: what an ``allowed_hosts`` entry without a
#: port allows.
DEFAULT_PORTS = {"http": 80, "https": 443}
#: GitHub refuses a ``repository_dispatch`` whose ``event_type`` is longer.
GITHUB_EVENT_TYPE_MAX = 100
#: The keys that only one kind of target reads; set on another kind they betray a mistake.
_KIND_FIELDS: dict[str, TargetKind] = {
    "dag_id": "airflow",
    "username": "airflow",
    "password": "airflow",
    "repository": "github",
    "pipeline_id": "kubeflow",
    "pipeline_version_id": "kubeflow",
    "experiment_id": "kubeflow",
}


def endpoint(url: str) -> tuple[str, int] | None:
    """``(host, port)`` an ``http``/``https`` URL connects to, the scheme's port if it names
    none; ``None`` for anything the sender must not contact: another scheme, no host, a bad port,
    credentials in the URL (they would reach logs, and ``user@host`` hides the real host), or
    blanks and control characters (``urlsplit`` drops some that ``http.client`` would send)."""
    if any(c.isspace() or not c.isprintable() for c in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    return parts.hostname, port if port is not None else DEFAULT_PORTS[parts.scheme]


def host_allowed(url: str, allowed_hosts: Iterable[str]) -> bool:
    """Whether ``url`` may be contacted: its host is listed in ``allowed_hosts`` with its port
    (``"host:8080"``), or without one (``"host"``) and the URL uses its scheme's default port.

    An entry without a port deliberately does not allow every port: ``"api.github.com"`` must
    not open ``http://api.github.com:22``.

    >>> host_allowed("http://airflow.internal:8080/api", ["airflow.internal:8080"])
    True
    >>> host_allowed("https://api.github.com/repos", ["api.github.com"])
    True
    >>> host_allowed("https://api.github.com:8443/repos", ["api.github.com"])
    False
    """
    target = endpoint(url)
    if target is None:
        return False
    default = DEFAULT_PORTS[urlsplit(url).scheme]
    for entry in allowed_hosts:
        host, port = _allowed_entry(entry) or ("", None)
        if host == target[0] and (port if port is not None else default) == target[1]:
            return True
    return False


def host_entry(url: str) -> str:
    """The ``allowed_hosts`` entry that admits ``url``: ``host``, or ``host:port`` when the port
    is not its scheme's default (for messages that tell what to add).

    >>> host_entry("http://airflow.internal:8080/api"), host_entry("https://api.github.com/x")
    ('airflow.internal:8080', 'api.github.com')
    """
    target = endpoint(url)
    if target is None:
        return "(no http or https URL)"
    host = f"[{target[0]}]" if ":" in target[0] else target[0]
    default = DEFAULT_PORTS[urlsplit(url).scheme]
    return host if target[1] == default else f"{host}:{target[1]}"


def _allowed_entry(entry: str) -> tuple[str, int | None] | None:
    """``(host, port or None)`` of an ``allowed_hosts`` entry, ``None`` if it is not one."""
    try:
        parts = urlsplit(f"//{entry}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.netloc != entry or "@" in entry:
        return None
    return parts.hostname, port


@dataclass(frozen=True, slots=True)
class TargetSettings:
    """An orchestrator that receives retraining requests (``[[retraining.targets]]``)."""

    name: str
    kind: TargetKind
    #: webhook: the full URL; github: the API base (default :data:`GITHUB_API_URL`);
    #: airflow, kubeflow: the base URL the API paths are appended to.
    url: str = ""
    #: A ``whsec_…`` secret: sign every request with Standard Webhooks headers.
    secret: Secret = field(default_factory=Secret)
    #: Sent as ``Authorization: Bearer <token>``; github requires it.
    token: Secret = field(default_factory=Secret)
    #: airflow: HTTP basic authentication instead of a token.
    username: str = ""
    password: Secret = field(default_factory=Secret)
    dag_id: str = ""
    #: ``v1``: Airflow 2's REST API; ``v2``: Airflow 3's.
    airflow_api: AirflowApi = "v1"
    #: github: ``owner/repo``.
    repository: str = ""
    event_type: str = "driftwatch-retrain"
    pipeline_id: str = ""
    pipeline_version_id: str = ""
    experiment_id: str = ""

    @property
    def base_url(self) -> str:
        """The URL requests are built on, the GitHub API when a github target names none."""
        if not self.url and self.kind == "github":
            return GITHUB_API_URL
        return self.url

    def validate(
        self, key: str, allowed_hosts: Collection[str], errors: list[ConfigError] | None = None
    ) -> None:
        """Reject a target no request could reach or authenticate to: a missing kind-specific
        field, a URL that is not plain HTTP(S) to an allowed host, an ambiguous credential."""
        report = Report(errors)
        if not self.name.strip():
            report(f"{key}.name", "a target needs a name", 'add name = "airflow"')
        self._check_url(report, f"{key}.url", allowed_hosts)
        for name, kind in _KIND_FIELDS.items():
            if kind != self.kind and getattr(self, name):
                report(
                    f"{key}.{name}",
                    f"applies to {kind} targets only, this one is kind = {self.kind!r}",
                    f"remove it, or set kind = {kind!r}",
                )
        for name in ("secret", "token", "password"):
            secret: Secret = getattr(self, name)
            if secret.env and secret.file:
                report(
                    f"{key}.{name}",
                    "names both an environment variable and a file",
                    "keep one: { env = ... } or { file = ... }",
                )
        if self.kind == "airflow":
            self._check_airflow(report, key)
        elif self.kind == "github":
            self._check_github(report, key)
        elif self.kind == "kubeflow" and not self.pipeline_id:
            report(
                f"{key}.pipeline_id",
                "a kubeflow target needs the pipeline to run",
                'add pipeline_id = "<the pipeline\'s id>"',
            )

    def _check_url(self, report: Report, key: str, allowed_hosts: Collection[str]) -> None:
        """Each check judges a URL the ones before it accepted: one problem at most."""
        if not self.base_url:
            report(key, f"a {self.kind} target needs a URL", 'add url = "https://…"')
            return
        fix = "remove it: credentials go in token or password"
        if refuse_url_credentials(report, key, self.base_url, fix):
            return
        if endpoint(self.base_url) is None:
            report(
                key,
                "is not an http or https URL with a host (and no credentials in it)",
                'write url = "https://host[:port]/path"; credentials go in token or password',
            )
            return
        parts = urlsplit(self.base_url)
        if parts.fragment or (parts.query and self.kind != "webhook"):
            report(
                key,
                "has a query or fragment, which the API paths cannot be appended to",
                "use the base URL only",
            )
            return
        if not host_allowed(self.base_url, allowed_hosts):
            entry = host_entry(self.base_url)
            report(
                key,
                f"{entry} is not in retraining.allowed_hosts",
                f'add "{entry}" to retraining.allowed_hosts (nothing else is ever contacted)',
            )

    def _check_airflow(self, report: Report, key: str) -> None:
        if not self.dag_id:
            report(f"{key}.dag_id", "an airflow target needs the DAG to run", 'add dag_id = "…"')
        if bool(self.username) != bool(self.password):
            report(
                f"{key}.password" if self.username else f"{key}.username",
                "basic authentication needs both username and password",
                "set both, or use token instead",
            )
        if ":" in self.username:
            report(f"{key}.username", "cannot contain ':' (basic authentication)", "remove it")
        if self.username and self.token:
            report(
                f"{key}.token",
                "both a token and username/password are set",
                "keep one way to authenticate",
            )

    def _check_github(self, report: Report, key: str) -> None:
        owner, slash, repo = self.repository.partition("/")
        if not (owner and slash and repo) or "/" in repo:
            report(
                f"{key}.repository",
                f"{self.repository!r} is not owner/repo",
                'write repository = "acme/models"',
            )
        if not self.token:
            report(
                f"{key}.token",
                "GitHub accepts a repository_dispatch only with a token",
                'add token = { env = "VAR" } naming a token with the repo\'s contents:write',
            )
        if not 0 < len(self.event_type) <= GITHUB_EVENT_TYPE_MAX:
            report(
                f"{key}.event_type",
                f"must be 1 to {GITHUB_EVENT_TYPE_MAX} characters (GitHub's limit)",
                'use e.g. "driftwatch-retrain"',
            )

    def secrets(self, key: str) -> tuple[tuple[str, Secret], ...]:
        """The secrets this target names, each with the key an error about it should name."""
        named = (("secret", self.secret), ("token", self.token), ("password", self.password))
        return tuple((f"{key}.{name}", secret) for name, secret in named if secret)


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """When a model's retraining is requested, and from which target
    (``[[retraining.policies]]``)."""

    name: str
    #: The name of a ``[[retraining.targets]]`` table.
    target: str
    #: Alert label matchers, all of which must match. By default critical performance
    #: degradation only: a drift that leaves performance intact rarely calls for retraining,
    #: so drift triggers it only where a policy says so.
    matchers: tuple[str, ...] = ('alertname="PerformanceDegraded"', 'severity="critical"')
    #: Names of the models this policy covers; empty: every model.
    models: tuple[str, ...] = ()
    #: How long a matching alert must have fired (0: as soon as it fires).
    firing_for_seconds: float = 3600.0
    #: Per model: no new request this long after one was delivered.
    cooldown_seconds: float = 86_400.0
    #: ``required``: a person approves each request before it is sent.
    approval: Approval = "none"
    #: Labelled rows needed since the last retraining (0: no minimum).
    min_new_labels: int = 0

    def validate(
        self, key: str, targets: Collection[str], errors: list[ConfigError] | None = None
    ) -> None:
        """Reject a policy that would fire on every alert, name no existing target, or whose
        timers cannot mean anything."""
        report = Report(errors)
        if not self.name.strip():
            report(f"{key}.name", "a policy needs a name", 'add name = "critical"')
        if self.target not in targets:
            listed = ", ".join(sorted(targets)) or "none is configured"
            report(
                f"{key}.target",
                f"no target is named {self.target!r}",
                f"name a configured target ({listed}) or add a [[retraining.targets]] table",
            )
        if not self.matchers:
            report(
                f"{key}.matchers",
                "is empty: every alert, warnings included, would request retraining",
                "add a matcher, e.g. 'severity=\"critical\"'",
            )
        _check_matchers(report, f"{key}.matchers", self.matchers)
        for i, model in enumerate(self.models):
            if not model.strip():
                report(f"{key}.models[{i}]", "is empty", "name a configured model")
            if model in self.models[:i]:
                report(f"{key}.models[{i}]", f"{model!r} is listed twice", "list once")
        if self.firing_for_seconds < 0:
            report(
                f"{key}.firing_for_seconds",
                f"must not be negative, got {self.firing_for_seconds}",
                "use 0 (as soon as the alert fires) or more",
            )
        require_positive(report, f"{key}.cooldown_seconds", self.cooldown_seconds)
        if self.min_new_labels < 0:
            report(
                f"{key}.min_new_labels",
                f"must not be negative, got {self.min_new_labels}",
                "use 0 (no minimum) or more",
            )


@dataclass(frozen=True, slots=True)
class RetrainingSettings:
    """Retraining webhooks: absent or ``enabled = false``, nothing is ever sent."""

    enabled: bool = False
    #: ``host`` or ``host:port`` entries; no other host is ever contacted. An entry without a
    #: port allows the scheme's default port (80, 443) only.
    allowed_hosts: tuple[str, ...] = ()
    #: Connect and read timeout of one attempt (each socket operation).
    timeout_seconds: float = 10.0
    #: Attempts before a request is dead-lettered and its owner told.
    max_attempts: int = 12
    #: Backoff between attempts: a random wait up to ``base·2^(attempt-1)``, capped at
    #: ``max_delay_seconds`` (a ``Retry-After`` is honoured even beyond the cap).
    base_delay_seconds: float = 5.0
    max_delay_seconds: float = 1800.0
    targets: tuple[TargetSettings, ...] = ()
    policies: tuple[PolicySettings, ...] = ()

    def validate(self, key: str, errors: list[ConfigError] | None = None) -> None:
        """Targets and policies always (a wrong one is wrong either way); at least one of
        each only when enabled."""
        report = Report(errors)
        for i, entry in enumerate(self.allowed_hosts):
            if _allowed_entry(entry) is None:
                report(
                    f"{key}.allowed_hosts[{i}]",
                    f"{entry!r} is not host or host:port",
                    'write e.g. "airflow.internal:8080" or "api.github.com" (no scheme, no path)',
                )
        for name in ("timeout_seconds", "base_delay_seconds", "max_delay_seconds"):
            require_positive(report, f"{key}.{name}", getattr(self, name))
        require_positive(report, f"{key}.max_attempts", self.max_attempts)
        if self.max_delay_seconds < self.base_delay_seconds:
            report(
                f"{key}.max_delay_seconds",
                f"{self.max_delay_seconds} is below base_delay_seconds {self.base_delay_seconds}",
                "raise max_delay_seconds or lower base_delay_seconds",
            )
        names: set[str] = set()
        for i, target in enumerate(self.targets):
            target.validate(f"{key}.targets[{i}]", self.allowed_hosts, errors)
            if target.name in names:
                report(
                    f"{key}.targets[{i}].name",
                    f"target {target.name!r} is configured twice",
                    "rename or merge them",
                )
            names.add(target.name)
        policies: set[str] = set()
        for i, policy in enumerate(self.policies):
            policy.validate(f"{key}.policies[{i}]", names, errors)
            if policy.name in policies:
                report(
                    f"{key}.policies[{i}].name",
                    f"policy {policy.name!r} is configured twice",
                    "rename or merge them",
                )
            policies.add(policy.name)
        if self.enabled and not self.targets:
            report(
                f"{key}.targets",
                "retraining is enabled but no target is configured",
                "add a [[retraining.targets]] table, or set enabled = false",
            )
        if self.enabled and not self.policies:
            report(
                f"{key}.policies",
                "retraining is enabled but no policy is configured",
                "add a [[retraining.policies]] table, or set enabled = false",
            )

    def target(self, name: str) -> TargetSettings | None:
        return next((t for t in self.targets if t.name == name), None)

    def secrets(self, key: str) -> list[tuple[str, Secret]]:
        """The targets' secrets, checked at start-up when retraining is enabled."""
        if not self.enabled:
            return []
        return [
            pair
            for i, target in enumerate(self.targets)
            for pair in target.secrets(f"{key}.targets[{i}]")
        ]
