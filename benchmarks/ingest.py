"""Ingestion benchmark: throughput, Redis cost, linger, scale-out and memory, in one run.

    .venv/bin/python benchmarks/ingest.py                  # ~4 min: 500k events, 3 paired runs
    .venv/bin/python benchmarks/ingest.py --events 1000000 --steady-seconds 30

Every figure comes from the same run, against a Kafka broker and a redis-server of the
benchmark's own (``--state-dir``, ports), so nothing else's commands are counted in Redis' CPU:

1. Throughput. N events (predictions + outcomes, one model, 30 features, a reference profile so
   every feature is binned, ``--partitions`` per topic) are produced, then read ``--runs`` times
   in pairs: the bare kafka-python consumer (reads every record, does nothing), then the daemon
   (``python -m monitor run``, a consumer group and key prefix of its own), then the next pair.
   Each pair gives a ratio daemon / bare; the median of the ratios is the figure of record, so a
   load drift on a shared machine hits both sides of a pair alike. The same ratio from CPU µs per
   event (bare / daemon) is printed too: on a machine whose cores other work keeps busy the daemon's
   threads win CPU shares a single-threaded consumer does not, which flatters the rate ratio, and
   CPU per event is what sizes a deployment (events/s per core). ``--compare-with REF`` adds the
   daemon of that commit to each pair (its source extracted with ``git archive``). Each daemon
   run's keys are deleted after it (the first's once phase 5 has measured them), and those an
   interrupted run left at the start, so every run starts against a Redis of the same size.
   Placement: on a machine of two or more cores the paired runs give the consumer under test
   (the bare one runs in this process, the daemon is its child) the first core alone and Kafka
   and Redis the others (``sched_setaffinity``, every thread), as a deployment gives each daemon
   process a core and runs the services elsewhere; otherwise Redis' third of a core, which only
   the daemon causes, competes with the daemon's threads, and the GIL moving between cores adds
   CPU per event. ``--no-pin`` lets everything share every core (the later phases always do).
2. Redis CPU µs per event: ``used_cpu_sys + used_cpu_user`` from ``INFO cpu`` between the first
   and the last counted event, over the events counted meanwhile; ``1e6 / µs`` is the ceiling of
   one Redis primary (one core) in events/s for the whole deployment.
3. Steady rates (``--steady-rates``, ``--steady-seconds`` each): a producer paced at the rate,
   one daemon with ``ingest.batch_linger_ms = 0`` and one per ``--linger-ms``; Redis CPU sampled
   every 0.5 s gives µs per event (less Redis' CPU without traffic, measured just before: this
   benchmark's own polling and the daemon's housekeeping), the newest counted event's age sampled
   every 0.1 s the freshness (event time → visible in Redis, which includes the linger) p50 / p99,
   and Kafka's end offsets every 0.1 s the delay from Kafka to the checkpoint: the time since
   Kafka held as many records as Redis has counted (p50 / p99).
4. Scale-out: two daemon processes in one group over the same events and as many again (the
   group takes seconds to settle), from the moment every partition is being applied, against
   the paired runs' single daemon, with each process' CPU (daemons, Redis, the broker) and the
   machine's busy share, to say what limits it. Not pinned: on two cores, two daemons and the
   services cannot each have a core of their own.
5. Redis memory: ``MEMORY USAGE`` of pending predictions and joined markers left by the first
   daemon run (and their expiry-bucket entries), and of the rest of the model's state.

The load average (``/proc/loadavg``) is printed with each phase: the machine may be shared.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import msgspec
import redis
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from monitor import config, services
from monitor.ingest.topics import ensure_topics
from monitor.simulate import Simulator, produce
from monitor.stats.reference import build_profile
from monitor.store.keys import Keys
from monitor.store.query import Query
from monitor.store.references import ReferenceStore

ROOT = Path(__file__).resolve().parents[1]
N_NUMERIC, N_CATEGORICAL = 25, 5
#: Period of the Redis CPU samples at a steady rate, and of the freshness samples.
CPU_SAMPLE_SECONDS = 0.5
AGE_SAMPLE_SECONDS = 0.1
#: A steady run's first seconds (group join, producer ramp) are left out of its figures.
STEADY_WARMUP_SECONDS = 4.0


def bench_settings(bootstrap: str, redis_url: str, run_id: str, prefix: str) -> config.Settings:
    features = {f"num_{i:02d}": "numeric" for i in range(N_NUMERIC)}
    features |= {f"cat_{i}": "categorical" for i in range(N_CATEGORICAL)}
    return config.parse(
        {
            "kafka": {
                "bootstrap_servers": [bootstrap],
                "group_id": f"{prefix}-{run_id}",
                "predictions_topic": f"{prefix}-pred-{run_id}",
                "outcomes_topic": f"{prefix}-out-{run_id}",
                "dead_letter_topic": f"bench-dlq-{run_id}",
            },
            "redis": {"url": redis_url, "key_prefix": f"bench:{prefix}:{run_id}"},
            "runtime": {"http_port": 0, "log_format": "text"},
            "models": [{"name": "bench", "owner": "bench", "task": "binary", "features": features}],
            "simulate": {"label_delay_seconds": 5.0, "label_rate": 0.9},
        }
    )


def own_run(settings: config.Settings, name: str) -> config.Settings:
    """The same topics read by a consumer group and a key prefix of their own."""
    group = f"{name}-{settings.kafka.group_id}"
    return dataclasses.replace(
        settings,
        kafka=dataclasses.replace(settings.kafka, group_id=group),
        redis=dataclasses.replace(settings.redis, key_prefix=f"bench:{group}"),
    )


def write_config(settings: config.Settings, path: Path, linger_ms: int | None) -> None:
    """The daemon subprocess reads a file; write the few keys that differ from the defaults
    (``linger_ms`` None: leave ``ingest.batch_linger_ms`` out, as a daemon of an older commit
    does not know it)."""
    k, r, m = settings.kafka, settings.redis, settings.models[0]
    feats = ", ".join(f'{name} = "{kind}"' for name, kind in m.features.items())
    ingest = "" if linger_ms is None else f"[ingest]\nbatch_linger_ms = {linger_ms}\n"
    path.write_text(
        f"""[kafka]
