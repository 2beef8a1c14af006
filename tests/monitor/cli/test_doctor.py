"""``driftwatch doctor`` through the command line: a healthy deployment exits 0, a broken one
exits 1 with each finding's fix, and nothing hangs when every dependency is down."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from tests.monitor.doctor.support import TARGETS, config_text


def test_a_healthy_deployment_passes_and_exits_0(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kafka_bootstrap: str,
    redis_url: str,
    key_prefix: str,
    topic_factory: Callable[..., str],
) -> None:
    with socket.socket() as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.listen(8)
        port = receiver.getsockname()[1]
        monkeypatch.setenv("DW_DOCTOR_HOOK", f"json://127.0.0.1:{port}/alerts")
        topics = {"predictions": topic_factory("p", 2), "outcomes": topic_factory("o", 2)}
        text = config_text(
            kafka_bootstrap, redis_url, key_prefix, dead=topic_factory("d"), **topics
        )
        path = tmp_path / "config.toml"
        path.write_text(text + TARGETS.format(port=port))
        result = CliRunner().invoke(main, ["doctor", "--config", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    statuses = {line.split()[1].rstrip(":"): line.split()[0] for line in lines if line[:1] != " "}
    for check in ("config", "kafka.connection", "kafka.topics", "kafka.partitions", "kafka.lag",
                  "redis.connection", "redis.version", "redis.persistence", "redis.eviction",
                  "clock.redis", "retraining.targets[0]"):  # fmt: skip
        assert statuses.get(check) == "OK", (check, result.output)
    assert lines[-1].endswith(": 0 failed, " + lines[-1].split(", ")[-1])


def test_a_missing_topic_exits_1_and_json_carries_the_fix(
    tmp_path: Path,
    kafka_bootstrap: str,
    redis_url: str,
    key_prefix: str,
    topic_factory: Callable[..., str],
) -> None:
    path = tmp_path / "config.toml"
    topics = {"predictions": topic_factory("p"), "outcomes": "dwtest-absent", "dead": "dwtest-gone"}
    path.write_text(config_text(kafka_bootstrap, redis_url, key_prefix, **topics))
    result = CliRunner().invoke(main, ["doctor", "--config", str(path), "--json"])
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["version"] == 1 and document["exit_code"] == 1
    topics_finding = next(f for f in document["findings"] if f["check"] == "kafka.topics")
    assert topics_finding["status"] == "fail"
    assert "'dwtest-absent' (kafka.outcomes_topic)" in topics_finding["found"]
    assert "driftwatch topics create" in topics_finding["fix"]
    assert "FAIL  kafka.topics" in result.stderr  # progress, one line per finding


def test_everything_down_fails_fast_with_a_fix_for_each(tmp_path: Path) -> None:
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        kafka, redis = (f"127.0.0.1:{s.getsockname()[1]}" for s in (a, b))
    path = tmp_path / "config.toml"
    text = config_text(kafka, f"redis://{redis}/0", "dw", "p", "o", "d")
    path.write_text(text)
    started = time.monotonic()
    result = CliRunner().invoke(main, ["doctor", "--config", str(path)])
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert elapsed < 8, elapsed
    assert "FAIL  kafka.connection" in result.output and "FAIL  redis.connection" in result.output
    assert result.output.count("      fix: ") == 2
