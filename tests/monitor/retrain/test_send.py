"""One delivery attempt against real HTTP servers on 127.0.0.1: what counts as delivered, as
worth a retry, as rejected; Retry-After; no redirect followed; no host outside the allow-list
contacted; no credential in an outcome or a log line. And the backoff between attempts."""

from __future__ import annotations

import base64
import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks import Webhook

from monitor.config import Secret, TargetSettings
from monitor.retrain.send import (
    MAX_RETRY_AFTER_SECONDS,
    Outcome,
    attempt,
    next_delay,
    retry_after_seconds,
)
from monitor.retrain.targets import HttpRequest, ResolvedTarget, build_request
from tests.monitor.alert.support import free_port, secrets_absent

WHSEC = "whsec_" + base64.b64encode(bytes(range(100, 132))).decode()
TOKEN, PASSWORD = "T0ken-9f8e7d6c5b4a", "Passw0rd-Secret"
EVENT = "retrain:fraud:1800000000"
PAYLOAD = {"model": "fraud", "version": "7", "reason": "PerformanceDegraded"}


@dataclass
class Answer:
    """What the server answers one request with; ``delay``: seconds before answering."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok":true}'
    delay: float = 0.0


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    """A real HTTP server that records each request (raw body and headers) and answers with
    the next of ``answers`` (then ``Answer()``); ``echo_authorization`` puts the request's
    Authorization header into the answer's body, as a careless endpoint might."""

    answers: list[Answer] = field(default_factory=list)
    echo_authorization: bool = False
    received: list[Received] = field(default_factory=list)
    port: int = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}{path}"


@contextmanager
def serving(server: Server) -> Iterator[Server]:
    lock = threading.Lock()
    released = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                server.received.append(
                    Received(self.command, self.path, dict(self.headers.items()), data)
                )
                answer = server.answers.pop(0) if server.answers else Answer()
            if answer.delay:
                released.wait(answer.delay)
            payload = answer.body
            if server.echo_authorization:
                payload = f"you sent {self.headers.get('Authorization')}".encode()
            with suppress(BrokenPipeError, ConnectionResetError):  # a client that timed out
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        do_GET = do_POST  # a followed redirect would arrive as a GET

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        released.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def server() -> Iterator[Server]:
    with serving(Server()) as s:
        yield s


@pytest.fixture(autouse=True)
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DW_T_WHSEC", WHSEC)
    monkeypatch.setenv("DW_T_TOKEN", TOKEN)
    monkeypatch.setenv("DW_T_PASSWORD", PASSWORD)


def webhook_request(url: str, **fields: Any) -> HttpRequest:
    target = TargetSettings("hook", "webhook", url=url, token=Secret(env="DW_T_TOKEN"), **fields)
    return build_request(ResolvedTarget.resolve(target, "t"), EVENT, PAYLOAD, time.time())


def send(server: Server, *answers: Answer, timeout: float = 5.0) -> Outcome:
    server.answers.extend(answers)
    return attempt(webhook_request(server.url()), allowed_hosts=[server.host], timeout=timeout)


def test_airflow_request_arrives_as_built_and_its_signature_verifies(server: Server) -> None:
    target = TargetSettings(
        "airflow",
        "airflow",
        url=f"http://{server.host}/airflow",
        dag_id="retrain_fraud",
        username="svc",
        password=Secret(env="DW_T_PASSWORD"),
        secret=Secret(env="DW_T_WHSEC"),
    )
    request = build_request(ResolvedTarget.resolve(target, "t"), EVENT, PAYLOAD, time.time())
    outcome = attempt(request, allowed_hosts=[server.host], timeout=5.0)
    assert (outcome.result, outcome.status, outcome.error) == ("delivered", 200, "")
    assert outcome.body == '{"ok":true}'
    (got,) = server.received
    assert (got.method, got.path) == ("POST", "/airflow/api/v1/dags/retrain_fraud/dagRuns")
    assert got.body == request.body
    headers = {k.lower(): v for k, v in got.headers.items()}
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "driftwatch"
    assert headers["idempotency-key"] == headers["webhook-id"] == EVENT
    basic = base64.b64encode(f"svc:{PASSWORD}".encode()).decode()
    assert headers["authorization"] == f"Basic {basic}"
    assert Webhook(WHSEC).verify(got.body, headers)["dag_run_id"] == EVENT


