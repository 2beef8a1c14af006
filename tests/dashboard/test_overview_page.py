"""The overview through AppTest on a real Redis (issue 17, item 3): since when and the trend of each
model as stored, the whole why, a clear state for models without a reference, and the dead letters
no model's row counts.
"""

from __future__ import annotations

import time
from typing import Any

import redis

from dashboard.figures import common, health, signals
from monitor.store.checkpoint import Checkpoint
from monitor.store.keys import Keys
from monitor.vocab.deadletter import UNKNOWN_MODEL
from monitor.vocab.effects import DEAD, DEAD_PREFIX, Effects
from tests.dashboard.conftest import Deployment
from tests.dashboard.test_pages import links, table, texts


def test_each_model_shows_since_when_its_trend_and_its_whole_why(
    pipeline: Deployment, app_factory: Any
) -> None:
    at = app_factory(pipeline)
    assert not at.exception
    rows = table(at, "trend").set_index("model")
    query = pipeline.query()
    recent = query.recent_windows(last=health.TREND_WINDOWS)
    shown, tz = texts(at), common.zone(None)  # AppTest's browser names no zone: UTC
    labels = [label for label, page, _ in links(at) if page == "model"]
    unhealthy = []
    for s in query.status():
        name, row = s.model.name, rows.loc[s.model.name]
        # the brief read sees each window as the whole evaluation does
        whole = common.newest_per_window(query.evaluations(name, last=health.TREND_WINDOWS))
        heights = [health.TREND_HEIGHTS[signals.window_severity(ev)] for ev in whole]
        assert list(row["trend"]) == heights == health.trend(health.trend_windows(recent[name]))
        if s.health is None or s.health.status not in ("WARN", "CRITICAL"):
            continue
        unhealthy.append(name)
        assert s.health.since is not None
        assert row["since"].timestamp() == s.health.since
        since = health.since_text(s.health.since, time.time(), tz)
        assert since is not None
        clock = since.split(" (")[0]  # the age may have moved on by a minute since
        head = f"{name} · {health.health_text(s.health.status)} · since {clock} ("
        assert [label for label in labels if label.startswith(common.md(head))], head
        for reason in s.health.reasons:
            assert health.readable(reason) in shown, reason  # whole, not shortened
    assert "fraud-detector" in unhealthy and len(rows.loc["fraud-detector", "trend"]) > 5
    assert max(rows.loc["fraud-detector", "trend"]) >= health.TREND_HEIGHTS["warning"]

    (full,) = [e for e in at.expander if e.label.startswith("Why, in full")]
    text = texts(full)
    for s in query.status():
        assert f"{s.model.name}** · {health.health_text(s.health.status)}" in text
        for reason in rows.loc[s.model.name, "why"]:
            assert reason in text


def test_a_model_without_a_reference_is_said_so_never_none(
    pipeline: Deployment, app_factory: Any
) -> None:
    at = app_factory(pipeline)
    rows = table(at, "trend").set_index("model")
    assert rows.loc["churn", "reference"] == health.NO_REFERENCE
    assert "driftwatch baseline set --model churn" in rows.loc["churn", "reasons"]
    assert not rows["reference"].isna().any()
    notices = [w.value for w in at.warning]
    (notice,) = [n for n in notices if "have no reference" in n]
    assert notice.startswith("**1 of 3 models have no reference**") and "churn" in notice


def test_the_page_never_says_all_is_well_while_models_lack_a_reference(
    partial: Deployment, app_factory: Any
) -> None:
    at = app_factory(partial)  # fraud-detector has a reference; no model has traffic
    assert not at.exception
    shown = texts(at)
    assert "No model drifts or underperforms" not in shown
    assert "No model with a reference drifts or underperforms right now." in shown
    assert "2 of 3 models have no reference" in shown
    (notice,) = [w.value for w in at.warning if "have no reference" in w.value]
    assert "churn" in notice and "delivery-eta" in notice and "fraud" not in notice
    rows = table(at, "trend").set_index("model")
    assert rows.loc["fraud-detector", "reference"] != health.NO_REFERENCE
    assert list(rows.loc[["churn", "delivery-eta"], "reference"]) == [health.NO_REFERENCE] * 2


def test_dead_letters_naming_no_configured_model_are_shown(
    empty: Deployment, app_factory: Any
) -> None:
    """Counted as the daemon counts them (the checkpoint's writer), under no configured model."""
    client = redis.Redis.from_url(empty.redis_url)
    keys = Keys(empty.settings.redis.key_prefix)
    checkpoint = Checkpoint(client, keys, empty.settings.kafka.group_id)
    effects = Effects()
    effects.counters[UNKNOWN_MODEL].update(
        {DEAD: 12, DEAD_PREFIX + "unknown_model": 10, DEAD_PREFIX + "bad_json": 2}
    )
    now_ms = int(time.time() * 1000)
    checkpoint.apply(checkpoint.claim("t", 0), 0, 1, effects, now_ms, fresh=True)

    at = app_factory(empty)
    assert not at.exception
    (notice,) = [w.value for w in at.warning if "dead letter" in w.value]
    said = texts(at)
    assert "12 dead letter(s) name no configured model or no readable one" in said
    assert "(bad_json 2, unknown_model 10)" in said
    assert empty.settings.kafka.dead_letter_topic in said and notice
    assert (table(at, "trend")["dead_letters"] == 0).all()  # no model's row counts them


def test_filters_sit_in_an_expander_above_the_table(pipeline: Deployment, app_factory: Any) -> None:
    at = app_factory(pipeline)
    (filters,) = [e for e in at.expander if e.label == "Filter and sort"]
    assert {w.key for w in filters.multiselect} == {"owner_filter", "health_filter"}
    filters.multiselect(key="health_filter").select("INSUFFICIENT DATA").run()
    shown = table(at, "trend")
    assert list(shown["model"]) == ["churn"]  # no reference, so never judged
    assert list(shown["health"]) == [health.health_text("INSUFFICIENT DATA")]
    assert "1 of 3 models match the filters." in texts(at)
