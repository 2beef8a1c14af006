"""The Alerts page's info objects, without Streamlit or Redis: rows, links, silences, the log."""

from __future__ import annotations

import shlex
from zoneinfo import ZoneInfo

import msgspec
import pytest

from dashboard.figures import alerts, common
from monitor.vocab.alerts import Alert, AlertState, LogEntry
from monitor.vocab.silences import Silence

NOW = 1_800_000_000.0
TOKYO = ZoneInfo("Asia/Tokyo")


def alert(
    name: str, severity: str, state: AlertState, began: float, feature: str = "", model: str = "m"
) -> Alert:
    labels = {"alertname": name, "model": model, "severity": severity, "owner": "o"}
    if feature:
        labels["feature"] = feature
    notes = {"summary": name, "statistic": "psi", "value": "0.31", "threshold": "0.2", "n": "500",
             "window_start": "1799996400"}  # fmt: skip
    fired = None if state == "pending" else began + 60
    resolved = began + 660 if state == "resolved" else None
    return Alert(labels, notes, state, began, fired, began, 1, resolved_at=resolved)


def by_model(*found: Alert) -> dict[str, dict[str, Alert]]:
    out: dict[str, dict[str, Alert]] = {}
    for a in found:
        out.setdefault(a.labels["model"], {})[a.fingerprint] = a
    return out


def test_alert_rows_put_what_needs_a_person_first_with_its_evidence() -> None:
    old = alert("FeatureDrift", "critical", "firing", NOW - 3600, "a")
    new = alert("FeatureDrift", "critical", "firing", NOW - 60, "a", model="r")
    warn = alert("PerformanceDegraded", "warning", "firing", NOW - 30, "roc_auc")
    wait = alert("PredictionDrift", "critical", "pending", NOW - 10, "__decision__")
    done = alert("StaleData", "warning", "resolved", NOW - 7200)
    rows = alerts.alert_rows(by_model(done, wait, warn, old, new), [], NOW, TOKYO)
    assert [r.fingerprint for r in rows] == [
        a.fingerprint for a in (new, old, warn, wait, done)
    ]  # firing (critical, newest first), pending, resolved
    first = rows[1]
    assert (first.value, first.threshold, first.n, first.statistic) == (0.31, 0.2, 500, "psi")
    assert first.since is not None and first.since.timestamp() == NOW - 3600 + 60  # fired
    assert first.since.tzinfo == TOKYO
    assert rows[3].since is not None and rows[3].since.timestamp() == NOW - 10  # breach began
    assert rows[3].feature == "decision (predicted class)"
    assert rows[4].resolved is not None and rows[4].resolved.timestamp() == NOW - 7200 + 660
    assert rows[4].lasted_hours == pytest.approx(600 / 3600) and rows[1].lasted_hours is None
    assert rows[4].feature == "" and not any(r.silenced for r in rows)


def test_evidence_links_open_the_feature_page_for_a_feature_or_output_only() -> None:
    """The rule is ``monitor.vocab.alerts.evidence_page``, the one notifications link by."""
    window = "&window=1799996400"
    assert alerts.evidence_link(alert("FeatureDrift", "critical", "firing", NOW, "a")) == (
        f"feature?model=m&feature=a{window}"
    )
    decision = alert("PredictionDrift", "critical", "firing", NOW, "__decision__")
    assert alerts.evidence_link(decision) == f"feature?model=m&feature=__decision__{window}"
    # a metric and a model-wide data-quality finding have no Feature page: the Model page's view
    for name, subject, view in (
        ("PerformanceDegraded", "roc_auc", "performance"),
        ("DataQuality", "__model__", "quality"),
    ):
        found = alert(name, "warning", "firing", NOW, subject)
        assert alerts.evidence_link(found) == f"model?model=m&view={view}{window}"
    stale = msgspec.structs.replace(alert("StaleData", "warning", "firing", NOW), annotations={})
    assert alerts.evidence_link(stale) == "model?model=m&view=quality"
    odd = alert("FeatureDrift", "critical", "firing", NOW, "a b&c", model="a&b")
    assert alerts.evidence_link(odd) == f"feature?model=a%26b&feature=a+b%26c{window}"  # escaped


