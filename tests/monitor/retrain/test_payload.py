"""The retraining payload against its committed JSON Schema (``docs/schemas/retrain-payload.json``)
and against what receivers are promised: orchestrators read it without Driftwatch, so every key,
its type and its nulls are a contract, and a key added to the code must be added to the schema
(the schema is closed: a test here proves an undocumented key fails validation)."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import jsonschema
import msgspec
import pytest

from monitor.config import ModelSettings, TargetSettings
from monitor.retrain import payload
from monitor.retrain.targets import GITHUB_TOP_KEYS, ResolvedTarget, build_request
from monitor.vocab.alerts import Alert
from monitor.vocab.retrain import event_id, manual_event_id
from monitor.vocab.verdicts import (
    MODEL,
    PERFORMANCE,
    PREDICTION,
    Severity,
    Status,
    Verdict,
    WindowEvaluation,
)
from tests.support import ROOT

SCHEMA_PATH = ROOT / "docs" / "schemas" / "retrain-payload.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
T0 = 1_800_000_000  # a window start (a multiple of the window size)
SIZE = 3600
FIRED = T0 + 5400.0
NOW = T0 + 9000.25
LINK = "https://dash.example.com/"
MODEL_SETTINGS = ModelSettings(
    name="fraud-detector",
    owner="risk-ml@example.com",
    task="binary",
    features={
        "amount": "numeric",
        "account_age_days": "numeric",
        "hour": "numeric",
        "country": "categorical",
        "channel": "categorical",
    },
)


_DRIFT_STATUS: dict[Severity, Status] = {
    "critical": "drift", "warning": "drift", "ok": "ok", "insufficient": "insufficient",
}  # fmt: skip
_PERF_STATUS: dict[Severity, Status] = {
    "critical": "degraded", "warning": "degraded", "ok": "ok", "insufficient": "insufficient",
}  # fmt: skip


def drift(
    feature: str,
    severity: Severity,
    value: float,
    *,
    threshold: float = 0.12,
    p_value: float | None = 0.0004,
    statistic: str = "psi",
) -> Verdict:
    """A drift verdict as ``stats/verdict.py`` makes them (status follows the severity)."""
    status = _DRIFT_STATUS[severity]
    return Verdict(
        model="fraud-detector", feature=feature, statistic=statistic, value=value,
        threshold=threshold, p_value=p_value, n=4800, status=status, severity=severity,
        window_start=T0, reference_version="ref-2026-11", expected_false_alarm_rate=0.01,
    )  # fmt: skip


def perf(metric: str, severity: Severity, value: float, threshold: float, n: int) -> Verdict:
    """A performance verdict as ``stats/performance_verdict.py`` makes them: value = the
    window's metric, NaN threshold and no p-value when the metric was not tested."""
    status = _PERF_STATUS[severity]
    tested = severity != "insufficient"
    return Verdict(
        model="fraud-detector", feature=PERFORMANCE, statistic=metric, value=value,
        threshold=threshold, p_value=0.0002 if tested else None, n=n, status=status,
        severity=severity, window_start=T0, reference_version="ref-2026-11",
        expected_false_alarm_rate=0.0033 if tested else 0.0,
    )  # fmt: skip


def evaluation() -> WindowEvaluation:
    """A window with drift of every severity, outputs, a model verdict and three metrics, one
    of them not computable (NaN, as the statistics leave it)."""
    return WindowEvaluation(
        model="fraud-detector", window_start=T0, version="7", reference="ref-2026-11", n=4800,
        n_labelled=1250, evaluated_at=T0 + 3700,
        verdicts=[
            drift("country", "warning", 0.18),
            drift("amount", "critical", 0.41),
            drift("account_age_days", "ok", 0.02, p_value=0.6),
            drift("channel", "insufficient", math.nan, threshold=math.nan, p_value=None),
            drift("hour", "warning", 0.35, p_value=math.nan),
            drift(PREDICTION, "critical", 0.22),
            drift(MODEL, "critical", 0.6, statistic="drift_share", p_value=None),
        ],
        performance_verdicts=[
            perf("accuracy", "ok", 0.905, 0.89, 1250),
            perf("roc_auc", "critical", 0.71, 0.8, 1190),
            perf("f1", "insufficient", math.nan, math.nan, 1250),
        ],
        performance={"accuracy": 0.905, "roc_auc": 0.71, "f1": math.nan},
        reference_performance={"accuracy": 0.91, "roc_auc": 0.83, "f1": 0.62},
    )  # fmt: skip


