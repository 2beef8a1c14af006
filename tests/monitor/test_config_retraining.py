"""Retraining config (``[retraining]``): absent means off and valid, the documented example
reads, every mistake names its key and fix, and no secret's value reaches an error."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from typing import Any

import pytest

from monitor import config
from monitor.errors import ConfigError

TOKEN = "ghp_s3cretT0kenValue"

EXAMPLE = """
[[models]]
name = "fraud"
owner = "risk@example.com"
task = "binary"
features = { amount = "numeric" }

[alerting]  # retraining policies act on alerts
enabled = true
route = { receiver = "ops" }

[[alerting.receivers]]
name = "ops"

[retraining]
enabled = true
allowed_hosts = ["airflow.internal:8080", "api.github.com", "kfp.internal", "hooks.example.com"]
timeout_seconds = 10.0
max_attempts = 12
base_delay_seconds = 5.0
max_delay_seconds = 1800.0

[[retraining.targets]]
name = "airflow"
kind = "airflow"
url = "http://airflow.internal:8080"
secret = { env = "DW_TEST_RETRAIN_WHSEC" }
token = { env = "DW_TEST_AIRFLOW_TOKEN" }
dag_id = "retrain_fraud"
airflow_api = "v2"

[[retraining.targets]]
name = "github"
kind = "github"
token = { env = "DW_TEST_GITHUB_TOKEN" }
repository = "acme/models"

[[retraining.targets]]
name = "kfp"
kind = "kubeflow"
url = "http://kfp.internal"
pipeline_id = "p-123"

[[retraining.targets]]
name = "hook"
kind = "webhook"
url = "https://hooks.example.com/retrain?team=fraud"

[[retraining.policies]]
name = "performance-critical"
matchers = ['alertname="PerformanceDegraded"', 'severity="critical"']
firing_for_seconds = 3600.0
cooldown_seconds = 86400.0
approval = "required"
min_new_labels = 500
target = "airflow"

