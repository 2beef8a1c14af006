"""Driving the dashboard in a real browser: serve it, open tabs, wait for a page, take pictures.

``driftwatch dashboard`` serves the app exactly as users start it; Debian's ``chromium`` is driven
by Playwright through ``executable_path`` (its wheel carries the driver; ``playwright install`` is
never needed). Every request a tab makes is recorded so a test can fail on one that would leave
the machine: air-gapped installs must work (issue 17, item 6). Screenshots land in
``test-artifacts/``, which CI keeps.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts"
#: Start-up of ``streamlit run`` (imports, server) on a slow CI machine.
START_SECONDS = 60
#: A page's first render: data read, figures built, Plotly drawn.
RENDER_MS = 30_000
#: Hosts a page may request anything from: the dashboard itself.
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
#: A desktop screen, and a phone's (issue 17, item 5).
WIDE = {"width": 1400, "height": 2200}
NARROW = {"width": 390, "height": 844}


@contextmanager
def serve(
    config_path: Path,
    port: int,
    log: Path,
    host: str = "127.0.0.1",
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """``driftwatch dashboard`` on ``host:port`` until the block ends; yields its URL. ``env``
    adds to the dashboard's environment."""
    with log.open("wb") as out:
        command = ["dashboard", "--config", str(config_path), "--host", host, "--port", str(port)]
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", *command],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"dashboard did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        assert f"dashboard: http://127.0.0.1:{port}" in log.read_text()  # it prints its URL
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
        finally:
            if proc.poll() is None:
                proc.kill()


class Tab:
    """A browser tab that records every URL it requests."""

    def __init__(self, browser: Browser, viewport: dict[str, int]) -> None:
        context = browser.new_context(viewport=viewport, timezone_id="Europe/Berlin")
        self.page: Page = context.new_page()
        self._requests: list[str] = []
        self.page.on("request", lambda request: self._requests.append(request.url))

    def requested(self) -> list[str]:
        """The URLs requested since the last call (inline ``data:``/``blob:`` ones aside)."""
        urls = [u for u in self._requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")]
        self._requests.clear()
        return urls


def external(urls: list[str]) -> list[str]:
    """The URLs that would leave the machine."""
    return [u for u in urls if urlsplit(u).hostname not in LOCAL_HOSTS]


def settle(page: Page, charts: bool) -> None:
    """Wait until the script run finished (and its charts are drawn); fail on an exception box."""
    page.wait_for_selector("[data-testid=stApp]", timeout=RENDER_MS)
    if charts:
        page.wait_for_selector(".js-plotly-plot", timeout=RENDER_MS)
    page.wait_for_function(
        "!document.querySelector('[data-testid=stStatusWidget]')", timeout=RENDER_MS
    )
    page.wait_for_timeout(500)  # Plotly's last layout pass
    boxes = page.locator("[data-testid=stException]")
    assert boxes.count() == 0, boxes.first.inner_text()


def shoot(page: Page, name: str, full_page: bool = False) -> Path:
    """A screenshot in ``test-artifacts/dashboard-<name>.png``."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"dashboard-{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 10_000
    return path
