"""Config loading: the example works, and every kind of mistake names its key and a fix."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from monitor import config
from monitor.config.ingest import MAX_BATCH_LINGER_MS
from monitor.errors import ConfigError
from monitor.store.client import SOCKET_TIMEOUT_SECONDS

ROOT = Path(__file__).resolve().parents[2]


def example() -> dict[str, Any]:
    return tomllib.loads((ROOT / "config.toml").read_text())


def test_example_config_loads() -> None:
    settings = config.load(ROOT / "config.toml")
    assert [m.name for m in settings.models] == ["fraud-detector", "delivery-eta", "churn"]
    assert settings.model("churn").threshold == 0.4
    assert settings.kafka.bootstrap_servers == ("127.0.0.1:9092",)
    assert settings.simulate.faults[0].kind == "covariate_shift"


@pytest.mark.parametrize(
    ("edit", "key", "fix"),
    [
        (lambda d: d["kafka"].update(bootstrap="x"), "kafka.bootstrap", "bootstrap_servers"),
        (lambda d: d["kafka"].update(grup_id="x"), "kafka.grup_id", "rename it to group_id"),
        (lambda d: d["kafka"].update(max_poll_records="many"), "kafka.max_poll_records", "10"),
        (lambda d: d["kafka"].update(max_poll_records=0), "kafka.max_poll_records", "above 0"),
        (
            lambda d: d["kafka"].update(max_poll_interval_ms=3000),
            "kafka.max_poll_interval_ms",
            "at least 10000",
        ),
        (lambda d: d["models"][0].pop("owner"), "models[0] (fraud-detector).owner", "add owner"),
        (
            lambda d: d["models"][1].update(task="ranking"),
            "models[1] (delivery-eta).task",
            "'regression'",
        ),
        (
            lambda d: d["models"][1].update(task="regresion"),
            "models[1] (delivery-eta).task",
            "use 'r",
        ),
        (
            lambda d: d["models"][0]["features"].update(amount="float"),
            "models[0] (fraud-detector).features.amount",
            "'numeric'",
        ),
        (
            lambda d: d["models"][0].update(threshold=2),
            "models[0] (fraud-detector).threshold",
            "0.5",
        ),
        (
            lambda d: d["models"][2].update(name="delivery-eta"),
            "models[2] (delivery-eta).name",
            "merge",
        ),
        (lambda d: d["models"].clear(), "models", "[[models]]"),
        (lambda d: d.update(fields={"predictions": {"uid": "x"}}), "fields.predictions.uid", "id"),
        (
            lambda d: d["redis"].update(password_env="DW_NO_SUCH_VAR_X"),
            "redis.password_env",
            "export",
        ),
        (
            lambda d: d["kafka"].update(security_protocol="SASL_SSL"),
            "kafka.sasl_password_env",
            "name",
        ),
        (
            lambda d: d["simulate"]["faults"][0].update(feature="nope"),
            "simulate.faults[0].feature",
            "amount",
        ),
        (
            lambda d: d["kafka"].update(dead_letter_topic="predictions"),
            "kafka.dead_letter_topic",
            "",
        ),
        (
            lambda d: d["dashboard"].update(proxy_user_header="X-Forwarded User:"),
            "dashboard.proxy_user_header",
            "X-Forwarded-User",
        ),
    ],
)
def test_mistakes_name_the_key_and_the_fix(edit: Any, key: str, fix: str) -> None:
    raw = example()
    edit(raw)
    with pytest.raises(ConfigError) as info:
        config.parse(raw)
    assert info.value.key == key
    assert fix in str(info.value)


def test_the_poll_interval_floor_covers_a_redis_call_on_the_poll_loop() -> None:
    assert config.MIN_POLL_INTERVAL_MS >= 2 * SOCKET_TIMEOUT_SECONDS * 1000


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[kafka\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "missing.toml")


def test_secrets_come_from_env_and_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DW_TEST_SASL", "s3cret-value")
    raw = example()
    raw["kafka"].update(
        security_protocol="SASL_PLAINTEXT", sasl_password_env="DW_TEST_SASL", sasl_username_env="U"
    )
    monkeypatch.setenv("U", "alice")
    settings = config.parse(raw)
    kwargs = settings.kafka.client_kwargs()
    assert kwargs["sasl_plain_password"] == "s3cret-value"
    assert kwargs["sasl_plain_username"] == "alice"
    assert "s3cret-value" not in repr(settings)
    assert "s3cret-value" not in repr(settings.kafka.sasl_password)


def test_secret_from_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text("from-file\n")
    raw = example()
    raw["redis"]["password_file"] = str(secret_file)
    assert config.parse(raw).redis.password.reveal() == "from-file"


def _leaf_keys(cls: type, prefix: str, path: tuple[type, ...] = ()) -> list[str]:
    """Every key of ``cls`` as written in TOML (a field's ``key`` alias included); a section
    that contains itself (the routing tree) is listed once."""
    keys = []
    for f in dataclasses.fields(cls):
        name = f.metadata.get("key", f.name)
        tp = cls.__annotations__.get(f.name, "")
        inner = getattr(config, re.sub(r"tuple\[(\w+), \.\.\.\]", r"\1", str(tp)), None)
        nested = isinstance(inner, type) and dataclasses.is_dataclass(inner)
        if nested and inner not in (*path, cls):
            keys += _leaf_keys(inner, f"{prefix}{name}.", (*path, cls))
        else:
            keys.append(prefix + name)
    return keys


def test_docs_config_md_documents_every_key() -> None:
    text = (ROOT / "docs" / "config.md").read_text()
    missing = [key for key in _leaf_keys(config.Settings, "") if f"`{key}`" not in text]
    assert not missing, f"docs/config.md lacks: {missing}"


def test_check_reports_every_problem_at_once_with_model_names() -> None:
    """``config check`` lists all mistakes of a file in one run, each with its key and fix."""
    raw = example()
    raw["kafka"]["grup_id"] = "x"
    raw["kafka"]["max_poll_records"] = "many"
    raw["modles"] = []
    raw["models"][0].pop("owner")
    raw["models"][1]["task"] = "regresion"
    raw["models"][2]["features"] = {}
    raw["drift"] = {"alpha": 2}
    found = {e.key: e.fix for e in config.check(raw)}
    assert found == {
        "modles": "rename it to models",
        "kafka.grup_id": "rename it to group_id",
        "kafka.max_poll_records": "write a whole number without quotes, e.g. 10",
        "models[0] (fraud-detector).owner": "add owner = …",
        "models[1] (delivery-eta).task": "use 'regression'",
        "models[2] (churn).features": "add e.g. features = { amount = 'numeric' }",
        "drift.alpha": found.get("drift.alpha", "missing"),
    }
    assert "0 and 1" in found["drift.alpha"]
    with pytest.raises(ConfigError) as info:  # the daemon still stops at the first
        config.parse(raw)
    assert info.value.key == "modles"


def test_check_runs_the_rules_of_every_sound_section() -> None:
    """Semantic rules of several sections, and secrets, are all reported; a broken model only
    silences the rules that read the set of models."""
    raw = example()
    raw["kafka"]["dead_letter_topic"] = raw["kafka"].get("predictions_topic", "predictions")
    raw["quality"] = {"min_increase": 0.5, "critical_increase": 0.2}
    raw["redis"]["password_env"] = "DW_NO_SUCH_VAR_X"
    raw["simulate"]["faults"][0]["feature"] = "amout"
    keys = [e.key for e in config.check(raw)]
    assert keys == [
        "simulate.faults[0].feature",
        "kafka.dead_letter_topic",
        "quality.min_increase",
        "redis.password_env",
    ]
    raw["models"][0]["task"] = "ranking"
    keys = [e.key for e in config.check(raw)]
    assert "simulate.faults[0].feature" not in keys and len(keys) == 4


def test_a_sound_file_has_no_problems_and_check_agrees_with_parse() -> None:
    assert config.check(example()) == []


def test_no_fix_is_a_platitude() -> None:
    """Every fix says what to write or do; "fix it" tells the reader nothing."""
    weak = re.compile(r'"(fix (it|them|the \w+)|correct the type|list them|mount it|export it)"')
    for path in (ROOT / "monitor" / "config").glob("*.py"):
        assert not weak.search(path.read_text()), path


def test_a_process_checks_only_the_secrets_it_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon needs every credential; the dashboard or ``status`` reads Redis only and must
    start without the webhook and receiver secrets it never uses (least privilege)."""
    monkeypatch.delenv("DW_TEST_UNSET_HOOK", raising=False)
    doc = example()
    doc["alerting"] = {
        "enabled": True,
        "route": {"receiver": "ops"},
        "receivers": [{"name": "ops", "apprise_urls": [{"env": "DW_TEST_UNSET_HOOK"}]}],
    }
    with pytest.raises(ConfigError) as info:
        config.parse(doc)
    assert info.value.key == "alerting.receivers[0].apprise_urls[0]"
    settings = config.parse(doc, secrets=config.REDIS_ONLY)
    assert settings.alerting.enabled
    doc["redis"] = {**doc.get("redis", {}), "password_env": "DW_TEST_UNSET_HOOK"}
    with pytest.raises(ConfigError, match="DW_TEST_UNSET_HOOK"):
        config.parse(doc, secrets=config.REDIS_ONLY)  # what it uses, it must find


def test_check_reports_every_independent_problem_of_a_model_and_a_section() -> None:
    """One model's several mistakes, and one section's, are all listed in one run; the daemon
    still stops at the first."""
    raw = example()
    raw["models"][0].update(task="bin", features={"amount": "numerc"})  # two type mistakes
    raw["models"][1].update(name="delivery eta", task="multiclass", features={}, classes=[])
    raw["drift"] = {"min_samples": 5, "alpha": 2.0, "fdr": 0.0}
    found = [e.key for e in config.check(raw)]
    assert found[:2] == [
        "models[0] (fraud-detector).task",
        "models[0] (fraud-detector).features.amount",
    ]
    model = "models[1] (delivery eta)"
    for key in (f"{model}.name", f"{model}.features", f"{model}.classes"):
        assert key in found, (key, found)
    assert {"drift.min_samples", "drift.alpha", "drift.fdr"} <= set(found)
    with pytest.raises(ConfigError) as info:
        config.parse(raw)
    assert info.value.key == "models[0] (fraud-detector).task"


def test_rules_across_sections_still_run_while_a_model_is_broken() -> None:
    """A broken model still counts by its name: a retraining policy or an alert rule naming a
    model that does not exist is reported, and one naming the broken model is not blamed."""
    raw = example()
    raw["models"][0].pop("owner")  # fraud-detector cannot be built
    raw["alerting"] = {"rules": [{"kind": "performance", "models": ["fraud-detector", "frud"]}]}
    raw["retraining"] = {
        "allowed_hosts": ["hooks.example"],
        "targets": [{"name": "hook", "kind": "webhook", "url": "https://hooks.example/x"}],
        "policies": [{"name": "p", "target": "hook", "models": ["fraud-detector", "chrun"]}],
    }
    errors = {e.key: e for e in config.check(raw)}
    assert set(errors) == {
        "models[0] (fraud-detector).owner",
        "alerting.rules[0].models",
        "retraining.policies[0].models",
    }
    assert "'frud'" in errors["alerting.rules[0].models"].problem
    assert "'chrun'" in errors["retraining.policies[0].models"].problem
    assert errors["retraining.policies[0].models"].fix == "use 'churn'"
    raw["models"][0].pop("name")  # now the set of models is unknown: those rules wait
    assert [e.key for e in config.check(raw)] == ["models[0].name", "models[0].owner"]


SECRET = "hunter2-long-secret"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (f"redis://:{SECRET}@redis.internal:6379/0", "redis://:***@redis.internal:6379/0"),
        (
            f"redis://driftwatch:{SECRET}@redis.internal/0",
            "redis://driftwatch:***@redis.internal/0",
        ),
        (f"rediss://driftwatch:{SECRET}@redis.internal:6380/0", "rediss://driftwatch:***@"),
        (f"redis://redis.internal/0?password={SECRET}", "redis://redis.internal/0?password=***"),
    ],
)
def test_a_password_in_the_redis_url_is_refused_and_never_shown(url: str, masked: str) -> None:
    raw = example()
    raw["redis"]["url"] = url
    for error in (*config.check(raw), _first_error(raw)):
        assert error.key == "redis.url"
        assert SECRET not in str(error)
        assert "a password must not be written in the URL" in error.problem
        assert masked in error.problem
        assert "redis.password_env" in error.fix and "redis.password_file" in error.fix


