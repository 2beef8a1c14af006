"""``driftwatch dashboard`` bound to every interface (as in a container) makes no request to the
internet: Streamlit's welcome message would ask checkip.amazonaws.com for the public address,
which an air-gapped install cannot reach and should not try.

Every outbound HTTP(S) request of the dashboard process goes through a recording proxy (the
``HTTP_PROXY``/``HTTPS_PROXY`` that ``requests`` honours); none may arrive.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from tests.dashboard.browser import serve

CONFIG = """
[redis]
url = "redis://127.0.0.1:{port}/0"

[[models]]
name = "m"
owner = "o"
task = "binary"
features = {{ a = "numeric" }}
"""
#: Longer than Streamlit's welcome message takes after the server answers (its public-address
#: lookup times out after 1 s per try, two tries).
SETTLE_SECONDS = 4.0


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Records the request line of anything sent through it (GET for http, CONNECT for https)."""

    seen: ClassVar[list[str]] = []

    def _record(self) -> None:
        self.seen.append(self.requestline)
        self.send_error(502)

    do_GET = do_CONNECT = do_POST = do_HEAD = _record

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[str]]]:
    seen: ClassVar[list[str]] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()


def test_dashboard_on_all_interfaces_requests_nothing_outside(
    tmp_path: Path,
    proxy: tuple[str, list[str]],
    free_port_factory: Callable[[int], list[int]],
) -> None:
    proxy_url, seen = proxy
    redis_port, port = free_port_factory(2)  # no Redis there: the dashboard starts anyway
    config_path = tmp_path / "config.toml"
    config_path.write_text(CONFIG.format(port=redis_port))
    env = {"HTTP_PROXY": proxy_url, "HTTPS_PROXY": proxy_url, "NO_PROXY": "127.0.0.1,localhost"}
    env |= {key.lower(): value for key, value in env.items()}
    with serve(config_path, port, tmp_path / "dashboard.log", host="0.0.0.0", env=env):
        time.sleep(SETTLE_SECONDS)
    assert seen == [], f"the dashboard requested {seen}"