@pytest.mark.parametrize("status", [200, 201, 202, 204, 409])
def test_2xx_and_409_are_delivered(server: Server, status: int) -> None:
    outcome = send(server, Answer(status, body=b"" if status == 204 else b"dup"))
    assert outcome.delivered and not outcome.retryable
    assert (outcome.status, outcome.error, outcome.retry_after) == (status, "", None)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_408_429_and_5xx_are_retried(server: Server, status: int) -> None:
    outcome = send(server, Answer(status, body=b"busy " * 200))
    assert outcome.retryable and outcome.status == status
    assert outcome.error == f"POST {server.host}/hook: HTTP {status}"
    assert outcome.retry_after is None
    assert outcome.body == ("busy " * 100)  # the first 500 bytes, for the audit trail


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_4xx_are_rejected(server: Server, status: int) -> None:
    outcome = send(server, Answer(status, body=b'{"detail":"no such DAG"}'))
    assert outcome.result == "rejected" and outcome.status == status
    assert outcome.body == '{"detail":"no such DAG"}'
    assert f"HTTP {status}" in outcome.error


def test_429_retry_after_in_seconds(server: Server) -> None:
    outcome = send(server, Answer(429, {"Retry-After": "120"}))
    assert (outcome.result, outcome.retry_after) == ("retry", 120.0)


def test_503_retry_after_as_an_http_date(server: Server) -> None:
    outcome = send(server, Answer(503, {"Retry-After": formatdate(time.time() + 90, usegmt=True)}))
    assert outcome.retryable
    assert outcome.retry_after is not None and 85 <= outcome.retry_after <= 91


def test_a_retry_after_beyond_a_day_is_capped(server: Server) -> None:
    outcome = send(server, Answer(429, {"Retry-After": str(30 * 86400)}))
    assert outcome.retry_after == MAX_RETRY_AFTER_SECONDS


def test_githubs_rate_limit_403_is_a_retry(server: Server) -> None:
    reset = str(int(time.time()) + 600)
    limited = send(server, Answer(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}))
    assert limited.retryable and limited.retry_after is not None
    assert 595 <= limited.retry_after <= 601
    secondary = send(server, Answer(403, {"Retry-After": "60"}))
    assert (secondary.result, secondary.retry_after) == ("retry", 60.0)
    forbidden = send(server, Answer(403, {"x-ratelimit-remaining": "4999"}))
    assert forbidden.result == "rejected"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 100.0),
        ("Wed, 31 Dec 1969 23:59:00 GMT", 0.0),  # in the past: at once
        ("99999999", MAX_RETRY_AFTER_SECONDS),
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_seconds(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, 0.0) == seconds


def test_a_redirect_is_not_followed(server: Server) -> None:
    with serving(Server()) as elsewhere:
        outcome = send(server, Answer(302, {"Location": elsewhere.url("/moved?tok=x")}))
        time.sleep(0.1)
        assert elsewhere.received == []  # the Location's server heard nothing
    assert outcome.result == "rejected" and outcome.status == 302
    assert "redirects are not followed; point the target at the final URL" in outcome.error
    assert f"to {elsewhere.host}/moved" in outcome.error and "tok=x" not in outcome.error
    assert len(server.received) == 1


def test_a_timeout_is_retried(server: Server) -> None:
    start = time.monotonic()
    outcome = send(server, Answer(200, delay=3.0), timeout=0.3)
    assert time.monotonic() - start < 2.0
    assert (outcome.result, outcome.status) == ("retry", None)
    assert outcome.error == f"POST {server.host}/hook: no answer within 0.3 s"
    assert len(server.received) == 1  # it did arrive: the receiver's dedup makes a retry safe


def test_a_refused_connection_is_retried() -> None:
    port = free_port()
    request = webhook_request(f"http://127.0.0.1:{port}/hook")
    outcome = attempt(request, allowed_hosts=[f"127.0.0.1:{port}"], timeout=2.0)
    assert (outcome.result, outcome.status) == ("retry", None)
    assert f"POST 127.0.0.1:{port}/hook: ConnectionRefusedError" in outcome.error


@pytest.mark.parametrize(
    "allowed",
    [[], ["127.0.0.1"], ["localhost:{port}"], ["127.0.0.1:1"], ["127.0.0.10:{port}"]],
)
def test_a_host_not_allow_listed_is_refused_without_sending(
    server: Server, allowed: list[str]
) -> None:
    allowed = [a.format(port=server.port) for a in allowed]
    outcome = attempt(webhook_request(server.url()), allowed_hosts=allowed, timeout=2.0)
    assert (outcome.result, outcome.status) == ("rejected", None)
    assert f"127.0.0.1:{server.port} is not in retraining.allowed_hosts" in outcome.error
    time.sleep(0.1)
    assert server.received == []


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "http://x@127.0.0.1:{port}/hook", "gopher://127.0.0.1:{port}/"]
)
def test_urls_other_than_plain_http_are_refused(server: Server, url: str) -> None:
    request = HttpRequest("POST", url.format(port=server.port), {}, b"{}")
    outcome = attempt(request, allowed_hosts=[server.host, "127.0.0.1"], timeout=2.0)
    assert outcome.result == "rejected" and outcome.status is None
    assert server.received == []