def test_a_user_alone_in_the_redis_url_is_an_acl_user_and_allowed() -> None:
    raw = example()
    raw["redis"]["url"] = "rediss://driftwatch@redis.internal:6380/0"
    assert config.parse(raw).redis.url == "rediss://driftwatch@redis.internal:6380/0"
    raw["redis"]["url"] = "http://redis.internal/0"
    assert _first_error(raw).key == "redis.url"


@pytest.mark.parametrize(
    ("edit", "key", "fix"),
    [
        (
            lambda d: d.update(dashboard={"public_url": f"https://ops:{SECRET}@dash.example/"}),
            "dashboard.public_url",
            "proxy",
        ),
        (
            lambda d: d["kafka"].update(bootstrap_servers=[f"alice:{SECRET}@broker:9092"]),
            "kafka.bootstrap_servers[0]",
            "kafka.sasl_password_env",
        ),
        (
            lambda d: d.update(
                alerting={
                    "enabled": True,
                    "route": {"receiver": "pd"},
                    "receivers": [
                        {"name": "pd", "pagerduty_url": f"https://u:{SECRET}@pd.example/v2"}
                    ],
                }
            ),
            "alerting.receivers[0].pagerduty_url",
            "pagerduty_routing_key",
        ),
        (
            lambda d: d.update(
                retraining={
                    "allowed_hosts": ["air.example"],
                    "targets": [
                        {
                            "name": "air",
                            "kind": "airflow",
                            "dag_id": "d",
                            "url": f"https://admin:{SECRET}@air.example",
                        }
                    ],
                }
            ),
            "retraining.targets[0].url",
            "token or password",
        ),
    ],
)
def test_credentials_in_any_url_are_refused_and_never_shown(edit: Any, key: str, fix: str) -> None:
    raw = example()
    edit(raw)
    for error in (*config.check(raw), _first_error(raw)):
        assert SECRET not in str(error)
    assert _first_error(raw).key == key
    assert fix in _first_error(raw).fix


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda d: d["redis"].update(password_env=SECRET), "redis.password_env"),
        (lambda d: d["redis"].update(password_env="Hunter2LongSecret"), "redis.password_env"),
        (lambda d: d["redis"].update(password_env=20240101), "redis.password_env"),
        (lambda d: d["redis"].update(password_file=f"/run/{SECRET}"), "redis.password_file"),
        (
            lambda d: d["kafka"].update(security_protocol="SASL_SSL", sasl_password_env=SECRET),
            "kafka.sasl_password_env",
        ),
        (
            lambda d: d.update(
                alerting={
                    "enabled": True,
                    "route": {"receiver": "ops"},
                    "receivers": [{"name": "ops", "apprise_urls": [{"env": SECRET}]}],
                }
            ),
            "alerting.receivers[0].apprise_urls[0]",
        ),
        (
            lambda d: d.update(
                alerting={"receivers": [{"name": "ops", "apprise_urls": [{"env": 20240101}]}]}
            ),
            "alerting.receivers[0].apprise_urls[0].env",
        ),
    ],
)
def test_a_value_of_a_secret_source_key_is_never_repeated(edit: Any, key: str) -> None:
    """A secret written where its variable's name (or file) belongs: the error names the key
    and what is wrong with it, never the value."""
    raw = example()
    edit(raw)
    errors = [*config.check(raw), _first_error(raw)]
    assert {e.key for e in errors} == {key}
    for error in errors:
        text = str(error)
        assert SECRET not in text and "Hunter2LongSecret" not in text and "20240101" not in text
    assert re.search(
        r"not the name of an environment variable|not set|does not exist|got int", text
    )


