"""The dashboard's only data access: cached reads through ``monitor.store.query.Query``.

The Redis client and ``Query`` are resources (``st.cache_resource``: one per config, shared by
every session); reads are kept for :data:`TTL_SECONDS`, so a wall of open tabs costs Redis one
read per page per few seconds. Every function takes the config path as its first cached argument,
so two configs in one process (tests) never share results.

Small reads are data (``st.cache_data``), which pickles a value when it stores it and unpickles
it on every hit. The big ones — the status of every model, a model's evaluations, the trends —
are read-only values shared as they are (``st.cache_resource`` with the same lifetime): frozen
structs in tuples and read-only mappings that no page changes. Unpickling 168 evaluations took
longer than reading them from Redis. They take :func:`_generation` as an argument, so
``st.cache_data.clear()`` ("Refresh now", the tests) forgets them too.

The dashboard never names a Redis key, and reads only, with one exception: silences, which people
make and end, are written through ``Query.silence_store()`` by :func:`add_silence` and
:func:`expire_silence`, which the Alerts page offers only when the config makes the dashboard
:func:`writable` and someone is signed in (``widgets.editor``). Retraining requests and each
model's audit trail are read here too; approving or rejecting a request stays on the command line
(``driftwatch retrain approve|reject``), where the person is named.

The config path comes from ``--config PATH`` after ``--`` on the ``streamlit run`` command line,
else from the ``DRIFTWATCH_CONFIG`` environment variable (what ``driftwatch dashboard`` sets),
else ``config.toml`` in the working directory.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import streamlit as st

from dashboard import ENV_CONFIG
from dashboard.figures.health import TrendWindow, trend_windows
from monitor import config
from monitor.store.client import connect
from monitor.store.query import ModelStatus, Query
from monitor.vocab.alerts import Alert, LogEntry
from monitor.vocab.audit import AuditEvent
from monitor.vocab.counts import IngestCounts
from monitor.vocab.profile import ReferenceProfile
from monitor.vocab.retrain import RetrainRequest
from monitor.vocab.silences import Silence
from monitor.vocab.verdicts import WindowEvaluation

#: How stale a page may be: short enough to watch drift happen, long enough that every open tab
#: and every rerun within it share one read.
TTL_SECONDS = 5.0
#: Reads kept as shared values at most, per function: a value per model (and windows shown).
SHARED_ENTRIES = 256

F = TypeVar("F", bound=Callable[..., Any])


def config_path() -> str:
    """The config file this dashboard reads, as an absolute path."""
    args = sys.argv[1:]
    if "--config" in args[:-1]:
        chosen = args[args.index("--config") + 1]
    else:
        chosen = os.environ.get(ENV_CONFIG, "config.toml")
    return str(Path(chosen).resolve())


@st.cache_resource(show_spinner=False)
def _settings(path: str) -> config.Settings:
    return config.load(path, secrets=config.REDIS_ONLY)  # the dashboard reads Redis only


@st.cache_resource(show_spinner=False)
def _query(path: str) -> Query:
    """Refuses data a newer release migrated (``NewerLayoutError``), also when the app runs
    under ``streamlit run`` rather than ``driftwatch dashboard``; not cached until it passes."""
    settings = _settings(path)
    query = Query(connect(settings.redis), settings)
    query.check_layout()
    return query


def settings() -> config.Settings:
    """The loaded config (raises ``ConfigError`` naming the key when it is invalid)."""
    return _settings(config_path())


@st.cache_data(show_spinner=False)
def _generation(path: str) -> float:
    """When the data caches were last cleared: the shared reads' key, so that clearing the data
    caches forgets them too."""
    return time.monotonic()


def _shared(read: F) -> F:
    """``read`` kept as a shared, read-only value for :data:`TTL_SECONDS` (module docstring)."""
    keep = st.cache_resource(ttl=TTL_SECONDS, max_entries=SHARED_ENTRIES, show_spinner=False)
    return keep(read)  # type: ignore[return-value]


@_shared
def _overview(path: str, generation: float) -> tuple[ModelStatus, ...]:
    return tuple(_query(path).status())


def overview() -> tuple[ModelStatus, ...]:
    """Every configured model: totals, health and newest evaluation."""
    path = config_path()
    return _overview(path, _generation(path))


@_shared
def _recent_windows(
    path: str, last: int, generation: float
) -> Mapping[str, tuple[TrendWindow, ...]]:
    found = _query(path).recent_windows(last=last)
    return MappingProxyType({model: trend_windows(briefs) for model, briefs in found.items()})


def recent_windows(last: int) -> Mapping[str, tuple[TrendWindow, ...]]:
    """Every configured model's newest ``last`` evaluated windows, oldest first, each kept as its
    start, rows and severity: the overview's trend column, in two round trips (the windows are
    read in brief, and only their severity is kept)."""
    path = config_path()
    return _recent_windows(path, last, _generation(path))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _unknown_model_dead_letters(path: str) -> dict[str, int]:
    return _query(path).unknown_model_counts().dead_by_reason


def unknown_model_dead_letters() -> dict[str, int]:
    """Dead letters that name no configured model (or no readable one), by reason: no model's
    row counts them, so the overview shows them on their own."""
    return _unknown_model_dead_letters(config_path())


@_shared
def _status(path: str, model: str, generation: float) -> ModelStatus:
    return _query(path).status([model])[0]


def status(model: str) -> ModelStatus:
    """One model's totals, health and newest evaluation (a configured model)."""
    path = config_path()
    return _status(path, model, _generation(path))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _current_references(path: str) -> dict[str, str | None]:
    query = _query(path)
    return query.references().current_versions(m.name for m in _settings(path).models)


