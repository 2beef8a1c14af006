"""A single-node Apache Kafka broker (KRaft) for development and tests, run from Maven Central jars.

No tarball, no Docker: the broker's jars come from Maven Central through a packaging POM shipped
with Driftwatch (``kafka-pom.xml``), which is all a developer machine or CI can reach. The facts
this rests on are in the shared design note, section 9. The protocol, in steps:

1. ``fetch_jars`` (``services/jars.py``): the broker's jars from Maven Central, cached once.
2. Format the storage once (``StorageTool format --standalone -g``) with a fresh cluster id.
3. Write ``server.properties`` and a log4j2 config, launch ``java -cp '<lib>/*' kafka.Kafka``
   detached, record its pid.
4. Ready when the log says ``Kafka Server started`` *and* an admin ``list_topics()`` succeeds; the
   JVM is watched meanwhile so a port clash fails in seconds, with the log tail in the error.
5. Stop by the recorded pid: SIGTERM (clean shutdown), SIGKILL after a timeout. A restart reuses the
   same ``log.dirs`` and ports and does not format again.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from monitor.services import _process
from monitor.services.errors import ServiceError
from monitor.services.jars import KAFKA_VERSION, fetch_jars

__all__ = ["KafkaBroker", "new_cluster_id"]

logger = logging.getLogger(__name__)

_STARTED_LINE = "Kafka Server started"
#: StorageTool is a short JVM run; a minute covers a cold JIT on a loaded CI machine.
_FORMAT_TIMEOUT_SECONDS = 120.0
#: Readiness is re-checked this often: quick enough for tests, gentle on a 2-core machine.
_READY_POLL_SECONDS = 0.25
_LOG4J2_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by Driftwatch (monitor.services.kafka); regenerated on every start. -->
<Configuration status="WARN">
  <Appenders>
    <RollingFile name="server" fileName="${sys:kafka.logs.dir}/server.log"
                 filePattern="${sys:kafka.logs.dir}/server.log.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <SizeBasedTriggeringPolicy size="10 MB"/>
      <DefaultRolloverStrategy max="5"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="INFO"><AppenderRef ref="server"/></Root>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="org.apache.kafka.clients.NetworkClient" level="WARN"/>
  </Loggers>
</Configuration>
"""


