"""Rules: what each kind of evidence says about an alert — breach, clear, or nothing to say.

A rule never decides on its own whether to notify: it turns the model's evidence into
:class:`Signal` s, one per alert identity (labels), and ``monitor/alert/state.py`` moves each
alert through pending, firing and resolved. A signal is three-valued, as Alertmanager's rule
evaluation is not but Driftwatch's verdicts are: ``breach``, ``clear`` — and ``None`` when the
evidence cannot tell (a window too small for a verdict, a metric without labels), which neither
fires nor resolves.

Hysteresis is built in: a verdict rule breaches on verdicts at its severity and clears only on
``ok`` verdicts (a warning keeps a critical alert as it is); a number rule breaches past ``fire``
and clears only past ``clear``.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from monitor.config import ModelSettings
from monitor.config.rules import VERDICT_KINDS, RuleSettings
from monitor.vocab.alerts import ALERTNAME, ALERTNAMES, FEATURE, MODEL, OWNER, SEVERITY
from monitor.vocab.counts import IngestCounts
from monitor.vocab.retrain import RetrainRequest
from monitor.vocab.verdicts import MODEL as MODEL_VERDICT
from monitor.vocab.verdicts import OUTPUTS, Verdict, WindowEvaluation


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything the rules read of one model at one moment (all from the query module)."""

    model: ModelSettings
    now: float
    window_seconds: int
    #: The newest window with a verdict (enough rows), or None.
    judged: WindowEvaluation | None
    counts: IngestCounts
    #: Event times of the error detector's change points within the change-point span.
    error_change_points: Sequence[float] = ()
    #: The model's newest retraining request, if any.
    retraining: RetrainRequest | None = None
    #: When this evaluator started: staleness is not judged during its first window, while
    #: ingestion catches up after a restart (None: judge it).
    evaluating_since: float | None = None


@dataclass(frozen=True, slots=True)
class Signal:
    """What one rule says about one alert identity now."""

    labels: dict[str, str]
    #: True: in breach; False: clear; None: the evidence cannot tell (no state change).
    breach: bool | None
    annotations: dict[str, str] = field(default_factory=dict)
    #: The window the evidence comes from (verdict and window rules): a window re-evaluated
    #: counts once towards ``for_windows``.
    window_start: int | None = None


def signals(rule: RuleSettings, evidence: Evidence) -> Iterator[Signal]:
    """Every signal of ``rule`` for the model in ``evidence``."""
    if rule.models and evidence.model.name not in rule.models:
        return
    if rule.kind in VERDICT_KINDS:
        yield from _verdict_signals(rule, evidence)
    elif rule.kind == "retrain_failed":
        yield _retrain_signal(rule, evidence)
    elif rule.kind == "change_point":
        points = evidence.error_change_points
        note = {"summary": "the online detector saw the error rate change"}
        if points:
            note["since"] = f"{min(points):.0f}"
        yield Signal(_labels(rule, evidence.model), bool(points), note)
    else:
        value, window = _number(rule, evidence)
        yield _compare(rule, evidence.model, value, window)


def could_say(rule: RuleSettings, model: ModelSettings, labels: Mapping[str, str]) -> bool:
    """Whether ``rule`` could make an alert with these labels for ``model`` as configured now.

    False once the config changed under an alert — its rule removed or its severity changed,
    the model's owner changed, its feature dropped — so that the alert can be resolved rather
    than left firing with no rule ever to clear it.
    """
    if rule.models and model.name not in rule.models:
        return False
    feature = labels.get(FEATURE, "")
    if rule.kind == "feature_drift":
        subjects: Container[str] | None = model.features
    elif rule.kind == "prediction_drift":
        subjects = OUTPUTS
    elif rule.kind == "data_quality":
        subjects = (*model.features, *OUTPUTS, MODEL_VERDICT)
    else:
        subjects = None  # a metric, or no feature label at all
    return (
        labels.get(ALERTNAME) == ALERTNAMES[rule.kind]
        and labels.get(SEVERITY) == rule.severity
        and labels.get(OWNER) == model.owner
        and (subjects is None or feature in subjects)
    )


def _labels(rule: RuleSettings, model: ModelSettings, feature: str = "") -> dict[str, str]:
    labels = {
        ALERTNAME: ALERTNAMES[rule.kind],
        MODEL: model.name,
        SEVERITY: rule.severity,
        OWNER: model.owner,
    }
    if feature:
        labels[FEATURE] = feature
    return labels


def _retrain_signal(rule: RuleSettings, evidence: Evidence) -> Signal:
    """Breach while the newest request failed (a person must look: the target refused it or
    never answered); clear once a newer one was delivered or rejected; hold while one is open."""
    request = evidence.retraining
    labels = _labels(rule, evidence.model)
    if request is None or request.open:
        return Signal(labels, None)
    notes = {
        "summary": f"retraining request to {request.target} failed",
        "description": f"{request.id} after {request.attempts} attempt(s): {request.last_error}",
    }
    return Signal(labels, request.state == "failed", notes)


