"""The routing tree: which routes — receiver, grouping, timers — handle an alert.

Alertmanager's ``dispatch/route.go``, so a tree written for Alertmanager routes the same here:

- a route matches an alert when all its matchers do (the root has none: it matches every alert);
- the search is depth first: among a route's children the first that matches wins, unless it has
  ``continue``, and then its later siblings are tried too; if no child matches, the route itself
  handles the alert — so the deepest matching routes handle it, and an alert is never dropped;
- what a route leaves unset (receiver, ``group_by``, timers) it inherits from its parent.

Alerts handled by one route are notified in groups: those with equal values of the route's
``group_by`` labels form one group, identified by :func:`group_key`, which the notification log
and PagerDuty's ``dedup_key`` are keyed by.

>>> from monitor.config import RouteSettings
>>> tree = routing_tree(RouteSettings(receiver="ops", group_by=("model",), routes=(
...     RouteSettings(receiver="fraud-team", matchers=('owner="fraud"',)),)))
>>> [r.opts.receiver for r in tree.match({"owner": "fraud", "model": "m"})]
['fraud-team']
>>> group_key(tree.routes[0], {"owner": "fraud", "model": "m"})
'{}/{owner="fraud"}/0:{model="m"}'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from monitor.config import (
    DEFAULT_GROUP_INTERVAL_SECONDS,
    DEFAULT_GROUP_WAIT_SECONDS,
    DEFAULT_REPEAT_INTERVAL_SECONDS,
    GROUP_BY_ALL,
    RouteSettings,
)
from monitor.vocab.matchers import Matcher, format_labels, matches_all


@dataclass(frozen=True, slots=True)
class RouteOpts:
    """How a route's alerts are notified: the part of a route its children inherit."""

    receiver: str
    #: Sorted label names; ``("...",)`` groups by every label.
    group_by: tuple[str, ...]
    group_wait_seconds: float
    group_interval_seconds: float
    repeat_interval_seconds: float

    def inherit(self, settings: RouteSettings) -> RouteOpts:
        """A child's options: what it sets, else this route's."""
        group_by = self.group_by if settings.group_by is None else tuple(sorted(settings.group_by))
        return RouteOpts(
            settings.receiver or self.receiver,
            group_by,
            _either(settings.group_wait_seconds, self.group_wait_seconds),
            _either(settings.group_interval_seconds, self.group_interval_seconds),
            _either(settings.repeat_interval_seconds, self.repeat_interval_seconds),
        )


#: What the root inherits: no receiver (the config requires one), one group per route.
DEFAULT_OPTS = RouteOpts(
    receiver="",
    group_by=(),
    group_wait_seconds=DEFAULT_GROUP_WAIT_SECONDS,
    group_interval_seconds=DEFAULT_GROUP_INTERVAL_SECONDS,
    repeat_interval_seconds=DEFAULT_REPEAT_INTERVAL_SECONDS,
)


@dataclass(frozen=True, slots=True)
class Route:
    """One node of the tree, its options resolved; ``id`` is its path, unique in the tree."""

    id: str
    matchers: tuple[Matcher, ...]
    opts: RouteOpts
    continue_: bool
    routes: tuple[Route, ...]
    #: Time intervals (by name) in which this route notifies nobody; not inherited.
    mute_time_intervals: tuple[str, ...] = ()

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes that handle an alert with these labels, in tree order (none if this
        route does not match it; at least this route if it does)."""
        if not matches_all(self.matchers, labels):
            return []
        handlers: list[Route] = []
        for child in self.routes:
            found = child.match(labels)
            handlers += found
            if found and not child.continue_:
                break
        return handlers or [self]


def routing_tree(settings: RouteSettings) -> Route:
    """The tree of a validated ``[alerting.route]`` (``monitor.config.validate_routing``)."""
    return _node(settings, DEFAULT_OPTS, None, 0)


def group_labels(route: Route, labels: Mapping[str, str]) -> dict[str, str]:
    """The labels that tell the route's groups apart: its ``group_by`` labels the alert has.

    An empty value is no label, as for matchers (Alertmanager drops empty labels on receipt).
    """
    by = route.opts.group_by
    every = GROUP_BY_ALL in by
    return {name: value for name, value in labels.items() if value and (every or name in by)}


def group_key(route: Route, labels: Mapping[str, str]) -> str:
    """The group an alert joins at a route: the route's path and the group labels.

    Alertmanager keys groups by the route's matchers alone; the path also holds each route's
    position, so two sibling routes with the same matchers never share a group.
    """
    return f"{route.id}:{format_labels(group_labels(route, labels))}"


def _node(settings: RouteSettings, inherited: RouteOpts, parent: str | None, index: int) -> Route:
    """A route and its subtree; its id is Alertmanager's route ID: the parent's, then its own
    matchers and its position among its siblings."""
    matchers = tuple(Matcher.parse(text) for text in settings.matchers)
    selector = "{" + ",".join(map(str, matchers)) + "}"
    id_ = selector if parent is None else f"{parent}/{selector}/{index}"
    opts = inherited.inherit(settings)
    children = tuple(_node(child, opts, id_, i) for i, child in enumerate(settings.routes))
    return Route(id_, matchers, opts, settings.continue_, children, settings.mute_time_intervals)


def _either(value: float | None, inherited: float) -> float:
    return inherited if value is None else value
