"""Messages people can act on: the title says what broke, the body holds the evidence and a link."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from monitor.alert.message import body, evidence_link, fallback, render, title
from monitor.alert.notification import Notification
from monitor.times import duration
from monitor.vocab.alerts import Alert

URL = "http://dashboards.example.com:8501"
T0 = 1_795_449_600.0  # 2026-11-23 16:00 UTC
LABELS = {"alertname": "FeatureDrift", "model": "fraud-detector", "severity": "critical",
          "owner": "team-fraud", "feature": "amount"}  # fmt: skip
NOTES = {"summary": "feature drift: amount", "statistic": "psi", "value": "0.31",
         "threshold": "0.2", "n": "5000", "p_value": "0.001", "version": "v7",
         "reference": "train-2026-10", "window_start": "1795449600",
         "description": "amount moved to larger values"}  # fmt: skip


def alert(**labels: str) -> Alert:
    present = {k: v for k, v in {**LABELS, **labels}.items() if v}  # "" drops a label
    return Alert(present, dict(NOTES), "firing", T0, T0 + 1800, T0 + 3600)


def resolved(a: Alert, after: float) -> Alert:
    fired = a.fired_at or T0
    return Alert(
        a.labels, a.annotations, "resolved", a.active_since, fired, resolved_at=fired + after
    )


def note(
    firing: tuple[Alert, ...] = (), gone: tuple[Alert, ...] = (), test: bool = False
) -> Notification:
    return Notification("team-fraud", "route:{model=fraud-detector}", {"model": "fraud-detector"},
                        firing, gone, test)  # fmt: skip


def test_title_names_severity_model_and_what() -> None:
    assert title(note((alert(),))) == "[CRITICAL] fraud-detector: feature drift: amount"
    warn = alert(severity="warning", alertname="PredictionDrift", feature="__prediction__")
    assert title(note((warn,))) == "[WARNING] fraud-detector: prediction drift: prediction"
    stale = Alert({k: v for k, v in LABELS.items() if k != "feature"} | {"alertname": "StaleData"},
                  {"value": "3.5", "threshold": "2"}, "firing", T0, T0)  # fmt: skip
    assert title(note((stale,))) == "[CRITICAL] fraud-detector: stale data"


def test_a_resolve_is_marked_and_says_how_long_it_lasted() -> None:
    done = resolved(alert(), after=2 * 3600 + 15 * 60)
    t, b = render(note(gone=(done,)), URL)
    assert t == "[RESOLVED] fraud-detector: feature drift: amount"
    assert "Lasted: 2 h 15 min (2026-11-23 16:30 UTC → 2026-11-23 18:45 UTC)" in b.splitlines()


def test_a_test_message_says_so() -> None:
    assert title(note((alert(),), test=True)).startswith("[TEST] [CRITICAL] fraud-detector")
    empty = note(test=True)
    assert title(empty) == "[TEST] driftwatch: test notification to receiver team-fraud"
    assert "no action needed" in body(empty, URL)


def test_body_holds_the_evidence_since_when_version_owner_and_link() -> None:
    lines = body(note((alert(),)), URL).splitlines()
    assert lines == [
        "Evidence: psi 0.31 vs threshold 0.2, n=5000, p=0.001",
        "Why: amount moved to larger values",
        "Since: 2026-11-23 16:00 UTC (firing since 2026-11-23 16:30 UTC)",
        "Version: v7, reference train-2026-10",
        "Owner: team-fraud",
        f"Dashboard: {URL}/feature?model=fraud-detector&feature=amount&window=1795449600",
    ]


def test_links_use_the_dashboards_deep_link_parameters() -> None:
    """docs/dashboard.md: ``/feature`` and ``/model`` with ``model``, ``feature``, ``window``."""
    link = evidence_link(alert(feature="a b&c", model="m/1"), URL + "/")
    parts = urlsplit(link)
    assert parts.path == "/feature"
    assert parse_qs(parts.query) == {
        "model": ["m/1"],
        "feature": ["a b&c"],
        "window": ["1795449600"],
    }
    # A performance alert's feature label is a metric: the Model page's performance view shows
    # it at the window.
    perf = alert(alertname="PerformanceDegraded", feature="accuracy")
    assert evidence_link(perf, URL) == (
        f"{URL}/model?model=fraud-detector&view=performance&window=1795449600"
    )
    # Without a window (stale data, label delay) the model page's view of it.
    bare = Alert({"alertname": "StaleData", "model": "fraud-detector"}, {}, "firing", T0, T0)
    assert evidence_link(bare, URL) == f"{URL}/model?model=fraud-detector&view=quality"


def test_without_a_public_url_the_body_has_no_link() -> None:
    assert "Dashboard" not in body(note((alert(),)), None)
    assert "http" not in body(note((alert(),)), "")


def test_a_group_is_one_summary_line_and_one_line_per_alert() -> None:
    firing = tuple(alert(feature=f) for f in ("amount", "age", "income", "country"))
    gone = (resolved(alert(alertname="StaleData", severity="warning", feature=""), 600),)
    t, b = render(note(firing, gone), URL)
    assert t == ("[CRITICAL] fraud-detector: feature drift: amount, age, income, +1 more "
                 "(4 firing, 1 resolved)")  # fmt: skip
    lines = b.splitlines()
    assert lines[0] == "4 firing, 1 resolved · group model=fraud-detector"
    assert len(lines) == 1 + 5
    assert lines[1] == (
        "- [CRITICAL] fraud-detector: feature drift: amount · psi 0.31 vs threshold 0.2, n=5000, "
        "p=0.001 · since 2026-11-23 16:00 UTC (firing since 2026-11-23 16:30 UTC) · version v7, "
        f"reference train-2026-10 · owner team-fraud · {URL}/feature?model=fraud-detector&"
        "feature=amount&window=1795449600"
    )
    assert lines[5].startswith("- [RESOLVED] fraud-detector: stale data · ")
    assert "lasted 10 min" in lines[5]


def test_a_group_title_takes_the_worst_severity_and_names_kinds() -> None:
    mixed = (alert(severity="warning"), alert(alertname="StaleData", feature=""))
    assert (
        title(note(mixed))
        == "[CRITICAL] fraud-detector: feature drift: amount; stale data (2 firing)"
    )
    two_models = (alert(model="a"), alert(model="b"))
    assert title(note(two_models)).startswith("[CRITICAL] 2 models: feature drift: amount")


def test_the_fallback_says_whose_message_it_carries() -> None:
    t, b = fallback("[CRITICAL] m: x", "details", "pagerduty", "gave up after 3 attempt(s)")
    assert t == "[FALLBACK for pagerduty] [CRITICAL] m: x"
    assert b.startswith("Receiver pagerduty could not be reached (gave up after 3 attempt(s))")
    assert b.endswith("\n\ndetails")


def test_duration_reads_naturally() -> None:
    assert [duration(s) for s in (0, 59, 60, 3599, 3600, 86399, 90000)] == [
        "0 s", "59 s", "1 min", "59 min", "1 h 0 min", "23 h 59 min", "1 d 1 h",
    ]  # fmt: skip