bootstrap_servers = ["{k.bootstrap_servers[0]}"]
group_id = "{k.group_id}"
predictions_topic = "{k.predictions_topic}"
outcomes_topic = "{k.outcomes_topic}"
dead_letter_topic = "{k.dead_letter_topic}"
[redis]
url = "{r.url}"
key_prefix = "{r.key_prefix}"
[runtime]
http_port = 0
log_format = "text"
log_level = "WARNING"
{ingest}[[models]]
name = "bench"
owner = "bench"
task = "binary"
features = {{ {feats} }}
"""
    )


def produce_events(
    settings: config.Settings, n_predictions: int, rate: float | None, seed: int = 1
) -> int:
    start = time.time() - (n_predictions / 1000.0 if rate is None else 0.0)
    sim = Simulator(settings, seed=seed, start=start, rate=rate or 1000.0)
    report = produce(settings, sim.events(n_predictions), realtime_rate=rate)
    if report.n_failed:
        sys.exit(f"producer failed: {report.first_error}")
    return report.n_predictions + report.n_outcomes


def set_reference(settings: config.Settings) -> None:
    """A reference profile from stable simulated traffic, so windows bin every feature."""
    model = settings.models[0]
    columns: dict[str, list[object]] = {name: [] for name in model.features}
    predictions, scores = [], []
    sim = Simulator(settings, seed=2, start=time.time() - 86_400, faults=[])
    for event in sim.events(5000):
        if event.topic_kind == "prediction":
            doc = msgspec.json.decode(event.value)
            for name in model.features:
                columns[name].append(doc["features"].get(name))
            predictions.append(doc["prediction"])
            scores.append(doc.get("score"))
    profile = build_profile(
        model, columns, predictions=predictions, scores=scores, version="bench",
        source="benchmark", created_at=time.time(),
    )  # fmt: skip
    client = redis.Redis.from_url(settings.redis.url)
    ReferenceStore(client, Keys(settings.redis.key_prefix)).put(profile)


def load() -> str:
    """The 1-minute load average: how busy the (possibly shared) machine was."""
    return Path("/proc/loadavg").read_text().split()[0]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/<pid>/stat``, clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from ``/proc/stat``."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


class RedisCpu:
    """CPU seconds the benchmark's redis-server has used (``INFO cpu``: all its threads)."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.pid = int(self.client.info("server")["process_id"])

    def seconds(self) -> float:
        info = self.client.info("cpu")
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


@dataclasses.dataclass
class Usage:
    """CPU seconds of the machine and of each process that matters, at one moment."""

    at: float
    machine: tuple[float, float]
    redis: float
    broker: float
    daemons: list[float]

    @classmethod
    def now(cls, rcpu: RedisCpu, broker_pid: int | None, daemon_pids: list[int]) -> Usage:
        return cls(
            time.perf_counter(),
            machine_busy(),
            rcpu.seconds(),
            cpu_seconds(broker_pid) if broker_pid else 0.0,
            [cpu_seconds(pid) for pid in daemon_pids],
        )

    def cores(self, later: Usage) -> str:
        """Cores each busied between two moments: where the CPU went."""
        dt = later.at - self.at
        busy = (later.machine[0] - self.machine[0]) / max(1e-9, later.machine[1] - self.machine[1])
        daemons = "+".join(
            f"{(b - a) / dt:.2f}" for a, b in zip(self.daemons, later.daemons, strict=True)
        )
        return (
            f"daemon(s) {daemons}, Redis {(later.redis - self.redis) / dt:.2f}, "
            f"broker {(later.broker - self.broker) / dt:.2f} cores; "
            f"machine {busy:.0%} busy of {os.cpu_count()} cores"
        )


