"""Dashboard fixtures: Redis filled by the real pipeline once per session, plus empty and partial
deployments.

``pipeline`` runs simulator → Kafka → daemon → Redis exactly as production does: references set
with ``driftwatch baseline set``, a backfilled stream in which ``fraud-detector``'s ``amount``
shifts by 1.5 σ half-way, ``delivery-eta`` has a data-quality problem only (``city`` missing in
windows 2–4), then a performance problem only (its labels follow another function from window 7
on), then both (``city`` missing again from window 10), a few dead letters, and a third model
(``churn``) with traffic but no reference. The daemon runs until every event is counted and every
window evaluated, then stops; page tests and the browser test read the same data, so the
pipeline's cost is paid once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis
from kafka import KafkaAdminClient

from monitor import config
from monitor.config import FaultSettings
from monitor.simulate import SimEvent, Simulator, produce
from monitor.store.query import Query
from tests.e2e.conftest import MODELS, DaemonProcess, to_toml
from tests.support import set_baseline

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "streamlit_app.py"
WINDOW = 60
#: Simulated seconds after the start when ``amount`` shifts: window 7 of 15.
SHIFT_AT = 420
#: 15 full windows at 20 predictions/s: about 400 rows per model and window, above min_samples.
PREDICTIONS = 18_000
#: ``delivery-eta``'s faults, on the simulated clock: ``city`` missing in a third of the rows in
#: windows 2–4 and from window 10 on (data quality), its true ETA following another function of
#: the features from window 7 on (concept drift: performance only, the inputs do not move).
NULLS_AT, NULLS_UNTIL, CONCEPT_AT, NULLS_AGAIN_AT = 120, 300, 420, 600
#: Predictions with an out-of-range score: dead letters attributed to fraud-detector.
BAD_SCORES = 5
CHURN = {
    "name": "churn",
    "owner": "growth@example.com",
    "task": "binary",
    "features": {"tenure_months": "numeric", "plan": "categorical"},
}
#: How long the daemon may take to count and evaluate everything (it takes ~20 s here).
PIPELINE_TIMEOUT = 180


@dataclass(frozen=True)
class Deployment:
    """A config file and what the dashboard tests need to know about its data."""

    path: Path
    settings: config.Settings
    redis_url: str
    start: int = 0

    def query(self) -> Query:
        return Query(redis.Redis.from_url(self.redis_url), self.settings)

    @property
    def shift_window(self) -> int:
        """Start of the first window in which ``amount`` has shifted."""
        return self.start + SHIFT_AT


def write_config(path: Path, doc: dict[str, Any]) -> config.Settings:
    path.write_text(to_toml(doc))
    return config.load(path)


def bad_scores(start: float) -> list[SimEvent]:
    """Predictions of fraud-detector whose score is out of [0, 1]: dead letters with its name."""
    out = []
    for i in range(BAD_SCORES):
        doc = {
            "id": f"bad-{i}",
            "model": "fraud-detector",
            "version": "v1",
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + 30)),
            "features": {"amount": 1.0, "age": 30, "country": "DE"},
            "prediction": 1,
            "score": 7.5,
        }
        out.append(
            SimEvent(
                "prediction",
                "fraud-detector",
                doc["id"].encode(),
                msgspec.json.encode(doc),
                start + 30,
                False,
            )
        )
    return out


def delete_prefix(client: redis.Redis, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for i in range(0, len(keys), 500):
        client.unlink(*keys[i : i + 500])


def base_doc(kafka_bootstrap: str, redis_url: str, prefix: str, topics: list[str]) -> dict:
    return {
        "kafka": {
            "bootstrap_servers": [kafka_bootstrap],
            "group_id": f"g-{prefix.split(':')[-1]}",
            "predictions_topic": topics[0],
            "outcomes_topic": topics[1],
            "dead_letter_topic": topics[2],
            "max_poll_records": 1000,
            "session_timeout_ms": 3000,
        },
        "redis": {"url": redis_url, "key_prefix": prefix},
        "windows": {"size_seconds": WINDOW, "allowed_lateness_seconds": 10},
        "runtime": {"http_port": 0, "log_format": "json", "log_level": "INFO"},
        "simulate": {"rate": 20.0, "label_delay_seconds": 5.0},
        "models": [*MODELS, CHURN],
    }


@pytest.fixture(scope="session")
def pipeline(
    tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str, redis_url: str
) -> Iterator[Deployment]:
    """Redis filled by simulator → Kafka → daemon; see the module docstring."""
    folder = tmp_path_factory.mktemp("dashboard-pipeline")
    run = uuid.uuid4().hex[:8]
    prefix = f"dwtest:dash-{run}"
    topics = [f"dwtest-dash-{kind}-{run}" for kind in ("pred", "out", "dlq")]
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="dwtest-dashboard")
    client = redis.Redis.from_url(redis_url)
    daemon = None
    try:
        admin.create_topics(
            {
                t: {"num_partitions": 3 if i < 2 else 1, "replication_factor": 1}
                for i, t in enumerate(topics)
            },
            timeout_ms=30_000,
        )
        admin.wait_for_topics(topics, timeout_ms=30_000)
        path = folder / "config.toml"
        settings = write_config(path, base_doc(kafka_bootstrap, redis_url, prefix, topics))
        for model in ("fraud-detector", "delivery-eta"):
            set_baseline(path, settings, model, folder)
        start = (int(time.time()) // WINDOW - 20) * WINDOW
        faults = [
            FaultSettings(
                kind="covariate_shift",
                model="fraud-detector",
                feature="amount",
                start_seconds=SHIFT_AT,
                magnitude=1.5,
            ),
            *(
                FaultSettings("nulls", "delivery-eta", "city", begin, end, magnitude=0.3)
                for begin, end in ((NULLS_AT, NULLS_UNTIL), (NULLS_AGAIN_AT, 0.0))
            ),
            FaultSettings("concept_drift", "delivery-eta", start_seconds=CONCEPT_AT),
        ]
        events = [
            *Simulator(settings, seed=5, start=start, faults=faults).events(PREDICTIONS),
            *bad_scores(start),
        ]
        report = produce(settings, events, realtime_rate=None)
        assert report.n_failed == 0, report.first_error
        daemon = DaemonProcess(path, folder / "daemon.log")
        dep = Deployment(path, settings, redis_url, start)
        query = dep.query()
        expected = sum(1 for e in events if e.valid)
        keys_dirty = f"{prefix}:dirty"
        deadline = time.monotonic() + PIPELINE_TIMEOUT
        while True:
            counted = sum(r.counts.predictions + r.counts.outcomes for r in query.ingest())
            if (
                counted >= expected
                and client.zcard(keys_dirty) == 0
                and all(query.health().values())
            ):
                break
            if time.monotonic() > deadline or not daemon.alive():
                pytest.fail(
                    f"pipeline not done ({counted}/{expected}):\n{daemon.log_text()[-3000:]}"
                )
            time.sleep(0.5)
        assert daemon.terminate() == 0
        yield dep
    finally:
        if daemon is not None and daemon.alive():
            daemon.kill9()
        admin.delete_topics(topics, raise_errors=False)
        admin.close()
        delete_prefix(client, prefix)
        client.close()


@pytest.fixture
def empty(tmp_path: Path, redis_url: str, key_prefix: str) -> Deployment:
    """A deployment whose Redis holds nothing yet (its Kafka is never contacted)."""
    doc = base_doc("127.0.0.1:9", redis_url, key_prefix, ["p", "o", "d"])
    path = tmp_path / "config.toml"
    return Deployment(path, write_config(path, doc), redis_url)


@pytest.fixture
def partial(empty: Deployment, tmp_path: Path) -> Deployment:
    """A deployment with fraud-detector's reference set, and no traffic at all."""
    set_baseline(empty.path, empty.settings, "fraud-detector", tmp_path)
    return empty


