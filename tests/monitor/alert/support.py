"""What the alerting tests share: a notification to send and a real local HTTP endpoint."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from monitor.alert.notification import Notification
from monitor.vocab.alerts import Alert

T0 = 1_795_449_600.0
ROUTING_KEY = "R0uting-Key-0123456789abcdef0123"
TOKEN, PASSWORD = "T0ken-9f8e7d6c5b4a", "Passw0rd-Secret"


def notification(
    *, resolved: bool = False, group: str = "g1", severity: str = "critical"
) -> Notification:
    labels = {"alertname": "FeatureDrift", "model": "fraud-detector", "severity": severity,
              "owner": "team-fraud", "feature": "amount"}  # fmt: skip
    state = "resolved" if resolved else "firing"
    alert = Alert(
        labels, {"value": "0.3"}, state, T0, T0, resolved_at=T0 + 60 if resolved else None
    )
    firing, gone = ((), (alert,)) if resolved else ((alert,), ())
    return Notification("team-fraud", group, {"model": "fraud-detector"}, firing, gone)


@dataclass
class Endpoint:
    """A real HTTP server on 127.0.0.1 that records every POST and answers with the next of
    ``statuses`` (then ``default``); while ``hold`` is clear it delays its answers."""

    statuses: list[int] = field(default_factory=list)
    default: int = 200
    #: Decides the status from the request's body and headers instead (a receiver with state,
    #: such as one that answers 409 to an id it has seen), when set.
    answer: Callable[[bytes, dict[str, str]], int] | None = None
    #: Headers added to every answer (``Retry-After``, …).
    response_headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: Each POST's body as received and its headers (names lower-cased), in the same order.
    raw: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    port: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, body in self.requests]


@contextmanager
def serving(endpoint: Endpoint) -> Iterator[Endpoint]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                endpoint.requests.append((self.path, json.loads(data)))
                endpoint.raw.append(data)
                endpoint.headers.append({k.lower(): v for k, v in self.headers.items()})
                if endpoint.answer is not None:
                    status = endpoint.answer(data, endpoint.headers[-1])
                else:
                    status = endpoint.statuses.pop(0) if endpoint.statuses else endpoint.default
            if endpoint.hold is not None:
                endpoint.hold.wait(30)
            answer = json.dumps({"status": "answered", "echo": json.loads(data)}).encode()
            # A client that timed out has left (the timeout tests want that): no answer then.
            with suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                for name, value in endpoint.response_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the test asserts on requests, not on the server's log

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    endpoint.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        if endpoint.hold is not None:
            endpoint.hold.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def free_port() -> int:
    """A port nobody listens on now (bound, then released): dead for a client, free for a server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def secrets_absent(text: str, *secrets: str) -> None:
    leaked = [s for s in secrets if s in text]
    assert not leaked, f"secret(s) leaked: {leaked}"
