"""The Alerts page through AppTest, on alerts, silences and a notification log written to a real
Redis by the daemon's own store writers (alerts under the evaluator lease's fence): what is stored
is what the page shows, read-only by default, and writable only for a signed-in user when the
config allows it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import redis
from streamlit.testing.v1 import AppTest

from monitor import config
from monitor.store.alerts import AlertStore
from monitor.store.keys import Keys
from monitor.store.lease import Lease
from monitor.store.nflog import NotificationLog
from monitor.store.query import Query
from monitor.vocab.alerts import Alert, AlertState, LogEntry
from monitor.vocab.silences import Silence
from tests.dashboard.conftest import Deployment, base_doc, write_config
from tests.dashboard.test_pages import commands, texts

WINDOW_START = 1_795_449_600
#: The routed group of fraud-detector's alerts, as the routing tree keys it.
GROUP = '{}/{owner="risk@example.com"}/0:{model="fraud-detector"}'
EDITOR = "ana@example.com"
CONTROLS = ("silence_create", "silence_expire")


@dataclass(frozen=True)
class Stored:
    """What the fixture wrote, to compare the page against."""

    dep: Deployment
    alerts: dict[str, Alert]
    silence: Silence
    sent_at: float


def alert(
    model: str, alertname: str, severity: str, state: AlertState, began: float, **extra: Any
) -> Alert:
    owner = {"fraud-detector": "risk@example.com", "delivery-eta": "eta@example.com"}[model]
    labels = {"alertname": alertname, "model": model, "severity": severity, "owner": owner}
    if "feature" in extra:
        labels["feature"] = extra.pop("feature")
    notes = {"summary": f"{alertname} of {model}", **extra.pop("notes", {})}
    fired = None if state == "pending" else began + 60
    return Alert(labels, notes, state, began, fired, began + 60, 1, **extra)


def evidence(statistic: str, value: str, threshold: str, n: str) -> dict[str, str]:
    return {"statistic": statistic, "value": value, "threshold": threshold, "n": n,
            "window_start": str(WINDOW_START)}  # fmt: skip


@pytest.fixture
def alerting(tmp_path: Path, redis_url: str, key_prefix: str, redis_client: redis.Redis) -> Stored:
    """Alerting on, two receivers; five alerts (firing, pending, resolved), a silence muting
    delivery-eta, an expired one, and the risk team's notification of fraud-detector's group."""
    doc = base_doc("127.0.0.1:9", redis_url, key_prefix, ["p", "o", "d"])
    doc["alerting"] = {
        "enabled": True,
        "route": {"receiver": "ops", "group_by": ["model"],
                  "routes": [{"receiver": "risk-team", "matchers": ['owner="risk@example.com"']}]},
        "receivers": [{"name": "ops"}, {"name": "risk-team"}],
    }  # fmt: skip
    path = tmp_path / "config.toml"
    dep = Deployment(path, write_config(path, doc), redis_url)
    now = time.time()
    made = {
        "amount": alert("fraud-detector", "FeatureDrift", "critical", "firing", now - 900,
                        feature="amount", notes=evidence("psi", "0.31", "0.2", "412")),
        "prediction": alert("fraud-detector", "PredictionDrift", "warning", "pending", now - 120,
                            feature="__prediction__", notes=evidence("psi", "0.12", "0.1", "412")),
        "auc": alert("fraud-detector", "PerformanceDegraded", "warning", "firing", now - 1800,
                     feature="roc_auc", notes=evidence("roc_auc", "0.71", "0.8", "96")),
        "stale": alert("delivery-eta", "StaleData", "critical", "firing", now - 600,
                       notes={"value": "4", "threshold": "3"}),
        "age": alert("fraud-detector", "FeatureDrift", "critical", "resolved", now - 7200,
                     feature="age", resolved_at=now - 3600 + 60,
                     notes=evidence("psi", "n/a", "0.2", "380")),
    }  # fmt: skip
    keys = Keys(key_prefix)
    fence = Lease(redis_client, keys.evaluator_lease, keys.evaluator_fence, "test", 10_000).hold()
    assert fence is not None
    store = AlertStore(redis_client, keys)
    for model in ("fraud-detector", "delivery-eta"):
        store.save(fence, model, [a for a in made.values() if a.labels["model"] == model], [], None)
    sent = LogEntry(
        sorted([made["amount"].fingerprint, made["auc"].fingerprint, "0123456789abcdef"]),
        [made["age"].fingerprint],
        now - 300,
    )
    NotificationLog(redis_client, keys).record(fence, "risk-team", GROUP, sent)
    silences = Query(redis_client, dep.settings).silence_store()
    muting = Silence.new(['model="delivery-eta"'], 3600, "bo", "moving the warehouse", now - 60)
    silences.add(muting)
    silences.add(Silence.new(['model="churn"'], 60, "bo", "old maintenance", now - 3600))
    return Stored(dep, made, muting, now - 300)


def frames(at: AppTest, column: str) -> list[pd.DataFrame]:
    """The page's tables that have ``column``, in page order."""
    return [d.value for d in at.dataframe if column in d.value.columns]


