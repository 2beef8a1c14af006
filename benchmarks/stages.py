"""The daemon's own CPU per event, stage by stage: the batch processor alone, in one thread.

    .venv/bin/python benchmarks/stages.py                      # ~1 min: 240k events, 3 repeats
    .venv/bin/python benchmarks/stages.py --compare-with 75448a3

``benchmarks/ingest.py`` measures the whole daemon against a bare consumer; its rate swings with
how the interpreter's lock passes between the poll loop, four batch workers and kafka-python's
I/O thread, so a change of a few percent in the daemon's own work is lost in the noise between
pairs. This one times what the daemon adds: simulated events (the benchmark's 30 features, a
reference profile so every feature is binned, predictions and outcomes on ``--partitions``
partitions each) are made once, in memory, then applied batch by batch — ``--batch`` records of
a partition, predictions of every partition then their outcomes, round after round — by a
``BatchProcessor`` in one thread against a redis-server of the benchmark's own (a key prefix of
its own per run; dead letters go to a topic of the benchmark's Kafka). Each stage is wrapped and
its thread CPU time (``time.thread_time``: no other thread, no waiting for Redis) summed; the
figures are µs per event over all events, predictions and outcomes alike, the median of
``--repeats`` runs. With ``--compare-with REF`` the daemon of that commit (its source extracted
with ``git archive``) runs the same batches, alternating with this tree's, each in a process of
its own.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the worker imports its source tree's monitor, not this one's, at run time
    from monitor.config import Settings

ROOT = Path(__file__).resolve().parents[1]
#: The stages' names as printed, in the data path's order.
ORDER = ["decode", "join", "refuse_duplicates", "count", "windows", "detectors", "checkpoint",
         "other"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=240_000, help="predictions + outcomes")
    parser.add_argument("--batch", type=int, default=5000, help="records per batch")
    parser.add_argument("--partitions", type=int, default=6, help="per topic")
    parser.add_argument("--repeats", type=int, default=3, help="runs per source tree")
    parser.add_argument("--compare-with", metavar="REF", help="also time the daemon of this commit")
    parser.add_argument(
        "--worker", nargs=2, metavar=("RECORDS", "SETTINGS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(work(Path(args.worker[0]), json.loads(args.worker[1]))))
        return

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import ingest  # the ingest benchmark's services, settings and reference

    from monitor import services

    endpoints = services.up(ingest.ROOT / ".driftwatch" / "bench", kafka_port=49092,
                            controller_port=49093, redis_port=46380)  # fmt: skip
    run_id = uuid.uuid4().hex[:8]
    settings = ingest.bench_settings(endpoints.kafka_bootstrap, endpoints.redis_url, run_id, "st")
    with tempfile.TemporaryDirectory() as tmp:
        records = Path(tmp) / "records.pkl"
        n = make_records(settings, args.events, args.batch, args.partitions, records)
        sources = {"this tree": ROOT}
        if args.compare_with:
            sources[args.compare_with] = ingest.extract(args.compare_with, Path(tmp) / "before")
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in sources}
        for i in range(args.repeats):
            for name, source in sources.items():
                run = ingest.own_run(settings, f"s{i}{len(runs[name])}{name[:3]}")
                ingest.set_reference(run)
                given = {"bootstrap": endpoints.kafka_bootstrap, "redis": endpoints.redis_url,
                         "group": run.kafka.group_id, "prefix": run.redis.key_prefix,
                         "dead": run.kafka.dead_letter_topic}  # fmt: skip
                print(
                    f"run {i + 1}/{args.repeats} of {name} (load {ingest.load()}) ...", flush=True
                )
                runs[name].append(timed(source, records, given))
        ingest.forget(endpoints.redis_url, run_id)
    report(runs, n, args)


def make_records(settings: Settings, events: int, batch: int, partitions: int, into: Path) -> int:
    """The simulator's events as (topic kind, partition, records) batches, pickled to ``into``;
    a key's prediction and outcome share a partition number, as co-partitioned topics place them."""
    from monitor.simulate import Simulator

    n_predictions = int(events / (1 + settings.simulate.label_rate))
    sim = Simulator(settings, seed=1, start=time.time() - n_predictions / 1000.0, rate=1000.0)
    logs: dict[tuple[str, int], list[tuple[int, bytes, bytes]]] = {}
    for event in sim.events(n_predictions):
        where = (event.topic_kind, zlib.crc32(event.key) % partitions)
        log = logs.setdefault(where, [])
        log.append((len(log), event.key, event.value))
    batches = []
    for start in range(0, max(len(log) for log in logs.values()), batch):
        for kind in ("prediction", "outcome"):
            for p in range(partitions):
                chunk = logs.get((kind, p), [])[start : start + batch]
                if chunk:
                    batches.append((kind, p, chunk))
    into.write_bytes(pickle.dumps(batches))
    return sum(len(log) for log in logs.values())


