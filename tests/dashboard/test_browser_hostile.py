"""Hostile text stays text in the browser (issue 17, item 9).

``test_text_safety.py`` checks the Markdown the pages send; this checks what Chromium makes of
it. A deployment's event-derived strings (a model version, a reference, verdict reasons, an
unseen category, a retraining reason, a silence's comment) and a person's (a model's owner, the
name a reverse proxy signs in) are links, images and HTML. Every page is opened in headless
Chromium, and its DOM must hold no link or image to the hostile hosts and no element with an
event handler, nothing may be requested from them, and the hostile text must be visible as
written. The proxy's header is trusted only when ``[dashboard] proxy_user_header`` names it:
Streamlit reads ``st.context.headers`` from the WebSocket handshake, which carries the headers a
browser context adds (Playwright's ``extra_http_headers``), so this is checked in the browser too.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Browser, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from monitor.store.evaluations import EvaluationStore
from monitor.store.keys import Keys
from monitor.store.lease import Lease
from monitor.store.query import Query
from monitor.store.retrain import Change, RetrainStore
from monitor.vocab.retrain import RetrainRequest
from monitor.vocab.silences import Silence
from monitor.vocab.verdicts import FeatureQuality, Health, Verdict, WindowEvaluation
from tests.dashboard.browser import WIDE, Tab, external, serve, settle, shoot
from tests.dashboard.conftest import Deployment, base_doc, delete_prefix, write_config

pytestmark = pytest.mark.slow

LINK = "[Click to re-authenticate](https://evil.example/login)"
IMAGE = "![t](http://attacker.example/track.png)"
#: An event's version: a Markdown link and a tracking image.
VERSION = f"{LINK} {IMAGE}"
#: An unseen category: HTML whose image would be fetched, and whose handler would run.
CATEGORY = "<img src=http://attacker.example/x.png onerror=alert(1)>"
#: A model's owner, written in the config by a person.
OWNER = "[ops team](https://evil.example/owner) ![o](http://attacker.example/owner.png)"
#: The name an authenticating proxy signs in.
PROXY_USER = "[x](https://evil.example)"
HOSTILE_HOSTS = ("evil.example", "attacker.example")
WINDOW_START = 1_795_449_600
MODEL = "fraud-detector"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Deployment]:
    """fraud-detector owned by :data:`OWNER`, its newest window under version :data:`VERSION`
    with a hostile reference, reason and unseen category, unhealthy for that reason; a
    retraining request and a silence whose texts are hostile. Written by the daemon's own store
    writers; the config trusts the proxy header ``X-Forwarded-User``."""
    prefix = f"dwtest:hostile-{uuid.uuid4().hex[:8]}"
    folder = tmp_path_factory.mktemp("hostile")
    doc = base_doc("127.0.0.1:9", redis_url, prefix, ["p", "o", "d"])
    doc["models"][0] = {**doc["models"][0], "owner": OWNER}
    doc["alerting"] = {"enabled": True, "route": {"receiver": "ops"},
                       "receivers": [{"name": "ops"}]}  # fmt: skip
    doc["retraining"] = {
        "enabled": True,
        "allowed_hosts": ["hooks.example.com"],
        "targets": [{"name": "hook", "kind": "webhook", "url": "https://hooks.example.com/dw"}],
        "policies": [{"name": "critical", "target": "hook", "approval": "required"}],
    }
    doc["dashboard"] = {"writable": True, "proxy_user_header": "X-Forwarded-User"}
    path = folder / "config.toml"
    dep = Deployment(path, write_config(path, doc), redis_url)
    client = redis.Redis.from_url(redis_url)
    try:
        _store(client, dep, Keys(prefix))
        yield dep
    finally:
        delete_prefix(client, prefix)
        client.close()


def _store(client: redis.Redis, dep: Deployment, keys: Keys) -> None:
    now = time.time()
    fence = Lease(client, keys.evaluator_lease, keys.evaluator_fence, "test", 10_000).hold()
    assert fence is not None
    reason = f"amount drifted {VERSION} {CATEGORY}"
    verdict = Verdict(MODEL, "amount", "psi", 0.4, 0.2, 0.001, 400, "drift", "critical",
                      WINDOW_START, reason, 0.01, (f"unseen {CATEGORY}",))  # fmt: skip
    quality = {"country": FeatureQuality(0.0, 0.0, None, 0.1, None, {CATEGORY: 40})}
    ev = WindowEvaluation(MODEL, WINDOW_START, VERSION, VERSION, 400, 0, now, [verdict],
                          quality=quality)  # fmt: skip
    store = EvaluationStore(client, keys, 86_400_000)
    store.save(fence, ev, str(WINDOW_START), "", 0.0)
    store.save_health(fence, Health(MODEL, "CRITICAL", [reason], WINDOW_START, now, now - 600))
    request = RetrainRequest(
        id=f"retrain:{MODEL}:{int(now)}",
        model=MODEL,
        policy="critical",
        target="hook",
        state="awaiting_approval",
        created_at=now - 60,
        requested_by=VERSION,
        reason=reason,
        payload=json.dumps({"reason": reason}),
    )
    assert RetrainStore(client, keys).open(request) is Change.DONE
    silences = Query(client, dep.settings).silence_store()
    silences.add(Silence.new([f'model="{MODEL}"'], 3600, VERSION, CATEGORY, now - 60))


@pytest.fixture(scope="module")
def served(
    hostile: Deployment,
    free_port_factory: Callable[[int], list[int]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    log = tmp_path_factory.mktemp("hostile-dashboard") / "dashboard.log"
    with serve(hostile.path, free_port_factory(1)[0], log) as url:
        yield url


def proxied_tab(browser: Browser) -> Tab:
    """A desktop tab whose every request, the WebSocket handshake included, carries the proxy's
    user header with a hostile name."""
    tab = Tab(browser, WIDE)
    tab.page.context.set_extra_http_headers({"X-Forwarded-User": PROXY_USER})
    return tab


#: The element a finding sits in, for the failure message.
_CONTAINER = "e => (e.closest('[data-testid]') || e).outerHTML"


def assert_inert(page: Page, name: str) -> None:
    """No link or image to a hostile host, no element with an ``onerror`` handler."""
    for host in HOSTILE_HOSTS:
        links = page.locator(f"a[href*='{host}']")
        assert links.count() == 0, (name, links.first.evaluate(_CONTAINER))
        images = page.locator(f"img[src*='{host}'], image[href*='{host}']")
        assert images.count() == 0, (name, images.first.evaluate(_CONTAINER))
    assert page.locator("[onerror]").count() == 0, name


#: Characters a reader does not see, which the escaping may put inside URLs and addresses to keep
#: the Markdown renderer from linking them.
_INVISIBLE = "[\u200b-\u200d\u2060\ufeff]"
#: Whether the app's visible text, invisible characters removed and blanks collapsed, holds
#: ``text``.
_SHOWN = """([text, invisible]) => {
    const seen = document.querySelector("[data-testid=stApp]").innerText;
    return seen.replace(new RegExp(invisible, "g"), "").split(/\\s+/).join(" ").includes(text);
}"""


def shows(page: Page, text: str, timeout_ms: int = 5_000) -> bool:
    """Whether ``text`` is on the page as a reader sees it, exactly as written (waiting a little
    for elements drawn after the script run, such as a JSON viewer)."""
    try:
        page.wait_for_function(_SHOWN, arg=[text, _INVISIBLE], timeout=timeout_ms)
    except PlaywrightTimeoutError:
        return False
    return True


#: Each page, the path that opens it, whether it draws a chart, and the hostile texts it shows
#: as written outside its tables (a table is drawn on a canvas: its cells are not in the DOM).
PAGES = {
    "overview": ("/", False, [f"amount drifted {VERSION} {CATEGORY}"]),
    "model": (f"/model?model={MODEL}", True, [f"owner {OWNER}", f"version {VERSION}"]),
    "feature": (
        f"/feature?model={MODEL}&feature=amount&window={WINDOW_START}",
        True,
        [f"unseen {CATEGORY}"],
    ),
    "alerts": ("/alerts", False, [f"Author: {PROXY_USER}"]),
    "retraining": ("/retraining", False, [f"amount drifted {VERSION} {CATEGORY}"]),
}


def test_hostile_text_stays_text_in_the_browser(served: str, browser: Browser) -> None:
    tab = proxied_tab(browser)
    leaving: dict[str, list[str]] = {}
    try:
        for name, (path, charts, expected) in PAGES.items():
            tab.requested()
            tab.page.goto(served + path)
            settle(tab.page, charts)
            shoot(tab.page, f"hostile-{name}", full_page=True)
            assert_inert(tab.page, name)
            for text in expected:
                assert shows(tab.page, text), (name, text)
            assert shows(tab.page, f"signed in as {PROXY_USER} (reverse proxy)"), name
            urls = external(tab.requested())
            if urls:
                leaving[name] = urls
    finally:
        tab.page.context.close()
    assert not leaving, f"requests to other hosts: {leaving}"


def test_the_proxy_header_signs_nobody_in_unless_the_config_trusts_it(
    hostile: Deployment,
    browser: Browser,
    free_port_factory: Callable[[int], list[int]],
    tmp_path: Path,
) -> None:
    """The same deployment without ``proxy_user_header``: the header a browser sends is ignored,
    so nobody is shown as signed in."""
    untrusting = tmp_path / "config.toml"
    untrusting.write_text(
        hostile.path.read_text().replace('proxy_user_header = "X-Forwarded-User"\n', "")
    )
    assert "proxy_user_header" not in untrusting.read_text()
    tab = proxied_tab(browser)
    try:
        with serve(untrusting, free_port_factory(1)[0], tmp_path / "dashboard.log") as url:
            tab.page.goto(url + "/alerts")
            settle(tab.page, charts=False)
            shoot(tab.page, "hostile-untrusted-proxy-header", full_page=True)
            assert tab.page.get_by_text("signed in as").count() == 0
            assert not shows(tab.page, PROXY_USER)
            assert_inert(tab.page, "alerts")
    finally:
        tab.page.context.close()
