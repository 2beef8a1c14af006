"""The ``driftwatch status --json`` document: a contract scripts and alerting rely on.

It is built here, from :class:`~monitor.store.query.Query` results, rather than in the CLI, so
that the command only prints it and anything else reading the store can produce the very same
document. Each level is a :class:`msgspec.Struct`, which gives three things at once: the key
order of the output (declaration order), an encoder that needs no intermediate dicts, and the JSON
Schema of the contract (:func:`schema_text`, committed as ``docs/schemas/status.json``; a test
fails when the two disagree, so the contract only ever changes on purpose).

Absent values are ``null``, never missing keys. Statistics that could not be computed (a window
too small, a metric without labelled pairs) are NaN in the store and ``null`` here, since JSON has
no NaN: such fields are typed ``float | None``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, TypeVar

import msgspec

from monitor.config import TaskType
from monitor.store.query import ModelStatus, Query
from monitor.vocab.verdicts import (
    MODEL,
    FeatureQuality,
    HealthStatus,
    Severity,
    Status,
    Verdict,
    WindowEvaluation,
)

D = TypeVar("D", bound=msgspec.Struct)
#: A statistic that is ``null`` when it could not be computed.
Statistic = Annotated[float | None, msgspec.Meta(description="null: not computable (too few rows)")]
#: Metric name → value; ``null`` values: not computable (e.g. AUC without both classes).
Metrics = Mapping[str, float | None]


class ChangePoint(msgspec.Struct, frozen=True):
    """Where one of the model's online detectors (``drift.detector``) saw a change."""

    stream: Annotated[str, msgspec.Meta(description="error (joined pairs) or prediction")]
    ts: Annotated[float, msgspec.Meta(description="event time of the change, Unix seconds")]


class DriftedFeature(msgspec.Struct, frozen=True):
    """A feature or model output whose drift verdict in the window is ``drift``."""

    feature: str
    statistic: str
    value: float
    threshold: float
    p_value: float | None
    severity: Severity
    expected_false_alarm_rate: float


class VerdictDoc(msgspec.Struct, frozen=True):
    """A performance or data-quality verdict, with the reasons it gives."""

    feature: str
    statistic: str
    value: Statistic
    threshold: Statistic
    p_value: float | None
    n: int
    status: Status
    severity: Severity
    expected_false_alarm_rate: float
    reasons: list[str]


class LatestWindow(msgspec.Struct, frozen=True):
    """The newest window with a verdict (the newest window may still be nearly empty)."""

    window_start: int
    version: str
    reference: str
    n: int
    n_labelled: int
    drifted: list[DriftedFeature]
    performance: Metrics
    reference_performance: Metrics
    performance_verdicts: list[VerdictDoc]
    quality: dict[str, FeatureQuality]
    quality_raised: Annotated[
        list[VerdictDoc], msgspec.Meta(description="the data-quality verdicts saying degraded")
    ]


class RollingView(msgspec.Struct, frozen=True):
    """The last ``windows.rolling_windows`` windows of the newest version, evaluated as one."""

    since: Annotated[int, msgspec.Meta(description="start of the first window, Unix seconds")]
    n: int
    n_labelled: int
    drifted: Annotated[list[str], msgspec.Meta(description="names of the drifted features")]
    performance: Metrics


class ModelStatusDoc(msgspec.Struct, frozen=True):
    """One model: health and why, ingestion totals, change points, newest and rolling view."""

    model: str
    owner: str
    task: TaskType
    health: Annotated[
        HealthStatus | None, msgspec.Meta(description="null before the first evaluation")
    ]
    reasons: list[str]
    since: Annotated[
        float | None, msgspec.Meta(description="WARN or CRITICAL since then, Unix seconds")
    ]
    predictions: int
    outcomes: int
    joined: int
    label_coverage: float | None
    mean_label_delay_seconds: float | None
    expired_predictions: int
    orphan_outcomes: int
    dead_letters: int
    dead_by_reason: dict[str, int]
    last_event_ts: Annotated[
        float | None, msgspec.Meta(description="newest event time seen, Unix seconds")
    ]
    change_points: list[ChangePoint]
    latest_window: LatestWindow | None
    rolling: RollingView | None


