"""An alert's evidence link opens the page and the view that show its evidence, in one click."""

from __future__ import annotations

import pytest

from monitor.vocab.alerts import ALERTNAMES, Alert, evidence_page


def alert(kind: str, feature: str = "", window: str = "") -> Alert:
    labels = {"alertname": ALERTNAMES[kind], "model": "m", "severity": "critical"}
    if feature:
        labels["feature"] = feature
    return Alert(labels, {"window_start": window} if window else {}, "firing")


@pytest.mark.parametrize(
    ("kind", "feature", "page", "view"),
    [
        ("feature_drift", "amount", "feature", None),
        ("prediction_drift", "__prediction__", "feature", None),
        ("data_quality", "city", "feature", None),
        ("data_quality", "__model__", "model", "quality"),
        ("feature_drift", "__model__", "model", None),
        ("performance", "mae", "model", "performance"),
        ("estimated_performance", "f1", "model", "performance"),
        ("change_point", "", "model", "performance"),
        ("label_coverage", "", "model", "labels"),
        ("label_delay", "", "model", "labels"),
        ("stale_data", "", "model", "quality"),
        ("dead_letters", "", "model", "quality"),
        ("retrain_failed", "", "model", "history"),
    ],
)
def test_each_kind_links_to_the_page_and_view_of_its_evidence(
    kind: str, feature: str, page: str, view: str | None
) -> None:
    found_page, params = evidence_page(alert(kind, feature, window="1795449600"))
    assert found_page == page
    assert params.get("view") == view
    assert params["model"] == "m" and params["window"] == "1795449600"
    assert params.get("feature") == (feature if page == "feature" else None)


def test_without_a_window_the_link_names_none() -> None:
    assert evidence_page(alert("label_delay")) == ("model", {"model": "m", "view": "labels"})


def test_every_alert_kind_has_a_page() -> None:
    """A new rule kind without a view would open the model page wherever it falls."""
    for kind in ALERTNAMES:
        page, params = evidence_page(alert(kind, "x"))
        assert page == "feature" or "view" in params, kind
