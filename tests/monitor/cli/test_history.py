"""``driftwatch history``: a model's trail as a table or JSON, its incidents and MTTR computed
from the whole trail, and mistakes reported in one line against the real Redis."""

from __future__ import annotations

import json
import socket
import time
from datetime import datetime
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result

from monitor.cli import main
from monitor.store.audit import AuditLog
from monitor.store.keys import Keys
from monitor.vocab.alerts import Alert
from monitor.vocab.audit import AuditEvent, alert_fired, alert_resolved, silence_created
from monitor.vocab.silences import Silence

MODELS = "".join(
    f'[[models]]\nname = "{name}"\nowner = "o"\ntask = "binary"\nfeatures = {{ a = "numeric" }}\n'
    for name in ("fraud", "churn")
)
DAY, HOUR = 86400.0, 3600.0
NOW = float(int(time.time()))


@pytest.fixture
def config_path(tmp_path: Path, redis_url: str, key_prefix: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[redis]\nurl = "{redis_url}"\nkey_prefix = "{key_prefix}"\n\n{MODELS}')
    return path


def run(config_path: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["history", *args, "--config", str(config_path)])


def alert(feature: str) -> Alert:
    labels = {"alertname": "FeatureDrift", "model": "fraud", "severity": "critical", "owner": "o",
              "feature": feature}  # fmt: skip
    return Alert(labels, {"summary": f"{feature} drifted"}, "firing")


@pytest.fixture
def trail(redis_client: redis.Redis, key_prefix: str) -> list[AuditEvent]:
    """Three incidents of fraud: 50 days ago (recovered in 2 h), 10 days ago (detected in 30 min,
    acknowledged after 1 h, recovered after 1 h 30 min) and one open since an hour ago."""
    first = NOW - 10 * DAY
    silence = Silence.new(['feature="amount"'], HOUR, "ana", "on it", now=first - 0.5 * HOUR)
    events = [
        alert_fired(alert("age"), NOW - 50 * DAY - 2 * HOUR, None),
        alert_resolved(alert("age"), NOW - 50 * DAY),
        AuditEvent(NOW - 20 * DAY, "reference_set", "fraud", "ana", "reference r1 is current",
                   {"version": "r1", "source": "train.csv", "rows": "1000"}),
        alert_fired(alert("amount"), first - HOUR, problem_since=first - 1.5 * HOUR),
        silence_created(silence, "fraud"),
        alert_resolved(alert("amount"), first),
        alert_fired(alert("age"), NOW - HOUR, problem_since=NOW - HOUR - 400),
    ]  # fmt: skip
    log = AuditLog(redis_client, Keys(key_prefix), retention_days=400)
    for event in events:
        log.append(event)
    return events


def test_the_table_lists_events_then_incidents_and_mttr(
    config_path: Path, trail: list[AuditEvent]
) -> None:
    result = run(config_path, "--model", "fraud")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["time", "kind", "actor", "summary"]
    rows = [line.split(maxsplit=5)[3:] for line in lines[1:8]]
    assert rows == [[e.kind, e.actor, e.summary] for e in trail]
    assert lines[8:] == [
        "",
        "incidents: 3 (times from the first window that showed the problem)",
        f"  {utc(trail[0].ts)} → {utc(trail[1].ts)}: detected 0 s, acknowledged -, "
        "recovered 2 h 0 min (FeatureDrift)",
        f"  {utc(trail[3].ts)} → {utc(trail[5].ts)}: detected 30 min, acknowledged 1 h 0 min, "
        "recovered 1 h 30 min (FeatureDrift)",
        f"  {utc(trail[6].ts)} → open: detected 6 min, acknowledged -, recovered - (FeatureDrift)",
        "MTTR over 30 days: 1 h 30 min over 1 incident(s); mean time to detect 30 min, to "
        "acknowledge 1 h 0 min",
        "MTTR over 90 days: 1 h 45 min over 2 incident(s); mean time to detect 15 min, to "
        "acknowledge 1 h 0 min",
    ]


def utc(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def test_a_period_shows_its_events_and_incidents_but_mttr_counts_the_whole_trail(
    config_path: Path, trail: list[AuditEvent]
) -> None:
    result = run(config_path, "--model", "fraud", "--since", "7d", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert set(doc) == {"model", "generated_at", "events", "incidents", "mttr_seconds"}
    assert doc["model"] == "fraud"
    assert abs(datetime.fromisoformat(doc["generated_at"]).timestamp() - time.time()) < 60
    [event] = doc["events"]
    assert event == {
        "id": f"{int(trail[6].ts * 1000)}-0",
        "time": iso(trail[6].ts),
        "kind": "alert_fired",
        "actor": "driftwatch",
        "summary": "FeatureDrift firing: age drifted",
        "details": trail[6].details,
    }
    [incident] = doc["incidents"]
    assert incident == {
        "started": iso(NOW - HOUR),
        "ended": None,
        "detected_from": iso(NOW - HOUR - 400),
        "acknowledged": None,
        "time_to_detect_seconds": 400.0,
        "time_to_acknowledge_seconds": None,
        "time_to_recover_seconds": None,
        "fingerprints": [alert("age").fingerprint],
        "alertnames": ["FeatureDrift"],
    }
    assert doc["mttr_seconds"] == {"30d": 1.5 * HOUR, "90d": 1.75 * HOUR}


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def test_until_and_limit_cut_the_events_and_the_incidents_follow_the_period(
    config_path: Path, trail: list[AuditEvent]
) -> None:
    until = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(NOW - 15 * DAY))
    result = run(config_path, "--model", "fraud", "--until", until, "--limit", "1", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert [e["kind"] for e in doc["events"]] == ["reference_set"]
    assert [i["started"] for i in doc["incidents"]] == [iso(trail[0].ts)]


def test_a_model_without_a_trail_has_no_event_and_no_incident(
    config_path: Path, trail: list[AuditEvent]
) -> None:
    result = run(config_path, "--model", "churn")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "no event of churn in that period",
        "",
        "incidents: 0 (times from the first window that showed the problem)",
        "MTTR over 30 days: - (no incident ended)",
        "MTTR over 90 days: - (no incident ended)",
    ]


def test_an_unknown_model_is_one_line_naming_the_configured_ones(config_path: Path) -> None:
    result = run(config_path, "--model", "fruad")
    assert result.exit_code == 2
    assert result.output == (
        "error: --model: no model named 'fruad'; did you mean 'fraud'? configured: fraud, churn\n"
    )


def test_a_time_that_cannot_be_read_says_which_forms_work(config_path: Path) -> None:
    result = run(config_path, "--model", "fraud", "--since", "last week")
    assert result.exit_code == 2
    assert "'last week' is neither a duration like 7d, nor now-DURATION, nor an ISO 8601 time" in (
        result.output
    )


def test_an_unreachable_redis_is_one_line_with_the_fix(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp_path / "config.toml"
    config.write_text(f'[redis]\nurl = "redis://127.0.0.1:{port}/0"\n{MODELS}')
    result = run(config, "--model", "fraud")
    assert result.exit_code == 1
    assert result.output.startswith("error: Redis is unreachable")
    assert result.output.count("\n") == 1
