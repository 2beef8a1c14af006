"""The dashboard in a real browser: how long a page takes until it is complete, and why.

``driftwatch dashboard`` is served exactly as users start it, in a process of its own, and
Debian's Chromium is driven by Playwright through ``executable_path`` (its wheel carries the
driver; ``playwright install`` is never needed). Used by ``benchmarks/dashboard.py``; the tests'
helpers (``tests/dashboard/browser.py``) do the like for assertions, but a benchmark does not
depend on the test suite.

When is a page *complete*? An init script records the time of the document's last DOM change
(a ``MutationObserver``) that can show: changes inside a ``<canvas>`` cannot, and the table grid
(Glide) writes its accessible copy of the cells there a quarter of a second after drawing them,
with nothing left to do. A page is complete once Streamlit's run finished (no
``[data-testid=stStatusWidget]``), its title is on screen, every ``.js-plotly-plot`` holds its
``.main-svg`` and nothing changed for :data:`QUIET_MS` — and it was complete at that last
change, which is the time reported. Plotly's relayouts and redraws change the DOM, so a chart
still settling keeps the page incomplete; the quiet wait itself is not counted.

Why a page is slow, from one more (profiled) load of it (:class:`Breakdown`):

- boot: when Streamlit's WebSocket opened — the HTML and the frontend's scripts loaded and run;
- bytes: every WebSocket message the server sent, decoded as Streamlit's ``ForwardMsg`` and
  summed by element (a chart's message holds its figure's JSON), and the biggest chart by trace
  attribute (hover text, ``customdata``, coordinates);
- browser: the main thread's CPU time from Chromium's sampling profiler (DevTools protocol), by
  the script it was spent in — Plotly's chunk, the rest of Streamlit's frontend — or the
  browser's own work (style, layout, paint, parsing; garbage collection).

The server's script run is not timed here: messages reach the page only as fast as its main
thread takes them, so their arrival says more about the browser than the server. AppTest times
the run (``benchmarks/dashboard.py``, step 4).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, WebSocket, sync_playwright
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu"]
#: A desktop screen, as in the issue (1400 px wide).
VIEWPORT = {"width": 1400, "height": 1000}
#: Start-up of ``streamlit run`` on a busy machine.
START_SECONDS = 60
#: A page unchanged this long after its run is complete (Plotly's last relayout comes sooner).
QUIET_MS = 1000
#: Give up on a page after this long.
LOAD_TIMEOUT_MS = 180_000
#: Sampling interval of the browser profile: fine enough for 100 ms costs, cheap enough to run.
PROFILE_INTERVAL_US = 1000

#: Runs before the page's own scripts in every document: the time of the last DOM change, and
#: when Streamlit's WebSocket opened (its frontend booted: HTML, scripts, then the connection).
_PROBE = """
window.__bench = { lastChange: 0, mark: 0, socketOpen: null };
const shown = (m) => {
  const node = m.target.nodeType === 1 ? m.target : m.target.parentElement;
  return !node || !node.closest('canvas');  // a canvas's children are never drawn
};
new MutationObserver((records) => {
  if (records.some(shown)) window.__bench.lastChange = performance.now();
}).observe(document, { childList: true, subtree: true, attributes: true, characterData: true });
const PageSocket = window.WebSocket;
window.WebSocket = class extends PageSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('open', () => { window.__bench.socketOpen ??= performance.now(); });
  }
};
"""
#: True once the page is complete (module docstring), or shows an exception box.
_COMPLETE = """([title, quietMs]) => {
  const bench = window.__bench;
  if (!bench || performance.now() - bench.lastChange < quietMs) return false;
  if (document.querySelector('[data-testid=stStatusWidget]')) return false;
  if (document.querySelector('[data-testid=stException]')) return true;
  if (![...document.querySelectorAll('h1')].some(h => h.textContent.includes(title))) return false;
  return [...document.querySelectorAll('.js-plotly-plot')].every(p => p.querySelector('.main-svg'));
}"""
#: Clicks the first link whose address holds ``href``, marking the moment on the page's clock.
_CLICK = """(href) => {
  const link = [...document.querySelectorAll('a')].find(a => a.href.includes(href));
  if (!link) return false;
  window.__bench.mark = performance.now();
  link.click();
  return true;
}"""


@dataclass(frozen=True, slots=True)
class Target:
    """A page to time: its address (path and query) and a text its title shows once drawn."""

    name: str
    path: str
    title: str


@contextmanager
def serve(config_path: Path, port: int, log: Path) -> Iterator[str]:
    """``driftwatch dashboard`` for ``config_path`` on ``port`` until the block ends; its URL."""
    command = ["dashboard", "--config", str(config_path), "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", *command],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log.read_text()[-3000:]
                    raise RuntimeError(f"dashboard did not start:\n{tail}") from exc
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass(frozen=True, slots=True)
class Load:
    """One page load: when it started (``time.perf_counter``), seconds until complete and until
    Streamlit's WebSocket opened (None when the click reused it), the messages it received."""

    started: float
    seconds: float
    socket_seconds: float | None
    messages: list[bytes]


