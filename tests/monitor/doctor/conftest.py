"""Configs for the doctor's tests: a deployment on the session's Kafka and Redis, with topics and
key prefix of the test's own, and anything more appended as TOML."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.monitor.doctor.support import config_text

WriteConfig = Callable[..., Path]


@pytest.fixture
def write_config(
    tmp_path: Path, kafka_bootstrap: str, redis_url: str, key_prefix: str
) -> WriteConfig:
    """``write_config(predictions=…, outcomes=…, dead=…, extra="", redis=None)``: a config
    file naming those topics (absent ones need not exist); returns its path."""

    def write(
        predictions: str = "absent-predictions",
        outcomes: str = "absent-outcomes",
        dead: str = "absent-dead-letters",
        extra: str = "",
        redis: str | None = None,
    ) -> Path:
        path = tmp_path / f"config-{uuid.uuid4().hex[:6]}.toml"
        topics = {"predictions": predictions, "outcomes": outcomes, "dead": dead}
        path.write_text(
            config_text(kafka_bootstrap, redis or redis_url, key_prefix, **topics) + extra
        )
        return path

    return write


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
