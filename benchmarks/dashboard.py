"""Dashboard benchmark: server-side render time of each page, and the query module's time.

    .venv/bin/python benchmarks/dashboard.py            # 50 models × 30 features × 7 days, hourly

1. Starts a throwaway ``redis-server`` on a free port (or uses ``--redis-url``).
2. Fills it with ``--models`` models of ``--features`` features (a fifth categorical) and
   ``--days`` of hourly windows of ~1,000 predictions each; every fifth model drifts on two
   features over its last two days. The fill goes straight through the store's writers —
   ``ReferenceStore`` for references, ``Checkpoint`` for window counts and ingestion counters,
   ``EvaluationStore`` for evaluations and health, with verdicts from the real
   ``evaluate_window`` (``drift.method = "fixed"``, to skip the bootstrap) — not through Kafka and
   the daemon: this measures rendering, and the ingestion path has its own benchmark.
3. Times the ``Query`` reads each page makes (median of ``--repeat``).
4. Renders each page with ``streamlit.testing.v1.AppTest`` — cold (caches cleared) and warm (a
   rerun, as with auto-refresh) — median of ``--repeat`` runs. The target is under 1 s per page.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import redis

from monitor import config
from monitor.services import RedisServer
from monitor.stats import performance
from monitor.stats.evaluation import Judges, evaluate_window
from monitor.stats.health import health
from monitor.stats.reference import build_profile
from monitor.store.checkpoint import Checkpoint
from monitor.store.evaluations import EvaluationStore
from monitor.store.keys import Keys
from monitor.store.lease import Lease
from monitor.store.query import Query
from monitor.store.references import ReferenceStore
from monitor.vocab.counts import WindowCounts
from monitor.vocab.effects import (
    DEAD,
    DEAD_PREFIX,
    DELAY_SUM,
    JOINED,
    LAST_EVENT_TS,
    PREDICTIONS,
    Effects,
    window_id,
)
from monitor.vocab.profile import NumericProfile, ReferenceProfile

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "streamlit_app.py"
HOUR = 3600
ROWS_PER_WINDOW = 1000
REFERENCE_ROWS = 2000
OWNERS = [f"team-{i}@example.com" for i in range(8)]
CATEGORY_SHARES = [0.3, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05, 0.05]
BARE_MODE_LOGGERS = (
    "streamlit.runtime.caching.cache_data_api",
    "streamlit.runtime.scriptrunner_utils.script_run_context",
)


def write_config(path: Path, redis_url: str, prefix: str, n_models: int, n_features: int) -> None:
    """Binary models, a fifth of their features categorical; fixed drift thresholds."""
    n_categorical = n_features // 5
    names = [f"num_{i:02d}" for i in range(n_features - n_categorical)]
    kinds = {name: "numeric" for name in names} | {
        f"cat_{i:02d}": "categorical" for i in range(n_categorical)
    }
    features = ", ".join(f'{name} = "{kind}"' for name, kind in kinds.items())
    lines = [
        f'[redis]\nurl = "{redis_url}"\nkey_prefix = "{prefix}"',
        f"[windows]\nsize_seconds = {HOUR}",
        '[drift]\nmethod = "fixed"',
    ]
    for i in range(n_models):
        lines.append(
            f'[[models]]\nname = "model-{i:03d}"\nowner = "{OWNERS[i % len(OWNERS)]}"\n'
            f'task = "binary"\nfeatures = {{ {features} }}'
        )
    path.write_text("\n".join(lines) + "\n")


def reference_for(model: config.ModelSettings, rng: np.random.Generator) -> ReferenceProfile:
    columns = {
        name: rng.normal(50, 10, REFERENCE_ROWS)
        if kind == "numeric"
        else rng.choice(list("ABCDEFGH"), REFERENCE_ROWS, p=CATEGORY_SHARES)
        for name, kind in model.features.items()
    }
    labels = rng.integers(0, 2, REFERENCE_ROWS)
    scores = np.clip(0.35 * labels + rng.uniform(0, 0.65, REFERENCE_ROWS), 0, 1)
    return build_profile(
        model,
        columns,
        predictions=(scores >= 0.5).astype(int),
        scores=scores,
        labels=labels,
        version="ref-1",
        source="bench",
        created_at=time.time(),
    )


def window_fields(
    model: config.ModelSettings, ref: ReferenceProfile, rng: np.random.Generator, drifting: bool
) -> dict[str, float]:
    """One window's hash, as the daemon would have counted it: bins, quality, performance."""
    n = int(rng.integers(int(ROWS_PER_WINDOW * 0.8), int(ROWS_PER_WINDOW * 1.2)))
    fields: dict[str, float] = {"n": n}
    for i, (name, profile) in enumerate(
        [*ref.features.items(), ("__prediction__", ref.prediction)]
    ):
        p = np.asarray(profile.counts, dtype=float) + 0.5
        if drifting and i < 2:
            p = np.roll(p, 3)
        counts = rng.multinomial(n, p / p.sum())
        for b in np.flatnonzero(counts):
            fields[f"b:{name}:{b}"] = int(counts[b])
        if name in model.features:
            fields[f"miss:{name}"] = int(counts[-1])
            if isinstance(profile, NumericProfile):
                fields[f"sum:{name}"] = float((n - counts[-1]) * profile.mean)
    labelled = int(n * 0.8)
    y = rng.integers(0, 2, labelled)
    s = np.clip((0.1 if drifting else 0.35) * y + rng.uniform(0, 0.65, labelled), 0, 1)
    sums = performance.binary_sums(s, (s >= 0.5).astype(int), y)
    fields |= {f"perf:{k}": v for k, v in sums.items()}
    return fields