@contextlib.contextmanager
def placed(pin: bool, service_pids: list[int]) -> Iterator[str]:
    """While in the block: this thread (and the threads and children it starts) on the first
    allowed core, every thread of ``service_pids`` on the others; says where. Restored after."""
    cpus = os.sched_getaffinity(0)
    if not pin or len(cpus) < 2:
        yield f"consumers, Kafka and Redis share {len(cpus)} cores"
        return
    first = {min(cpus)}
    _pin(service_pids, cpus - first)
    os.sched_setaffinity(0, first)
    try:
        yield f"consumers on CPU {min(cpus)}, Kafka and Redis on CPU {_names(cpus - first)}"
    finally:
        os.sched_setaffinity(0, cpus)
        _pin(service_pids, cpus)


def _pin(pids: list[int], cpus: set[int]) -> None:
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(ProcessLookupError):  # a thread that just ended
                os.sched_setaffinity(int(task.name), cpus)


def _names(cpus: set[int]) -> str:
    return ",".join(map(str, sorted(cpus)))


def bare_consumer(settings: config.Settings, total: int) -> tuple[float, float]:
    """Events/s and CPU µs per event of kafka-python reading everything and doing nothing."""
    consumer = KafkaConsumer(
        settings.kafka.predictions_topic,
        settings.kafka.outcomes_topic,
        bootstrap_servers=list(settings.kafka.bootstrap_servers),
        group_id=f"bare-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=2000,
    )
    seen, started, cpu = 0, 0.0, 0.0
    while seen < total:
        for batch in consumer.poll(timeout_ms=1000).values():
            if not seen:
                started, cpu = time.perf_counter(), time.process_time()
            seen += len(batch)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    consumer.close()
    return seen / elapsed, cpu / seen * 1e6


def counted(query: Query) -> tuple[int, float]:
    rows = query.ingest()
    c = rows[0].counts
    return c.predictions + c.outcomes + c.dead, c.last_event_ts or 0.0