class StatusDocument(msgspec.Struct, frozen=True):
    """What ``driftwatch status --json`` prints."""

    models: list[ModelStatusDoc]
    unknown_model_dead_letters: Annotated[
        dict[str, int],
        msgspec.Meta(description="dead letters by reason whose model is unreadable or unknown"),
    ]


def status_document(
    query: Query, rows: Sequence[ModelStatus], *, change_points_since: float
) -> StatusDocument:
    """The document of ``rows`` (from :meth:`Query.status`), with each model's change points at
    or after ``change_points_since``: the CLI passes the span health looks back over
    (``performance.change_point_span_seconds``), so the points listed are those that count."""
    return StatusDocument(
        models=[
            model_status_doc(row, query.change_points(row.model.name, since=change_points_since))
            for row in rows
        ],
        unknown_model_dead_letters=query.unknown_model_counts().dead_by_reason,
    )


def model_status_doc(
    row: ModelStatus, change_points: Sequence[tuple[str, float]]
) -> ModelStatusDoc:
    """One model's part of the document; ``change_points`` as :meth:`Query.change_points`
    returns them, (stream, event time)."""
    counts, health = row.counts, row.health
    return ModelStatusDoc(
        model=row.model.name,
        owner=row.model.owner,
        task=row.model.task,
        health=health.status if health else None,
        reasons=health.reasons if health else [],
        since=health.since if health else None,
        predictions=counts.predictions,
        outcomes=counts.outcomes,
        joined=counts.joined,
        label_coverage=counts.label_coverage,
        mean_label_delay_seconds=counts.mean_label_delay_seconds,
        expired_predictions=counts.expired_predictions,
        orphan_outcomes=counts.orphan_outcomes,
        dead_letters=counts.dead,
        dead_by_reason=counts.dead_by_reason,
        last_event_ts=counts.last_event_ts,
        change_points=[ChangePoint(stream, ts) for stream, ts in change_points],
        latest_window=None if row.latest is None else _latest_window(row.latest),
        rolling=None if row.rolling is None else _rolling_view(row.rolling),
    )


def schema_text() -> str:
    """The JSON Schema of :class:`StatusDocument` exactly as ``docs/schemas/status.json`` holds
    it (regenerate that file with ``python -m monitor.store.status``)."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:driftwatch:schema:status",
        **msgspec.json.schema(StatusDocument),
    }
    return json.dumps(schema, indent=2) + "\n"


def _drifted(evaluation: WindowEvaluation) -> list[Verdict]:
    """Feature and output verdicts saying drift; the model-level verdict only sums them up."""
    return [v for v in evaluation.verdicts if v.status == "drift" and v.feature != MODEL]


def _latest_window(ev: WindowEvaluation) -> LatestWindow:
    return LatestWindow(
        window_start=ev.window_start,
        version=ev.version,
        reference=ev.reference,
        n=ev.n,
        n_labelled=ev.n_labelled,
        drifted=[_part(v, DriftedFeature) for v in _drifted(ev)],
        performance=ev.performance,
        reference_performance=ev.reference_performance,
        performance_verdicts=[_verdict_doc(v) for v in ev.performance_verdicts],
        quality=ev.quality,
        quality_raised=[_verdict_doc(v) for v in ev.quality_verdicts if v.status == "degraded"],
    )


def _rolling_view(ev: WindowEvaluation) -> RollingView:
    return RollingView(
        since=ev.window_start,
        n=ev.n,
        n_labelled=ev.n_labelled,
        drifted=[v.feature for v in _drifted(ev)],
        performance=ev.performance,
    )


def _verdict_doc(v: Verdict) -> VerdictDoc:
    return _part(v, VerdictDoc)


def _part(v: Verdict, doc: type[D]) -> D:
    """The fields of ``v`` that the document's ``doc`` type names (NaN stays NaN: ``null``)."""
    return msgspec.convert(v, doc, from_attributes=True)


if __name__ == "__main__":
    print(schema_text(), end="")
