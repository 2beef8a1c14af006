"""``/healthz``, ``/readyz`` and ``/metrics`` over HTTP, in a daemon thread.

Liveness means the poll loop turned recently (a wedged loop gets the pod restarted); readiness
means this instance was assigned by its group and no dependency is down (a load balancer or an
operator can see an instance that is alive but paused by an outage).

Every answer comes from memory (dependency checks run in the probe thread), and each connection
is served by a thread of its own with a socket timeout: a slow or idle client, or a hung
dependency, can never make the endpoints unanswerable.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

log = logging.getLogger(__name__)

#: A loop iteration takes at most a poll timeout plus one batch; far beyond that it is stuck.
LIVENESS_SECONDS = 60.0
#: A client that sends nothing for this long is disconnected (its thread is freed).
CLIENT_TIMEOUT_SECONDS = 10.0


class _QuietHandler(WSGIRequestHandler):
    timeout = CLIENT_TIMEOUT_SECONDS

    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds would drown the logs."""


class HealthServer:
    """Serves the three endpoints; ``ready`` returns (ready, reason)."""

    def __init__(
        self,
        host: str,
        port: int,
        registry: CollectorRegistry,
        last_iteration: Callable[[], float],
        ready: Callable[[], tuple[bool, str]],
    ) -> None:
        self._metrics_app = make_wsgi_app(registry)
        self._last_iteration = last_iteration
        self._ready = ready
        self._server = make_server(
            host, port, self._app, server_class=ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_port

    def start(self) -> None:
        self._thread.start()
        log.info("health and metrics on http://%s:%d", *self._server.server_address[:2])

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return self._metrics_app(environ, start_response)
        if path == "/healthz":
            age = time.monotonic() - self._last_iteration()
            ok = age < LIVENESS_SECONDS
            return _text(start_response, ok, f"loop turned {age:.1f}s ago")
        if path == "/readyz":
            ok, reason = self._ready()
            return _text(start_response, ok, reason)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"try /healthz, /readyz or /metrics\n"]


def _text(start_response: Callable[..., Any], ok: bool, body: str) -> list[bytes]:
    start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
    return [(("ok: " if ok else "not ok: ") + body + "\n").encode()]