[[retraining.policies]]
name = "drift"
models = ["fraud"]
target = "github"
"""

SECRET_ENV = ("DW_TEST_RETRAIN_WHSEC", "DW_TEST_AIRFLOW_TOKEN", "DW_TEST_GITHUB_TOKEN")


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE)


@pytest.fixture
def secrets_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRET_ENV:
        monkeypatch.setenv(name, TOKEN)


def test_absent_section_is_disabled_and_valid() -> None:
    raw = example()
    del raw["retraining"]
    retraining = config.parse(raw).retraining
    assert retraining == config.RetrainingSettings()
    assert not retraining.enabled and retraining.targets == () and retraining.policies == ()


@pytest.mark.usefixtures("secrets_set")
def test_the_example_reads_with_its_defaults() -> None:
    retraining = config.parse(example()).retraining
    assert retraining.enabled and retraining.max_attempts == 12
    airflow, github, kfp, _ = retraining.targets
    assert (airflow.kind, airflow.dag_id, airflow.airflow_api) == ("airflow", "retrain_fraud", "v2")
    assert airflow.secret == config.Secret(env="DW_TEST_RETRAIN_WHSEC")
    assert github.base_url == "https://api.github.com"  # the default API
    assert github.event_type == "driftwatch-retrain"
    assert kfp.pipeline_version_id == "" and kfp.base_url == "http://kfp.internal"
    critical, drift = retraining.policies
    assert critical.approval == "required" and critical.min_new_labels == 500
    # a policy that says nothing else fires on critical performance alerts after an hour,
    # once a day: drift alone retrains only where a policy says so
    assert drift.matchers == ('alertname="PerformanceDegraded"', 'severity="critical"')
    assert (drift.firing_for_seconds, drift.cooldown_seconds) == (3600.0, 86400.0)
    assert drift.models == ("fraud",) and drift.approval == "none"
    assert retraining.target("github") is github and retraining.target("nope") is None


def test_secrets_are_checked_at_start_up_when_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError) as caught:
        config.parse(example())
    assert caught.value.key == "retraining.targets[0].secret"
    assert "DW_TEST_RETRAIN_WHSEC" in caught.value.problem and "export" in caught.value.fix
    raw = example()
    raw["retraining"]["enabled"] = False
    assert not config.parse(raw).retraining.enabled  # off: the environment is not consulted


def test_a_secret_written_into_the_file_is_refused_without_echoing_it() -> None:
    raw = example()
    raw["retraining"]["targets"][1]["token"] = TOKEN
    with pytest.raises(ConfigError) as caught:
        config.parse(raw)
    assert caught.value.key == "retraining.targets[1].token"
    assert TOKEN not in str(caught.value)


def _target(i: int, **changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda raw: raw["retraining"]["targets"][i].update(changes)


def _policy(i: int, **changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda raw: raw["retraining"]["policies"][i].update(changes)


def _section(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda raw: raw["retraining"].update(changes)


def _drop(table: str, i: int, key: str) -> Callable[[dict[str, Any]], None]:
    return lambda raw: raw["retraining"][table][i].pop(key)


@pytest.mark.usefixtures("secrets_set")
@pytest.mark.parametrize(
    ("edit", "key", "fix"),
    [
        (_section(policies=[]), "retraining.policies", "[[retraining.policies]]"),
        (_section(targets=[], policies=[]), "retraining.targets", "[[retraining.targets]]"),
        (_section(allowed_hosts=["http://x.internal"]), "retraining.allowed_hosts[0]", "scheme"),
        (_section(allowed_hosts=["x.internal/path"]), "retraining.allowed_hosts[0]", "no path"),
        (_section(timeout_seconds=0), "retraining.timeout_seconds", "above 0"),
        (_section(max_attempts=0), "retraining.max_attempts", "above 0"),
        (_section(base_delay_seconds=-1), "retraining.base_delay_seconds", "above 0"),
        (_section(max_delay_seconds=1.0), "retraining.max_delay_seconds", "base_delay_seconds"),
        (_target(1, name="airflow"), "retraining.targets[1].name", "rename"),
        (_target(0, name=" "), "retraining.targets[0].name", "name ="),
        (_target(0, kind="jenkins"), "retraining.targets[0].kind", "'webhook'"),
        (_target(0, url="http://other.internal:8080"), "retraining.targets[0].url", "add"),
        (_target(0, url="http://airflow.internal"), "retraining.targets[0].url", "allowed_hosts"),
        (_target(0, url="ftp://airflow.internal:8080"), "retraining.targets[0].url", "https://"),
        (_target(0, url="http://u:p@airflow.internal:8080"), "retraining.targets[0].url", "token"),
        (_target(0, url="http://airflow.internal:8080/?a=b"), "retraining.targets[0].url", "base"),
        (_target(3, url=""), "retraining.targets[3].url", "url ="),
        (_target(0, dag_id=""), "retraining.targets[0].dag_id", "dag_id ="),
        (_target(0, airflow_api="v3"), "retraining.targets[0].airflow_api", "'v1'"),
        (_target(0, username="svc"), "retraining.targets[0].password", "both"),
        (
            _target(0, username="svc", password={"env": "DW_TEST_AIRFLOW_TOKEN"}),
            "retraining.targets[0].token",
            "one way",
        ),
        (_target(0, password={"env": "X"}), "retraining.targets[0].username", "both"),
        (_target(0, token={"env": "A", "file": "/b"}), "retraining.targets[0].token", "keep one"),
        (_target(1, repository="acme"), "retraining.targets[1].repository", "acme/models"),
        (_target(1, repository="a/b/c"), "retraining.targets[1].repository", "acme/models"),
        (_drop("targets", 1, "token"), "retraining.targets[1].token", "token ="),
        (_target(1, event_type="x" * 101), "retraining.targets[1].event_type", "driftwatch"),
        (_target(1, dag_id="d"), "retraining.targets[1].dag_id", "kind = 'airflow'"),
        (_target(3, repository="a/b"), "retraining.targets[3].repository", "kind = 'github'"),
        (_target(2, pipeline_id=""), "retraining.targets[2].pipeline_id", "pipeline_id ="),
        (_policy(1, name="performance-critical"), "retraining.policies[1].name", "rename"),
        (_policy(0, target="jenkins"), "retraining.policies[0].target", "airflow, github"),
        (_drop("policies", 0, "target"), "retraining.policies[0].target", "add target"),
        (_policy(0, matchers=[]), "retraining.policies[0].matchers", "severity"),
        (_policy(0, matchers=["severity critical"]), "retraining.policies[0].matchers[0]", "form"),
        (_policy(0, models=["fraud", "fraud"]), "retraining.policies[0].models[1]", "once"),
        (_policy(0, models=[""]), "retraining.policies[0].models[0]", "model"),
        (_policy(0, firing_for_seconds=-1), "retraining.policies[0].firing_for_seconds", "0"),
        (_policy(0, cooldown_seconds=0), "retraining.policies[0].cooldown_seconds", "above 0"),
        (_policy(0, min_new_labels=-5), "retraining.policies[0].min_new_labels", "0"),
        (_policy(0, approval="maybe"), "retraining.policies[0].approval", "'required'"),
    ],
)
def test_mistakes_name_the_key_and_the_fix(
    edit: Callable[[dict[str, Any]], None], key: str, fix: str
) -> None:
    raw = example()
    edit(raw)
    with pytest.raises(ConfigError) as caught:
        config.parse(raw)
    assert caught.value.key == key
    assert fix in caught.value.fix, caught.value.fix


def test_a_broken_target_is_an_error_even_while_disabled() -> None:
    """Like alert rules: a wrong target is wrong either way, and enabling must not surprise."""
    raw = example()
    raw["retraining"]["enabled"] = False
    raw["retraining"]["targets"][0]["url"] = "http://evil.example:8080"
    with pytest.raises(ConfigError, match=r"evil\.example:8080 is not in"):
        config.parse(raw)


def test_the_allowed_hosts_error_says_exactly_what_to_add() -> None:
    raw = example()
    raw["retraining"]["allowed_hosts"] = []
    with pytest.raises(ConfigError) as caught:
        config.parse(raw)
    assert caught.value.fix.startswith('add "airflow.internal:8080" to retraining.allowed_hosts')
    raw["retraining"]["allowed_hosts"] = ["airflow.internal:8080"]
    with pytest.raises(ConfigError) as caught:
        config.parse(raw)
    assert caught.value.key == "retraining.targets[1].url"  # github's default API base
    assert caught.value.fix.startswith('add "api.github.com" ')


@pytest.mark.parametrize(
    ("url", "allowed", "expected"),
    [
        ("http://airflow.internal:8080/api/v1", ["airflow.internal:8080"], True),
        ("http://AIRFLOW.internal:8080/", ["airflow.internal:8080"], True),
        ("http://airflow.internal:8081/", ["airflow.internal:8080"], False),
        ("https://api.github.com/repos", ["api.github.com"], True),
        ("https://api.github.com:443/repos", ["api.github.com"], True),
        ("http://api.github.com/repos", ["api.github.com"], True),  # port 80: http's default
        ("https://api.github.com:8443/", ["api.github.com"], False),  # no port: default only
        ("http://api.github.com:443/", ["api.github.com"], False),  # not http's default
        ("https://api.github.com/", ["api.github.com:443"], True),
        ("https://api.github.com.evil.io/", ["api.github.com"], False),
        ("https://evil.io@api.github.com/", ["api.github.com"], False),  # credentials: refused
        ("file:///etc/passwd", ["localhost", ""], False),
        ("http://[::1]:8080/x", ["[::1]:8080"], True),
        ("http://api.github.com\n/x", ["api.github.com"], False),
        ("http://x.internal:99999/", ["x.internal:99999"], False),
        ("http://x.internal/", [], False),
    ],
)
def test_host_allowed(url: str, allowed: list[str], expected: bool) -> None:
    assert config.host_allowed(url, allowed) is expected


@pytest.mark.usefixtures("secrets_set")
def test_secrets_are_gathered_only_when_named_and_enabled() -> None:
    retraining = config.parse(example()).retraining
    assert [key for key, _ in retraining.secrets("retraining")] == [
        "retraining.targets[0].secret",
        "retraining.targets[0].token",
        "retraining.targets[1].token",
    ]
    raw = copy.deepcopy(example())
    raw["retraining"]["enabled"] = False
    assert config.parse(raw).retraining.secrets("retraining") == []
