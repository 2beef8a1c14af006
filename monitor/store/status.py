"""The ``driftwatch status --json`` document, version 1: a contract scripts and alerting rely on.

It is built here, from :class:`~monitor.store.query.Query` results, rather than in the CLI, so
that the command only prints it and anything else reading the store can produce the very same
document. Each level is a :class:`msgspec.Struct`, which gives three things at once: the key
order of the output (declaration order), an encoder that needs no intermediate dicts, and the JSON
Schema of the contract (:func:`schema_text`, committed as ``docs/schemas/status.v1.json``; a test
fails when the two disagree, so the contract only ever changes on purpose).

Absent or unknown values are ``null``, never missing keys or empty strings. Statistics that could
not be computed (a window too small, a metric without labelled pairs) are NaN in the store and
``null`` here, since JSON has no NaN: such fields are typed ``float | None``. Times are ISO 8601
in UTC to the second (``2027-01-15T08:00:00Z``), which scripts and people read alike; numbers are
rounded by :func:`encode` to 6 significant digits, more than any verdict depends on and few
enough to read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar

import msgspec

from monitor.config import TaskType
from monitor.store.query import ModelStatus, Query
from monitor.times import iso_utc
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
#: Significant digits of every number in the encoded document.
DIGITS = 6
#: A time: ISO 8601 in UTC, to the second.
Time = Annotated[
    str,
    msgspec.Meta(
        description="ISO 8601 time in UTC, e.g. 2027-01-15T08:00:00Z",
        extra_json_schema={"format": "date-time"},
    ),
]
#: A statistic that is ``null`` when it could not be computed.
Statistic = Annotated[float | None, msgspec.Meta(description="null: not computable (too few rows)")]
#: Metric name → value; ``null`` values: not computable (e.g. AUC without both classes).
Metrics = Mapping[str, float | None]


class ChangePoint(msgspec.Struct, frozen=True):
    """Where one of the model's online detectors (``drift.detector``) saw a change."""

    stream: Annotated[str, msgspec.Meta(description="error (joined pairs) or prediction")]
    ts: Annotated[Time, msgspec.Meta(description="event time of the change")]


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

    window_start: Time
    window_end: Annotated[Time, msgspec.Meta(description="exclusive: the next window's start")]
    version: Annotated[str | None, msgspec.Meta(description="model version; null if none sent")]
    reference: Annotated[
        str | None, msgspec.Meta(description="reference profile version; null: none set")
    ]
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
    estimated_performance: Annotated[
        Metrics,
        msgspec.Meta(
            description="a binary classifier's performance estimated from the window's scores, "
            "before labels (empty: no estimate)"
        ),
    ] = {}
    estimated_bands: Annotated[
        dict[str, list[Statistic]],
        msgspec.Meta(description="per estimated metric, [low, high]: the 95 % band its realized "
                     "value should fall in while the reference's calibration holds"),
    ] = {}  # fmt: skip
    estimated_verdicts: Annotated[
        list[VerdictDoc],
        msgspec.Meta(description="estimated metrics judged like realized ones; realized "
                     "verdicts take precedence once labels suffice"),
    ] = []  # fmt: skip
    estimation_refused: Annotated[
        str | None,
        msgspec.Meta(description="why a binary classifier's performance was not estimated"),
    ] = None


class RollingView(msgspec.Struct, frozen=True):
    """The last ``windows.rolling_windows`` windows of the newest version, evaluated as one."""

    since: Annotated[Time, msgspec.Meta(description="start of the first window")]
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
        Time | None, msgspec.Meta(description="WARN or CRITICAL since then; null when healthy")
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
        Time | None, msgspec.Meta(description="newest event time seen; null: no event yet")
    ]
    change_points: list[ChangePoint]
    latest_window: LatestWindow | None
    rolling: RollingView | None


class StatusDocument(msgspec.Struct, frozen=True):
    """What ``driftwatch status --json`` prints."""

    generated_at: Annotated[Time, msgspec.Meta(description="when the document was read")]
    models: list[ModelStatusDoc]
    unknown_model_dead_letters: Annotated[
        dict[str, int],
        msgspec.Meta(description="dead letters by reason whose model is unreadable or unknown"),
    ]