class Daemon:
    """``python -m monitor run`` of the source tree ``source`` (its directory comes first on the
    subprocess' path, before the installed package)."""

    def __init__(
        self,
        settings: config.Settings,
        workdir: Path,
        source: Path = ROOT,
        linger_ms: int | None = None,
        name: str = "",
    ) -> None:
        stem = f"{settings.kafka.group_id}{name}"
        path = workdir / f"{stem}.toml"
        write_config(settings, path, linger_ms)
        self.log = (workdir / f"{stem}.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(path)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=source,
        )
        self.rss: list[int] = []

    def check(self) -> None:
        self.rss.append(rss_kib(self.proc.pid))
        if self.proc.poll() is not None:
            sys.exit(f"daemon exited early; see {self.log.name}")

    def stop(self) -> None:
        """SIGTERM, and wait for the clean shutdown (a no-op once it has exited)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)


@dataclasses.dataclass
class Backlog:
    """One backlog run of one or more daemon processes in a group."""

    #: Events in the backlog it read.
    total: int
    rate: float
    cpu_us: float
    redis_us: float
    usage: str
    rss: list[int]


@dataclasses.dataclass
class Env:
    """What every run needs: where it works, what it measures with."""

    workdir: Path
    rcpu: RedisCpu
    broker_pid: int | None


def backlog(
    settings: config.Settings, total: int, env: Env, source: Path = ROOT, processes: int = 1
) -> Backlog:
    """The daemon(s) reading ``total`` events already in Kafka: events/s, their CPU µs per event,
    Redis CPU µs per event, from the first counted event (with several processes: from when
    every partition is being applied, see :class:`Advancing`) to the last."""
    set_reference(settings)
    client = redis.Redis.from_url(settings.redis.url)
    query = Query(client, settings)
    daemons = [Daemon(settings, env.workdir, source, name=f"-{i}") for i in range(processes)]
    pids = [d.proc.pid for d in daemons]
    first: tuple[int, Usage] | None = None
    advancing = Advancing(client, settings, processes) if processes > 1 else None
    n = 0
    try:
        while n < total:
            time.sleep(0.1)
            for d in daemons:
                d.check()
            n, _ = counted(query)
            if first is None and n > 0 and (advancing is None or advancing.ready()):
                first = n, Usage.now(env.rcpu, env.broker_pid, pids)
        last = Usage.now(env.rcpu, env.broker_pid, pids)
    finally:
        for d in daemons:
            d.stop()
    if first is None or (processes > 1 and last.at - first[1].at < 2.0):
        sys.exit(f"the backlog was read before the group settled; raise --events (now {total:,})")
    n0, u0 = first
    events = n - n0
    return Backlog(
        total=total,
        rate=events / (last.at - u0.at),
        cpu_us=(sum(last.daemons) - sum(u0.daemons)) / events * 1e6,
        redis_us=(last.redis - u0.redis) / events * 1e6,
        usage=u0.cores(last),
        rss=daemons[0].rss,
    )


class Advancing:
    """Whether every partition is being applied: its stored offset moved since the group was
    last seen spread over all the processes. The group's view alone is not enough: a member the
    broker has given partitions may learn of them only at its next heartbeat (kafka-python 3.0
    then rejoins, a second rebalance some 3 s later), and the other reads alone till then."""

    def __init__(self, client: redis.Redis, settings: config.Settings, processes: int) -> None:
        keys, k = Keys(settings.redis.key_prefix), settings.kafka
        admin = KafkaAdminClient(bootstrap_servers=list(k.bootstrap_servers))
        try:
            topics = admin.describe_topics([k.predictions_topic, k.outcomes_topic])
        finally:
            admin.close()
        self._client = client
        self._offsets = [
            keys.partition(keys.tag(k.group_id, t["name"], p["partition_index"])).offset
            for t in topics
            for p in t["partitions"]
        ]
        self._settings, self._processes = settings, processes
        self._since: list[int] | None = None

    def ready(self) -> bool:
        if not spread(self._settings, self._processes):
            self._since = None  # (again) rebalancing
            return False
        now = [int(v or -1) for v in self._client.mget(self._offsets)]
        if self._since is None:
            self._since = now
            return False
        return all(a > b for a, b in zip(now, self._since, strict=True))


def spread(settings: config.Settings, processes: int) -> bool:
    """Whether the group is stable with partitions on each of its ``processes`` members."""
    admin = KafkaAdminClient(bootstrap_servers=list(settings.kafka.bootstrap_servers))
    try:
        group = admin.describe_groups([settings.kafka.group_id])[settings.kafka.group_id]
    finally:
        admin.close()
    assignments = [m["member_assignment"] for m in group["members"]]
    holding = [  # a member's assignment is empty bytes while the group rebalances
        a for a in assignments if a and any(t["partitions"] for t in a["assigned_partitions"])
    ]
    return group["group_state"] == "Stable" and len(holding) == processes


@dataclasses.dataclass
class Steady:
    """One daemon at a producer-paced rate."""

    rate: float
    linger_ms: int
    #: Redis CPU for the events alone: less what it spends without traffic (this benchmark's
    #: own polling, the daemon's housekeeping), measured just before.
    redis_us: float
    redis_core: float
    idle_core: float
    #: The daemon's own CPU per event (all its threads, the evaluator's too), and its CPU
    #: without traffic (cores).
    daemon_us: float
    daemon_idle_core: float
    #: Age of the newest counted event (its event time to now).
    p50: float
    p99: float
    #: Event → checkpoint: how long ago Kafka held as many records as Redis has counted now.
    delay_p50: float
    delay_p99: float
    rss: list[int]


def steady(
    base: config.Settings, rate: float, seconds: float, linger_ms: int, partitions: int, env: Env
) -> Steady:
    """A daemon while ``rate`` events/s (predictions and their outcomes together) are produced
    in real time on fresh topics: Redis CPU per event from ``INFO cpu`` every 0.5 s, and the age
    of the newest counted event every 0.1 s. An age counts from the event's scheduled time, so it
    includes any lag of the producer: an upper bound on the daemon's."""
    name = f"s{int(rate)}l{linger_ms}"
    settings = dataclasses.replace(
        base,
        kafka=dataclasses.replace(
            base.kafka,
            group_id=f"{name}-{base.kafka.group_id}",
            predictions_topic=f"{name}-{base.kafka.predictions_topic}",
            outcomes_topic=f"{name}-{base.kafka.outcomes_topic}",
        ),
        redis=dataclasses.replace(base.redis, key_prefix=f"{base.redis.key_prefix}:{name}"),
    )
    ensure_topics(settings.kafka, partitions=partitions)
    set_reference(settings)
    query = Query(redis.Redis.from_url(settings.redis.url), settings)
    daemon = Daemon(settings, env.workdir, linger_ms=linger_ms)
    joined_by = time.monotonic() + 30
    while not spread(settings, 1):  # started and joined before traffic starts
        daemon.check()
        if time.monotonic() > joined_by:
            sys.exit(f"the daemon did not join its group in 30 s; see {daemon.log.name}")
        time.sleep(0.2)
    time.sleep(0.5)  # claims done; then Redis' and the daemon's CPU without traffic
    idle_from = time.perf_counter(), env.rcpu.seconds(), cpu_seconds(daemon.proc.pid)
    for _ in range(int(2 / AGE_SAMPLE_SECONDS)):  # the same polling as below, no events
        counted(query)
        time.sleep(AGE_SAMPLE_SECONDS)
    idle_for = time.perf_counter() - idle_from[0]
    idle = (env.rcpu.seconds() - idle_from[1]) / idle_for
    daemon_idle = (cpu_seconds(daemon.proc.pid) - idle_from[2]) / idle_for
    prediction_rate = rate / (1 + settings.simulate.label_rate)
    producer = threading.Thread(
        target=produce_events,
        args=(settings, int(prediction_rate * seconds), prediction_rate),
        daemon=True,
    )
    written = Written(settings)
    producer.start()
    began = time.perf_counter()
    ages: list[float] = []
    delays: list[float] = []
    cpu: list[tuple[float, float, int]] = []  # (Redis, daemon CPU seconds, counted) every 0.5 s
    next_cpu = began + STEADY_WARMUP_SECONDS
    try:
        while producer.is_alive():
            written.sample()
            n, newest = counted(query)
            now = time.perf_counter()
            if now - began >= STEADY_WARMUP_SECONDS and newest:
                ages.append(max(0.0, time.time() - newest))
                delays.append(now - written.when(n))
            if now >= next_cpu:
                cpu.append((env.rcpu.seconds(), cpu_seconds(daemon.proc.pid), n))
                next_cpu += CPU_SAMPLE_SECONDS
            daemon.check()
            time.sleep(AGE_SAMPLE_SECONDS)
    finally:
        daemon.stop()
        written.close()
    seconds = (len(cpu) - 1) * CPU_SAMPLE_SECONDS
    used = cpu[-1][0] - cpu[0][0] - idle * seconds
    events = max(1, cpu[-1][2] - cpu[0][2])
    ages.sort()
    delays.sort()
    return Steady(
        rate=rate,
        linger_ms=linger_ms,
        redis_us=used / events * 1e6,
        redis_core=used / seconds,
        daemon_us=(cpu[-1][1] - cpu[0][1]) / events * 1e6,
        daemon_idle_core=daemon_idle,
        idle_core=idle,
        p50=ages[len(ages) // 2],
        p99=ages[min(len(ages) - 1, int(len(ages) * 0.99))],
        delay_p50=delays[len(delays) // 2],
        delay_p99=delays[min(len(delays) - 1, int(len(delays) * 0.99))],
        rss=daemon.rss,
    )


class Written:
    """When Kafka held how many records of a run's topics (their end offsets, sampled): the
    moment the n-th record was written, so that records counted in Redis now give their delay
    from Kafka to the checkpoint (records taken in the order they were written, over all
    partitions)."""

    def __init__(self, settings: config.Settings) -> None:
        k = settings.kafka
        self._consumer = KafkaConsumer(bootstrap_servers=list(k.bootstrap_servers))
        self._partitions = [
            TopicPartition(topic, p)
            for topic in (k.predictions_topic, k.outcomes_topic)
            for p in self._consumer.partitions_for_topic(topic) or ()
        ]
        self._at: list[float] = []
        self._written: list[int] = []

    def sample(self) -> None:
        ends = self._consumer.end_offsets(self._partitions)
        self._at.append(time.perf_counter())
        self._written.append(sum(ends.values()))

    def when(self, n: int) -> float:
        """The moment (``perf_counter``) Kafka first held ``n`` records, interpolated between
        samples."""
        i = bisect.bisect_left(self._written, n)
        if i == 0:
            return self._at[0]
        if i == len(self._written):
            return self._at[-1]
        lo, hi = self._written[i - 1], self._written[i]
        return self._at[i - 1] + (self._at[i] - self._at[i - 1]) * (n - lo) / max(1, hi - lo)

    def close(self) -> None:
        self._consumer.close()


@dataclasses.dataclass
class Memory:
    pending: float
    joined: float
    expiry_entry: float
    n_pending: int
    n_joined: int
    #: The model's other state by kind: (bytes, keys).
    state: dict[str, tuple[int, int]]


#: The model's state by kind, recognised by a part of the key (``monitor/store/keys.py``).
STATE_KINDS = {
    b":w:": "window hashes (one per window and partition)",
    b":det:": "detector states",
    b":ref:": "reference profile",
}


def memory(settings: config.Settings, sample: int = 2000) -> Memory:
    """``MEMORY USAGE`` (exact: ``SAMPLES 0``) of up to ``sample`` join records of each kind, of
    the expiry buckets per entry, and of every other key of the deployment (the model's state)."""
    client = redis.Redis.from_url(settings.redis.url)
    prefix = settings.redis.key_prefix
    sizes: dict[bytes, list[int]] = {b"P": [], b"J": []}
    expiry_bytes = expiry_entries = 0
    state: dict[str, tuple[int, int]] = {}
    for key in client.scan_iter(match=f"{prefix}:*", count=5000):
        if key.startswith(f"{prefix}:j:".encode()):
            kind = (client.getrange(key, 0, 0) or b"?")[:1]
            if kind in sizes and len(sizes[kind]) < sample:
                sizes[kind].append(client.memory_usage(key, samples=0) or 0)
        elif b":exp:" in key:
            expiry_bytes += client.memory_usage(key, samples=0) or 0
            expiry_entries += client.llen(key)
        else:
            name = next((v for k, v in STATE_KINDS.items() if k in key), "other")
            size, n = state.get(name, (0, 0))
            state[name] = size + (client.memory_usage(key, samples=0) or 0), n + 1
    return Memory(
        pending=statistics.fmean(sizes[b"P"]) if sizes[b"P"] else 0.0,
        joined=statistics.fmean(sizes[b"J"]) if sizes[b"J"] else 0.0,
        expiry_entry=expiry_bytes / max(1, expiry_entries),
        n_pending=len(sizes[b"P"]),
        n_joined=len(sizes[b"J"]),
        state=state,
    )


@dataclasses.dataclass
class Pair:
    """A bare consumer's run and the daemon's right after it (and the compared commit's)."""

    bare: float
    bare_cpu_us: float
    daemon: Backlog
    other: Backlog | None

    @property
    def ratio(self) -> float:
        return self.daemon.rate / self.bare

    @property
    def cpu_ratio(self) -> float:
        """The same ratio from CPU per event: what one core would give each, whatever else
        runs on the machine."""
        return self.bare_cpu_us / self.daemon.cpu_us


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=500_000, help="predictions + outcomes")
    parser.add_argument(
        "--runs", type=int, default=3, help="paired bare/daemon runs (0: steady rates only)"
    )
    parser.add_argument("--partitions", type=int, default=6, help="per topic")
    parser.add_argument(
        "--steady-rates", default="2000,10000", help="events/s, comma-separated ('' skips)"
    )
    parser.add_argument(
        "--steady-seconds", type=float, default=20.0, help="how long each steady rate runs"
    )
    parser.add_argument(
        "--linger-ms",
        default=str(config.IngestSettings().batch_linger_ms),
        help="ingest.batch_linger_ms values compared with 0 at the steady rates, comma-separated\n"
        "(default: its default)",
    )
    parser.add_argument("--no-scale-out", action="store_true", help="skip the 2-process run")
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="paired runs: let the consumers, Kafka and Redis share every core (default: the\n"
        "consumer under test alone on the first core, the services on the others)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=ROOT / ".driftwatch" / "bench",
        help="the benchmark's own Kafka and Redis (started, or reused if running)",
    )
    parser.add_argument("--kafka-port", type=int, default=49092, help="if started here")
    parser.add_argument("--controller-port", type=int, default=49093, help="if started here")
    parser.add_argument("--redis-port", type=int, default=46380, help="if started here")
    parser.add_argument(
        "--compare-with", metavar="REF", help="also run the daemon of this commit or tag"
    )
    args = parser.parse_args()
    rates = [float(r) for r in args.steady_rates.split(",") if r.strip()]
    lingers = [0, *(int(ms) for ms in args.linger_ms.split(",") if ms.strip() and int(ms))]

    endpoints = services.up(
        args.state_dir,
        kafka_port=args.kafka_port,
        controller_port=args.controller_port,
        redis_port=args.redis_port,
    )
    if endpoints.redis_password_file is not None:
        sys.exit(
            f"the Redis under {args.state_dir} has a password (`driftwatch services up` gives it "
            "one); give the benchmark services of its own: omit --state-dir (.driftwatch/bench) "
            "or name a new folder"
        )
    broker = services.kafka_broker(args.state_dir)
    # Keys an interrupted run left behind (its last step deletes them): a Redis already holding
    # them ran a run's first pair at 10.4 µs per event against 6.5 for the next two.
    forget(endpoints.redis_url, "bench:*")
    run_id = uuid.uuid4().hex[:8]
    settings = bench_settings(endpoints.kafka_bootstrap, endpoints.redis_url, run_id, "bench")
    with tempfile.TemporaryDirectory() as tmp:
        env = Env(Path(tmp), RedisCpu(endpoints.redis_url), broker.pid if broker else None)
        pairs: list[Pair] = []
        mem: Memory | None = None
        scale: Backlog | None = None
        total = 0
        placement = ""
        if args.runs:
            total = produce_backlog(settings, args.events, args.partitions)
            source = extract(args.compare_with, Path(tmp) / "before") if args.compare_with else None
            services_pids = [env.rcpu.pid] + ([env.broker_pid] if env.broker_pid else [])
            with placed(not args.no_pin, services_pids) as placement:
                say(f"placement: {placement}")
                for i in range(args.runs):
                    say(f"pair {i + 1}/{args.runs} (load {load()}): bare consumer ...")
                    bare, bare_cpu = bare_consumer(settings, total)
                    say(f"  bare {bare:,.0f} events/s; daemon ...")
                    mine = own_run(settings, f"r{i}")
                    run = backlog(mine, total, env)
                    say(f"  daemon {run.rate:,.0f} events/s, ratio {run.rate / bare:.2f}")
                    if i == 0:
                        mem = memory(mine)
                    forget(endpoints.redis_url, f"{mine.redis.key_prefix}:*")
                    other = None
                    if source is not None:
                        theirs = own_run(settings, f"c{i}")
                        other = backlog(theirs, total, env, source)
                        say(f"  daemon of {args.compare_with} {other.rate:,.0f} events/s")
                        forget(endpoints.redis_url, f"{theirs.redis.key_prefix}:*")
                    pairs.append(Pair(bare, bare_cpu, run, other))
            if not args.no_scale_out:
                # Twice the pairs' backlog (new ids): the group takes seconds to settle (see
                # Advancing), in which two processes read much of 500k events.
                both = total + produce_backlog(settings, args.events, args.partitions, seed=2)
                say(f"scale-out (load {load()}): 2 daemon processes in one group ...")
                scale = backlog(own_run(settings, "x2"), both, env, processes=2)
                say(f"  {scale.rate:,.0f} events/s")
        steady_runs: list[tuple[Steady, str]] = []
        for rate in rates:
            for linger in lingers:
                say(f"steady {rate:,.0f} events/s, linger {linger} ms (load {load()}) ...")
                steady_runs.append(
                    (steady(settings, rate, args.steady_seconds, linger, args.partitions, env),
                     load())
                )  # fmt: skip
    forget(endpoints.redis_url, f"bench:*{run_id}*")
    print()
    if pairs:
        report_backlog(args, total, pairs, scale, placement)
    for s, at_load in steady_runs:
        print(
            f"steady {s.rate:>6,.0f} ev/s linger {s.linger_ms:>4} ms  Redis {s.redis_us:5.1f} "
            f"µs/ev ({s.redis_core:.0%} of a core + {s.idle_core:.1%} idle, ceiling "
            f"{1e6 / s.redis_us:,.0f} ev/s), daemon {s.daemon_us:.0f} µs CPU/ev "
            f"({s.daemon_us * s.rate / 1e6:.2f} cores, {s.daemon_idle_core:.2f} idle), "
            f"event->checkpoint p50 {s.delay_p50:.2f} s p99 {s.delay_p99:.2f} s, newest event's "
            f"age p50 {s.p50:.2f} s p99 {s.p99:.2f} s, RSS peak "
            f"{max(s.rss) / 1024:.0f} MiB (load {at_load})"
        )
    if mem is not None:
        print(
            f"Redis memory                pending prediction {mem.pending:.0f} B "
            f"(n={mem.n_pending}), joined marker {mem.joined:.0f} B (n={mem.n_joined}), "
            f"+ {mem.expiry_entry:.0f} B per expiry-bucket entry"
        )
        total = sum(size for size, _ in mem.state.values())
        parts = ", ".join(
            f"{name} {size / 1024:,.0f} KiB in {n} keys" for name, (size, n) in mem.state.items()
        )
        print(f"  the model's other state   {total / 1024:,.0f} KiB: {parts}")


