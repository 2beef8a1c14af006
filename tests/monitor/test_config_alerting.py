"""Alerting config: routes and receivers read from TOML, and every mistake names its key and fix.

``Alerting`` stands in for the ``[alerting]`` section until it holds these fields: the same
generic walker builds it, and ``validate_routing`` is the one call that checks it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from monitor import config
from monitor.alert.route import routing_tree
from monitor.config._parse import build
from monitor.errors import ConfigError
from monitor.vocab.matchers import FORM

TOKEN = "xoxb-s3cret-t0ken"

EXAMPLE = """
[route]
receiver = "ops"
group_by = ["alertname", "model"]

[[route.routes]]
matchers = ['owner="fraud"', 'severity=~"warning|critical"']
receiver = "fraud-team"
continue = true
group_wait_seconds = 0

    [[route.routes.routes]]
    matchers = ['severity="critical"']
    receiver = "fraud-pager"
    repeat_interval_seconds = 3600

[[receivers]]
name = "ops"
apprise_urls = [{ env = "DW_TEST_OPS_URL" }]

[[receivers]]
name = "fraud-team"
apprise_urls = [{ env = "DW_TEST_FRAUD_URL" }, { file = "/run/secrets/fraud-mail" }]
fallback = "ops"

[[receivers]]
name = "fraud-pager"
pagerduty_routing_key = { env = "DW_TEST_PD_KEY" }
pagerduty_url = "http://127.0.0.1:9/v2/enqueue"
send_resolved = false
"""


@dataclass(frozen=True, slots=True)
class Alerting:
    route: config.RouteSettings = field(default_factory=config.RouteSettings)
    receivers: tuple[config.ReceiverSettings, ...] = ()


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE)


def check(raw: dict[str, Any]) -> Alerting:
    alerting: Alerting = build(Alerting, raw, "alerting")
    config.validate_routing("alerting", alerting.route, alerting.receivers)
    return alerting


def test_the_example_reads_with_its_defaults() -> None:
    alerting = check(example())
    fraud = alerting.route.routes[0]
    assert fraud.continue_ is True
    assert fraud.matchers == ('owner="fraud"', 'severity=~"warning|critical"')
    assert fraud.group_by is None and fraud.group_interval_seconds is None
    assert fraud.group_wait_seconds == 0  # Alertmanager allows notifying at once
    assert fraud.routes[0].repeat_interval_seconds == 3600.0
    ops, team, pager = alerting.receivers
    assert ops.pagerduty_url == "https://events.pagerduty.com/v2/enqueue"
    assert ops.send_resolved is True and ops.fallback == ""
    assert team.apprise_urls == (
        config.Secret(env="DW_TEST_FRAUD_URL"),
        config.Secret(file="/run/secrets/fraud-mail"),
    )
    assert not pager.apprise_urls and pager.pagerduty_routing_key == config.Secret(
        env="DW_TEST_PD_KEY"
    )
    assert pager.send_resolved is False


def _fraud(d: dict[str, Any]) -> dict[str, Any]:
    route: dict[str, Any] = d["route"]["routes"][0]
    return route


@pytest.mark.parametrize(
    ("edit", "key", "fix"),
    [
        (
            lambda d: _fraud(d)["matchers"].append("severity critical"),
            "alerting.route.routes[0].matchers[2]",
            "no operator",
        ),
        (
            lambda d: _fraud(d)["routes"][0].update(receiver="fraud-pagr"),
            "alerting.route.routes[0].routes[0].receiver",
            "(fraud-pager, fraud-team, ops) or add an [[alerting.receivers]] table named "
            "'fraud-pagr'",
        ),
        (
            lambda d: d["receivers"][1].update(fallback="opps"),
            "alerting.receivers[1].fallback",
            "name another receiver (fraud-pager, ops) or remove fallback",
        ),
        (
            lambda d: d["receivers"][1].update(fallback="fraud-team"),
            "alerting.receivers[1].fallback",
            "name another receiver",
        ),
        (
            lambda d: d["receivers"][2].update(name="ops"),
            "alerting.receivers[2].name",
            "rename or merge",
        ),
        (lambda d: d["receivers"][0].update(name=" "), "alerting.receivers[0].name", "add name"),
        (
            lambda d: d["receivers"][0].update(apprise_urls=[{}]),
            "alerting.receivers[0].apprise_urls[0]",
            '{ env = "VAR" }',
        ),
        (
            lambda d: d["receivers"][2].update(pagerduty_url="events.pagerduty.com"),
            "alerting.receivers[2].pagerduty_url",
            "https://events.pagerduty.com/v2/enqueue",
        ),
        (
            lambda d: _fraud(d).update(group_interval_seconds=0),
            "alerting.route.routes[0].group_interval_seconds",
            "above 0",
        ),
        (
            lambda d: _fraud(d)["routes"][0].update(repeat_interval_seconds=-60),
            "alerting.route.routes[0].routes[0].repeat_interval_seconds",
            "above 0",
        ),
        (
            lambda d: d["route"].update(group_wait_seconds=-1),
            "alerting.route.group_wait_seconds",
            "use 0",
        ),
        (lambda d: d["route"].pop("receiver"), "alerting.route.receiver", "name the receiver"),
        (
            lambda d: d["route"].update(matchers=['owner="fraud"']),
            "alerting.route.matchers",
            "child route",
        ),
        (
            lambda d: d["route"].update(continue_=True),
            "alerting.route.continue_",
            "rename it to continue",
        ),
        (lambda d: d["route"].update({"continue": True}), "alerting.route.continue", "remove"),
        (
            lambda d: _fraud(d).update({"continue": "yes"}),
            "alerting.route.routes[0].continue",
            "write true or false",
        ),
        (
            lambda d: _fraud(d).update(group_wait_seconds="30s"),
            "alerting.route.routes[0].group_wait_seconds",
            "write a number without quotes",
        ),
        (
            lambda d: d["route"].update(group_by=["model", "..."]),
            "alerting.route.group_by",
            '["..."]',
        ),
        (
            lambda d: d["route"].update(group_by=["model", "owner-team"]),
            "alerting.route.group_by[1]",
            "a letter or _",
        ),
        (
            lambda d: d["route"].update(group_by=["model", "model"]),
            "alerting.route.group_by[1]",
            "list it once",
        ),
    ],
)
def test_mistakes_name_the_key_and_the_fix(edit: Any, key: str, fix: str) -> None:
    raw = example()
    edit(raw)
    with pytest.raises(ConfigError) as info:
        check(raw)
    assert info.value.key == key
    assert fix in str(info.value)


def test_a_matcher_that_does_not_parse_shows_the_expected_form() -> None:
    raw = example()
    _fraud(raw)["matchers"][1] = 'severity=~"warning|("'
    with pytest.raises(ConfigError) as info:
        check(raw)
    assert info.value.key == "alerting.route.routes[0].matchers[1]"
    assert "invalid regular expression" in info.value.problem
    assert FORM in info.value.problem


def test_an_optional_value_of_the_wrong_type_is_a_config_error() -> None:
    raw = example()
    raw["route"]["group_by"] = "model"
    with pytest.raises(ConfigError, match=r"expected list, got str 'model'"):
        check(raw)


def test_secrets_never_show_and_are_checked_against_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DW_TEST_OPS_URL", f"slack://{TOKEN}/#ops")
    alerting = check(example())
    ops = alerting.receivers[0]
    assert ops.apprise_urls[0].reveal() == f"slack://{TOKEN}/#ops"
    assert TOKEN not in repr(alerting)
    secrets = dict(ops.secrets("alerting.receivers[0]"))
    assert secrets["alerting.receivers[0].apprise_urls[0]"] == config.Secret(env="DW_TEST_OPS_URL")
    with pytest.raises(ConfigError) as info:
        for key, secret in alerting.receivers[2].secrets("alerting.receivers[2]"):
            secret.check(key)
    assert info.value.key == "alerting.receivers[2].pagerduty_routing_key"
    assert "export" in str(info.value)


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["receivers"][0].update(apprise_urls=f"slack://{TOKEN}/#ops"),
        lambda d: d["receivers"][0].update(apprise_urls=[f"slack://{TOKEN}/#ops"]),
        lambda d: d["receivers"][2].update(pagerduty_routing_key=TOKEN),
        lambda d: d["receivers"][2].update(pagerduty_routing_key=[TOKEN]),
    ],
)
def test_a_secret_pasted_into_the_file_is_refused_without_echoing_it(edit: Any) -> None:
    raw = example()
    edit(raw)
    with pytest.raises(ConfigError) as info:
        check(raw)
    assert info.value.key.startswith(
        ("alerting.receivers[0].apprise_urls", "alerting.receivers[2]")
    )
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize("doc", ["README.md", "docs/alerting.md"])
def test_the_documented_alerting_examples_load(
    doc: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The examples people copy are valid configs (their secrets in the environment or files)."""
    root = Path(__file__).resolve().parents[2]
    base = tomllib.loads((root / "config.toml").read_text())
    blocks = re.findall(r"```toml\n(.*?)```", (root / doc).read_text(), re.S)
    example = next(b for b in blocks if "[alerting]" in b)
    for name in re.findall(r'env = "(\w+)"', example):
        monkeypatch.setenv(name, "json://127.0.0.1:1/")
    for i, path in enumerate(re.findall(r'file = "([^"]+)"', example)):
        secret = tmp_path / f"secret-{i}"
        secret.write_text("json://127.0.0.1:1/")
        example = example.replace(f'file = "{path}"', f'file = "{secret}"')
    settings = config.parse({**base, **tomllib.loads(example)})
    assert settings.alerting.enabled and settings.alerting.receivers
    if doc == "docs/alerting.md":  # routes as its comments say
        tree = routing_tree(settings.alerting.route)

        def receivers(**labels: str) -> list[str]:
            return [route.opts.receiver for route in tree.match(labels)]

        assert receivers(owner="fraud-team", severity="critical") == [
            "pagerduty-fraud",
            "fraud-oncall",
        ]
        assert receivers(owner="fraud-team", severity="warning") == ["fraud-oncall"]
        assert receivers(owner="risk", severity="critical") == ["ml-platform"]
