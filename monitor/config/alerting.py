"""Who hears about an alert: the routing tree (``[alerting.route]``) and the receivers
(``[[alerting.receivers]]``), in Alertmanager's terms so its users can read them at sight.

A route selects alerts with matchers, names a receiver and says how alerts are grouped and how
often a group is notified; what a route leaves unset it inherits from its parent, and the root
from the defaults below (``monitor/alert/route.py`` builds the tree). A receiver is where
notifications go: apprise URLs and a PagerDuty Events v2 routing key, which carry tokens and are
therefore :class:`Secret` s named by environment variable or file, never written here.

:func:`validate_routing` checks the tree against the receivers in one call.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from monitor.config._parse import Report, require_positive
from monitor.config.connections import Secret
from monitor.config.rules import DEFAULT_RULES, RuleSettings
from monitor.config.time_intervals import TimeIntervalSettings
from monitor.config.urls import masked_url, refuse_url_credentials
from monitor.errors import ConfigError
from monitor.vocab.matchers import LABEL_NAME, Matcher

#: Alertmanager's defaults, used by the root route where it sets none: wait this long for more
#: alerts before a new group's first notification, ...
DEFAULT_GROUP_WAIT_SECONDS = 30.0
#: ... notify a group that changed at most this often, ...
DEFAULT_GROUP_INTERVAL_SECONDS = 300.0
#: ... and re-send an unchanged firing group after this long.
DEFAULT_REPEAT_INTERVAL_SECONDS = 14_400.0
#: ``group_by = ["..."]``: every label groups, i.e. each alert is a group of its own.
GROUP_BY_ALL = "..."
#: PagerDuty's Events API v2, where ``pagerduty_url`` points unless a test or proxy needs otherwise.
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


@dataclass(frozen=True, slots=True)
class RouteSettings:
    """One node of the routing tree; ``None`` and ``""`` mean "as the parent route"."""

    receiver: str = ""
    #: Matchers in Alertmanager's syntax, one per entry, all of which must match.
    matchers: tuple[str, ...] = ()
    group_by: tuple[str, ...] | None = None
    group_wait_seconds: float | None = None
    group_interval_seconds: float | None = None
    repeat_interval_seconds: float | None = None
    #: After this route matched, try its later siblings too (by default the first match wins).
    continue_: bool = field(default=False, metadata={"key": "continue"})
    #: Names of ``[[alerting.time_intervals]]`` in which this route notifies nobody (not
    #: inherited by child routes, as in Alertmanager).
    mute_time_intervals: tuple[str, ...] = ()
    routes: tuple[RouteSettings, ...] = ()

    def validate(
        self,
        key: str,
        receivers: Collection[str],
        intervals: Collection[str] = (),
        errors: list[ConfigError] | None = None,
    ) -> None:
        """Reject what would misroute silently: a matcher that cannot be read, an unknown
        receiver, a grouping label that cannot exist, a timer that would stall or spam."""
        report = Report(errors)
        if self.receiver and self.receiver not in receivers:
            report(
                f"{key}.receiver",
                f"no receiver is named {self.receiver!r}",
                f"name a configured receiver ({_listed(receivers)}) or add an "
                f"[[alerting.receivers]] table named {self.receiver!r}",
            )
        _check_matchers(report, f"{key}.matchers", self.matchers)
        if self.group_by is not None:
            _check_group_by(report, f"{key}.group_by", self.group_by)
        # Alertmanager allows group_wait = 0 (notify at once); the other timers must be positive.
        if self.group_wait_seconds is not None and self.group_wait_seconds < 0:
            report(
                f"{key}.group_wait_seconds",
                f"must not be negative, got {self.group_wait_seconds}",
                "use 0 (notify at once) or more",
            )
        for name, seconds in (
            ("group_interval_seconds", self.group_interval_seconds),
            ("repeat_interval_seconds", self.repeat_interval_seconds),
        ):
            if seconds is not None:
                require_positive(report, f"{key}.{name}", seconds)
        for i, name in enumerate(self.mute_time_intervals):
            if name not in intervals:
                report(
                    f"{key}.mute_time_intervals[{i}]",
                    f"no time interval is named {name!r}",
                    "add an [[alerting.time_intervals]] table of that name",
                )
        for i, route in enumerate(self.routes):
            route.validate(f"{key}.routes[{i}]", receivers, intervals, errors)


@dataclass(frozen=True, slots=True)
class ReceiverSettings:
    """Where a route's notifications go; a receiver without destinations discards them, as
    Alertmanager's "null" receiver does."""

    name: str
    #: One apprise URL per destination (``json://…``, ``mailto://…``, ``slack://…``), each a
    #: secret: ``{ env = "VAR" }`` or ``{ file = "/path" }``, since URLs carry tokens.
    apprise_urls: tuple[Secret, ...] = ()
    #: A PagerDuty Events v2 integration key; trigger and resolve go to ``pagerduty_url``.
    pagerduty_routing_key: Secret = field(default_factory=Secret)
    #: Configurable so tests (and EU accounts, proxies) can point elsewhere.
    pagerduty_url: str = PAGERDUTY_EVENTS_URL
    #: Also notify when a group's alerts resolve.
    send_resolved: bool = True
    #: Another receiver that gets the notification once retries to this one give up.
    fallback: str = ""

    def validate(self, key: str, errors: list[ConfigError] | None = None) -> None:
        """Reject a receiver that could never deliver: a nameless one, a secret with no source,
        an endpoint that is no HTTP URL or has a password in it, or itself as its fallback."""
        report = Report(errors)
        if not self.name.strip():
            report(f"{key}.name", "a receiver needs a name", 'add name = "team-a"')
        for i, url in enumerate(self.apprise_urls):
            if not url:
                report(
                    f"{key}.apprise_urls[{i}]",
                    "names no source of the URL",
                    'write { env = "VAR" } or { file = "/path" }',
                )
        endpoint = urlsplit(self.pagerduty_url)
        if endpoint.scheme not in ("http", "https") or not endpoint.netloc:
            report(
                f"{key}.pagerduty_url",
                f"{masked_url(self.pagerduty_url)!r} is not an HTTP URL",
                f"use {PAGERDUTY_EVENTS_URL} or leave it out",
            )
        refuse_url_credentials(
            report,
            f"{key}.pagerduty_url",
            self.pagerduty_url,
            "remove it: PagerDuty authenticates by the routing key (pagerduty_routing_key)",
        )
        if self.fallback == self.name:
            report(
                f"{key}.fallback",
                "a receiver cannot be its own fallback",
                "name another receiver, or remove fallback",
            )

    def secrets(self, key: str) -> tuple[tuple[str, Secret], ...]:
        """The secrets this receiver names, each with the key an error about it should name."""
        urls = tuple((f"{key}.apprise_urls[{i}]", url) for i, url in enumerate(self.apprise_urls))
        return (*urls, (f"{key}.pagerduty_routing_key", self.pagerduty_routing_key))