def forget(redis_url: str, pattern: str) -> None:
    """Delete the keys matching ``pattern`` (a daemon run's, or this benchmark's), then wait out
    a rewrite of the append-only file if one runs: the next run starts from a Redis of the same
    size. Kept, five pairs' keys made the fifth daemon pay ~60 % more Redis CPU per event than
    the first (8.1 -> 12.5 µs; the keyspace grows, and a rewrite forks mid-run)."""
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=pattern, count=10_000))
    for i in range(0, len(keys), 10_000):
        client.unlink(*keys[i : i + 10_000])
    while any(client.info("persistence")[f"aof_rewrite_{s}"] for s in ("in_progress", "scheduled")):
        time.sleep(0.2)


def produce_backlog(settings: config.Settings, events: int, partitions: int, seed: int = 1) -> int:
    """About ``events`` events (ids of simulator ``seed``), as fast as the producer goes, on the
    benchmark's topics (created if missing); how many."""
    ensure_topics(settings.kafka, partitions=partitions)
    n_predictions = int(events / (1 + settings.simulate.label_rate))
    say(f"producing ~{events:,} events ({N_NUMERIC + N_CATEGORICAL} features) ...")
    t = time.perf_counter()
    total = produce_events(settings, n_predictions, None, seed)
    say(f"  produced {total:,} in {time.perf_counter() - t:.1f}s")
    return total