def alert(name: str, feature: str, summary: str, **notes: str) -> Alert:
    """A firing alert with the labels and annotations ``monitor/alert/rules.py`` gives it."""
    labels = {
        "alertname": name,
        "model": "fraud-detector",
        "severity": "critical",
        "owner": "risk-ml@example.com",
        "feature": feature,
    }
    annotations = {"summary": summary, "version": "7", "reference": "ref-2026-11", **notes}
    return Alert(labels, annotations, "firing", FIRED - 600, FIRED, NOW, 2, T0, None, T0)


ALERTS = (
    alert(
        "PerformanceDegraded", "roc_auc", "performance degraded: roc_auc",
        statistic="roc_auc", value="0.71", threshold="0.8", n="1190", window_start=str(T0),
    ),
    alert(
        "FeatureDrift", "amount", "feature drift: amount",
        statistic="psi", value="0.41", threshold="0.12", n="4800", window_start=str(T0),
    ),
)  # fmt: skip


def build(**changes: Any) -> dict[str, Any]:
    """A policy's payload for the window above, with ``changes`` to the arguments."""
    args: dict[str, Any] = {
        "request_id": event_id("fraud-detector", FIRED),
        "model": MODEL_SETTINGS,
        "alerts": ALERTS,
        "evaluation": evaluation(),
        "window_seconds": SIZE,
        "reason": "performance degraded: roc_auc; feature drift: amount",
        "requested_by": "driftwatch",
        "policy": "performance-critical",
        "link_base": LINK,
        "now": NOW,
    }
    return payload.build(**(args | changes))


def errors(document: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(document)]


def test_the_schema_is_a_valid_closed_draft_2020_12_schema() -> None:
    """Every object in it lists all its properties as required and admits no other: receivers
    may rely on each key being there, and the code cannot grow a key the schema does not name."""
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    objects = [SCHEMA, *(d for d in SCHEMA["$defs"].values() if d.get("type") == "object")]
    assert len(objects) == 5
    for node in objects:
        assert node["additionalProperties"] is False
        assert set(node["required"]) == set(node["properties"])
        for name, prop in node["properties"].items():
            assert prop.get("description"), f"{name} has no description"


def test_a_policys_payload_validates_and_carries_the_evidence() -> None:
    doc = build()
    assert errors(doc) == []
    assert list(doc) == SCHEMA["required"]  # every key, in the documented order
    assert doc["schema_version"] == payload.SCHEMA_VERSION == 1
    assert doc["event_id"] == f"retrain:fraud-detector:{int(FIRED)}"
    assert (doc["model"], doc["version"], doc["reference"]) == (
        "fraud-detector",
        "7",
        "ref-2026-11",
    )
    assert (doc["task"], doc["owner"]) == ("binary", "risk-ml@example.com")
    assert (doc["policy"], doc["requested_by"]) == ("performance-critical", "driftwatch")
    assert [a["alertname"] for a in doc["alerts"]] == ["PerformanceDegraded", "FeatureDrift"]
    assert doc["alerts"][0] == {
        "alertname": "PerformanceDegraded",
        "severity": "critical",
        "feature": "roc_auc",
        "summary": "performance degraded: roc_auc",
        "value": "0.71",
        "threshold": "0.8",
        "n": "1190",
        "fired_at": "2027-01-15T09:30:00Z",
    }