#: An ``[auth]`` section turns OIDC login on; AppTest's ``user`` says who is logged in.
AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "dashboard-tests",
    "client_id": "driftwatch-dashboard",
    "client_secret": "unused",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


@pytest.fixture
def app_factory(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """``app(deployment, page=None, *, signed_in=None, **params)``: an AppTest of the dashboard,
    run on ``page``; ``signed_in`` turns the OIDC login on with that email logged in."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    def make(
        dep: Deployment, page: str | None = None, *, signed_in: str | None = None, **params: str
    ) -> AppTest:
        monkeypatch.setenv("DRIFTWATCH_CONFIG", str(dep.path))
        st.cache_data.clear()
        at = AppTest.from_file(str(APP), default_timeout=60)
        if signed_in is not None:
            at.secrets["auth"] = AUTH
            at.user = {"is_logged_in": True, "email": signed_in}
        at.run()
        if page is not None or params:
            at.query_params.update(params)
            at.switch_page(f"app_pages/{page or 'overview'}.py").run()
        return at

    return make


@pytest.fixture(scope="session")
def dashboard_url(
    pipeline: Deployment, free_port_factory: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``driftwatch dashboard`` on a free port over the pipeline's Redis, for every browser test."""
    from tests.dashboard.browser import serve

    log = tmp_path_factory.mktemp("dashboard") / "dashboard.log"
    with serve(pipeline.path, free_port_factory(1)[0], log) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's), one per session."""
    from playwright.sync_api import sync_playwright

    from tests.dashboard.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def tab(browser: Any) -> Any:
    """A desktop-sized tab (1400 px) that records its requests."""
    from tests.dashboard.browser import WIDE, Tab

    return Tab(browser, WIDE)


@pytest.fixture(scope="session")
def page(tab: Any) -> Any:
    """The desktop tab's page."""
    return tab.page
