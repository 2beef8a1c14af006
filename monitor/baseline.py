"""Building a reference profile from a training file or from a period of the stream.

From a file: CSV (header row) and Parquet are read; each configured feature is a column of the
same name, and the prediction, score and label come from columns named by the caller. Empty CSV
cells are missing values; numeric features are parsed as numbers (a cell that is not one counts
as missing, exactly as the daemon counts a wrong-typed value).

From the stream: the predictions (and outcomes) topics are read again from the offsets Kafka
finds for the period's start, through the same decoder as the daemon, keeping the model's events
whose *event time* falls in the period; outcomes found for them give the reference performance.
Kafka locates the period by *record* timestamps, which equal event time when producers send in
real time (the normal case); a topic filled by a later backfill has newer record timestamps, and
its period cannot be found this way — build that reference from a file instead.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from monitor.config import KafkaSettings, ModelSettings, Settings
from monitor.errors import DriftwatchError
from monitor.events import Decoder, Outcome, Prediction
from monitor.ingest.clients import kafka_client
from monitor.stats.reference import build_profile
from monitor.vocab.profile import ReferenceProfile


def read_columns(path: Path) -> dict[str, list[Any]]:
    """Column name → values, from a ``.csv`` or ``.parquet`` file."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq  # pyarrow arrives with streamlit

        return pq.read_table(path).to_pydict()
    if path.suffix != ".csv":
        raise DriftwatchError(f"{path}: use a .csv or .parquet file")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise DriftwatchError(f"{path} has no data rows")
    return {name: [row[name] for row in rows] for name in rows[0]}


def profile_from_file(
    model: ModelSettings,
    path: Path,
    *,
    prediction_column: str,
    score_column: str | None,
    label_column: str | None,
    version: str | None = None,
) -> ReferenceProfile:
    """Build the model's reference profile from a file; errors name the missing column."""
    columns = read_columns(path)
    needed = [*model.features, prediction_column]
    needed += [c for c in (score_column, label_column) if c]
    missing = [c for c in needed if c not in columns]
    if missing:
        raise DriftwatchError(
            f"{path} lacks column(s) {', '.join(missing)}; it has {', '.join(columns)}"
        )
    parse = {"numeric": _numbers, "categorical": _categories, "boolean": _booleans}
    features = {name: parse[kind](columns[name]) for name, kind in model.features.items()}
    predictions = _target(model, columns[prediction_column], prediction_column, required=True)
    labels = None
    if label_column:
        labels = _target(model, columns[label_column], label_column, required=False)
    now = time.time()
    return _build(
        path,
        model,
        features,
        predictions=predictions,
        scores=_numbers(columns[score_column]) if score_column else None,
        labels=labels,
        version=version or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)),
        source=str(path),
        created_at=now,
    )


def _build(origin: object, model: ModelSettings, features: Any, **rest: Any) -> ReferenceProfile:
    """:func:`build_profile`, its complaints as one line that says what to fix."""
    try:
        return build_profile(model, features, **rest)
    except ValueError as exc:
        fix = (
            "the feature's type in the config (numeric, categorical or boolean)"
            if str(exc).startswith("feature")
            else "the columns given (--prediction-column, --score-column, --label-column)"
        )
        raise DriftwatchError(f"{origin}: {exc}. Fix the data, or {fix}") from None


#: CSV spellings of booleans (case-insensitive), as a boolean feature or a binary target reads.
_TRUE, _FALSE = {"true", "1", "1.0", "yes"}, {"false", "0", "0.0", "no"}


def _boolean(value: Any) -> bool | None:
    """A CSV cell or a Parquet value as a bool; None when missing; ValueError when neither."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if not text:
        return None
    raise ValueError(value)


def _booleans(values: Sequence[Any]) -> list[bool | None]:
    """A boolean feature's column: unreadable cells are missing, as wrong types are in windows."""
    out: list[bool | None] = []
    for v in values:
        try:
            out.append(_boolean(v))
        except ValueError:
            out.append(None)
    return out