def timed(source: Path, records: Path, given: dict[str, str]) -> dict[str, float]:
    """One run in a process of its own whose ``monitor`` is ``source``'s."""
    script = str(Path(__file__).resolve())
    done = subprocess.run(
        [sys.executable, script, "--worker", str(records), json.dumps(given)],
        cwd=source, env={**os.environ, "PYTHONPATH": str(source)},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode:
        sys.exit(f"the run of {source} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def work(records: Path, given: dict[str, str]) -> dict[str, float]:
    """In the worker process: apply every batch and return thread CPU seconds by stage."""
    from prometheus_client import CollectorRegistry

    import monitor
    from monitor import config
    from monitor.ingest.batch import Batch, BatchProcessor
    from monitor.ingest.deadletter import DeadLetterSink
    from monitor.metrics import Metrics
    from monitor.store.client import connect

    assert Path(monitor.__file__).resolve().is_relative_to(Path.cwd().resolve())
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import ingest

    base = ingest.bench_settings(given["bootstrap"], given["redis"], "x", "st")
    settings = config.parse(
        {
            "kafka": {"bootstrap_servers": [given["bootstrap"]], "group_id": given["group"],
                      "predictions_topic": "st-pred", "outcomes_topic": "st-out",
                      "dead_letter_topic": given["dead"]},
            "redis": {"url": given["redis"], "key_prefix": given["prefix"]},
            "models": [{"name": "bench", "owner": "bench", "task": "binary",
                        "features": dict(base.models[0].features)}],
        }
    )  # fmt: skip
    client = connect(settings.redis)  # the daemon's client, as the daemon builds it
    processor = BatchProcessor(settings, client, DeadLetterSink(settings.kafka),
                               Metrics(CollectorRegistry()))  # fmt: skip
    spent: Counter[str] = Counter()

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.thread_time() - started

        return call

    decoder = processor._decoder  # the daemon's own objects are what is timed
    decoder.predictions = wrap("decode", decoder.predictions)
    decoder.outcomes = wrap("decode", decoder.outcomes)
    for stages in (processor.prediction_stages, processor.outcome_stages):
        for i, stage in enumerate(stages):
            name = getattr(stage, "__name__", type(stage).__name__)
            for part in ("join", "windows", "detectors"):
                if part in name.lower():
                    name = part
            stages[i] = wrap(name, stage)
    processor.checkpoint.apply = wrap("checkpoint", processor.checkpoint.apply)
    from monitor.runtime import daemon

    daemon._tune_gc()  # the collector as the daemon sets it before its loop starts
    topics = {
        "prediction": settings.kafka.predictions_topic,
        "outcome": settings.kafka.outcomes_topic,
    }
    claims = {}
    batches = pickle.loads(records.read_bytes())
    total = time.thread_time()
    for kind, partition, chunk in batches:
        topic = topics[kind]
        claim = claims.get((topic, partition))
        if claim is None:
            claim = claims[topic, partition] = processor.checkpoint.claim(topic, partition)
        processor.process(Batch(claim, chunk, chunk[0][0], fresh=chunk[0][0] == 0))
    spent["total"] = time.thread_time() - total
    spent["other"] = spent["total"] - sum(v for k, v in spent.items() if k != "total")
    return dict(spent)


def report(runs: dict[str, list[dict[str, float]]], n: int, args: argparse.Namespace) -> None:
    names = list(runs)
    print(
        f"\n{n:,} events (30 features) in batches of {args.batch}, {args.partitions} partitions "
        f"per topic; thread CPU µs per event, median of {args.repeats}"
    )
    print(f"{'stage':<20}" + "".join(f"{name:>14}" for name in names))
    for stage in [*ORDER, "total"]:
        row = [statistics.median(r.get(stage, 0.0) for r in runs[name]) / n * 1e6 for name in names]
        print(f"{stage:<20}" + "".join(f"{v:>14.2f}" for v in row))
    if len(names) == 2:
        mine, other = (statistics.median(r["total"] for r in runs[name]) for name in names)
        print(f"this tree / {names[1]}: {mine / other:.2f} of the CPU per event")


if __name__ == "__main__":
    main()