def keys_of(at: AppTest) -> set[str]:
    widgets = [*at.button, *at.text_area, *at.text_input, *at.selectbox]
    return {w.key for w in widgets if w.key}


def test_the_page_shows_stored_alerts_with_their_evidence_and_links(
    alerting: Stored, app_factory: Any
) -> None:
    at = app_factory(alerting.dep, "alerts")
    assert not at.exception
    made = alerting.alerts
    active, resolved = frames(at, "evidence")
    order = ["stale", "amount", "auc", "prediction"]  # firing, critical first, newest first
    assert list(active["fingerprint"]) == [made[k].fingerprint for k in order]
    rows = active.set_index("fingerprint")
    amount = rows.loc[made["amount"].fingerprint]
    assert (amount["state"], amount["severity"], amount["owner"]) == (
        "firing",
        "✕ critical",
        "risk@example.com",
    )  # fmt: skip: the severity cell says it in a glyph and a word, not in colour alone
    assert (amount["value"], amount["threshold"], amount["n"]) == (0.31, 0.2, 412)
    assert amount["since"].timestamp() == pytest.approx(made["amount"].fired_at)
    assert (
        amount["evidence"] == f"feature?model=fraud-detector&feature=amount&window={WINDOW_START}"
    )
    prediction = rows.loc[made["prediction"].fingerprint]
    assert prediction["feature"] == "prediction (model output)"
    assert prediction["evidence"].startswith("feature?model=fraud-detector&feature=__prediction__")
    assert rows.loc[made["auc"].fingerprint, "evidence"] == (
        f"model?model=fraud-detector&view=performance&window={WINDOW_START}"  # a metric's view
    )
    assert (
        rows.loc[made["stale"].fingerprint, "evidence"] == "model?model=delivery-eta&view=quality"
    )
    assert [rows.loc[made[k].fingerprint, "silenced"] for k in order] == [True, False, False, False]

    (age,) = resolved.itertuples()
    assert age.fingerprint == made["age"].fingerprint and pd.isna(age.value)
    assert age.lasted_hours == pytest.approx(1.0)
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Firing"], metrics["Pending"], metrics["Resolved (last 24 h)"]) == (
        "3",
        "1",
        "1",
    )
    assert metrics["Active silences"] == "1"

    (silences,) = frames(at, "mutes")
    assert list(silences["id"]) == [alerting.silence.id]  # the expired one only on request
    assert silences["mutes"].tolist() == [1] and silences["created_by"].tolist() == ["bo"]
    at.toggle(key="show_expired").set_value(True).run()
    assert list(frames(at, "mutes")[0]["state"]) == ["active", "expired"]

    (sent,) = frames(at, "sent_at")
    assert (sent.loc[0, "firing"], sent.loc[0, "resolved"], sent.loc[0, "group"]) == (3, 1, GROUP)
    assert sent.loc[0, "sent_at"].timestamp() == pytest.approx(alerting.sent_at)
    what = sent.loc[0, "alerts"]
    assert "firing: " in what and "fraud-detector FeatureDrift amount" in what
    assert "0123456789abcdef (no longer stored)" in what
    assert "resolved: fraud-detector FeatureDrift age" in what
    assert "Nothing was sent to ops recently" in texts(at)


