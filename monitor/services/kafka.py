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

A :class:`SaslSslListener` adds a second client listener secured as production brokers are
(TLS + SASL/SCRAM-SHA-512, Kafka ACLs enforced), for tests of Driftwatch's secured clients and of
the rights its users need; its SCRAM users are written into the storage at step 2 (``StorageTool
format --add-scram``), so they exist before the first start.
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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from monitor.services import _process
from monitor.services.errors import ServiceError
from monitor.services.jars import KAFKA_VERSION, fetch_jars

__all__ = ["SCRAM_MECHANISM", "KafkaBroker", "SaslSslListener", "new_cluster_id"]

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


#: The one SASL mechanism the secured listener enables: SCRAM stores only salted hashes on the
#: broker, and SHA-512 is what managed Kafka services offer.
SCRAM_MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class SaslSslListener:
    """A ``SASL_SSL`` client listener (TLS, then SASL/SCRAM-SHA-512) beside the PLAINTEXT one.

    The PLAINTEXT listener stays for the broker's own traffic (controller, readiness check), so no
    broker-side credentials exist: only the clients on ``port`` authenticate. With it the broker
    enforces ACLs (``StandardAuthorizer``): a SCRAM user may do only what it was granted, while
    whoever reaches the PLAINTEXT port on 127.0.0.1 is a super user (``User:ANONYMOUS``), which is
    how the grants are made.

    Parameters
    ----------
    port
        The secured client port, advertised as ``SASL_SSL://127.0.0.1:<port>``.
    keystore
        A PEM file holding the broker's unencrypted PKCS#8 private key followed by its certificate
        chain (Kafka's ``ssl.keystore.type=PEM``); the certificate must name 127.0.0.1 in its
        subjectAltName, because clients check the host name.
    users
        SCRAM-SHA-512 user → password, created when the storage is formatted (the first start of a
        state folder only). Never written to ``broker.json``; the broker keeps salted hashes.
    """

    port: int
    keystore: Path
    users: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for user, password in self.users.items():
            # StorageTool parses 'SCRAM-SHA-512=[name=...,password=...]': these would break it.
            if not user or not password or any(c in user + password for c in ',=[]"'):
                raise ServiceError(
                    f"SCRAM user {user!r}: names and passwords must be non-empty and free of "
                    "',', '=', '[', ']' and '\"' (StorageTool's --add-scram syntax)."
                )


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
    sasl_ssl
        An extra secured client listener, or None (PLAINTEXT only, the default).
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
        sasl_ssl: SaslSslListener | None = None,
    ) -> None:
        self.port = port
        self.controller_port = controller_port
        self.sasl_ssl = sasl_ssl
        if len(set(self._ports())) != len(self._ports()):
            raise ServiceError(
                f"Kafka's listener and controller ports must differ (got {self._ports()})."
            )
        self.state_dir = Path(state_dir).absolute()
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
        secured = saved.get("sasl_ssl")
        return cls(
            state_dir,
            int(saved["port"]),
            int(saved["controller_port"]),
            str(saved.get("heap", "512m")),
            cache_dir=cache_dir,
            sasl_ssl=(
                SaslSslListener(int(secured["port"]), Path(secured["keystore"]))
                if secured
                else None
            ),
        )

    def __repr__(self) -> str:
        return f"KafkaBroker({str(self.state_dir)!r}, port={self.port}, pid={self.pid})"

    @property
    def bootstrap(self) -> str:
        """The ``bootstrap_servers`` string clients use."""
        return f"{self.host}:{self.port}"

    @property
    def sasl_ssl_bootstrap(self) -> str:
        """The ``bootstrap_servers`` string for the secured listener."""
        if self.sasl_ssl is None:
            raise ServiceError(f"{self!r} has no SASL_SSL listener.")
        return f"{self.host}:{self.sasl_ssl.port}"

    def _ports(self) -> list[int]:
        """Every port the node listens on."""
        secured = [self.sasl_ssl.port] if self.sasl_ssl else []
        return [self.port, self.controller_port, *secured]

    def _owns(self, cmdline: str) -> bool:
        return "kafka.Kafka" in cmdline and str(self.properties_path) in cmdline

    # -- files -------------------------------------------------------------------------------

    def _properties(self) -> str:
        """The node's configuration; see design note section 9 for why each line is there."""
        port, cport, host = self.port, self.controller_port, self.host
        listeners = f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}"
        protocols = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        if self.sasl_ssl is not None:
            listeners += f",SASL_SSL://{host}:{self.sasl_ssl.port}"
            protocols += ",SASL_SSL:SASL_SSL"
        return f"""\
# Written by Driftwatch (monitor.services.kafka); regenerated on every start.
process.roles=broker,controller
node.id=1
# --standalone format + dynamic quorum: never combine with the static controller.quorum.voters.
controller.quorum.bootstrap.servers={host}:{cport}
listeners={listeners}
advertised.listeners={listeners}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map={protocols}
{self._sasl_ssl_properties()}log.dirs={self.data_dir}
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

    def _sasl_ssl_properties(self) -> str:
        """The secured listener's lines (empty without one): TLS from a PEM key store, SCRAM
        checked against the credentials in the cluster metadata (no user or password here: the
        broker itself never authenticates on this listener), and ACLs enforced for its users."""
        if self.sasl_ssl is None:
            return ""
        prefix = f"listener.name.sasl_ssl.{SCRAM_MECHANISM.lower()}"
        return f"""\
sasl.enabled.mechanisms={SCRAM_MECHANISM}
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS
{prefix}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location={Path(self.sasl_ssl.keystore).absolute()}
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
        if self.sasl_ssl is not None:  # the users' passwords stay out: they live in the storage
            saved["sasl_ssl"] = {
                "port": self.sasl_ssl.port,
                "keystore": str(Path(self.sasl_ssl.keystore).absolute()),
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
            *self._scram_arguments(),
        )
        logger.info("formatting Kafka storage in %s (cluster id %s)", self.data_dir, cluster_id)
        secrets = list(self.sasl_ssl.users.values()) if self.sasl_ssl else []
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
            output = (result.stdout + result.stderr).strip()
            for secret in secrets:  # StorageTool may echo its arguments
                output = output.replace(secret, "***")
            raise ServiceError(
                f"formatting Kafka storage in {self.data_dir} failed (exit {result.returncode}):\n"
                + output
            )

    def _scram_arguments(self) -> list[str]:
        """``--add-scram 'SCRAM-SHA-512=[name=u,password=p]'`` per user of the secured listener.

        On the command line of a short JVM run on 127.0.0.1, visible to local users for its
        lifetime: fine for the throwaway users of tests, which is what this listener is for.
        """
        if self.sasl_ssl is None:
            return []
        arguments: list[str] = []
        for user, password in self.sasl_ssl.users.items():
            arguments += ["--add-scram", f"{SCRAM_MECHANISM}=[name={user},password={password}]"]
        return arguments

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
        for port in self._ports():
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