def test_a_header_with_a_line_break_is_refused_without_sending(server: Server) -> None:
    request = HttpRequest("POST", server.url(), {"Authorization": f"Bearer {TOKEN}\r\nX: 1"}, b"")
    outcome = attempt(request, allowed_hosts=[server.host], timeout=2.0)
    assert outcome.result == "rejected" and "Authorization" in outcome.error
    secrets_absent(outcome.error, TOKEN)
    assert server.received == []


def test_credentials_stay_out_of_outcomes_and_logs(
    caplog: pytest.LogCaptureFixture, server: Server
) -> None:
    """A target that echoes the Authorization header (into a 500's body, say) and a URL whose
    query holds a key: neither reaches the outcome, its repr or a log record."""
    caplog.set_level(logging.DEBUG)
    server.echo_authorization = True
    server.answers.append(Answer(500))
    target = TargetSettings(
        "hook",
        "webhook",
        url=server.url("/hook?key=QueryS3cret"),
        token=Secret(env="DW_T_TOKEN"),
        secret=Secret(env="DW_T_WHSEC"),
    )
    resolved = ResolvedTarget.resolve(target, "retraining.targets[0]")
    request = build_request(resolved, EVENT, PAYLOAD, time.time())
    failed = attempt(request, allowed_hosts=[server.host], timeout=5.0)
    assert server.received[0].headers["Authorization"] == f"Bearer {TOKEN}"  # it was sent
    assert failed.retryable and failed.body == "you sent Bearer ***"
    refused = attempt(request, allowed_hosts=[], timeout=5.0)
    dead = attempt(webhook_request(f"http://127.0.0.1:{free_port()}/x?key=QueryS3cret"),
                   allowed_hosts=["127.0.0.1"], timeout=1.0)  # fmt: skip
    texts = [repr(o) for o in (failed, refused, dead)] + [o.error for o in (failed, refused, dead)]
    texts += [record.getMessage() for record in caplog.records]
    assert any("retraining request" in record.getMessage() for record in caplog.records)
    secrets_absent("\n".join(texts), TOKEN, PASSWORD, WHSEC, "QueryS3cret")


# --- backoff ---------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap_with_full_jitter() -> None:
    rng = random.Random(7)
    for attempt_no, ceiling in [(1, 5.0), (2, 10.0), (3, 20.0), (8, 640.0), (9, 1000.0)]:
        delays = [
            next_delay(attempt_no, base=5.0, cap=1000.0, retry_after=None, rng=rng)
            for _ in range(2000)
        ]
        assert all(0.0 <= d <= ceiling for d in delays), attempt_no
        # full jitter: spread over the whole range, not bunched near the ceiling or zero
        assert max(delays) > 0.95 * ceiling and min(delays) < 0.05 * ceiling
        assert 0.4 * ceiling < sum(delays) / len(delays) < 0.6 * ceiling


def test_backoff_is_reproducible_with_a_seeded_rng_and_finite_for_huge_attempts() -> None:
    first = [next_delay(n, base=5.0, cap=1800.0, retry_after=None, rng=random.Random(1))
             for n in range(1, 20)]  # fmt: skip
    again = [next_delay(n, base=5.0, cap=1800.0, retry_after=None, rng=random.Random(1))
             for n in range(1, 20)]  # fmt: skip
    assert first == again
    assert 0.0 <= next_delay(10_000, base=5.0, cap=1800.0, retry_after=None,
                             rng=random.Random(1)) <= 1800.0  # fmt: skip


def test_backoff_honours_retry_after_even_beyond_the_cap_up_to_a_day() -> None:
    rng = random.Random(3)
    assert next_delay(1, base=5.0, cap=1800.0, retry_after=3000.0, rng=rng) == 3000.0
    assert next_delay(1, base=5.0, cap=1800.0, retry_after=1e9, rng=rng) == 86400.0
    # a short Retry-After is a floor, not the wait: the jitter may still wait longer
    delays = [next_delay(6, base=5.0, cap=1800.0, retry_after=2.0, rng=rng) for _ in range(500)]
    assert min(delays) >= 2.0 and max(delays) > 100.0


def test_backoff_counts_attempts_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        next_delay(0, base=5.0, cap=10.0, retry_after=None, rng=random.Random(0))
