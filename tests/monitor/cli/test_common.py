"""Commands fail in one line that says what to do: a config mistake exits 2, an unreachable
Redis exits 1, never with a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main

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
