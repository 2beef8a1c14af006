"""The overview's logic without Streamlit or Redis: health in glyph and word, since when, the trend
of each model's newest windows, the no-reference state, dead letters without a model, and the
coloured cells (issue 17, items 2 and 3)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from dashboard import widgets
from dashboard.figures import common, health
from monitor.config import ModelSettings
from monitor.store.query import ModelStatus, VerdictBrief, WindowBrief
from monitor.vocab.counts import IngestCounts
from monitor.vocab.verdicts import Health

BERLIN = ZoneInfo("Europe/Berlin")
#: 2027-01-15 09:00 UTC, 10:00 in Berlin.
NOW = 1_800_000_000 + 3600
HOUR = 3600


def brief(start: int, drift: str, *, n: int = 500, degraded: tuple[str, ...] = ()) -> WindowBrief:
    """A window whose model-level drift verdict has severity ``drift`` (``insufficient``: too few
    rows) and one degraded performance verdict per ``degraded``."""
    return WindowBrief(
        window_start=start,
        n=n,
        verdicts=[verdict("amount", drift), verdict(common.MODEL_ROW, drift)],
        performance_verdicts=[verdict("__performance__", s, "accuracy") for s in degraded],
    )


def verdict(feature: str, severity: str, statistic: str = "psi") -> VerdictBrief:
    status = {"ok": "ok", "insufficient": "insufficient"}.get(severity, "drift")
    return VerdictBrief(feature, severity, statistic, status)


def status(
    name: str,
    state: str | None,
    since: float | None = None,
    reasons: tuple[str, ...] = ("a reason",),
) -> ModelStatus:
    model = ModelSettings(
        name=name, owner="o@example.com", task="binary", features={"a": "numeric"}
    )
    counts = IngestCounts(predictions=100, outcomes=50, joined=50, last_event_ts=NOW - 60)
    found = Health(name, state, list(reasons), NOW - HOUR, NOW, since) if state else None  # type: ignore[arg-type]
    return ModelStatus(model, counts, found, None, None)


def test_every_health_status_reads_as_a_glyph_and_a_word() -> None:
    assert [health.health_text(s) for s in health.HEALTH_ORDER] == [
        "✕ CRITICAL",
        "! WARN",
        "? INSUFFICIENT DATA",
        "✓ OK",
    ]
    assert health.health_text("ODD") == "ODD"


def test_since_reads_as_the_viewers_clock_and_how_long_ago() -> None:
    assert health.since_text(NOW - 2 * HOUR - 600, NOW, BERLIN) == "07:50 (2 h 10 min ago)"
    assert health.since_text(NOW - 3 * 86400, NOW, BERLIN) == "2027-01-12 10:00 (3 d 0 h ago)"
    assert health.since_text(NOW - 600, NOW, ZoneInfo("UTC")) == "08:50 (10 min ago)"
    assert health.since_text(None, NOW, BERLIN) is None


def test_the_trend_is_each_windows_severity_as_the_health_reads_it() -> None:
    windows = [
        brief(NOW - 5 * HOUR, "insufficient"),  # too few rows: no bar
        brief(NOW - 4 * HOUR, "ok"),
        brief(NOW - 3 * HOUR, "warning"),
        brief(NOW - 2 * HOUR, "ok", degraded=("critical",)),  # inputs fine, the metric is not
        brief(NOW - HOUR, "critical"),
    ]
    kept = health.trend_windows(windows)  # what the dashboard keeps of them
    assert [w.severity for w in kept] == ["insufficient", "ok", "warning", "critical", "critical"]
    assert [(w.window_start, w.n) for w in kept] == [(w.window_start, w.n) for w in windows]
    assert health.trend(kept) == [0, 1, 2, 3, 3]
    two_versions = [brief(NOW, "critical", n=20), brief(NOW, "ok", n=900)]
    assert health.trend(health.trend_windows(two_versions)) == [1]  # the busier version's
    assert health.trend([]) == []
    assert max(health.TREND_HEIGHTS.values()) == health.TREND_HEIGHTS["critical"]


def test_rows_carry_since_trend_whole_reasons_and_a_clear_no_reference_state() -> None:
    long_reason = "amount: psi 0.42 ≥ threshold 0.12 at n=1,000 " + "and more words " * 20
    rows = health.overview_rows(
        [
            status("a", "CRITICAL", since=NOW - 2 * HOUR, reasons=(long_reason, "mae degraded")),
            status("b", "INSUFFICIENT DATA", reasons=("no reference set: run `driftwatch …`",)),
        ],
        {"a": "r1", "b": None},
        BERLIN,
        now=NOW,
        recent={"a": health.trend_windows([brief(NOW - HOUR, "warning"), brief(NOW, "critical")])},
    )
    a, b = rows
    assert a.why == (long_reason, "mae degraded")  # whole: nothing shortened
    assert a.reasons == f"{long_reason}; mae degraded"
    assert a.since is not None and a.since.tzinfo == BERLIN
    assert a.since.timestamp() == NOW - 2 * HOUR
    assert a.since_text == "08:00 (2 h 0 min ago)"
    assert a.trend == [2, 3] and a.reference == "r1"
    assert b.since is None and b.since_text is None and b.trend == []
    assert b.reference == health.NO_REFERENCE and "None" not in b.reference
    # said once, with the command for this model (the daemon's version names none)
    assert b.why == (f"no reference profile: run `{common.baseline_hint('b')}`",)
    assert health.without_reference(rows) == ["b"]


def test_reasons_name_the_models_outputs_as_the_pages_do() -> None:
    (row,) = health.overview_rows(
        [status("a", "WARN", reasons=("__prediction__: psi 0.3 > threshold 0.1",))],
        {"a": "r1"},
        BERLIN,
        now=NOW,
    )
    assert row.why == ("prediction (model output): psi 0.3 > threshold 0.1",)
    assert health.readable("__decision__ and __model__") == (
        "decision (predicted class) and model (all features)"
    )


def test_dead_letters_without_a_model_are_said_with_their_reasons() -> None:
    assert health.unknown_dead_letters_text({}, "dlq") is None
    assert health.unknown_dead_letters_text({"bad_json": 0}, "dlq") is None
    text = health.unknown_dead_letters_text({"unknown_model": 1200, "bad_json": 3}, "dw-dlq")
    assert text is not None
    assert text.startswith("1,203 dead letter(s) name no configured model")
    assert "(bad_json 3, unknown_model 1,200)" in text and "topic dw-dlq" in text


def test_coloured_cells_say_their_value_in_words_and_keep_red_for_critical() -> None:
    table = pd.DataFrame({"model": ["a", "b", "c"], "health": ["CRITICAL", "WARN", "OK"]})
    styled = widgets.coloured(table, "health", health.health_color, health.health_text)
    assert list(styled.data["health"]) == ["✕ CRITICAL", "! WARN", "✓ OK"]
    assert list(table["health"]) == ["CRITICAL", "WARN", "OK"]  # the caller's frame is kept
    ctx = styled._compute().ctx  # each cell's CSS, as st.dataframe reads it
    css = [dict(ctx[(row, 1)]) for row in range(3)]
    backgrounds = [cell["background-color"] for cell in css]
    assert backgrounds == [common.SEVERITY_COLORS[s] for s in ("critical", "warning", "ok")]
    assert [cell["color"] for cell in css] == ["white", "black", "white"]
    assert (0, 0) not in ctx  # other columns keep the theme's look


@pytest.mark.parametrize(
    ("background", "ink"),
    [("#b2182b", "white"), ("#0072b2", "white"), ("#e69f00", "black"), ("#a8a8a8", "black")],
)
def test_cell_text_takes_the_more_contrasting_ink(background: str, ink: str) -> None:
    assert widgets.ink_on(background) == ink
