"""Reading events: where their fields are (``[fields]``), which are accepted and how they are joined
(``[ingest]``), and the windows they are counted in (``[windows]``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from monitor.config._parse import Report, require_positive
from monitor.errors import ConfigError

#: Contract fields a user may remap to paths in their own events (``docs/events.md``).
PREDICTION_FIELDS = ("id", "model", "version", "ts", "features", "prediction", "score", "tags")
OUTCOME_FIELDS = ("id", "model", "ts", "label")
#: Longest ``ingest.batch_linger_ms``: a linger adds to every event's freshness (target p99 < 2 s).
MAX_BATCH_LINGER_MS = 1000


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """Dotted paths of contract fields in the user's own events (empty = the contract name)."""

    predictions: Mapping[str, str] = field(default_factory=dict)
    outcomes: Mapping[str, str] = field(default_factory=dict)

    def validate(self, key: str, errors: list[ConfigError] | None = None) -> None:
        """Only contract fields can be remapped: any other name would be silently ignored."""
        report = Report(errors)
        for name, fields, allowed in (
            ("predictions", self.predictions, PREDICTION_FIELDS),
            ("outcomes", self.outcomes, OUTCOME_FIELDS),
        ):
            for contract_field in fields:
                if contract_field not in allowed:
                    report(
                        f"{key}.{name}.{contract_field}",
                        "not a field of the event contract",
                        f"map one of {', '.join(allowed)}",
                    )


@dataclass(frozen=True, slots=True)
class IngestSettings:
    """Validation and join limits."""

    #: How long a prediction waits for its outcome (and an early outcome for its prediction).
    label_horizon_seconds: int = 7 * 24 * 3600
    #: Larger events are dead-lettered: protects memory and Redis from a runaway producer.
    max_event_bytes: int = 256 * 1024
    #: Events stamped further in the future than this are dead-lettered as bad timestamps.
    max_future_seconds: int = 24 * 3600
    #: Where a partition with no checkpoint in Redis starts: its oldest or its next record.
    start_from: Literal["earliest", "latest"] = "earliest"
    #: Most records of one partition applied as one atomic batch. Records that arrive while the
    #: partition's previous batch is being applied wait and form the next one, so batches grow
    #: with load (amortising each batch's fixed cost) up to this size, which bounds how long one
    #: checkpoint script keeps Redis busy (~25 ms at 5000).
    max_batch_records: int = 5000
    #: How long a partition's queued records may wait for more before they are applied, unless
    #: ``max_batch_records`` are queued first. At a steady rate, batches otherwise hold the few
    #: records of one poll, and each batch rewrites every window field it touches: measured at
    #: 2k events/s over 12 partitions, 250 ms cut Redis' CPU per event 2.6- to 5-fold (runs
    #: differ) and the daemon's by ~40 %, for at most 0.25 s of added delay (README
    #: "Performance").
    #: 0 applies each poll at once.
    batch_linger_ms: int = 250

    def validate(self, key: str, errors: list[ConfigError] | None = None) -> None:
        """A zero limit would join, accept or apply nothing."""
        report = Report(errors)
        require_positive(report, f"{key}.label_horizon_seconds", self.label_horizon_seconds)
        require_positive(report, f"{key}.max_event_bytes", self.max_event_bytes)
        require_positive(report, f"{key}.max_batch_records", self.max_batch_records)
        if not 0 <= self.batch_linger_ms <= MAX_BATCH_LINGER_MS:
            report(
                f"{key}.batch_linger_ms",
                f"{self.batch_linger_ms} is outside 0..{MAX_BATCH_LINGER_MS}: records would wait "
                "for ever, or longer than the freshness the dashboards and alerts rely on",
                f"set it between 0 (no linger) and {MAX_BATCH_LINGER_MS}; the default is 250",
            )


@dataclass(frozen=True, slots=True)
class WindowSettings:
    """Event-time tumbling windows."""

    size_seconds: int = 3600
    #: Windows start at origin + k × size_seconds (unix seconds): align them with business
    #: periods, e.g. days that start at 06:00 UTC.
    origin: int = 0
    #: Events later than this behind the newest window are still counted in their own window.
    allowed_lateness_seconds: int = 600
    #: Windows and their evaluations are kept this long after they were last written (wall
    #: clock), so a backfill of old data stays visible as long as live data does.
    retention_days: int = 30
    #: Number of recent windows in the rolling view.
    rolling_windows: int = 24

    def validate(self, key: str, errors: list[ConfigError] | None = None) -> None:
        """An empty window counts nothing, and a window kept for no time is never seen."""
        report = Report(errors)
        require_positive(report, f"{key}.size_seconds", self.size_seconds)
        require_positive(report, f"{key}.retention_days", self.retention_days)