def test_numbers_a_rule_could_not_compute_stay_empty() -> None:
    a = alert("FeatureDrift", "critical", "firing", NOW, "a")
    a = msgspec.structs.replace(a, annotations={**a.annotations, "value": "n/a", "n": "many"})
    (row,) = alerts.alert_rows(by_model(a), [], NOW, TOKYO)
    assert (row.value, row.threshold, row.n) == (None, 0.2, None)
    nan = msgspec.structs.replace(a, annotations={**a.annotations, "value": "nan"})
    assert alerts.alert_rows(by_model(nan), [], NOW, TOKYO)[0].value is None


def test_silences_mute_current_alerts_only_while_active() -> None:
    firing = alert("FeatureDrift", "critical", "firing", NOW - 600, "a")
    pending = alert("FeatureDrift", "warning", "pending", NOW - 60, "a")
    resolved = alert("FeatureDrift", "critical", "resolved", NOW - 7200, "a", model="r")
    active = Silence.new(['feature="a"'], 3600, "ana", "why", now=NOW - 10)
    later = msgspec.structs.replace(
        Silence.new(['model="m"'], 3600, "bo", "why", now=NOW), starts_at=NOW + 60
    )
    ended = Silence.new(['model="m"'], 60, "cy", "why", now=NOW - 3600)
    found = by_model(firing, pending, resolved)
    rows = alerts.silence_rows([ended, later, active], found, NOW, TOKYO)
    assert [(r.id, r.state, r.mutes) for r in rows] == [
        (active.id, "active", 2),  # the resolved alert is nobody's business
        (later.id, "pending", 0),
        (ended.id, "expired", 0),
    ]
    assert rows[0].matchers == 'feature="a"' and rows[0].ends.tzinfo == TOKYO
    flags = {r.fingerprint: r.silenced for r in alerts.alert_rows(found, [later], NOW, TOKYO)}
    assert not any(flags.values())  # a pending silence mutes nothing yet
    flags = {r.fingerprint: r.silenced for r in alerts.alert_rows(found, [active], NOW, TOKYO)}
    assert flags[firing.fingerprint] and flags[pending.fingerprint]


def test_notification_rows_name_what_was_sent_newest_first() -> None:
    drift = alert("FeatureDrift", "critical", "firing", NOW - 600, "a")
    stale = alert("StaleData", "warning", "resolved", NOW - 7200)
    log = {
        '{}:{model="m"}': LogEntry([drift.fingerprint, "feedfacefeedface"], [], NOW - 900),
        '{}:{model="r"}': LogEntry([], [stale.fingerprint], NOW - 60),
    }
    rows = alerts.notification_rows(log, by_model(drift, stale), TOKYO)
    assert [(r.group, r.status, r.firing, r.resolved) for r in rows] == [
        ('{}:{model="r"}', "resolved", 0, 1),
        ('{}:{model="m"}', "firing", 2, 0),
    ]
    assert rows[0].alerts == "resolved: m StaleData"
    assert rows[1].alerts == "firing: m FeatureDrift a, feedfacefeedface (no longer stored)"
    assert rows[1].sent_at.timestamp() == NOW - 900 and rows[1].sent_at.tzinfo == TOKYO
    assert alerts.notification_rows({}, {}, TOKYO) == []


def test_a_silence_made_from_an_alert_mutes_it_and_the_cli_hint_runs_as_typed() -> None:
    a = alert("FeatureDrift", "critical", "firing", NOW, 'we"ird')
    matchers = alerts.matchers_for(a)
    assert matchers[0] == 'alertname="FeatureDrift"' and 'feature="we\\"ird"' in matchers
    assert Silence.new(matchers, 60, "ana", "why", now=NOW).silences(a.labels, NOW)
    other = alert("FeatureDrift", "warning", "firing", NOW, 'we"ird')
    assert not Silence.new(matchers, 60, "ana", "why", now=NOW).silences(other.labels, NOW)

    add, expire = alerts.cli_hint("/etc/dw config.toml", matchers).splitlines()
    argv = shlex.split(add)
    assert argv[:5] == ["driftwatch", "silence", "add", "--config", "/etc/dw config.toml"]
    assert [argv[i + 1] for i, x in enumerate(argv) if x == "--matcher"] == matchers
    assert argv[argv.index("--duration") + 1] in alerts.SILENCE_DURATIONS
    assert shlex.split(expire) == ["driftwatch", "silence", "expire", "--config",
                                   "/etc/dw config.toml", "ID"]  # fmt: skip


@pytest.mark.parametrize(("severity", "colour"), [("critical", "critical"), ("odd", "none")])
def test_severity_colours_follow_the_one_scheme(severity: str, colour: str) -> None:
    assert alerts.severity_color(severity) == common.SEVERITY_COLORS[colour]