def test_times_are_iso_8601_utc_to_the_second_and_the_window_ends_one_size_later() -> None:
    doc = build()
    assert doc["requested_at"] == "2027-01-15T10:30:00Z"  # the .25 s dropped
    assert payload.iso(T0) == "2027-01-15T08:00:00Z"
    assert doc["window"] == {
        "start": payload.iso(T0),
        "end": payload.iso(T0 + SIZE),
        "rows": 4800,
        "labelled_rows": 1250,
    }
    assert build(window_seconds=300)["window"]["end"] == "2027-01-15T08:05:00Z"


def test_drifted_features_are_worst_first_without_ok_insufficient_or_the_model_verdict() -> None:
    """Critical before warning, then the larger statistic: what to look at first."""
    drifted = build()["drifted_features"]
    assert [(d["feature"], d["severity"]) for d in drifted] == [
        ("amount", "critical"),
        (PREDICTION, "critical"),
        ("hour", "warning"),
        ("country", "warning"),
    ]
    assert drifted[0] == {
        "feature": "amount",
        "statistic": "psi",
        "value": 0.41,
        "threshold": 0.12,
        "p_value": 0.0004,
        "n": 4800,
        "severity": "critical",
    }
    assert drifted[2]["p_value"] is None  # NaN becomes null


def test_every_metric_is_listed_with_its_reference_and_delta() -> None:
    """Whatever its severity: an intact metric beside a degraded one is evidence too."""
    rows = {m["metric"]: m for m in build()["performance"]}
    assert list(rows) == ["accuracy", "roc_auc", "f1"]
    auc = rows["roc_auc"]
    assert (auc["value"], auc["reference"], auc["severity"], auc["n"]) == (
        0.71,
        0.83,
        "critical",
        1190,
    )
    assert auc["delta"] == pytest.approx(0.71 - 0.83)
    assert auc["statistic"] == "roc_auc" and auc["threshold"] == 0.8
    assert rows["accuracy"]["delta"] == pytest.approx(0.905 - 0.91)
    f1 = rows["f1"]  # not computable in the window: no value, no delta, no test
    assert (f1["value"], f1["delta"], f1["threshold"], f1["p_value"]) == (None, None, None, None)
    assert (f1["reference"], f1["severity"]) == (0.62, "insufficient")


def test_a_metric_without_a_reference_value_has_no_delta() -> None:
    ev = msgspec.structs.replace(evaluation(), reference_performance={"accuracy": math.nan})
    doc = build(evaluation=ev)
    assert errors(doc) == []
    assert [(m["reference"], m["delta"]) for m in doc["performance"]] == [(None, None)] * 3


def test_the_dashboard_link_points_at_the_model_and_its_window() -> None:
    assert build()["dashboard_url"] == (
        f"https://dash.example.com/model?model=fraud-detector&window={T0}"
    )
    no_window = build(evaluation=None, link_base="http://127.0.0.1:8501")
    assert no_window["dashboard_url"] == "http://127.0.0.1:8501/model?model=fraud-detector"


def test_without_an_evaluation_the_alerts_give_version_and_reference() -> None:
    """A model whose windows expired (or were never judged) still gets a valid payload."""
    doc = build(evaluation=None)
    assert errors(doc) == []
    assert (doc["version"], doc["reference"]) == ("7", "ref-2026-11")
    assert (doc["window"], doc["drifted_features"], doc["performance"]) == (None, [], [])


def test_a_manual_trigger_without_alerts_or_evaluation_validates() -> None:
    """``driftwatch retrain trigger`` on a model nothing is known of yet."""
    bare = Alert({"alertname": "StaleData", "model": "fraud-detector"}, {}, "firing")
    for alerts in ((), (bare,)):
        doc = build(
            request_id=manual_event_id("fraud-detector", NOW),
            alerts=alerts,
            evaluation=None,
            reason="new labelled data from the Q4 audit",
            requested_by="alice",
            policy="manual",
        )
        assert errors(doc) == []
        assert doc["event_id"] == f"retrain:fraud-detector:manual-{int(NOW)}"
        assert (doc["version"], doc["reference"], doc["requested_by"]) == ("", "", "alice")
    assert doc["alerts"] == [
        {
            "alertname": "StaleData",
            "severity": "",
            "feature": "",
            "summary": "",
            "value": "",
            "threshold": "",
            "n": "",
            "fired_at": None,
        }
    ]