def status_document(
    query: Query,
    rows: Sequence[ModelStatus],
    *,
    change_points_since: float,
    generated_at: float,
    window_seconds: int,
) -> StatusDocument:
    """The document of ``rows`` (from :meth:`Query.status`), with each model's change points at
    or after ``change_points_since``: the CLI passes the span health looks back over
    (``performance.change_point_span_seconds``), so the points listed are those that count.
    ``window_seconds`` (``windows.size_seconds``) gives each window its end."""
    return StatusDocument(
        generated_at=iso_utc(generated_at),
        models=[
            model_status_doc(
                row,
                query.change_points(row.model.name, since=change_points_since),
                window_seconds,
            )
            for row in rows
        ],
        unknown_model_dead_letters=query.unknown_model_counts().dead_by_reason,
    )


def model_status_doc(
    row: ModelStatus, change_points: Sequence[tuple[str, float]], window_seconds: int
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
        since=_time(health.since if health else None),
        predictions=counts.predictions,
        outcomes=counts.outcomes,
        joined=counts.joined,
        label_coverage=counts.label_coverage,
        mean_label_delay_seconds=counts.mean_label_delay_seconds,
        expired_predictions=counts.expired_predictions,
        orphan_outcomes=counts.orphan_outcomes,
        dead_letters=counts.dead,
        dead_by_reason=counts.dead_by_reason,
        last_event_ts=_time(counts.last_event_ts),
        change_points=[ChangePoint(stream, iso_utc(ts)) for stream, ts in change_points],
        latest_window=None if row.latest is None else _latest_window(row.latest, window_seconds),
        rolling=None if row.rolling is None else _rolling_view(row.rolling),
    )


def encode(doc: StatusDocument) -> bytes:
    """The document as printed: indented JSON, every number rounded to :data:`DIGITS`
    significant digits and every non-finite one ``null``.

    Rounding happens here, once for the whole tree, rather than field by field while building:
    nested parts (quality rates, metric maps) are covered without a rule each, and the structs
    keep full precision for callers that compute with them.
    """
    return msgspec.json.format(msgspec.json.encode(_rounded(msgspec.to_builtins(doc))), indent=2)


def _rounded(value: Any) -> Any:
    """``value`` (plain JSON data) with its floats rounded and NaN or infinities ``null``."""
    if isinstance(value, float):
        return float(f"{value:.{DIGITS}g}") if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _time(ts: float | None) -> str | None:
    return None if ts is None else iso_utc(ts)


def schema_text() -> str:
    """The JSON Schema of :class:`StatusDocument` exactly as ``docs/schemas/status.v1.json``
    holds it (regenerate that file with ``python -m monitor.store.status``)."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:driftwatch:schema:status.v1",
        **msgspec.json.schema(StatusDocument),
    }
    return json.dumps(schema, indent=2) + "\n"


def _drifted(evaluation: WindowEvaluation) -> list[Verdict]:
    """Feature and output verdicts saying drift; the model-level verdict only sums them up."""
    return [v for v in evaluation.verdicts if v.status == "drift" and v.feature != MODEL]


def _latest_window(ev: WindowEvaluation, window_seconds: int) -> LatestWindow:
    return LatestWindow(
        window_start=iso_utc(ev.window_start),
        window_end=iso_utc(ev.window_start + window_seconds),
        version=ev.version or None,
        reference=ev.reference or None,
        n=ev.n,
        n_labelled=ev.n_labelled,
        drifted=[_part(v, DriftedFeature) for v in _drifted(ev)],
        performance=ev.performance,
        reference_performance=ev.reference_performance,
        performance_verdicts=[_verdict_doc(v) for v in ev.performance_verdicts],
        quality=ev.quality,
        quality_raised=[_verdict_doc(v) for v in ev.quality_verdicts if v.status == "degraded"],
        estimated_performance=ev.estimated_performance,
        estimated_bands={k: list(band) for k, band in ev.estimated_bands.items()},
        estimated_verdicts=[_verdict_doc(v) for v in ev.estimated_verdicts],
        estimation_refused=ev.estimation_refused or None,
    )


def _rolling_view(ev: WindowEvaluation) -> RollingView:
    return RollingView(
        since=iso_utc(ev.window_start),
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