def report_backlog(
    args: argparse.Namespace,
    total: int,
    pairs: list[Pair],
    scale: Backlog | None,
    placement: str,
) -> None:
    order = "bare, daemon" + (f", {args.compare_with}" if args.compare_with else "")
    print(
        f"events {total:,} ({N_NUMERIC + N_CATEGORICAL} features), {args.partitions} partitions "
        f"per topic, {len(pairs)} paired runs ({order}), one redis-server of the benchmark's own;"
        f" {placement}"
    )
    for i, p in enumerate(pairs):
        run = p.daemon
        extra = ""
        if p.other is not None:
            extra = f"; {args.compare_with} {p.other.rate:,.0f} ({p.other.rate / p.bare:.2f})"
        print(
            f"  pair {i + 1}: bare {p.bare:,.0f} ev/s ({p.bare_cpu_us:.1f} µs CPU/ev), daemon "
            f"{run.rate:,.0f} ev/s ({run.cpu_us:.1f} µs CPU/ev, Redis {run.redis_us:.1f} µs/ev), "
            f"ratio {p.ratio:.2f}, by CPU {p.cpu_ratio:.2f}{extra}"
        )
        print(f"          {run.usage}")
    daemon_rate = statistics.median(p.daemon.rate for p in pairs)
    daemon_cpu = statistics.median(p.daemon.cpu_us for p in pairs)
    redis_us = statistics.median(p.daemon.redis_us for p in pairs)
    print(
        f"daemon, one process         {daemon_rate:,.0f} events/s (median), "
        f"bare {statistics.median(p.bare for p in pairs):,.0f}; daemon {daemon_cpu:.1f} µs CPU "
        f"per event = {1e6 / daemon_cpu:,.0f} events/s per core"
    )
    print(
        f"ratio daemon / bare         {statistics.median(p.ratio for p in pairs):.2f} median of "
        f"{len(pairs)} pairs (target >= 0.40); by CPU per event "
        f"{statistics.median(p.cpu_ratio for p in pairs):.2f}"
    )
    if args.compare_with:
        before = statistics.median(p.other.rate / p.bare for p in pairs if p.other)
        before_cpu = statistics.median(p.bare_cpu_us / p.other.cpu_us for p in pairs if p.other)
        print(f"ratio of {args.compare_with:<19}{before:.2f} median, by CPU {before_cpu:.2f}")
    print(
        f"Redis CPU, backlog          {redis_us:.1f} µs/event -> one primary's ceiling "
        f"{1e6 / redis_us:,.0f} events/s"
    )
    rss = pairs[0].daemon.rss
    print(f"daemon RSS peak, backlog    {max(rss) / 1024:.0f} MiB (by tenth: {by_tenth(rss)})")
    if scale is not None:
        print(
            f"scale-out                   1 process {daemon_rate:,.0f} events/s (median), "
            f"2 processes {scale.rate:,.0f} ({scale.total:,} events) -> "
            f"x{scale.rate / daemon_rate:.2f} "
            f"(Redis {scale.redis_us:.1f} µs/ev, daemons {scale.cpu_us:.1f} µs CPU/ev)"
        )
        print(f"  2 processes: {scale.usage}")


def say(*parts: object) -> None:
    """A progress line, at once even into a pipe or a log."""
    print(*parts, flush=True)


def extract(ref: str, into: Path) -> Path:
    """The source tree of commit ``ref``, extracted with ``git archive`` into ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def by_tenth(rss_kib: list[int]) -> str:
    """The peak RSS of each tenth of a run, MiB: flat, or growing, at a glance."""
    tenth = max(1, len(rss_kib) // 10)
    peaks = [max(rss_kib[i : i + tenth]) // 1024 for i in range(0, len(rss_kib), tenth)]
    return ", ".join(map(str, peaks))


if __name__ == "__main__":
    main()
