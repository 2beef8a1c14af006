"""End-to-end helpers: a config per test on its own topics and key prefix, and daemon processes.

Daemons run as real subprocesses (``python -m monitor run``) so tests can SIGKILL them at any
moment, exactly as an OOM killer or a node failure would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from monitor import config
from monitor.store.query import Query
from monitor.vocab.counts import IngestCounts

ROOT = Path(__file__).resolve().parents[2]

MODELS: list[dict[str, Any]] = [
    {
        "name": "fraud-detector",
        "owner": "risk@example.com",
        "task": "binary",
        "features": {"amount": "numeric", "age": "numeric", "country": "categorical"},
    },
    {
        "name": "delivery-eta",
        "owner": "eta@example.com",
        "task": "regression",
        "features": {"distance_km": "numeric", "city": "categorical"},
    },
]


def to_toml(doc: dict[str, Any]) -> str:
    """Write the subset of TOML our configs use (tables, arrays of tables, inline values)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + " }"
        raise TypeError(v)

    lines: list[str] = []

    def table(name: str, body: dict[str, Any], header: str) -> None:
        lines.append(header.format(name))
        nested = []
        for k, v in body.items():
            if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                nested.append((k, v))
            else:
                lines.append(f"{k} = {value(v)}")
        for k, items in nested:
            for item in items:
                table(f"{name}.{k}", item, "[[{}]]")

    for name, body in doc.items():
        if isinstance(body, list):
            for item in body:
                table(name, item, "[[{}]]")
        else:
            table(name, body, "[{}]")
    return "\n".join(lines) + "\n"


@dataclass
class Deployment:
    """One test's config: topics, prefix and group of its own."""

    path: Path
    settings: config.Settings
    redis_url: str

    def query(self) -> Query:
        return Query(redis.Redis.from_url(self.redis_url), self.settings)

    def counts(self) -> dict[str, IngestCounts]:
        return {row.model.name: row.counts for row in self.query().ingest()}

    def unknown(self) -> IngestCounts:
        return self.query().unknown_model_counts()


@pytest.fixture
def deployment_factory(
    tmp_path: Path,
    kafka_bootstrap: str,
    redis_url: str,
    topic_factory: Callable[..., str],
    key_prefix: str,
) -> Callable[..., Deployment]:
    """``make(partitions=3, **sections)``: topics created, config written and loaded."""

    def make(partitions: int = 3, **sections: dict[str, Any]) -> Deployment:
        doc: dict[str, Any] = {
            "kafka": {
                "bootstrap_servers": [kafka_bootstrap],
                "group_id": f"g-{key_prefix.split(':')[-1]}",
                "predictions_topic": topic_factory("pred", partitions),
                "outcomes_topic": topic_factory("out", partitions),
                "dead_letter_topic": topic_factory("dlq", 1),
                "max_poll_records": 500,
                "session_timeout_ms": 3000,
            },
            "redis": {"url": redis_url, "key_prefix": key_prefix},
            "runtime": {"http_port": 0, "log_format": "json", "log_level": "INFO"},
            "models": MODELS,
        }
        for name, body in sections.items():
            if isinstance(body, dict) and isinstance(doc.get(name), dict):
                doc[name] = {**doc[name], **body}
            else:
                doc[name] = body
        path = tmp_path / f"config-{len(list(tmp_path.glob('config-*.toml')))}.toml"
        path.write_text(to_toml(doc))
        return Deployment(path, config.load(path), doc["redis"]["url"])

    return make


class DaemonProcess:
    """``driftwatch run`` as a child process, logging to a file."""

    def __init__(self, config_path: Path, log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def http_url(self) -> str:
        """Where its health and metrics are served (port 0 in tests: read from the log)."""
        found = re.search(r"health and metrics on (http://[\d.]+:\d+)", self.log_text())
        assert found, "the daemon has not started its HTTP server yet"
        return found.group(1)

    def get(self, path: str) -> tuple[int, str]:
        """GET one of its endpoints: (status, body)."""
        try:
            with urllib.request.urlopen(self.http_url() + path, timeout=10) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """Its ``/metrics``: (sample name, labels) → value."""
        status, text = self.get("/metrics")
        assert status == 200
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[Callable[[Deployment], DaemonProcess]]:
    """Start daemons; any still running at the end of the test are killed."""
    started: list[DaemonProcess] = []

    def start(deployment: Deployment) -> DaemonProcess:
        daemon = DaemonProcess(deployment.path, tmp_path / f"daemon-{len(started)}.log")
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        if daemon.alive():
            daemon.kill9()


def _wait_for(
    condition: Callable[[], bool], timeout: float, what: str, *, every: float = 0.25
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


@pytest.fixture
def wait_for() -> Callable[..., None]:
    """``wait_for(condition, timeout, what)``: poll until true, fail naming ``what``."""
    return _wait_for