def test_the_payload_is_strict_json_and_reads_back_unchanged() -> None:
    """It is signed and sent as JSON text: NaN (which json writes as a bare NaN, invalid JSON)
    must never reach it."""
    for doc in (build(), build(evaluation=None)):
        text = json.dumps(doc, allow_nan=False)
        assert json.loads(text) == doc


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (["schema_version"], 2),
        (["event_id"], "fraud-detector:1800000000"),
        (["requested_at"], "2027-01-15T10:30:00+00:00"),
        (["window", "rows"], -1),
        (["window"], {}),
        (["drifted_features", 0, "severity"], "ok"),
        (["performance", 0, "value"], "0.9"),
        (["alerts", 0, "fired_at"], 1800000000),
        (["task"], "ranking"),
        (["dashboard_url"], "/model?model=fraud-detector"),
    ],
)
def test_validation_catches_wrong_values(path: list[Any], bad: Any) -> None:
    """The schema checks types and forms, not only keys."""
    broken = build()
    _put(broken, path, bad)
    assert errors(broken)


@pytest.mark.parametrize(
    "where",
    [[], ["window"], ["alerts", 0], ["drifted_features", 0], ["performance", 0]],
    ids=["top", "window", "alert", "drifted_feature", "metric"],
)
def test_a_key_missing_from_the_schema_fails_validation(where: list[Any]) -> None:
    """What happens when payload.py grows a key and the schema is not updated."""
    doc = build()
    VALIDATOR.validate(doc)
    extended = copy.deepcopy(doc)
    _get(extended, where)["new_key"] = 1
    with pytest.raises(jsonschema.ValidationError, match="new_key"):
        VALIDATOR.validate(extended)


@pytest.mark.parametrize("key", SCHEMA["required"])
def test_a_key_dropped_from_the_payload_fails_validation(key: str) -> None:
    doc = build()
    del doc[key]
    with pytest.raises(jsonschema.ValidationError, match=key):
        VALIDATOR.validate(doc)


@pytest.mark.parametrize("kind", ["webhook", "github", "airflow", "kubeflow"])
def test_every_target_carries_the_payload_the_schema_describes(kind: str) -> None:
    """As docs/retraining.md says each target wraps it: the body, GitHub's client_payload (a few
    keys on top, the rest under evidence), Airflow's conf, Kubeflow's ``payload`` parameter."""
    doc = build()
    settings = TargetSettings(
        name=kind,
        kind=kind,  # type: ignore[arg-type]
        url="https://orchestrator.example.com/hook" if kind != "github" else "",
        repository="acme/models" if kind == "github" else "",
        dag_id="retrain" if kind == "airflow" else "",
        pipeline_id="p-1" if kind == "kubeflow" else "",
    )
    body = json.loads(build_request(ResolvedTarget(settings), doc["event_id"], doc, NOW).body)
    if kind == "webhook":
        carried = body
    elif kind == "github":
        client = body["client_payload"]
        assert list(client) == [*GITHUB_TOP_KEYS, "evidence"]
        carried = {k: v for k, v in client.items() if k != "evidence"} | client["evidence"]
    elif kind == "airflow":
        assert body["dag_run_id"] == doc["event_id"]
        carried = body["conf"]
    else:
        parameters = body["runtime_config"]["parameters"]
        assert parameters["event_id"] == doc["event_id"]
        carried = json.loads(parameters["payload"])
    assert carried == doc
    assert errors(carried) == []


def _get(document: Any, path: list[Any]) -> Any:
    for step in path:
        document = document[step]
    return document


def _put(document: Any, path: list[Any], value: Any) -> None:
    _get(document, path[:-1])[path[-1]] = value