class Tab:
    """A browser tab whose HTTP cache lives as long as the tab (a fresh one is a first visit),
    recording the WebSocket messages the dashboard sends it."""

    def __init__(self, browser: Browser) -> None:
        self._context = browser.new_context(viewport=VIEWPORT)
        self._context.add_init_script(_PROBE)
        self.page: Page = self._context.new_page()
        self._messages: list[bytes] = []
        self.page.on("websocket", self._watch)

    def _watch(self, ws: WebSocket) -> None:
        def received(payload: str | bytes) -> None:
            self._messages.append(payload if isinstance(payload, bytes) else payload.encode())

        ws.on("framereceived", received)

    def open(self, url: str, title: str) -> Load:
        """Load ``url`` afresh (a new Streamlit session) and time it until complete."""
        self._messages.clear()
        started = time.perf_counter()
        self.page.goto(url, wait_until="commit")
        return self._complete(started, title, mark=False)

    def click(self, href: str, title: str) -> Load:
        """Click a link on the page (in-app navigation: the session and its WebSocket stay) and
        time the page it opens until complete."""
        self._messages.clear()
        started = time.perf_counter()
        if not self.page.evaluate(_CLICK, href):
            raise RuntimeError(f"no link to {href} on {self.page.url}")
        return self._complete(started, title, mark=True)

    def _complete(self, started: float, title: str, mark: bool) -> Load:
        self.page.wait_for_function(
            _COMPLETE, arg=[title, QUIET_MS], timeout=LOAD_TIMEOUT_MS, polling=100
        )
        boxes = self.page.locator("[data-testid=stException]")
        if boxes.count():
            raise RuntimeError(f"{self.page.url}: {boxes.first.inner_text()}")
        bench = self.page.evaluate("window.__bench")
        socket = bench["socketOpen"]
        return Load(
            started=started,
            seconds=(bench["lastChange"] - (bench["mark"] if mark else 0.0)) / 1000,
            socket_seconds=None if mark or socket is None else socket / 1000,
            messages=self._messages.copy(),
        )

    def profiled(self, url: str, title: str) -> tuple[Load, dict[str, float]]:
        """:meth:`open` under Chromium's sampling profiler: the load, and the main thread's CPU
        milliseconds by where they were spent (:func:`cpu_by_script`)."""
        cdp = self._context.new_cdp_session(self.page)
        cdp.send("Profiler.enable")
        cdp.send("Profiler.setSamplingInterval", {"interval": PROFILE_INTERVAL_US})
        cdp.send("Profiler.start")
        load = self.open(url, title)
        profile = cdp.send("Profiler.stop")["profile"]
        cdp.detach()
        return load, cpu_by_script(profile)

    def close(self) -> None:
        self._context.close()


# --- where the browser's time goes ----------------------------------------------------------------

#: The profiler's pseudo-frames: the browser's own work outside any script, and nothing at all.
_NATIVE = {
    "(program)": "browser: style, layout, paint, parsing",
    "(garbage collector)": "browser: GC",
}
_IDLE = "(idle)"


def cpu_by_script(profile: dict[str, Any]) -> dict[str, float]:
    """Milliseconds of a DevTools CPU profile by script: each sample goes to the nearest frame
    (itself or a caller) that belongs to a script, so a DOM call Plotly makes counts as Plotly's.
    Streamlit's frontend splits into hashed chunks (``PlotlyChart.<hash>.js``); the hash goes."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    parent = {child: node["id"] for node in profile["nodes"] for child in node.get("children", ())}
    spent: Counter[str] = Counter()
    for sample, delta_us in zip(profile["samples"], profile["timeDeltas"], strict=True):
        node_id: int | None = sample
        name = ""
        while node_id is not None:
            frame = nodes[node_id]["callFrame"]
            if frame["url"]:
                name = frame["url"].rsplit("/", 1)[-1].split(".")[0] + ".js"
                break
            if frame["functionName"] in (*_NATIVE, _IDLE):
                name = _NATIVE.get(frame["functionName"], _IDLE)
                break
            node_id = parent.get(node_id)
        spent[name or "browser: other"] += delta_us / 1000
    spent.pop(_IDLE, None)
    return dict(spent.most_common())


# --- where the bytes go ---------------------------------------------------------------------------


@dataclass(slots=True)
class Bytes:
    """What the server sent for one load: total, by element kind, by chart (its key), and the
    biggest chart's figure by trace attribute (``"1 scattergl.text"``) and layout."""

    total: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    charts: Counter[str] = field(default_factory=Counter)
    biggest_chart: Counter[str] = field(default_factory=Counter)


def message_bytes(messages: list[bytes]) -> Bytes:
    """Decode every ``ForwardMsg`` of a load and sum its bytes (see :class:`Bytes`)."""
    out = Bytes()
    biggest = ("", 0)
    for data in messages:
        out.total += len(data)
        msg = ForwardMsg()
        msg.ParseFromString(data)
        kind = msg.WhichOneof("type") or "other"
        if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            kind = element.WhichOneof("type") or "element"
            if kind == "plotly_chart":
                key = element.plotly_chart.id.rsplit("-", 1)[-1] or "chart"
                out.charts[key] += len(data)
                if len(data) > biggest[1]:
                    biggest = (element.plotly_chart.spec, len(data))
        out.by_kind[kind] += len(data)
    if biggest[0]:
        out.biggest_chart = figure_bytes(biggest[0])
    return out


