"""Commands fail in one line that says what to do: a config mistake exits 2, an unreachable
Redis exits 1, never with a traceback."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from kafka import errors as kafka_errors

from monitor.cli import main
from monitor.cli.common import friendly_errors

MODEL = '[[models]]\nname = "m"\nowner = "o"\ntask = "binary"\nfeatures = { a = "numeric" }\n'


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("command", [["status"], ["alerts", "list"]])
def test_an_unreachable_redis_is_one_line_with_the_fix(tmp_path: Path, command: list[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[redis]\nurl = "redis://127.0.0.1:{closed_port()}/0"\n{MODEL}')
    result = CliRunner().invoke(main, [*command, "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert "Redis is unreachable" in result.output and "driftwatch services up" in result.output
    assert "Traceback" not in result.output and result.output.count("\n") == 1


def test_an_unreachable_kafka_is_one_line_with_the_fix(
    tmp_path: Path, redis_url: str, key_prefix: str
) -> None:
    """``baseline set --from-stream`` reads Kafka with no handling of its own: the shared
    wrapper turns kafka-python's bootstrap failure into the one line."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[kafka]\nbootstrap_servers = ["127.0.0.1:{closed_port()}"]\n'
        f'[redis]\nurl = "{redis_url}"\nkey_prefix = "{key_prefix}"\n{MODEL}'
    )
    command = ["baseline", "set", "--model", "m", "--from-stream", "--start", "now-1h"]
    result = CliRunner().invoke(main, [*command, "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert "Kafka is unreachable" in result.output and "kafka.bootstrap_servers" in result.output
    assert "Traceback" not in result.output and result.output.count("\n") == 1


def test_a_model_that_is_not_configured_is_a_usage_error_listing_the_models(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(MODEL + MODEL.replace('name = "m"', 'name = "churn"'))
    result = CliRunner().invoke(main, ["alerts", "list", "--model", "x", "--config", str(config)])
    assert result.exit_code == 2 and "no model named 'x'; configured: m, churn" in result.output
    assert "config key" not in result.output
    result = CliRunner().invoke(main, ["status", "--model", "chrun", "--config", str(config)])
    assert result.exit_code == 2 and "did you mean 'churn'?" in result.output


def _fails_with(exc: Exception) -> Any:
    @friendly_errors
    def command() -> None:
        raise exc

    return command


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            kafka_errors.SaslAuthenticationFailedError("invalid credentials"),
            "error: Kafka refused the credentials ([Error 58] SaslAuthenticationFailedError: "
            "invalid credentials): check the user and password named by kafka.sasl_username_env",
        ),
        (
            kafka_errors.TopicAuthorizationFailedError(),
            "error: Kafka refused the user a right Driftwatch needs (",
        ),
        (
            redis.exceptions.NoPermissionError("this user has no permissions to run 'hgetall'"),
            "error: Redis refused the user of redis.url a command Driftwatch needs (",
        ),
        (
            redis.ResponseError("WRONGPASS invalid username-password pair"),
            "error: Redis refused the credentials (WRONGPASS invalid username-password pair): "
            "check the password named by redis.password_env or redis.password_file",
        ),
    ],
)
def test_a_refusal_met_in_the_middle_of_a_command_is_one_line(
    exc: Exception, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Past the start-up checks (a right refused on one key, credentials rotated meanwhile),
    the shared wrapper still names the refusal, not an outage or a traceback."""
    with pytest.raises(SystemExit) as info:
        _fails_with(exc)()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(expected) and err.count("\n") == 1, err