def test_read_only_by_default_shows_the_cli_and_no_controls(
    alerting: Stored, app_factory: Any, redis_client: redis.Redis
) -> None:
    before = redis_client.hgetall(Keys(alerting.dep.settings.redis.key_prefix).silences)
    at = app_factory(alerting.dep, "alerts", signed_in=EDITOR)  # signed in, yet not writable
    assert not at.exception
    assert keys_of(at).isdisjoint(CONTROLS) and not at.text_area
    assert "This dashboard is read-only" in texts(at)
    assert "read-only" in " ".join(c.value for c in at.sidebar.caption)
    at.selectbox(key="silence_from").set_value(alerting.alerts["amount"].fingerprint).run()
    command = "\n".join(commands(at))
    assert command.startswith(f"driftwatch silence add --config {alerting.dep.path} ")
    assert (
        "--matcher 'feature=\"amount\"'" in command
        and "--matcher 'severity=\"critical\"'" in command
    )
    assert f"driftwatch silence expire --config {alerting.dep.path} ID" in command
    assert redis_client.hgetall(Keys(alerting.dep.settings.redis.key_prefix).silences) == before


def writable(dep: Deployment) -> Deployment:
    """The same deployment with ``dashboard.writable = true``."""
    path = dep.path.with_name("writable.toml")
    text = dep.path.read_text()
    if "[dashboard]\n" in text:
        text = text.replace("[dashboard]\n", "[dashboard]\nwritable = true\n", 1)
    else:
        text += "\n[dashboard]\nwritable = true\n"
    path.write_text(text)
    return Deployment(path, config.load(path), dep.redis_url)


def test_writable_asks_to_sign_in_before_it_offers_controls(
    alerting: Stored, app_factory: Any
) -> None:
    at = app_factory(
        writable(alerting.dep), "alerts"
    )  # no login configured, no proxy header: anonymous
    assert not at.exception
    assert keys_of(at).isdisjoint(CONTROLS)
    assert "Sign in to create or expire silences" in texts(at)


def test_a_signed_in_editor_creates_and_expires_silences(
    alerting: Stored, app_factory: Any
) -> None:
    at = app_factory(writable(alerting.dep), "alerts", signed_in=EDITOR)
    assert not at.exception
    assert set(CONTROLS) <= keys_of(at)
    query = alerting.dep.query()

    at.button(key="silence_create").click().run()  # no matcher, no reason: refused
    assert "No silence created" in texts(at)
    assert query.silences() == [alerting.silence]

    amount = alerting.alerts["amount"]
    at.selectbox(key="silence_from").set_value(amount.fingerprint).run()
    assert at.text_area(key="silence_matchers").value.splitlines()[0] == 'alertname="FeatureDrift"'
    at.text_input(key="silence_comment").input("retraining on fresh data")
    at.selectbox(key="silence_duration").set_value("4h")
    at.button(key="silence_create").click().run()
    assert not at.exception
    made = next(s for s in query.silences() if s.id != alerting.silence.id)
    assert (made.created_by, made.comment) == (EDITOR, "retraining on fresh data")
    assert made.silences(amount.labels, time.time())
    assert made.ends_at - made.starts_at == 4 * 3600
    listed = frames(at, "mutes")[0].set_index("id")
    assert listed.loc[made.id, "mutes"] == 1 and listed.loc[made.id, "created_by"] == EDITOR
    active = frames(at, "evidence")[0].set_index("fingerprint")
    assert active.loc[amount.fingerprint, "silenced"]

    at.selectbox(key="silence_to_expire").set_value(made.id)
    at.button(key="silence_expire").click().run()
    assert not at.exception
    assert f"Silence {made.id} expired" in texts(at)
    assert [s.id for s in query.silences()] == [alerting.silence.id]