def figure_bytes(spec: str) -> Counter[str]:
    """A Plotly figure's JSON bytes by trace attribute (``"<i> <type>.<attribute>"``, counting
    from 0) and layout."""
    figure = json.loads(spec)
    sizes: Counter[str] = Counter()
    for i, trace in enumerate(figure.get("data", [])):
        for attribute, value in trace.items():
            sizes[f"{i} {trace.get('type', 'scatter')}.{attribute}"] += len(
                json.dumps(value, ensure_ascii=False).encode()
            )
    sizes["layout"] = len(json.dumps(figure.get("layout", {}), ensure_ascii=False).encode())
    return sizes


# --- the protocol: cold, warm, in-app navigation, and one profiled load ---------------------------


@dataclass(frozen=True, slots=True)
class Click:
    """In-app navigation: open ``start``, click its link whose address holds ``href``, and time
    the page it opens (``title``) — the session and its WebSocket are reused."""

    name: str
    start: Target
    href: str
    title: str


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Why a page takes its time: one more load of it, profiled (module docstring)."""

    load: Load
    cpu_ms: dict[str, float]
    sent: Bytes


@dataclass(frozen=True, slots=True)
class Timing:
    """A page's first load after the server started, its later loads, and its breakdown."""

    cold: Load
    warm: list[Load]
    breakdown: Breakdown | None


def time_pages(
    config_path: Path,
    targets: list[Target],
    clicks: list[Click],
    repeat: int,
    ttl_seconds: float,
    new_port: Callable[[], int],
    log_dir: Path,
    say: Callable[[str], None],
) -> dict[str, Timing]:
    """Each target and click timed on a server of its own, started for it.

    Cold: the first load after the server started (its imports, resources and data caches
    fresh) in a new browser context (an empty HTTP cache): a first visit after a deploy. Warm:
    ``repeat`` later loads in the same tab, each begun at least ``ttl_seconds`` after the one
    before, so its data is read from Redis again, as an auto-refresh does. A target's breakdown
    comes from one more, profiled, load.
    """
    out: dict[str, Timing] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for target in targets:
                with serve(config_path, new_port(), log_dir / f"{target.name}.log") as url:
                    out[target.name] = _time_target(browser, url, target, repeat, ttl_seconds, say)
            for click in clicks:
                with serve(config_path, new_port(), log_dir / "click.log") as url:
                    out[click.name] = _time_click(browser, url, click, repeat, ttl_seconds, say)
        finally:
            browser.close()
    return out


def _time_target(
    browser: Browser,
    url: str,
    target: Target,
    repeat: int,
    ttl_seconds: float,
    say: Callable[[str], None],
) -> Timing:
    tab = Tab(browser)
    try:
        cold = tab.open(url + target.path, target.title)
        say(f"{target.name:<12} cold    {_seconds(cold)}")
        warm = []
        for i in range(repeat):
            _wait_for_expiry(ttl_seconds, cold if not warm else warm[-1])
            warm.append(tab.open(url + target.path, target.title))
            say(f"{target.name:<12} warm {i + 1}/{repeat} {_seconds(warm[-1])}")
        _wait_for_expiry(ttl_seconds, warm[-1] if warm else cold)
        load, cpu_ms = tab.profiled(url + target.path, target.title)
        say(f"{target.name:<12} profile {_seconds(load)}")
        return Timing(cold, warm, Breakdown(load, cpu_ms, message_bytes(load.messages)))
    finally:
        tab.close()


def _time_click(
    browser: Browser,
    url: str,
    click: Click,
    repeat: int,
    ttl_seconds: float,
    say: Callable[[str], None],
) -> Timing:
    tab = Tab(browser)
    try:
        loads: list[Load] = []
        for i in range(repeat + 1):
            if loads:
                _wait_for_expiry(ttl_seconds, loads[-1])
            tab.open(url + click.start.path, click.start.title)
            loads.append(tab.click(click.href, click.title))
            which = "cold   " if i == 0 else f"warm {i}/{repeat}"
            say(f"{click.name:<12} {which} {_seconds(loads[-1])}")
        return Timing(loads[0], loads[1:], None)
    finally:
        tab.close()


def _wait_for_expiry(ttl_seconds: float, last: Load) -> None:
    """Sleep until the data the last load read has left the dashboard's cache: it was read
    once the load began, and is kept ``ttl_seconds``."""
    time.sleep(max(0.0, ttl_seconds - (time.perf_counter() - last.started)))


def _seconds(load: Load) -> str:
    if load.socket_seconds is None:
        return f"{load.seconds:6.2f} s"
    return f"{load.seconds:6.2f} s (WebSocket open at {load.socket_seconds:.2f} s)"