def validate_routing(
    key: str,
    route: RouteSettings,
    receivers: Sequence[ReceiverSettings],
    time_intervals: Sequence[TimeIntervalSettings] = (),
    errors: list[ConfigError] | None = None,
) -> None:
    """Check the whole tree (``{key}.route``) against the receivers (``{key}.receivers``).

    Call it when alerting is enabled: the root route must then name the receiver of every alert
    no child route takes. Like Alertmanager, the root matches every alert, so it has no matchers
    and nothing to ``continue`` to. The receivers' secrets are checked apart
    (:meth:`ReceiverSettings.secrets`), last, as every section's are: they depend on the
    environment, not the file.
    """
    report = Report(errors)
    names: set[str] = set()
    for i, receiver in enumerate(receivers):
        receiver.validate(f"{key}.receivers[{i}]", errors)
        if receiver.name in names:
            report(
                f"{key}.receivers[{i}].name",
                f"receiver {receiver.name!r} is configured twice",
                "rename or merge them",
            )
        names.add(receiver.name)
    for i, receiver in enumerate(receivers):
        if receiver.fallback and receiver.fallback not in names:
            report(
                f"{key}.receivers[{i}].fallback",
                f"no receiver is named {receiver.fallback!r}",
                f"name another receiver ({_listed(names - {receiver.name})}) or remove fallback",
            )
    root = f"{key}.route"
    if not route.receiver:
        report(
            f"{root}.receiver",
            "the root route names no receiver",
            "name the receiver of the alerts that no child route takes",
        )
    if route.matchers:
        report(
            f"{root}.matchers",
            "the root route matches every alert",
            "remove them; put matchers on a child route in routes",
        )
    if route.continue_:
        report(f"{root}.continue", "the root route has no siblings", "remove it")
    intervals: set[str] = set()
    for i, interval in enumerate(time_intervals):
        interval.validate(f"{key}.time_intervals[{i}]", errors)
        intervals.add(interval.name)
    route.validate(root, names, intervals, errors)


