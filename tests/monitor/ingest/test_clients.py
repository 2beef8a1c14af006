"""Kafka clients are made in one place, which names a broker's refusal of the credentials or of
the user's rights in one line (no SASL broker runs in tests: the refusals are kafka-python's
own exceptions, raised where a client would raise them)."""

from __future__ import annotations

from typing import Any

import pytest
from kafka import errors as kafka_errors

from monitor import config
from monitor.errors import AccessRefusedError
from monitor.ingest.clients import kafka_client, refusal

USER, PASSWORD = "alice-in-the-env", "s3cret-in-the-env"


@pytest.fixture
def sasl(monkeypatch: pytest.MonkeyPatch) -> config.KafkaSettings:
    monkeypatch.setenv("DW_TEST_KAFKA_USER", USER)
    monkeypatch.setenv("DW_TEST_KAFKA_PASSWORD", PASSWORD)
    return config.KafkaSettings(
        bootstrap_servers=("broker-1:9093", "broker-2:9093"),
        group_id="drift-group",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username_env="DW_TEST_KAFKA_USER",
        sasl_password_env="DW_TEST_KAFKA_PASSWORD",
    )


def raising(exc: Exception) -> Any:
    def factory(**kwargs: Any) -> Any:
        raise exc

    return factory


def test_the_client_gets_the_settings_and_the_options(sasl: config.KafkaSettings) -> None:
    made = kafka_client(lambda **kwargs: kwargs, sasl, group_id="g", enable_auto_commit=False)
    assert made["sasl_plain_username"] == USER and made["sasl_plain_password"] == PASSWORD
    assert made["bootstrap_servers"] == ["broker-1:9093", "broker-2:9093"]
    assert (made["group_id"], made["enable_auto_commit"]) == ("g", False)
    # reconnects within a second of a broker's return (kafka-python's 30 s cap kept a consumer
    # without metadata, so without fetching, for up to ~35 s after a short outage)
    assert made["reconnect_backoff_max_ms"] == 1000
    assert (
        kafka_client(lambda **kw: kw, sasl, reconnect_backoff_max_ms=5)["reconnect_backoff_max_ms"]
        == 5
    )  # an option of the caller wins


@pytest.mark.parametrize(
    "exc",
    [
        kafka_errors.SaslAuthenticationFailedError(
            "Authentication failed during authentication due to invalid credentials with SASL "
            "mechanism SCRAM-SHA-512"
        ),
        kafka_errors.UnsupportedSaslMechanismError("SCRAM-SHA-512"),
    ],
    ids=type,
)
def test_refused_credentials_are_one_line_naming_where_they_come_from(
    sasl: config.KafkaSettings, exc: Exception
) -> None:
    with pytest.raises(AccessRefusedError) as info:
        kafka_client(raising(exc), sasl)
    message = str(info.value)
    assert message.startswith("Kafka at broker-1:9093, broker-2:9093 refused the credentials (")
    assert message.endswith(
        "check the user and password in $DW_TEST_KAFKA_USER (kafka.sasl_username_env) and "
        "$DW_TEST_KAFKA_PASSWORD (kafka.sasl_password_env), and kafka.sasl_mechanism "
        "(SCRAM-SHA-512)"
    )
    assert "\n" not in message and USER not in message and PASSWORD not in message
    assert info.value.__cause__ is exc


@pytest.mark.parametrize(
    "exc",
    [
        kafka_errors.TopicAuthorizationFailedError("predictions"),
        kafka_errors.GroupAuthorizationFailedError("drift-group"),
    ],
    ids=type,
)
def test_refused_rights_are_one_line_naming_the_group(
    sasl: config.KafkaSettings, exc: Exception
) -> None:
    with pytest.raises(AccessRefusedError) as info:
        kafka_client(raising(exc), sasl)
    assert str(info.value).startswith(
        "Kafka at broker-1:9093, broker-2:9093 refused the user a right Driftwatch needs ("
    )
    assert str(info.value).endswith("the consumer group kafka.group_id (drift-group)")


def test_other_kafka_errors_pass_unchanged(sasl: config.KafkaSettings) -> None:
    """An unreachable broker means different things to the daemon and to a command: each
    caller words it."""
    unreachable = kafka_errors.KafkaConnectionError("connection refused")
    with pytest.raises(kafka_errors.KafkaConnectionError) as info:
        kafka_client(raising(unreachable), sasl)
    assert info.value is unreachable
    assert refusal(unreachable, sasl) is None and refusal(ValueError("x")) is None


def test_a_refusal_met_outside_a_client_names_the_keys() -> None:
    refused = refusal(kafka_errors.SaslAuthenticationFailedError("bad"))
    assert refused is not None
    assert str(refused).startswith("Kafka refused the credentials (")
    assert "kafka.sasl_username_env and kafka.sasl_password_env" in str(refused)
