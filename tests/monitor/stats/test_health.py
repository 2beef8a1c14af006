"""A model's health: the worst signal of its newest window with enough data, with reasons."""

from __future__ import annotations

from pathlib import Path

from monitor import config
from monitor.stats.health import health
from monitor.vocab.verdicts import Verdict, WindowEvaluation

ROOT = Path(__file__).resolve().parents[3]
MODEL = config.load(ROOT / "config.toml").model("fraud-detector")


def model_verdict(start: int, status: str, severity: str, reasons: tuple[str, ...] = ()) -> Verdict:
    return Verdict(
        MODEL.name, "__model__", "drifted_share", 0.0, 0.0, None, 500, status, severity,  # type: ignore[arg-type]
        start, "r1", 0.01, reasons,
    )  # fmt: skip


def evaluation(start: int, verdict: Verdict, **extra: object) -> WindowEvaluation:
    return WindowEvaluation(
        model=MODEL.name, window_start=start, version="v1", reference="r1", n=500,
        n_labelled=extra.pop("n_labelled", 0), evaluated_at=0.0, verdicts=[verdict], **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def test_no_evaluation_or_only_small_windows_is_insufficient_data() -> None:
    assert health(MODEL, [], now=1).status == "INSUFFICIENT DATA"
    small = evaluation(0, model_verdict(0, "insufficient", "insufficient"))
    assert health(MODEL, [small], now=1).status == "INSUFFICIENT DATA"


def test_newest_sufficient_window_decides_and_reasons_say_why() -> None:
    old = evaluation(0, model_verdict(0, "drift", "critical", ("amount: psi 0.4 > 0.1",)))
    new = evaluation(300, model_verdict(300, "ok", "ok"))
    newer_small = evaluation(600, model_verdict(600, "insufficient", "insufficient"))
    result = health(MODEL, [old, new, newer_small], now=1)
    assert (result.status, result.window_start) == ("OK", 300)
    result = health(MODEL, [old], now=1)
    assert result.status == "CRITICAL"
    assert result.reasons == ["amount: psi 0.4 > 0.1"]


def test_performance_drop_and_data_quality_raise_the_status() -> None:
    """Health takes the worst performance verdict (``stats/performance_verdict.py`` decides
    them; here they are given) and says why."""
    degraded = Verdict(
        MODEL.name, "__performance__", "roc_auc", 0.70, 0.83, 0.0005, 400, "degraded",
        "critical", 0, "r1", 0.0033, ("roc_auc 0.7 vs reference 0.85 at n=400 labels",),
    )  # fmt: skip
    perf = evaluation(
        0, model_verdict(0, "ok", "ok"), n_labelled=400, performance_verdicts=[degraded]
    )
    result = health(MODEL, [perf], now=1)
    assert result.status == "CRITICAL"
    assert "roc_auc" in result.reasons[0]
    missing = Verdict(
        MODEL.name, "amount", "missing_rate", 0.22, 0.12, 1e-9, 500, "degraded", "warning", 0,
        "r1", 0.001, ("amount: missing rate 22.0% vs reference 10.0% at n=500",),
    )  # fmt: skip
    quality = evaluation(0, model_verdict(0, "ok", "ok"), quality_verdicts=[missing])
    result = health(MODEL, [quality], now=1)
    assert result.status == "WARN"
    assert result.reasons == ["amount: missing rate 22.0% vs reference 10.0% at n=500"]


def test_an_error_stream_change_point_warns_until_the_windows_confirm_it() -> None:
    """The online detector fires on the error stream: a warning with its time; once a window's
    performance verdict degrades too, critical. Prediction-stream change points say nothing
    about performance."""
    ok = evaluation(0, model_verdict(0, "ok", "ok"))
    result = health(MODEL, [ok], now=1, change_points=[("prediction", 900.0)])
    assert result.status == "OK"
    result = health(MODEL, [ok], now=1, change_points=[("error", 1_800_000_000.0)])
    assert result.status == "WARN"
    assert "error rate change at 2027-01-15 08:00 UTC" in result.reasons[-1]
    degraded = Verdict(
        MODEL.name, "__performance__", "accuracy", 0.85, 0.9, 0.001, 900, "degraded", "warning",
        0, "r1", 0.003, ("accuracy 0.85 vs reference 0.95 at n=900 labels",),
    )  # fmt: skip
    worse = evaluation(0, model_verdict(0, "ok", "ok"), performance_verdicts=[degraded])
    result = health(MODEL, [worse], now=1, change_points=[("error", 1_800_000_000.0)])
    assert result.status == "CRITICAL" and "confirmed" in result.reasons[-1]


def test_insufficient_data_says_which_fix_applies() -> None:
    """No traffic, no reference and too few rows each need a different action."""
    assert "no traffic" in health(MODEL, [], now=1).reasons[0]
    unreferenced = WindowEvaluation(
        model=MODEL.name, window_start=0, version="v1", reference="", n=5000, n_labelled=0,
        evaluated_at=0.0,
    )  # fmt: skip
    assert "driftwatch baseline set" in health(MODEL, [unreferenced], now=1).reasons[0]
    small = evaluation(
        0, model_verdict(0, "insufficient", "insufficient", ("window has 12 rows, fewer",))
    )
    assert "window has 12 rows" in health(MODEL, [small], now=1).reasons[0]


def test_since_is_the_start_of_the_current_unhealthy_run_whatever_the_signal() -> None:
    """Drift, a degraded metric or rate, in any mix, make a run; windows without enough data
    neither extend nor break it; an OK window ends it."""
    hour = 3600
    missing = Verdict(
        MODEL.name, "amount", "missing_rate", 0.22, 0.12, 1e-9, 500, "degraded", "warning",
        2 * hour, "r1", 0.001, ("amount: missing rate 22.0%",),
    )  # fmt: skip
    evs = [
        evaluation(0, model_verdict(0, "drift", "warning")),
        evaluation(hour, model_verdict(hour, "ok", "ok")),
        evaluation(2 * hour, model_verdict(2 * hour, "ok", "ok"), quality_verdicts=[missing]),
        evaluation(3 * hour, model_verdict(3 * hour, "insufficient", "insufficient")),
        evaluation(4 * hour, model_verdict(4 * hour, "drift", "critical")),
    ]
    result = health(MODEL, evs, now=1)
    assert (result.status, result.since) == ("CRITICAL", 2 * hour)
    ok = evaluation(5 * hour, model_verdict(5 * hour, "ok", "ok"))
    assert health(MODEL, [*evs, ok], now=1).since is None


def test_since_carries_over_a_run_longer_than_the_windows_looked_at() -> None:
    """The evaluator looks at the newest few windows; the health stored before remembers when
    the run began, unless a healthy window ended it in between."""
    hour = 3600
    before = health(MODEL, [evaluation(0, model_verdict(0, "drift", "warning"))], now=1)
    assert before.since == 0
    newest = [evaluation(h * hour, model_verdict(h * hour, "drift", "warning")) for h in (5, 6)]
    assert health(MODEL, newest, now=2, previous=before).since == 0
    ended = [evaluation(5 * hour, model_verdict(5 * hour, "ok", "ok")), *newest[1:]]
    assert health(MODEL, ended, now=2, previous=before).since == 6 * hour
    # A change point alone (windows fine) dates the warning.
    cp = health(MODEL, ended[:1], now=2, change_points=[("error", 19_000.0), ("error", 20_000.0)])
    assert (cp.status, cp.since) == ("WARN", 19_000.0)