def _check_matchers(report: Report, key: str, matchers: Sequence[str]) -> None:
    for i, text in enumerate(matchers):
        try:
            Matcher.parse(text)
        except ValueError as exc:
            report(f"{key}[{i}]", str(exc), "write it in the expected form")


def _check_group_by(report: Report, key: str, labels: tuple[str, ...]) -> None:
    """Label names, each once, or ``...`` alone (all labels): anything else cannot group."""
    if GROUP_BY_ALL in labels and len(labels) > 1:
        report(
            key,
            f"{GROUP_BY_ALL!r} (all labels) and label names cannot be combined",
            f'use ["{GROUP_BY_ALL}"] or a list of label names',
        )
    for i, label in enumerate(labels):
        if label != GROUP_BY_ALL and not LABEL_NAME.fullmatch(label):
            report(
                f"{key}[{i}]",
                f"{label!r} is not a label name",
                "use a letter or _, then letters, digits or _",
            )
        if label in labels[:i]:
            report(f"{key}[{i}]", f"{label!r} is listed twice", "list it once")


def _listed(names: Collection[str]) -> str:
    return ", ".join(sorted(names)) if names else "none is configured"


@dataclass(frozen=True, slots=True)
class InhibitRuleSettings:
    """Mute alerts matching ``target_matchers`` while an alert matching ``source_matchers``
    fires with the same values of the ``equal`` labels (Alertmanager's inhibition)."""

    source_matchers: tuple[str, ...]
    target_matchers: tuple[str, ...]
    equal: tuple[str, ...] = ()

    def validate(self, key: str, errors: list[ConfigError] | None = None) -> None:
        report = Report(errors)
        for name in ("source_matchers", "target_matchers"):
            matchers = getattr(self, name)
            if not matchers:
                report(f"{key}.{name}", "is empty: it would match every alert", "add a matcher")
            _check_matchers(report, f"{key}.{name}", matchers)
        for i, label in enumerate(self.equal):
            if not LABEL_NAME.fullmatch(label):
                report(f"{key}.equal[{i}]", f"{label!r} is no label name", "use letters, digits, _")


#: Used when ``[[alerting.inhibit_rules]]`` is absent: no traffic explains every drift of the
#: model (do not page twice for one cause), and a critical alert makes its warning redundant.
DEFAULT_INHIBIT_RULES: tuple[InhibitRuleSettings, ...] = (
    InhibitRuleSettings(
        source_matchers=('alertname="StaleData"',),
        target_matchers=(
            'alertname=~"FeatureDrift|PredictionDrift|PerformanceDegraded|DataQuality"',
        ),
        equal=("model",),
    ),
    InhibitRuleSettings(
        source_matchers=('severity="critical"',),
        target_matchers=('severity="warning"',),
        equal=("alertname", "model", "feature"),
    ),
)


@dataclass(frozen=True, slots=True)
class AlertingSettings:
    """Owner-routed alerting (docs/alerting.md): rules make alerts, routes send them."""

    #: Evaluate alert rules and notify through the routes.
    enabled: bool = False
    #: ``[[alerting.rules]]``; absent: the defaults, silent on stable data.
    rules: tuple[RuleSettings, ...] = DEFAULT_RULES
    route: RouteSettings = field(default_factory=RouteSettings)
    receivers: tuple[ReceiverSettings, ...] = ()
    #: ``[[alerting.inhibit_rules]]``; absent: the defaults above.
    inhibit_rules: tuple[InhibitRuleSettings, ...] = DEFAULT_INHIBIT_RULES
    #: ``[[alerting.time_intervals]]``, named by routes' ``mute_time_intervals``.
    time_intervals: tuple[TimeIntervalSettings, ...] = ()

    def validate(
        self, key: str, models: frozenset[str], errors: list[ConfigError] | None = None
    ) -> None:
        """Rules always (they are evaluated for ``alerts list`` only when enabled, but a wrong
        rule is wrong either way); routes and receivers only when notifications are on."""
        for i, rule in enumerate(self.rules):
            rule.validate(f"{key}.rules[{i}]", models, errors)
        for i, inhibit in enumerate(self.inhibit_rules):
            inhibit.validate(f"{key}.inhibit_rules[{i}]", errors)
        if self.enabled:
            validate_routing(key, self.route, self.receivers, self.time_intervals, errors)

    def secrets(self, key: str) -> list[tuple[str, Secret]]:
        """The receivers' secrets, checked at start-up when alerting is enabled."""
        if not self.enabled:
            return []
        return [
            pair
            for i, receiver in enumerate(self.receivers)
            for pair in receiver.secrets(f"{key}.receivers[{i}]")
        ]
