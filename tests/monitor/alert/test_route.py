"""The routing tree routes as Alertmanager's: depth first, first match wins unless ``continue``,
the deepest match handles, children inherit; groups split only on ``group_by`` labels."""

from __future__ import annotations

import tomllib

import pytest

from monitor.alert.route import Route, group_key, group_labels, routing_tree
from monitor.config import RouteSettings
from monitor.config._parse import build

TREE = """
receiver = "ops"
group_by = ["model", "alertname"]

[[routes]]
matchers = ['owner="fraud"']
receiver = "fraud-team"
group_wait_seconds = 10

    [[routes.routes]]
    matchers = ['severity="critical"']
    receiver = "fraud-pager"
    repeat_interval_seconds = 3600

    [[routes.routes]]
    matchers = ['feature!=""']

[[routes]]
matchers = ['alertname=~"StaleData|DeadLetterRate"']
receiver = "platform"
continue = true
group_by = ["..."]

[[routes]]
matchers = ['owner=~"churn|eta"']
receiver = "growth"
group_by = []

[[routes]]
matchers = ['model="churn"']
receiver = "churn-only"
"""


def tree(text: str = TREE) -> Route:
    return routing_tree(build(RouteSettings, tomllib.loads(text), "alerting.route"))


def receivers(labels: dict[str, str]) -> list[str]:
    return [route.opts.receiver for route in tree().match(labels)]


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        # the deepest matching route handles: no child of fraud-team matches a plain warning
        ({"owner": "fraud", "severity": "warning"}, ["fraud-team"]),
        ({"owner": "fraud", "severity": "critical"}, ["fraud-pager"]),
        # first match wins among siblings: critical comes before the feature route
        ({"owner": "fraud", "severity": "critical", "feature": "amount"}, ["fraud-pager"]),
        # ... and at the top: the fraud route takes stale data, platform is never tried
        ({"owner": "fraud", "alertname": "StaleData"}, ["fraud-team"]),
        # continue: platform matched and lets later siblings try too
        ({"owner": "churn", "alertname": "StaleData"}, ["platform", "growth"]),
        # continue with no later match: platform only, the root does not handle it as well
        ({"owner": "nobody", "alertname": "DeadLetterRate"}, ["platform"]),
        # growth wins before churn-only, which only catches what growth does not
        ({"owner": "churn", "model": "churn"}, ["growth"]),
        ({"owner": "nobody", "model": "churn"}, ["churn-only"]),
        # nothing matches below the root: the root handles it, so no alert is ever dropped
        ({"owner": "nobody", "model": "m"}, ["ops"]),
        ({}, ["ops"]),
    ],
)
def test_routes_like_alertmanager(labels: dict[str, str], expected: list[str]) -> None:
    assert receivers(labels) == expected


def test_children_inherit_receiver_grouping_and_timers() -> None:
    root = tree()
    fraud, platform, growth, churn_only = root.routes
    pager, feature = fraud.routes
    assert (root.opts.group_wait_seconds, root.opts.group_interval_seconds) == (30, 300)
    assert root.opts.repeat_interval_seconds == 4 * 3600
    assert (fraud.opts.group_wait_seconds, fraud.opts.repeat_interval_seconds) == (10, 4 * 3600)
    assert pager.opts.group_wait_seconds == 10  # from its parent, not the root
    assert pager.opts.repeat_interval_seconds == 3600
    assert pager.opts.group_interval_seconds == 300
    assert pager.opts.group_by == fraud.opts.group_by == ("alertname", "model")
    assert feature.opts.receiver == "fraud-team"
    assert platform.opts.group_by == ("...",)
    assert growth.opts.group_by == ()  # set to nothing: not inherited
    assert churn_only.opts.group_by == ("alertname", "model")
    assert [r.continue_ for r in root.routes] == [False, True, False, False]


def test_a_root_alone_takes_alertmanagers_default_timers_and_one_group() -> None:
    root = tree('receiver = "ops"')
    assert root.match({"model": "m"}) == [root]
    assert (root.opts.group_wait_seconds, root.opts.group_interval_seconds) == (30, 300)
    assert root.opts.repeat_interval_seconds == 14_400
    assert group_key(root, {"model": "a"}) == group_key(root, {"model": "b"}) == "{}:{}"


def test_group_keys_split_only_on_group_by_labels() -> None:
    root = tree()
    fraud = root.routes[0]
    drift = {"alertname": "FeatureDrift", "model": "fraud-detector", "owner": "fraud"}
    amount, age = {**drift, "feature": "amount"}, {**drift, "feature": "age"}
    assert group_key(fraud, amount) == group_key(fraud, age)  # feature is not in group_by
    assert group_key(fraud, amount) == group_key(fraud, dict(reversed(amount.items())))
    assert group_key(fraud, amount) != group_key(fraud, {**amount, "model": "other"})
    assert group_key(fraud, amount) != group_key(fraud, {**amount, "alertname": "DataQuality"})
    assert group_labels(fraud, amount) == {"alertname": "FeatureDrift", "model": "fraud-detector"}
    assert group_key(fraud, amount) == (
        '{}/{owner="fraud"}/0:{alertname="FeatureDrift",model="fraud-detector"}'
    )


def test_a_missing_or_empty_group_by_label_is_left_out() -> None:
    fraud, platform = tree().routes[:2]
    assert group_labels(fraud, {"model": "m", "owner": "fraud"}) == {"model": "m"}
    assert group_labels(fraud, {"model": "m", "alertname": ""}) == {"model": "m"}
    assert group_key(platform, {"model": "m"}) == group_key(platform, {"model": "m", "x": ""})


def test_group_by_all_labels_makes_every_label_set_its_own_group() -> None:
    platform = tree().routes[1]
    stale = {"alertname": "StaleData", "model": "churn", "owner": "churn"}
    assert group_labels(platform, stale) == stale
    assert group_key(platform, stale) == group_key(platform, dict(stale))
    assert group_key(platform, stale) != group_key(platform, {**stale, "severity": "critical"})
    assert group_key(platform, stale) != group_key(platform, {**stale, "owner": "eta"})


def test_group_by_nothing_puts_all_of_a_routes_alerts_in_one_group() -> None:
    growth = tree().routes[2]
    assert group_key(growth, {"model": "churn"}) == group_key(growth, {"model": "eta", "x": "y"})


def test_the_same_alert_on_two_routes_joins_two_groups() -> None:
    stale = {"alertname": "StaleData", "model": "churn", "owner": "churn"}
    platform, growth = tree().match(stale)
    assert group_key(platform, stale) != group_key(growth, stale)


def test_sibling_routes_with_the_same_matchers_have_their_own_groups() -> None:
    root = tree("""
        receiver = "ops"
        [[routes]]
        matchers = ['owner="fraud"']
        receiver = "fraud-chat"
        continue = true
        [[routes]]
        matchers = ['owner="fraud"']
        receiver = "fraud-mail"
    """)
    alert = {"owner": "fraud", "model": "m"}
    chat, mail = root.match(alert)
    assert (chat.opts.receiver, mail.opts.receiver) == ("fraud-chat", "fraud-mail")
    assert group_key(chat, alert) != group_key(mail, alert)