def new_cluster_id() -> str:
    """Return a KRaft cluster id: URL-safe base64 of 16 random bytes, unpadded, no leading '-'.

    Standard base64 can produce '+' and '/', which Kafka rejects; a leading '-' would be parsed as a
    command-line option by StorageTool.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode("ascii")
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaBroker(_process.PidFileProcess):
    """One combined broker+controller KRaft node, listening on 127.0.0.1 only.

    Everything it owns lives under ``state_dir``: ``server.properties``, ``log4j2.xml``, ``data/``
    (``log.dirs``), ``logs/server.log``, ``logs/kafka.out`` (JVM stdout/stderr), ``kafka.pid`` and
    ``broker.json`` (the ports, so ``load`` can find a running broker again).

    Parameters
    ----------
    state_dir
        The broker's own folder; created on start.
    port
        PLAINTEXT client port.
    controller_port
        KRaft controller port.
    heap
        ``-Xms``/``-Xmx``; 512m is plenty for tests (Kafka's script default is 1 GB).
    cache_dir
        Where jars are cached; see :func:`monitor.services.jars.default_cache_dir`.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        state_dir: Path,
        port: int,
        controller_port: int,
        heap: str = "512m",
        *,
        cache_dir: Path | None = None,
    ) -> None:
        if port == controller_port:
            raise ServiceError(f"Kafka's client and controller ports must differ (both {port}).")
        self.state_dir = Path(state_dir).absolute()
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.cache_dir = cache_dir
        self.properties_path = self.state_dir / "server.properties"
        self.log4j_path = self.state_dir / "log4j2.xml"
        self.data_dir = self.state_dir / "data"
        self.logs_dir = self.state_dir / "logs"
        self.log_file = self.logs_dir / "server.log"
        self.out_file = self.logs_dir / "kafka.out"
        self.pid_file = self.state_dir / "kafka.pid"
        self.state_file = self.state_dir / "broker.json"

    @classmethod
    def load(cls, state_dir: Path, *, cache_dir: Path | None = None) -> KafkaBroker | None:
        """Return the broker last started in ``state_dir`` (its recorded ports), or None."""
        try:
            saved = json.loads((Path(state_dir) / "broker.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        return cls(
            state_dir,
            int(saved["port"]),
            int(saved["controller_port"]),
            str(saved.get("heap", "512m")),
            cache_dir=cache_dir,
        )

    def __repr__(self) -> str:
        return f"KafkaBroker({str(self.state_dir)!r}, port={self.port}, pid={self.pid})"

    @property
    def bootstrap(self) -> str:
        """The ``bootstrap_servers`` string clients use."""
        return f"{self.host}:{self.port}"

    def _owns(self, cmdline: str) -> bool:
        return "kafka.Kafka" in cmdline and str(self.properties_path) in cmdline

    # -- files -------------------------------------------------------------------------------

    def _properties(self) -> str:
        """The node's configuration; see design note section 9 for why each line is there."""
        port, cport, host = self.port, self.controller_port, self.host
        return f"""\
# Written by Driftwatch (monitor.services.kafka); regenerated on every start.
process.roles=broker,controller
node.id=1
# --standalone format + dynamic quorum: never combine with the static controller.quorum.voters.
controller.quorum.bootstrap.servers={host}:{cport}
listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}
advertised.listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={self.data_dir}
num.partitions=1
# One node: every internal topic has one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Test tuning (defaults 3000 ms / 50 / 6000 ms make group tests slow).
group.initial.rebalance.delay.ms=0
offsets.topic.num.partitions=4
group.min.session.timeout.ms=1000
# After a SIGKILL the restarted node must wait for its previous incarnation's session to expire
# before it can register again: the default 9 s session made crash tests wait ~10 s per restart.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=4000
# auto.create.topics.enable stays at Kafka's default (true): tests and tools create topics
# explicitly with the partition count they need. message.max.bytes stays at its default too.
"""

    def _write_config(self) -> None:
        """Write server.properties, log4j2.xml and broker.json (ports for ``load``)."""
        for folder in (self.state_dir, self.data_dir, self.logs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.properties_path.write_text(self._properties(), encoding="utf-8")
        self.log4j_path.write_text(_LOG4J2_XML, encoding="utf-8")
        saved = {
            "port": self.port,
            "controller_port": self.controller_port,
            "heap": self.heap,
            "kafka_version": KAFKA_VERSION,
        }
        self.state_file.write_text(json.dumps(saved, indent=1), encoding="utf-8")

    def _java(self, libs: Path, *args: str) -> list[str]:
        """A ``java`` command line with our class path and logging flags."""
        java = shutil.which("java")
        if java is None:
            raise ServiceError(
                "Java is not on PATH; Kafka needs Java 17 or newer. Install it (Debian/Ubuntu: "
                "'sudo apt-get install -y openjdk-17-jre-headless') and retry."
            )
        return [
            java,
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.log4j_path}",
            f"-Dkafka.logs.dir={self.logs_dir}",
            "-cp",
            f"{libs}/*",  # the JVM expands dir/*; no shell is involved, so no quoting needed
            *args,
        ]

    def _format(self, libs: Path) -> None:
        """Format ``log.dirs`` once; the broker dies on an unformatted dir (no meta.properties).

        Skipped when ``meta.properties`` exists, so a restart keeps the cluster id and the data.
        """
        if (self.data_dir / "meta.properties").exists():
            return
        cluster_id = new_cluster_id()
        command = self._java(
            libs,
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            cluster_id,
            "-c",
            str(self.properties_path),
            "-g",  # ignore an already formatted dir: a retry after a half-done start is harmless
        )
        logger.info("formatting Kafka storage in %s (cluster id %s)", self.data_dir, cluster_id)
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=_FORMAT_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ServiceError(
                f"Kafka's StorageTool did not finish within {_FORMAT_TIMEOUT_SECONDS:.0f}s."
            ) from exc
        if result.returncode != 0:
            raise ServiceError(
                f"formatting Kafka storage in {self.data_dir} failed (exit {result.returncode}):\n"
                + (result.stdout + result.stderr).strip()
            )

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 90.0) -> None:
        """Start the broker and wait until clients can use it; a no-op when it already runs.

        Raises :class:`ServiceError` with the log tail when a port is taken, the JVM exits during
        start-up, or readiness takes longer than ``timeout`` seconds (the JVM is then killed).
        """
        if self.is_running():
            logger.info("Kafka already running at %s (pid %s)", self.bootstrap, self.pid)
            return
        self.pid_file.unlink(missing_ok=True)  # stale: its process is gone or is not ours
        for port in (self.port, self.controller_port):
            if _process.port_open(self.host, port):
                raise ServiceError(
                    f"port {port} on {self.host} is already in use by another process, not the "
                    f"Kafka broker recorded in {self.pid_file}. Stop that process (`ss -ltnp "
                    f"'sport = :{port}'` shows it) or choose other ports (kafka_port / "
                    "controller_port)."
                )
        libs = fetch_jars(self.cache_dir)
        self._write_config()
        self._format(libs)
        log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        command = self._java(libs, "kafka.Kafka", str(self.properties_path))
        started = time.monotonic()
        proc = _process.spawn(command, log_path=self.out_file, cwd=self.state_dir)
        _process.write_pid(self.pid_file, proc.pid)
        logger.info("started Kafka (pid %d) on %s; waiting for readiness", proc.pid, self.bootstrap)
        self._wait_ready(proc.pid, log_offset, started + timeout)
        logger.info("Kafka ready at %s after %.1fs", self.bootstrap, time.monotonic() - started)

    def _wait_ready(self, pid: int, log_offset: int, deadline: float) -> None:
        """Step 4: the log line and a successful admin call, while the JVM stays alive."""
        seen_started = False
        while True:
            if not _process.pid_alive(pid):
                self.pid_file.unlink(missing_ok=True)
                raise ServiceError(
                    "Kafka exited during start-up (a port clash or bad state dir?). "
                    f"{self._errors_since(log_offset)}\n{self._tails()}"
                )
            if not seen_started:
                seen_started = self._log_has_started_line(log_offset)
            if seen_started and _process.port_open(self.host, self.port) and self._admin_ready():
                return
            if time.monotonic() >= deadline:
                self.kill()
                raise ServiceError(
                    f"Kafka did not become ready at {self.bootstrap} in time and was killed "
                    f"(saw '{_STARTED_LINE}': {seen_started}). {self._errors_since(log_offset)}\n"
                    f"{self._tails()}"
                )
            time.sleep(_READY_POLL_SECONDS)

    def _log_has_started_line(self, offset: int) -> bool:
        """True when the log written since this start contains ``Kafka Server started``."""
        try:
            with open(self.log_file, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                handle.seek(offset if size >= offset else 0)  # rolled over: read the new file
                return _STARTED_LINE.encode() in handle.read()
        except FileNotFoundError:
            return False

    def _errors_since(self, offset: int) -> str:
        """ERROR/FATAL and 'Caused by' lines logged since ``offset``: the cause, not the stack."""
        try:
            with open(self.log_file, "rb") as handle:
                handle.seek(offset)
                lines = handle.read().decode("utf-8", "replace").splitlines()
        except FileNotFoundError:
            return ""
        causes = [
            line.strip()
            for line in lines
            if " ERROR " in line or " FATAL " in line or line.startswith("Caused by:")
        ]
        return ("Errors logged:\n" + "\n".join(causes[-6:])) if causes else ""

    def _admin_ready(self) -> bool:
        """True when an admin client can list topics: the broker serves metadata requests."""
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap,
                client_id="driftwatch-readiness",
                request_timeout_ms=5000,
            )
        except (KafkaError, OSError):
            return False
        try:
            admin.list_topics()
        except (KafkaError, OSError):
            return False
        finally:
            admin.close()
        return True

    def _tails(self) -> str:
        """The end of both logs, for error messages."""
        return (
            f"--- last lines of {self.log_file} ---\n{_process.tail(self.log_file)}\n"
            f"--- last lines of {self.out_file} ---\n{_process.tail(self.out_file)}"
        )

    def stop(self, timeout: float = 30.0) -> None:
        """Shut down cleanly (SIGTERM to the recorded pid), SIGKILL after ``timeout`` seconds."""
        pid = self.pid
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return
        logger.info("stopping Kafka (pid %d)", pid)
        _process.stop_pid(pid, timeout, "Kafka")
        if _process.pid_alive(pid):
            raise ServiceError(f"Kafka (pid {pid}) did not exit even after SIGKILL.")
        self.pid_file.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would; the next ``start`` recovers its logs."""
        pid = self.pid
        if pid is None:
            return
        logger.info("killing Kafka (pid %d) with SIGKILL", pid)
        _process.signal_pid(pid, signal.SIGKILL)
        if not _process.wait_exit(pid, 10.0):
            raise ServiceError(f"Kafka (pid {pid}) did not exit after SIGKILL.")
        self.pid_file.unlink(missing_ok=True)