def _verdict_signals(rule: RuleSettings, evidence: Evidence) -> Iterator[Signal]:
    """One signal per feature (or output, or metric): breach on a verdict at the rule's
    severity, clear on ``ok``; data quality takes a feature's worst rate."""
    ev = evidence.judged
    if ev is None:
        return
    by_subject: dict[str, list[Verdict]] = {}
    for v in _verdicts(rule, ev):
        subject = v.feature if rule.kind in _BY_FEATURE else v.statistic
        by_subject.setdefault(subject, []).append(v)
    superseded = _superseded(rule, ev)
    for subject, verdicts in by_subject.items():
        worst = max(verdicts, key=lambda v: _RANK[v.severity])
        breach: bool | None
        if subject in superseded:
            breach = False  # the labels judged this metric: its realized verdict speaks now
        elif _RANK[worst.severity] >= _RANK[rule.severity]:
            breach = True
        elif all(v.severity == "ok" for v in verdicts):
            breach = False
        else:
            breach = None  # insufficient, or a warning under a critical rule: hold
        yield Signal(
            _labels(rule, evidence.model, subject),
            breach,
            _verdict_annotations(rule, subject, worst, ev),
            ev.window_start,
        )


def _verdicts(rule: RuleSettings, ev: WindowEvaluation) -> list[Verdict]:
    if rule.kind == "feature_drift":
        return [v for v in ev.verdicts if v.feature not in (*OUTPUTS, MODEL_VERDICT)]
    if rule.kind == "prediction_drift":
        return [v for v in ev.verdicts if v.feature in OUTPUTS]
    if rule.kind == "performance":
        return list(ev.performance_verdicts)
    if rule.kind == "estimated_performance":
        return list(ev.estimated_verdicts)
    return list(ev.quality_verdicts)


def _superseded(rule: RuleSettings, ev: WindowEvaluation) -> set[str]:
    """Estimated metrics whose realized verdict now exists (none for other rules)."""
    if rule.kind != "estimated_performance":
        return set()
    in_force = {v.statistic for v in ev.estimates_in_force()}
    return {v.statistic for v in ev.estimated_verdicts} - in_force


_RANK = {"insufficient": -1, "ok": 0, "warning": 1, "critical": 2}
_WHAT = {
    "feature_drift": "feature drift",
    "prediction_drift": "prediction drift",
    "performance": "performance degraded",
    "estimated_performance": "performance degraded, estimated before labels",
    "data_quality": "data quality",
}
#: Verdict rules whose alerts are per feature or output (the others: per metric).
_BY_FEATURE = frozenset({"feature_drift", "prediction_drift", "data_quality"})


def _verdict_annotations(
    rule: RuleSettings, subject: str, v: Verdict, ev: WindowEvaluation
) -> dict[str, str]:
    """The evidence a person acts on: what, the statistic against its threshold at its size."""
    notes = {
        "summary": f"{_WHAT[rule.kind]}: {subject}",
        "statistic": v.statistic,
        "value": _number_text(v.value),
        "threshold": _number_text(v.threshold),
        "n": str(v.n),
        "version": ev.version,
        "reference": ev.reference,
        "window_start": str(ev.window_start),
    }
    if v.p_value is not None:
        notes["p_value"] = _number_text(v.p_value)
    if v.reasons:
        notes["description"] = v.reasons[0]
    return notes


def _number(rule: RuleSettings, evidence: Evidence) -> tuple[float | None, int | None]:
    """The value a number rule compares (None: cannot tell yet) and its window, if any."""
    c = evidence.counts
    if rule.kind == "label_coverage":
        return c.label_coverage, None
    if rule.kind == "label_delay":
        mean = c.mean_label_delay_seconds
        return (None if mean is None else mean / 3600.0), None
    if rule.kind == "stale_data":
        # By the wall clock of ingestion: a backlog being replayed has old event times but is
        # traffic all the same. Counters from before that was kept fall back to event time.
        last = c.last_seen if c.last_seen is not None else c.last_event_ts
        if last is None:
            return None, None  # never seen: nothing went stale
        started = evidence.evaluating_since
        if started is not None and evidence.now - started < evidence.window_seconds:
            return None, None  # just (re)started: ingestion first catches up on what it missed
        return (evidence.now - last) / evidence.window_seconds, None
    ev = evidence.judged  # dead_letters: by the window they arrived in
    if ev is None:
        return None, None
    dead = sum(ev.dead_letters.values())
    total = ev.n + dead
    return (dead / total if total else None), ev.window_start


def _compare(
    rule: RuleSettings, model: ModelSettings, value: float | None, window: int | None
) -> Signal:
    direction, fire, clear = rule.thresholds()
    labels = _labels(rule, model)
    if value is None or math.isnan(value):
        return Signal(labels, None, window_start=window)
    if direction == "below":
        breach = True if value < fire else False if value >= clear else None
    else:
        breach = True if value > fire else False if value <= clear else None
    notes = {
        "summary": f"{ALERTNAMES[rule.kind]}: {_number_text(value)} ({direction} {fire:g})",
        "value": _number_text(value),
        "threshold": f"{fire:g}",
    }
    return Signal(labels, breach, notes, window)


def _number_text(x: float | None) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.4g}"