def test_an_unset_variable_in_capitals_is_named_so_it_can_be_exported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DW_TEST_NO_SUCH_PASSWORD", raising=False)
    raw = example()
    raw["redis"]["password_env"] = "DW_TEST_NO_SUCH_PASSWORD"
    error = _first_error(raw)
    assert error.problem == "environment variable DW_TEST_NO_SUCH_PASSWORD is not set"
    assert error.fix.startswith("export DW_TEST_NO_SUCH_PASSWORD before starting")


def test_masked_url_hides_passwords_and_keeps_the_rest() -> None:
    assert config.masked_url("redis://app:s3cret@redis:6379/0") == "redis://app:***@redis:6379/0"
    assert config.masked_url("redis://app@redis:6379/0") == "redis://app@redis:6379/0"
    assert config.masked_url("redis://:p@ss@redis/0") == "redis://:***@redis/0"
    assert config.masked_url("redis://r/0?db=1&password=x") == "redis://r/0?db=1&password=***"
    assert "s3cret" not in config.masked_url("redis://[::1:s3cret@h/0")


def _first_error(raw: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        config.parse(raw)
    return info.value


@pytest.mark.parametrize("linger_ms", [-1, MAX_BATCH_LINGER_MS + 1])
def test_a_batch_linger_outside_its_range_names_the_key_and_the_range(linger_ms: int) -> None:
    """A negative linger means nothing, and a long one would hold every event back longer than
    the freshness the dashboards and alerts rely on."""
    raw = example()
    raw.setdefault("ingest", {})["batch_linger_ms"] = linger_ms
    error = _first_error(raw)
    assert error.key == "ingest.batch_linger_ms"
    assert f"between 0 (no linger) and {MAX_BATCH_LINGER_MS}" in str(error)
    raw["ingest"]["batch_linger_ms"] = 0
    assert config.parse(raw).ingest.batch_linger_ms == 0