def current_references() -> dict[str, str | None]:
    """Each model's current reference version (None before ``driftwatch baseline set``)."""
    return _current_references(config_path())


@_shared
def _evaluations(
    path: str, model: str, last: int, generation: float
) -> Mapping[str, WindowEvaluation]:
    return MappingProxyType(_query(path).evaluations_by_window(model, last=last))


def evaluations(model: str, last: int) -> Mapping[str, WindowEvaluation]:
    """The newest ``last`` evaluated windows of a model, by window id, oldest first."""
    path = config_path()
    return _evaluations(path, model, last, _generation(path))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _ingest(path: str, model: str) -> IngestCounts:
    rows = _query(path).ingest([model])
    return rows[0].counts if rows else IngestCounts()


def ingest(model: str) -> IngestCounts:
    """A model's ingestion totals (traffic, labels, dead letters)."""
    return _ingest(config_path(), model)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _change_points(path: str, model: str, since: float) -> list[tuple[str, float]]:
    return _query(path).change_points(model, since=since)


def change_points(model: str, since: float) -> list[tuple[str, float]]:
    """(stream, event time) where the model's online detectors fired since ``since``."""
    return _change_points(config_path(), model, since)


@st.cache_data(max_entries=64, show_spinner=False)
def _reference(path: str, model: str, version: str) -> ReferenceProfile | None:
    return _query(path).references().get(model, version)


def reference(model: str, version: str) -> ReferenceProfile | None:
    """A stored reference profile; versions are immutable, so they are cached without expiry."""
    return _reference(config_path(), model, version) if version else None


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _feature_bins(
    path: str, model: str, wids: tuple[str, ...], feature: str, n_bins: int
) -> dict[str, list[int]]:
    return _query(path).feature_bins(model, list(wids), feature, n_bins)


def feature_bins(model: str, wids: tuple[str, ...], feature: str, n_bins: int) -> list[int]:
    """One feature's reference-bin counts summed over windows (binned on the same reference)."""
    per_window = _feature_bins(config_path(), model, wids, feature, n_bins)
    return [sum(column) for column in zip(*per_window.values(), strict=True)] or [0] * n_bins


# --- alerting: alerts, silences, the notification log ---------------------------------------------


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _alerts(path: str) -> dict[str, dict[str, Alert]]:
    return _query(path).alerts()


def alerts() -> dict[str, dict[str, Alert]]:
    """Every configured model's alerts by fingerprint: pending, firing, resolved (kept a day)."""
    return _alerts(config_path())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _silences(path: str) -> list[Silence]:
    return _query(path).silences(include_expired=True)


def silences() -> list[Silence]:
    """Every silence still kept, the expired ones too (120 h): the page tells their states apart
    at its own clock, so a cached list never shows a silence in a state it has left."""
    return _silences(config_path())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _notification_log(path: str) -> dict[str, dict[str, LogEntry]]:
    receivers = [r.name for r in _settings(path).alerting.receivers]
    return _query(path).notification_log(receivers)


def notification_log() -> dict[str, dict[str, LogEntry]]:
    """Each configured receiver's notification log: group key → what it was last sent, when."""
    return _notification_log(config_path())


# --- retraining requests and the audit trail ------------------------------------------------------


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _retrain_requests(path: str) -> list[RetrainRequest]:
    return _query(path).retrain_requests()


def retrain_requests() -> list[RetrainRequest]:
    """Every model's retraining requests, newest first: one read that the Retraining page
    filters by model and state itself, so changing a filter costs Redis nothing."""
    return _retrain_requests(config_path())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _history(path: str, model: str) -> list[AuditEvent]:
    return _query(path).history(model)


def history(model: str) -> list[AuditEvent]:
    """A model's whole audit trail, oldest first: its incidents and mean times are computed from
    all of it (one that ended lately may have begun long ago), its newest events listed."""
    return _history(config_path(), model)


def writable() -> bool:
    """Whether the config lets signed-in people create and expire silences here
    (``dashboard.writable``; read-only by default)."""
    return settings().dashboard.writable


def add_silence(silence: Silence) -> None:
    """Store a new silence, and forget the cached list so the page shows it at once."""
    _query(config_path()).silence_store().add(silence)
    _silences.clear()


def expire_silence(silence_id: str, now: float, actor: str) -> Silence | None:
    """``actor`` ends a silence ``now`` (see ``SilenceStore.expire``); forget the cached list."""
    ended = _query(config_path()).silence_store().expire(silence_id, now, actor)
    _silences.clear()
    return ended
