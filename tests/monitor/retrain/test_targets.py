"""The request of each preset, byte for byte where it matters: method, path, headers, body; the
Standard Webhooks signature (checked with the reference library and by hand, after design.md
§7); GitHub's 10-key limit; and credentials that never show in a ``repr`` or an error."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from monitor.config import Secret, TargetSettings
from monitor.errors import ConfigError
from monitor.retrain.targets import (
    GITHUB_MAX_PAYLOAD_KEYS,
    HttpRequest,
    ResolvedTarget,
    build_request,
)

WHSEC = "whsec_" + base64.b64encode(bytes(range(32))).decode()
TOKEN, PASSWORD = "T0ken-9f8e7d6c5b4a", "Passw0rd-Secret"
EVENT = "retrain:fraud:1800000000"
NOW = 1_800_000_123.75
PAYLOAD: dict[str, Any] = {
    "model": "fraud",
    "version": "7",
    "reason": "PerformanceDegraded: roc_auc 0.71 < 0.80",
    "dashboard_url": "http://dash.internal/model?name=fraud",
    "alerts": [{"alertname": "PerformanceDegraded", "severity": "critical"}],
    "metrics": {"roc_auc": 0.71},
}


@pytest.fixture(autouse=True)
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DW_T_WHSEC", WHSEC)
    monkeypatch.setenv("DW_T_TOKEN", TOKEN)
    monkeypatch.setenv("DW_T_PASSWORD", PASSWORD)


def resolve(**fields: Any) -> ResolvedTarget:
    fields.setdefault("name", "t")
    return ResolvedTarget.resolve(TargetSettings(**fields), "retraining.targets[0]")


def body(request: HttpRequest) -> Any:
    return json.loads(request.body)


COMMON = {"Content-Type": "application/json", "User-Agent": "driftwatch", "Idempotency-Key": EVENT}


def test_webhook_posts_the_payload_with_its_event_id_to_the_url() -> None:
    request = build_request(
        resolve(kind="webhook", url="https://hooks.example.com/retrain?team=fraud"),
        EVENT,
        PAYLOAD,
        NOW,
    )
    assert (request.method, request.url) == ("POST", "https://hooks.example.com/retrain?team=fraud")
    assert request.headers == COMMON  # no secret, no token: no signature, no Authorization
    assert body(request) == {"event_id": EVENT, **PAYLOAD}


def test_github_dispatches_with_its_headers_and_a_client_payload() -> None:
    target = resolve(
        kind="github", repository="acme/models", token=Secret(env="DW_T_TOKEN"), event_type="rt"
    )
    request = build_request(target, EVENT, PAYLOAD, NOW)
    assert request.url == "https://api.github.com/repos/acme/models/dispatches"
    assert request.headers == {
        **COMMON,
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "Authorization": f"Bearer {TOKEN}",
    }
    assert body(request) == {
        "event_type": "rt",
        "client_payload": {
            "event_id": EVENT,
            "model": "fraud",
            "version": "7",
            "reason": PAYLOAD["reason"],
            "dashboard_url": PAYLOAD["dashboard_url"],
            "evidence": {"alerts": PAYLOAD["alerts"], "metrics": PAYLOAD["metrics"]},
        },
    }


def test_githubs_client_payload_never_exceeds_ten_top_level_keys() -> None:
    wide = {**PAYLOAD, **{f"extra_{i}": i for i in range(40)}}
    target = resolve(kind="github", repository="acme/models", token=Secret(env="DW_T_TOKEN"))
    client = body(build_request(target, EVENT, wide, NOW))["client_payload"]
    assert len(client) <= GITHUB_MAX_PAYLOAD_KEYS
    assert len(client["evidence"]) == 42  # nothing is dropped: the rest is nested
    assert client["evidence"]["extra_39"] == 39


def test_github_enterprise_base_and_path_segments_are_quoted() -> None:
    target = resolve(
        kind="github",
        url="https://ghe.example.com/api/v3/",
        repository="ac me/mo?dels",
        token=Secret(env="DW_T_TOKEN"),
    )
    request = build_request(target, EVENT, PAYLOAD, NOW)
    assert request.url == "https://ghe.example.com/api/v3/repos/ac%20me/mo%3Fdels/dispatches"


@pytest.mark.parametrize(
    ("api", "document"),
    [
        ("v1", {"dag_run_id": EVENT, "conf": PAYLOAD}),
        ("v2", {"dag_run_id": EVENT, "logical_date": None, "conf": PAYLOAD}),
    ],
)
def test_airflow_creates_a_dag_run_named_by_the_event_id(api: str, document: Any) -> None:
    target = resolve(
        kind="airflow",
        url="http://airflow.internal:8080/",
        dag_id="retrain/fraud",
        airflow_api=api,
        token=Secret(env="DW_T_TOKEN"),
    )
    request = build_request(target, EVENT, PAYLOAD, NOW)
    assert request.url == f"http://airflow.internal:8080/api/{api}/dags/retrain%2Ffraud/dagRuns"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert body(request) == document
    if api == "v2":  # Airflow 3 requires the key: null asks for a run without a data interval
        assert b'"logical_date":null' in request.body


def test_airflow_basic_authentication() -> None:
    target = resolve(
        kind="airflow",
        url="http://airflow.internal:8080",
        dag_id="d",
        username="svc",
        password=Secret(env="DW_T_PASSWORD"),
    )
    authorization = build_request(target, EVENT, PAYLOAD, NOW).headers["Authorization"]
    scheme, _, pair = authorization.partition(" ")
    assert (scheme, base64.b64decode(pair).decode()) == ("Basic", f"svc:{PASSWORD}")


def test_kubeflow_creates_a_run_with_the_payload_as_one_string_parameter() -> None:
    target = resolve(
        kind="kubeflow",
        url="https://kfp.internal/pipeline",
        pipeline_id="p-1",
        pipeline_version_id="v-2",
        experiment_id="e-3",
        token=Secret(env="DW_T_TOKEN"),
    )
    request = build_request(target, EVENT, PAYLOAD, NOW)
    assert request.url == "https://kfp.internal/pipeline/apis/v2beta1/runs"
    run = body(request)
    assert run == {
        "display_name": f"driftwatch fraud {EVENT}",
        "pipeline_version_reference": {"pipeline_id": "p-1", "pipeline_version_id": "v-2"},
        "runtime_config": {"parameters": {"event_id": EVENT, "payload": run["runtime_config"]
                                          ["parameters"]["payload"]}},
        "experiment_id": "e-3",
    }  # fmt: skip
    assert json.loads(run["runtime_config"]["parameters"]["payload"]) == PAYLOAD
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_kubeflow_leaves_out_the_optional_ids_when_unset() -> None:
    target = resolve(kind="kubeflow", url="http://kfp.internal", pipeline_id="p-1")
    run = body(build_request(target, EVENT, PAYLOAD, NOW))
    assert run["pipeline_version_reference"] == {"pipeline_id": "p-1"}
    assert "experiment_id" not in run
    assert "Authorization" not in build_request(target, EVENT, PAYLOAD, NOW).headers


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "webhook", "url": "https://hooks.example.com/x"},
        {"kind": "github", "repository": "acme/models", "token": Secret(env="DW_T_TOKEN")},
        {"kind": "airflow", "url": "http://a.internal", "dag_id": "d", "airflow_api": "v2"},
        {"kind": "kubeflow", "url": "http://kfp.internal", "pipeline_id": "p"},
    ],
)
def test_every_kind_is_signed_over_the_exact_body(fields: dict[str, Any]) -> None:
    now = time.time()  # the library refuses timestamps more than 5 minutes off the clock
    request = build_request(resolve(secret=Secret(env="DW_T_WHSEC"), **fields), EVENT, PAYLOAD, now)
    headers = request.headers
    assert (headers["webhook-id"], headers["webhook-timestamp"]) == (EVENT, str(int(now)))
    assert Webhook(WHSEC).verify(request.body, headers) == json.loads(request.body)
    # By hand, after the spec: v1, base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).
    signed = f"{EVENT}.{int(now)}.".encode() + request.body
    mac = hmac.new(bytes(range(32)), signed, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(mac).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(WHSEC).verify(request.body.replace(b"fraud", b"fraue"), headers)
    with pytest.raises(WebhookVerificationError):  # another event id does not verify either
        Webhook(WHSEC).verify(request.body, {**headers, "webhook-id": "retrain:x:1"})


def test_same_event_same_request_but_for_the_signature_time() -> None:
    target = resolve(kind="webhook", url="https://h.example.com/", secret=Secret(env="DW_T_WHSEC"))
    first = build_request(target, EVENT, PAYLOAD, NOW)
    again = build_request(target, EVENT, dict(reversed(PAYLOAD.items())), NOW)
    later = build_request(target, EVENT, PAYLOAD, NOW + 60)
    assert first == build_request(target, EVENT, PAYLOAD, NOW)
    assert json.loads(again.body) == json.loads(first.body)
    assert later.body == first.body
    assert later.headers["webhook-signature"] != first.headers["webhook-signature"]


@pytest.mark.parametrize("event_id", ["", "retrain:a b:1", "retrain:x:1\r\nX-Evil: 1"])
def test_an_event_id_that_cannot_be_a_header_is_a_bug(event_id: str) -> None:
    with pytest.raises(ValueError, match="header"):
        build_request(resolve(kind="webhook", url="https://h.example.com/"), event_id, {}, NOW)


def test_a_payload_with_another_event_id_or_nan_is_a_bug() -> None:
    target = resolve(kind="webhook", url="https://h.example.com/")
    with pytest.raises(ValueError, match="event_id"):
        build_request(target, EVENT, {"event_id": "retrain:other:1"}, NOW)
    assert body(build_request(target, EVENT, {"event_id": EVENT}, NOW)) == {"event_id": EVENT}
    with pytest.raises(ValueError):
        build_request(target, EVENT, {"score": float("nan")}, NOW)


def test_credentials_never_show_in_a_repr() -> None:
    target = resolve(
        kind="airflow",
        url="http://a.internal",
        dag_id="d",
        username="svc",
        password=Secret(env="DW_T_PASSWORD"),
        secret=Secret(env="DW_T_WHSEC"),
    )
    bearer = resolve(kind="webhook", url="https://h.example.com/x?key=QueryS3cret",
                     token=Secret(env="DW_T_TOKEN"))  # fmt: skip
    basic_pair = base64.b64encode(f"svc:{PASSWORD}".encode()).decode()
    texts = [repr(target), str(target), repr(bearer)]
    for t in (target, bearer):
        request = build_request(t, EVENT, PAYLOAD, NOW)
        texts += [repr(request), str(request)]
    text = "\n".join(texts)
    for secret in (TOKEN, PASSWORD, WHSEC, WHSEC.removeprefix("whsec_"), basic_pair, "QueryS3cret"):
        assert secret not in text, secret
    assert "authorization=Basic" in repr(target) and "signed=True" in repr(target)
    assert "'Authorization': '***'" in text


def test_redact_masks_every_credential_of_the_request() -> None:
    target = resolve(kind="airflow", url="http://a.internal", dag_id="d", username="svc",
                     password=Secret(env="DW_T_PASSWORD"))  # fmt: skip
    request = build_request(target, EVENT, PAYLOAD, NOW)
    echoed = f"got {request.headers['Authorization']} and {PASSWORD}"
    redacted = request.redact(echoed)
    assert PASSWORD not in redacted and request.headers["Authorization"][6:] not in redacted
    assert redacted == "got Basic *** and ***"


@pytest.mark.parametrize(
    ("whsec", "problem"),
    [
        (base64.b64encode(bytes(32)).decode(), "no whsec_ prefix"),
        ("whsec_not*base64!", "not base64"),
        ("whsec_" + base64.b64encode(bytes(16)).decode(), "16 bytes"),
        ("whsec_" + base64.b64encode(bytes(65)).decode(), "65 bytes"),
    ],
)
def test_a_malformed_signing_secret_fails_at_resolve_naming_the_key_only(
    monkeypatch: pytest.MonkeyPatch, whsec: str, problem: str
) -> None:
    monkeypatch.setenv("DW_T_WHSEC", whsec)
    with pytest.raises(ConfigError) as caught:
        resolve(kind="webhook", url="https://h.example.com/", secret=Secret(env="DW_T_WHSEC"))
    assert caught.value.key == "retraining.targets[0].secret"
    assert problem in caught.value.problem and "whsec_" in caught.value.fix
    assert whsec not in str(caught.value) and whsec.removeprefix("whsec_") not in str(caught.value)


def test_an_unpadded_signing_secret_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DW_T_WHSEC", WHSEC.rstrip("="))
    target = resolve(kind="webhook", url="https://h.example.com/", secret=Secret(env="DW_T_WHSEC"))
    request = build_request(target, EVENT, PAYLOAD, time.time())
    assert Webhook(WHSEC).verify(request.body, request.headers)


def test_missing_empty_or_multiline_secrets_fail_at_resolve(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DW_T_TOKEN")
    with pytest.raises(ConfigError, match="DW_T_TOKEN is not set") as caught:
        resolve(kind="webhook", url="https://h.example.com/", token=Secret(env="DW_T_TOKEN"))
    assert caught.value.key == "retraining.targets[0].token"
    monkeypatch.setenv("DW_T_TOKEN", "  ")
    with pytest.raises(ConfigError, match="empty"):
        resolve(kind="webhook", url="https://h.example.com/", token=Secret(env="DW_T_TOKEN"))
    monkeypatch.setenv("DW_T_TOKEN", f"{TOKEN}\nX-Injected: 1")
    with pytest.raises(ConfigError, match="line break") as caught:
        resolve(kind="webhook", url="https://h.example.com/", token=Secret(env="DW_T_TOKEN"))
    assert TOKEN not in str(caught.value)
    secret_file = tmp_path / "token"
    secret_file.write_text(f"{TOKEN}\n")  # a mounted file's final newline is not the token's
    target = resolve(kind="webhook", url="https://h.example.com/",
                     token=Secret(file=str(secret_file)))  # fmt: skip
    assert build_request(target, EVENT, {}, NOW).headers["Authorization"] == f"Bearer {TOKEN}"
