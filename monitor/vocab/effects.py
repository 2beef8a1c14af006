"""What one batch changes, in the stages' own words: the write buffer and the names in it.

The join and the statistics stages fill an :class:`Effects` with *what* changes — a model's
counters, a window's counts, a detector's state, a join record — addressed by model, window id,
stream or event id, never by Redis key. ``monitor/store/checkpoint.py`` turns it into the one
script call that applies it with the partition's offset; the store alone knows keys and encodings.

The field names below are shared by the stages that write them and the readers that merge them
(``monitor/store/query.py``, ``monitor/stats/evaluation.py``). The join-record tags are also
spelled in ``monitor/store/apply_batch.lua``; ``tests/monitor/store/test_lua_literals.py`` ties the
two together.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

# --- a model's ingest counters (per partition, merged at read time) -----------------------------
PREDICTIONS = "predictions"
OUTCOMES = "outcomes"
JOINED = "joined"
DEAD = "dead"
#: ``dead:<reason>``: dead letters by reason.
DEAD_PREFIX = "dead:"
#: ``delay:<label>``: joined pairs by label delay (:data:`DELAY_LABELS`).
DELAY_PREFIX = "delay:"
DELAY_SUM = "delay_sum_seconds"
#: The newest event time seen (the counter keeps the maximum).
LAST_EVENT_TS = "last_event_ts"
#: When an event of the model was last ingested, by the wall clock (the maximum): traffic that
#: stopped shows here, while a backlog being replayed (old event times) does not look stale.
LAST_SEEN = "last_seen"
#: Counted by the checkpoint script's sweep: pending records whose label horizon passed.
EXPIRED_PREDICTIONS = "expired_predictions"
ORPHAN_OUTCOMES = "orphan_outcomes"
#: Upper edges (seconds) of the label-delay histogram: 1 s … 7 days, then everything later.
DELAY_EDGES: tuple[float, ...] = (1, 10, 60, 600, 3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400)
DELAY_LABELS: tuple[str, ...] = (
    "1s", "10s", "1m", "10m", "1h", "6h", "1d", "3d", "7d", "inf",
)  # fmt: skip

# --- a window's counts (``monitor/stats/window.py`` describes each field) ----------------------
#: Predictions in the window.
N = "n"
#: Events of versions beyond the per-window limit (counted as version "other").
VERSIONS_FOLDED = "versions_folded"
#: ``b:<feature>:<bin>``: count in reference bin <bin>.
BIN_PREFIX = "b:"
#: ``miss:<feature>``: missing values; ``terr:<feature>``: values of the wrong type.
MISSING_PREFIX = "miss:"
TYPE_ERROR_PREFIX = "terr:"
#: ``u:<feature>:<category>``: an unseen category's count.
UNSEEN_PREFIX = "u:"
#: ``sum:<feature>`` / ``sq:<feature>``: sum of valid numeric values / of their squares.
SUM_PREFIX = "sum:"
SQUARES_PREFIX = "sq:"
#: ``perf:<name>``: performance sums of the window's joined pairs (``stats/performance.py``).
PERFORMANCE_PREFIX = "perf:"
#: ``sc:<decision>:<bin>``: a binary classifier's scored predictions decided ``1``/``0``, per
#: equal-width score bin — what estimates performance before labels (``stats/estimation.py``).
SCORE_PREFIX = "sc:"

# --- join records -------------------------------------------------------------------------------
#: First byte of a join record: a prediction waits, an outcome waits, or the pair was formed.
PENDING = "P"
EARLY_OUTCOME = "O"
JOINED_MARKER = "J"


def bin_field(feature: str, index: int) -> str:
    return f"{BIN_PREFIX}{feature}:{index}"


def score_field(decision: int, index: int) -> str:
    return f"{SCORE_PREFIX}{decision}:{index}"


def window_id(start: int, version: str, ref: str) -> str:
    """The id of one window of one model version binned on one reference: windows are per model
    version, and counts binned on one reference are never mixed with another's."""
    return f"{start}|{version}|{ref}"


def parse_window_id(wid: str) -> tuple[int, str, str]:
    start, version, ref = wid.split("|", 2)
    return int(start), version, ref


def _ints() -> defaultdict[str, int]:
    return defaultdict(int)


def _floats() -> defaultdict[str, float]:
    return defaultdict(float)


@dataclass(slots=True)
class WindowDelta:
    """One window's increments in a batch."""

    start: int
    counts: defaultdict[str, int] = field(default_factory=_ints)
    sums: defaultdict[str, float] = field(default_factory=_floats)


@dataclass(slots=True)
class Effects:
    """Everything one batch changes; built by the join and the statistics stages."""

    #: model → counter → increment (and float increments, and values kept as a maximum).
    counters: defaultdict[str, defaultdict[str, int]] = field(
        default_factory=lambda: defaultdict(_ints)
    )
    counter_sums: defaultdict[str, defaultdict[str, float]] = field(
        default_factory=lambda: defaultdict(_floats)
    )
    counter_max: defaultdict[str, dict[str, float]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    #: (model, window id) → the window's increments; a window written is also indexed, marked
    #: for evaluation and kept for the retention period.
    windows: dict[tuple[str, str], WindowDelta] = field(default_factory=dict)
    #: (model, window start of *arrival*) → dead letters by reason.
    dead_letters: defaultdict[tuple[str, int], defaultdict[str, int]] = field(
        default_factory=lambda: defaultdict(_ints)
    )
    #: (model, stream) → detector state, replaced whole.
    detectors: dict[tuple[str, str], bytes] = field(default_factory=dict)
    #: (model, stream, event time) where a detector fired; idempotent across partitions.
    change_points: list[tuple[str, str, float]] = field(default_factory=list)
    #: Join records a duplicate was judged on: (model, id, first byte it must still start with).
    join_expect: list[tuple[str, str, str]] = field(default_factory=list)
    #: New pending join records (model, id, value), created only where none exists; they live
    #: ``join_ttl_ms`` and are swept from the expiry bucket ``join_bucket_ms`` ends at.
    join_put: list[tuple[str, str, str]] = field(default_factory=list)
    join_ttl_ms: int = 0
    join_bucket_ms: int = 0
    #: Join records that became pairs: (model, id, the waiting side's tag it must still hold);
    #: marked :data:`JOINED_MARKER` (lifetime kept) so a repeated id is a duplicate.
    join_mark: list[tuple[str, str, str]] = field(default_factory=list)

    def maximum(self, model: str, name: str, value: float) -> None:
        current = self.counter_max[model].get(name)
        if current is None or value > current:
            self.counter_max[model][name] = value

    def window(self, model: str, wid: str, start: int) -> WindowDelta:
        delta = self.windows.get((model, wid))
        if delta is None:
            delta = self.windows[model, wid] = WindowDelta(start)
        return delta
