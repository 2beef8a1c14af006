"""The dashboard in a real browser: ``driftwatch dashboard`` serves it, headless Chromium opens each
page, waits for its charts, finds no Streamlit exception box, and saves a screenshot into
``test-artifacts/``. Then it walks the on-call path: overview, model, drifting feature (two clicks).
Every request a page makes is recorded, and one to a host other than the dashboard's fails the
test: air-gapped installs must work (issue 17, item 6).

Debian's ``chromium`` is driven by Playwright through ``executable_path`` (its wheel carries the
driver; ``playwright install`` is never needed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.dashboard.conftest import ROOT, WINDOW, Deployment

pytestmark = pytest.mark.slow

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
#: Every URL the browser requested since the last :func:`requested` call (data: URLs aside).
REQUESTS: list[str] = []


@pytest.fixture(scope="module")
def dashboard_url(
    pipeline: Deployment, free_port_factory: Any, tmp_path_factory: Any
) -> Iterator[str]:
    """``driftwatch dashboard`` on a free port, against the pipeline's Redis."""
    port = free_port_factory(1)[0]
    log = tmp_path_factory.mktemp("dashboard") / "dashboard.log"
    with log.open("wb") as out:
        command = ["dashboard", "--config", str(pipeline.path), "--port", str(port)]
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", *command],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        printed = f"dashboard: http://127.0.0.1:{port}"
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"dashboard did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        assert printed in log.read_text()  # the command prints its URL
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
        finally:
            if proc.poll() is None:
                proc.kill()


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1400, "height": 2200}, timezone_id="Europe/Berlin"
        )
        tab = context.new_page()
        tab.on("request", lambda request: REQUESTS.append(request.url))
        yield tab
        browser.close()


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


def requested() -> list[str]:
    """The URLs requested since the last call (inline ``data:``/``blob:`` ones aside)."""
    urls = [u for u in REQUESTS if urlsplit(u).scheme in ("http", "https", "ws", "wss")]
    REQUESTS.clear()
    return urls


def external(urls: list[str]) -> list[str]:
    """The URLs that would leave the machine."""
    return [u for u in urls if urlsplit(u).hostname not in LOCAL_HOSTS]


def test_external_flags_what_leaves_the_machine() -> None:
    assert external(["http://127.0.0.1:8501/", "ws://localhost:1/_stcore/stream"]) == []
    font = "https://fonts.gstatic.com/s/i/short-term/release/materialsymbolsrounded/x/24px.svg"
    assert external([font]) == [font]


def shoot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"dashboard-{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    return path


def test_every_page_renders_in_chromium(
    pipeline: Deployment, dashboard_url: str, page: Page
) -> None:
    window = pipeline.shift_window + 2 * WINDOW
    pages = {
        "overview": ("/", True),
        "model": ("/model?model=fraud-detector", True),
        "feature": (f"/feature?model=fraud-detector&feature=amount&window={window}", True),
        "alerts": ("/alerts", False),
        "retraining": ("/retraining", False),
    }
    leaving: dict[str, list[str]] = {}
    for name, (path, charts) in pages.items():
        requested()
        page.goto(dashboard_url + path)
        settle(page, charts)
        urls = requested()
        assert urls, name  # the recorder works: the page itself was requested
        if external(urls):
            leaving[name] = external(urls)
        if charts:
            assert page.locator(".js-plotly-plot").count() >= 1
        if name == "feature":
            assert page.get_by_text("Reference vs this window").is_visible()
        shoot(page, name)
    assert not leaving, f"requests to other hosts: {leaving}"


def test_two_clicks_from_the_overview_to_the_drifting_feature(
    dashboard_url: str, page: Page
) -> None:
    page.goto(dashboard_url + "/")
    settle(page, charts=True)
    page.get_by_role("link", name="fraud-detector ·").first.click()  # click 1: the model
    page.wait_for_url("**/model?model=fraud-detector*", timeout=RENDER_MS)
    settle(page, charts=True)
    page.get_by_role("link", name="amount: psi").first.click()  # click 2: the drifting feature
    page.wait_for_url("**/feature?*feature=amount*", timeout=RENDER_MS)
    settle(page, charts=True)
    assert page.get_by_text("Reference vs this window").is_visible()
    shoot(page, "two-clicks")


def test_clicking_a_heatmap_cell_opens_its_evidence(dashboard_url: str, page: Page) -> None:
    page.goto(dashboard_url + "/model?model=fraud-detector")
    settle(page, charts=True)
    cells = page.locator(".js-plotly-plot").first.locator(".nsewdrag").first.bounding_box()
    assert cells is not None
    page.mouse.click(cells["x"] + cells["width"] * 0.8, cells["y"] + cells["height"] * 0.5)
    page.wait_for_url("**/feature?*model=fraud-detector*", timeout=RENDER_MS)
    settle(page, charts=True)
    assert page.get_by_text("Reference vs this window").is_visible()