def fill(settings: config.Settings, client: redis.Redis, days: int) -> None:
    keys = Keys(settings.redis.key_prefix)
    references = ReferenceStore(client, keys)
    evaluations = EvaluationStore(client, keys, settings.windows.retention_days * 86_400_000)
    # The store writes only for the evaluator lease's holder: the fill holds it, as a daemon would.
    lease = Lease(client, keys.evaluator_lease, keys.evaluator_fence, "bench-fill", 3_600_000)
    fence = lease.hold()
    if fence is None:
        raise SystemExit(f"a daemon's evaluator holds {keys.evaluator_lease}; stop it first")
    checkpoint = Checkpoint(client, keys, settings.kafka.group_id, settings.windows)
    claim = checkpoint.claim("bench", 0)
    judges = Judges.of(settings)
    now = time.time()
    first = (int(now) // HOUR - days * 24) * HOUR
    rng = np.random.default_rng(7)
    for i, model in enumerate(settings.models):
        ref = reference_for(model, rng)
        references.put(ref)
        changes = Effects()
        recent = []
        counters = changes.counters[model.name]
        for w in range(days * 24):
            start = first + w * HOUR
            drifting = i % 5 == 0 and w >= (days - 2) * 24
            fields = window_fields(model, ref, rng, drifting)
            wid = window_id(start, "v1", ref.version)
            window = changes.window(model.name, wid, start)
            for name, value in fields.items():
                target = window.sums if isinstance(value, float) else window.counts
                target[name] += value
            ev = evaluate_window(
                model,
                ref,
                WindowCounts(int(fields["n"]), fields),
                window_start=start,
                version="v1",
                judges=judges,
                now=now,
            )
            evaluations.save(fence, ev, wid, "", 0.0)
            recent = [*recent[-2:], ev]
            counters[PREDICTIONS] += int(fields["n"])
            counters[JOINED] += int(fields["perf:n"])
            counters["outcomes"] += int(fields["perf:n"])
            counters["delay:1h"] += int(fields["perf:n"])
            changes.counter_sums[model.name][DELAY_SUM] += 1800.0 * fields["perf:n"]
        counters[DEAD] += 12
        counters[DEAD_PREFIX + "bad_json"] += 12
        changes.maximum(model.name, LAST_EVENT_TS, now - 60)
        # one "batch" per model
        checkpoint.apply(claim, i, i + 1, changes, int(now * 1000), fresh=i == 0)
        evaluations.save_health(fence, health(model, recent, now))
    lease.release()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def median(times: list[float]) -> float:
    return statistics.median(times)


def timed(action: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    action()
    return time.perf_counter() - t0


def render_times(model: str, feature: str, repeat: int) -> dict[str, tuple[float, float]]:
    """(cold, warm) median seconds per page: one AppTest script run (router + page) each.

    Cold: data caches cleared first (a page opened after the cache expired); warm: the same page
    rerun at once (auto-refresh within the cache's lifetime, or a second viewer).
    """
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    for name in BARE_MODE_LOGGERS:  # clearing caches outside a server warns on every call
        logging.getLogger(name).disabled = True

    pages = {
        "overview": ("app_pages/overview.py", {}),
        "model": ("app_pages/model.py", {"model": model}),
        "feature": ("app_pages/feature.py", {"model": model, "feature": feature}),
    }
    out = {}
    for name, (path, params) in pages.items():
        cold, warm = [], []
        for _ in range(repeat + 1):  # the first round pays imports and resources: dropped
            at = AppTest.from_file(str(APP), default_timeout=60).run()
            at.switch_page(path)
            at.query_params.update(params)
            st.cache_data.clear()
            cold.append(timed(at.run))
            warm.append(timed(at.run))
            if at.exception:
                raise RuntimeError(f"{path}: {at.exception[0].message}")
        out[name] = (median(cold[1:]), median(warm[1:]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--redis-url", help="use this Redis instead of a throwaway one")
    parser.add_argument("--keep", metavar="CONFIG", help="keep the data; write its config here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        server = None
        url = args.redis_url
        if url is None:
            server = RedisServer(Path(tmp) / "redis", free_port())
            server.start()
            url = server.url
        prefix = f"bench-dash:{os.getpid()}"
        path = Path(args.keep) if args.keep else Path(tmp) / "config.toml"
        write_config(path, url, prefix, args.models, args.features)
        settings = config.load(path)
        client = redis.Redis.from_url(url)
        try:
            t0 = time.perf_counter()
            fill(settings, client, args.days)
            windows = args.models * args.days * 24
            print(
                f"filled {args.models} models × {args.features} features × {args.days} days "
                f"({windows:,} windows) in {time.perf_counter() - t0:.1f} s"
            )
            report(settings, path, args.repeat)
        finally:
            if not args.keep:
                for key in client.scan_iter(match=f"{prefix}*", count=1000):
                    client.unlink(key)
            if server is not None:
                server.stop()


def report(settings: config.Settings, path: Path, repeat: int) -> None:
    query = Query(redis.Redis.from_url(settings.redis.url), settings)
    model = settings.models[0].name
    feature = next(iter(settings.models[0].features))
    wids = list(query.evaluations_by_window(model, last=168))
    profile = query.references().current(model)
    n_bins = profile.features[feature].n_bins if profile else 0
    reads = {
        "status()": lambda: query.status(),
        "references().current_versions()": lambda: query.references().current_versions(
            m.name for m in settings.models
        ),
        "evaluations_by_window(last=168)": lambda: query.evaluations_by_window(model, last=168),
        "references().get()": lambda: query.references().current(model),
        "feature_bins(1 window)": lambda: query.feature_bins(model, wids[-1:], feature, n_bins),
        "feature_bins(168 windows)": lambda: query.feature_bins(model, wids, feature, n_bins),
    }
    print(f"\nquery module (median of {repeat}):")
    for name, read in reads.items():
        seconds = median([timed(read) for _ in range(repeat)])
        print(f"  {name:<34} {seconds * 1000:8.1f} ms")
    os.environ["DRIFTWATCH_CONFIG"] = str(path)
    print(f"\npage render, server side (AppTest, median of {repeat}): cold cache / warm cache")
    for page, (cold, warm) in render_times(model, feature, repeat).items():
        print(f"  {page:<10} {cold * 1000:8.0f} ms / {warm * 1000:6.0f} ms")


if __name__ == "__main__":
    # This script's folder comes first on sys.path, where it would shadow the dashboard package.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    main()