def _target(model: ModelSettings, values: Sequence[Any], column: str, *, required: bool) -> Any:
    """Predictions or labels as the daemon reads them; a binary one that is neither 0/1 nor a
    boolean names its row (CSV line: the header is line 1)."""
    if model.task == "multiclass":
        return _categories(values)
    if model.task == "regression":
        return _numbers(values)
    out: list[float | None] = []
    for row, value in enumerate(values, start=2):
        try:
            b = _boolean(value)
        except ValueError:
            raise DriftwatchError(
                f"column {column!r}, line {row}: {str(value)[:40]!r} is not a binary class "
                "(0/1, true/false, yes/no); fix the value or choose the right column"
            ) from None
        if b is None and required:
            raise DriftwatchError(
                f"column {column!r}, line {row}: empty; every row needs the model's decision"
            )
        out.append(None if b is None else float(b))
    return out


#: Outcomes can arrive after the period's end; read this much further for them.
LABEL_SLACK_SECONDS = 3600.0
#: Give up waiting for more records after this long without any (the end of the topic).
IDLE_POLL_MS = 2000


def profile_from_stream(
    settings: Settings,
    model: ModelSettings,
    start: float,
    end: float,
    *,
    version: str | None = None,
    progress: Callable[[int], None] = lambda n: None,
) -> ReferenceProfile:
    """Build the model's reference from its events with ``start <= ts < end`` in Kafka."""
    decoder = Decoder(settings.models, settings.ingest, settings.fields)
    kafka = settings.kafka
    predictions: dict[str, Prediction] = {}
    for value in _read_topic(kafka, kafka.predictions_topic, start, end, progress):
        event = decoder.prediction(0, None, value)
        if isinstance(event, Prediction) and event.model == model.name and start <= event.ts < end:
            predictions[event.id] = event
    if not predictions:
        raise DriftwatchError(
            f"no valid {model.name} prediction with event time in the period; check --start/--end"
        )
    labels: dict[str, Any] = {}
    for value in _read_topic(
        kafka, kafka.outcomes_topic, start, end + LABEL_SLACK_SECONDS, progress
    ):
        outcome = decoder.outcome(0, None, value)
        if isinstance(outcome, Outcome) and outcome.id in predictions:
            labels[outcome.id] = outcome.label
    events = list(predictions.values())
    labelled = len(labels) >= len(events) // 2  # reference performance needs most labels
    now = time.time()
    return _build(
        f"stream {kafka.predictions_topic}",
        model,
        {name: [e.features.get(name) for e in events] for name in model.features},
        predictions=[e.prediction for e in events],
        scores=[e.score for e in events] if model.task == "binary" else None,
        labels=[labels.get(e.id) for e in events] if labelled else None,
        version=version or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)),
        source=f"stream {kafka.predictions_topic} {start:.0f}..{end:.0f}",
        created_at=now,
    )


def _read_topic(
    kafka: KafkaSettings, topic: str, start: float, end: float, progress: Callable[[int], None]
) -> Iterator[bytes]:
    """Values of ``topic`` from the offsets of ``start`` until records are newer than ``end`` or
    the partition's end as it was when reading began (live traffic never ends the read)."""
    consumer = kafka_client(KafkaConsumer, kafka, enable_auto_commit=False, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            raise DriftwatchError(f"topic {topic} does not exist")
        consumer.assign(partitions)
        stop_at = consumer.end_offsets(partitions)
        found = consumer.offsets_for_times({tp: int(start * 1000) for tp in partitions})
        open_partitions = set()
        for tp in partitions:
            offset = found.get(tp)
            if offset is not None and offset.offset < stop_at[tp]:
                consumer.seek(tp, offset.offset)
                open_partitions.add(tp)
            else:
                consumer.pause(tp)
        while open_partitions:
            polled = consumer.poll(timeout_ms=IDLE_POLL_MS)
            if not polled:
                break
            for tp, records in polled.items():
                for record in records:
                    done = record.offset >= stop_at[tp] or record.timestamp > end * 1000
                    if not done and record.value is not None:
                        yield record.value
                    if done or record.offset + 1 >= stop_at[tp]:
                        open_partitions.discard(tp)
                        consumer.pause(tp)
                        break
                progress(len(records))
    finally:
        consumer.close()


def _numbers(values: Sequence[Any]) -> list[float | None]:
    out: list[float | None] = []
    for v in values:
        if isinstance(v, bool):
            out.append(float(v))
        elif isinstance(v, int | float):
            out.append(float(v) if math.isfinite(v) else None)
        elif isinstance(v, str) and v.strip():
            try:
                number = float(v)
            except ValueError:
                number = math.nan
            out.append(number if math.isfinite(number) else None)
        else:
            out.append(None)
    return out


def _categories(values: Sequence[Any]) -> list[str | None]:
    return [None if v is None or v == "" else str(v) for v in values]
