"""Measured Redis memory per model and per pending prediction: the memory check's expectations.

Measured 2026-12-05 on Redis 7.0.15 (jemalloc, default listpack limits) with
``MEMORY USAGE key SAMPLES 0`` summed over a deployment's keys: one binary model, 6 partitions
per topic, 1-hour windows, a reference from ~2,000 rows, 100,000 predictions over 48 simulated
hours (49 windows, all evaluated), 90 % labelled, ids of 33 characters. Twice: with 6 features
(4 numeric, 2 categorical) and with 12 (8 numeric, 4 categorical). The commands::

    driftwatch topics create --config C --partitions 6
    driftwatch simulate --config C --events 100000 --fast --start now-48h --no-config-faults
    driftwatch baseline set --config C --model fraud-detector --from-stream --start now-1h
    driftwatch run --config C          # until status shows 100,000 predictions, then SIGTERM
    .venv/bin/python benchmarks/redis_memory.py --config C --model fraud-detector

A kept window costs its evaluation (``ev:``: 10,344 B at 6 features, 16,488 B at 12) and its
merged aggregate (``wm:``: 6,696 B, then 27,767 B once its hash outgrows Redis' compact listpack
encoding, past 128 fields) plus index entries: 17,127 B at 6 features, 44,342 B at 12. The
figures here are the 12-feature ones per feature, which overstate a small model (22.2 KB
expected at 6 features for 17.1 KB measured) rather than understate a large one.
"""

from __future__ import annotations

from monitor.config import ModelSettings, WindowSettings

#: A model's state that does not grow with windows: reference (196,712 B), rolling view,
#: detector states, per-partition counters, offsets and epochs, the open window's per-partition
#: aggregates, audit trail and health — 288,512 B measured at 12 features (192,552 B at 6).
BYTES_PER_MODEL_FIXED = 288_512
#: One kept window, per feature of the model (44,342 B / 12 features).
BYTES_PER_WINDOW_FEATURE = 3_695
#: A prediction waiting for its outcome: its join record (168 B, docs/operations.md) and its
#: entry in the partition's expiry list (77-79 B measured); a joined marker costs 120 + 79 B.
BYTES_PER_PENDING_PREDICTION = 247


def windows_kept(windows: WindowSettings) -> int:
    """How many windows of one model Redis holds at once: retention over window size."""
    return max(1, windows.retention_days * 86_400 // windows.size_seconds)


def bytes_per_model(model: ModelSettings, windows: WindowSettings) -> int:
    """Expected Redis bytes for ``model`` once its retention is full."""
    per_window = BYTES_PER_WINDOW_FEATURE * max(1, len(model.features))
    return BYTES_PER_MODEL_FIXED + windows_kept(windows) * per_window
