"""Driftwatch through a secured Kafka listener (SASL_SSL, SCRAM-SHA-512), as production runs it.

One real broker for the module (the project's own :class:`KafkaBroker`, from the Maven jars) with a
SASL_SSL listener: its certificate is signed by a throwaway CA made here with the ``openssl`` CLI,
and its SCRAM users are written into the storage before the first start. The broker enforces
ACLs there, and each user is granted only the rights docs/operations.md lists (so the list is
known to suffice). The daemon, ``topics create`` and the simulator's producer reach it only
through that listener, with the password in an environment variable and the CA in
``kafka.ssl_cafile``; a wrong password and an untrusted certificate must stop the daemon at
start-up with one line naming the setting to fix.

kafka-python retries a refused login until its 30-second bootstrap timeout, so the daemon with the
wrong password is started first and judged last: the module stays under a minute.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    KafkaAdminClient,
    ResourcePattern,
    ResourceType,
)

from monitor import config
from monitor.errors import ConfigError
from monitor.ingest.clients import kafka_client
from monitor.ingest.topics import ensure_topics
from monitor.services import ServiceError
from monitor.services.kafka import SCRAM_MECHANISM, KafkaBroker, SaslSslListener
from monitor.simulate import Simulator, produce
from tests.e2e.conftest import MODELS, ROOT, Deployment, to_toml
from tests.e2e.test_ingest import Expected, assert_exact, reached

#: The daemon's user, and the producer's (the simulator stands for the models' services).
USER, PRODUCER = "driftwatch", "model-service"
USER_ENV, PASSWORD_ENV = "DW_TEST_SASL_USER", "DW_TEST_SASL_PASSWORD"
PRODUCER_ENV, PRODUCER_PASSWORD_ENV = "DW_TEST_SASL_PRODUCER", "DW_TEST_SASL_PRODUCER_PASSWORD"
WRONG_PASSWORD_ENV = "DW_TEST_SASL_WRONG_PASSWORD"
#: The daemon must give up within this on refused credentials: kafka-python's bootstrap timeout
#: (30 s) plus the Python start-up and the Redis checks, with room for a loaded CI machine (~32 s
#: on an idle one). A hang would never end.
REFUSAL_BOUND_SECONDS = 60.0
#: An untrusted certificate is found by a TLS handshake before any client bootstraps: well below
#: the 30-second bootstrap timeout even with the CLI's start-up on a loaded machine.
TLS_REFUSAL_BOUND_SECONDS = 25.0


@dataclass(frozen=True)
class SecuredKafka:
    """The secured broker as a client sees it."""

    bootstrap: str
    cafile: Path
    rogue_cafile: Path  # a CA that signed nothing the broker shows
    passwords: dict[str, str]
    admin_bootstrap: str  # the PLAINTEXT port, where every client is a super user: for grants


def _openssl(*args: str, cwd: Path) -> None:
    """Run the openssl CLI; fail the test with its output (or how to install it)."""
    if shutil.which("openssl") is None:
        pytest.fail("the openssl CLI is missing: sudo apt-get install -y openssl")
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, a broker key + certificate it signs (named 127.0.0.1 and localhost, so clients keep
    checking the host name), and an unrelated CA: (keystore PEM, CA, rogue CA)."""
    for ca in ("ca", "rogue-ca"):
        _openssl(
            *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-subj", f"/CN=driftwatch test {ca}"),
            cwd=folder,
        )
    _openssl(
        *("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key"),
        *("-out", "broker.csr", "-subj", "/CN=127.0.0.1"),
        cwd=folder,
    )
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(
        *("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key"),
        *("-CAcreateserial", "-days", "1", "-extfile", "san.cnf", "-out", "broker.pem"),
        cwd=folder,
    )
    # Kafka's PEM key store: the unencrypted PKCS#8 key, then the certificate chain.
    keystore = folder / "keystore.pem"
    keystore.write_text("".join((folder / f).read_text() for f in ("broker.key", "broker.pem")))
    keystore.chmod(0o600)
    return keystore, folder / "ca.pem", folder / "rogue-ca.pem"


@pytest.fixture(scope="module")
def secured_kafka(
    tmp_path_factory: pytest.TempPathFactory, free_port_factory: Callable[[int], list[int]]
) -> Iterator[SecuredKafka]:
    """A broker whose only client listener Driftwatch uses is SASL_SSL with SCRAM-SHA-512."""
    folder = tmp_path_factory.mktemp("secured-kafka")
    keystore, cafile, rogue = make_certificates(folder)
    passwords = {user: secrets.token_urlsafe(16) for user in (USER, PRODUCER)}
    port, controller_port, secured_port = free_port_factory(3)
    broker = KafkaBroker(
        folder / "broker",
        port,
        controller_port,
        sasl_ssl=SaslSslListener(secured_port, keystore, passwords),
    )
    try:
        broker.start()
    except ServiceError as exc:
        pytest.fail(f"could not start the SASL_SSL broker: {exc}")
    try:
        yield SecuredKafka(broker.sasl_ssl_bootstrap, cafile, rogue, passwords, broker.bootstrap)
    finally:
        broker.stop()


@pytest.fixture
def secured_deployment(
    tmp_path: Path,
    secured_kafka: SecuredKafka,
    redis_url: str,
    key_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Deployment]:
    """``make(user_env=..., password_env=..., cafile=...)``: a config reaching the secured
    listener only, its topics named for this test (created by ``topics create``, not here). The
    daemon's user and password are in ``$DW_TEST_SASL_USER`` and ``$DW_TEST_SASL_PASSWORD``, the
    producer's in ``$DW_TEST_SASL_PRODUCER[_PASSWORD]``, a wrong password in
    ``$DW_TEST_SASL_WRONG_PASSWORD``."""
    monkeypatch.setenv(USER_ENV, USER)
    monkeypatch.setenv(PASSWORD_ENV, secured_kafka.passwords[USER])
    monkeypatch.setenv(PRODUCER_ENV, PRODUCER)
    monkeypatch.setenv(PRODUCER_PASSWORD_ENV, secured_kafka.passwords[PRODUCER])
    monkeypatch.setenv(WRONG_PASSWORD_ENV, "not-" + secrets.token_urlsafe(8))
    suffix = key_prefix.split(":")[-1]

    def make(
        user_env: str = USER_ENV, password_env: str = PASSWORD_ENV, cafile: Path | None = None
    ) -> Deployment:
        doc: dict[str, Any] = {
            "kafka": {
                "bootstrap_servers": [secured_kafka.bootstrap],
                "group_id": f"g-{suffix}",
                "predictions_topic": f"dwtest-secure-pred-{suffix}",
                "outcomes_topic": f"dwtest-secure-out-{suffix}",
                "dead_letter_topic": f"dwtest-secure-dlq-{suffix}",
                "session_timeout_ms": 3000,
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": SCRAM_MECHANISM,
                "sasl_username_env": user_env,
                "sasl_password_env": password_env,
                "ssl_cafile": str(cafile or secured_kafka.cafile),
            },
            "redis": {"url": redis_url, "key_prefix": key_prefix},
            "runtime": {"http_port": 0, "log_format": "text", "log_level": "INFO"},
            "simulate": {
                "rate": 1000.0,
                "label_delay_seconds": 3.0,
                "faults": [
                    {"kind": "malformed_json", "model": "fraud-detector", "magnitude": 0.02}
                ],
            },
            "models": MODELS,
        }
        path = tmp_path / f"config-{len(list(tmp_path.glob('config-*.toml')))}.toml"
        path.write_text(to_toml(doc))
        return Deployment(path, config.load(path), redis_url)

    return make


def grant_least_privilege(admin_bootstrap: str, kafka: config.KafkaSettings) -> None:
    """Grant the rights docs/operations.md lists, no more. The daemon's user: Read on the two
    event topics and on its consumer group, Write on the dead-letter topic, and (only because this
    test runs ``topics create`` as that user) Create on the three topics. The producer's: Write on
    the event topics. Read and Write imply Describe."""
    topic, group = ResourceType.TOPIC, ResourceType.GROUP
    daemon, producer = f"User:{USER}", f"User:{PRODUCER}"
    rights = [
        (daemon, ACLOperation.READ, topic, kafka.predictions_topic),
        (daemon, ACLOperation.READ, topic, kafka.outcomes_topic),
        (daemon, ACLOperation.READ, group, kafka.group_id),
        (daemon, ACLOperation.WRITE, topic, kafka.dead_letter_topic),
        *(
            (daemon, ACLOperation.CREATE, topic, name)
            for name in (kafka.predictions_topic, kafka.outcomes_topic, kafka.dead_letter_topic)
        ),
        (producer, ACLOperation.WRITE, topic, kafka.predictions_topic),
        (producer, ACLOperation.WRITE, topic, kafka.outcomes_topic),
    ]
    acls = [
        ACL(who, "*", operation, ACLPermissionType.ALLOW, ResourcePattern(kind, name))
        for who, operation, kind, name in rights
    ]
    admin = KafkaAdminClient(bootstrap_servers=admin_bootstrap, client_id="dwtest-grants")
    try:
        result = admin.create_acls(acls)
    finally:
        admin.close()
    assert not result["failed"], result["failed"]


class Command:
    """``driftwatch ARGS`` started as a user runs it (with this test's environment), not waited
    for, so a slow refusal can run while the test does other work. Made by the ``command``
    fixture, which kills what still runs when the test ends. Its output goes to two files, not
    pipes: nobody reads a pipe while it runs, and a full one would stall it."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.name = " ".join(("driftwatch", *args))
        self.began = time.monotonic()
        folder.mkdir(parents=True)
        self.out_path, self.err_path = folder / "stdout", folder / "stderr"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "monitor", *args],
                stdout=out,
                stderr=err,
                cwd=ROOT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def finish(self, within: float) -> tuple[int, str, str, float]:
        """Wait until it exits, at most ``within`` seconds after its start (then kill it and fail
        the test): exit code, stdout, stderr, seconds it ran."""
        left = max(0.0, self.began + within - time.monotonic())
        try:
            code = self.proc.wait(timeout=left)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        seconds = time.monotonic() - self.began
        out, err = self.out_path.read_text(), self.err_path.read_text()
        if code is None:
            pytest.fail(f"{self.name} still ran after {within:.0f}s:\n{out}{err}")
        return code, out, err, seconds


@pytest.fixture
def command(tmp_path: Path) -> Iterator[Callable[..., Command]]:
    """``command(*args)``: start ``driftwatch ARGS``; killed at the end of the test if running."""
    started: list[Command] = []

    def start(*args: str) -> Command:
        started.append(Command(tmp_path / f"command-{len(started)}", *args))
        return started[-1]

    yield start
    for each in started:
        if each.proc.poll() is None:
            each.proc.kill()
            each.proc.wait()


def refusal_line(code: int, out: str, err: str) -> str:
    """A refusal as the CLI must word it: non-zero exit, one ``error:`` line, no traceback."""
    assert code != 0, out + err
    assert "Traceback" not in out + err, out + err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out + err
    return errors[0]


@pytest.mark.slow
def test_every_event_counted_over_sasl_ssl_and_a_wrong_password_refused_at_start(
    secured_deployment: Callable[..., Deployment],
    secured_kafka: SecuredKafka,
    command: Callable[..., Command],
    daemon_factory: Any,
    wait_for: Any,
) -> None:
    refused = command(
        "run", "--config", str(secured_deployment(password_env=WRONG_PASSWORD_ENV).path)
    )
    dep = secured_deployment()
    grant_least_privilege(secured_kafka.admin_bootstrap, dep.settings.kafka)
    code, out, err, _ = command(
        "topics", "create", "--config", str(dep.path), "--partitions", "2"
    ).finish(60)
    assert code == 0, err
    for topic in (dep.settings.kafka.predictions_topic, dep.settings.kafka.dead_letter_topic):
        assert topic in out, out

    events = list(Simulator(dep.settings, seed=11, start=time.time() - 600).events(4000))
    expected = Expected.of(events)
    assert expected.malformed > 20  # the dead-letter producer is exercised over SASL_SSL too
    producer = secured_deployment(user_env=PRODUCER_ENV, password_env=PRODUCER_PASSWORD_ENV)
    assert produce(producer.settings, events, realtime_rate=None).n_failed == 0

    daemon = daemon_factory(dep)
    wait_for(reached(dep, expected), 60, "every event produced over SASL_SSL counted")
    assert_exact(dep, expected)
    # Ready: the dependency probe's own admin client gets through with the same rights.
    wait_for(lambda: daemon.get("/readyz")[0] == 200, 15, "the daemon ready")
    assert daemon.terminate() == 0
    assert_exact(dep, expected)

    code, out, err, seconds = refused.finish(REFUSAL_BOUND_SECONDS)
    line = refusal_line(code, out, err)
    assert f"${WRONG_PASSWORD_ENV} (kafka.sasl_password_env)" in line, line
    assert f"${USER_ENV} (kafka.sasl_username_env)" in line and SCRAM_MECHANISM in line, line
    assert os.environ[WRONG_PASSWORD_ENV] not in out + err
    print(f"wrong password: exit {code} after {seconds:.1f}s: {line}")


@pytest.mark.slow
def test_an_untrusted_certificate_stops_the_daemon_and_topics_create_naming_the_ca(
    secured_deployment: Callable[..., Deployment],
    secured_kafka: SecuredKafka,
    command: Callable[..., Command],
) -> None:
    dep = secured_deployment(cafile=secured_kafka.rogue_cafile)
    for args in (("run",), ("topics", "create")):
        code, out, err, seconds = command(*args, "--config", str(dep.path)).finish(60)
        line = refusal_line(code, out, err)
        assert "kafka.ssl_cafile" in line and "certificate is not trusted" in line, line
        assert seconds < TLS_REFUSAL_BOUND_SECONDS, f"{args}: {seconds:.1f}s"
        print(f"untrusted CA, {' '.join(args)}: exit {code} after {seconds:.1f}s: {line}")


@pytest.mark.parametrize(
    ("kafka", "key", "problem"),
    [
        ({"ssl_cafile": "/etc/hosts"}, "kafka.ssl_cafile", "does not use TLS"),
        (
            {"security_protocol": "SSL", "ssl_cafile": "/nonexistent/ca.pem"},
            "kafka.ssl_cafile",
            "the file it names does not exist",
        ),
    ],
)
def test_tls_files_are_checked_when_the_config_loads(
    tmp_path: Path, kafka: dict[str, str], key: str, problem: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(to_toml({"kafka": kafka, "models": MODELS}))
    with pytest.raises(ConfigError) as raised:
        config.load(path)
    assert raised.value.key == key and problem in raised.value.problem


def test_a_ca_file_that_is_not_pem_is_a_config_error_before_any_connection() -> None:
    settings = config.KafkaSettings(
        bootstrap_servers=("127.0.0.1:1",), security_protocol="SSL", ssl_cafile="/etc/hosts"
    )
    with pytest.raises(ConfigError) as raised:
        kafka_client(KafkaAdminClient, settings)
    assert raised.value.key == "kafka.ssl_cafile" and "PEM" in raised.value.problem


@pytest.mark.slow
def test_a_missing_right_stops_the_daemon_and_an_invisible_topic_is_named(
    secured_deployment: Callable[..., Deployment],
    secured_kafka: SecuredKafka,
    command: Callable[..., Command],
) -> None:
    """The producer's user runs the daemon: it may write the event topics (so it sees them) but
    not read the consumer group. Waiting never grants a right: the daemon must stop with one
    line naming the group, not retry for ever. The outcomes topic is never created: the daemon
    names it at start-up instead of consuming the other topic in silence."""
    dep = secured_deployment(user_env=PRODUCER_ENV, password_env=PRODUCER_PASSWORD_ENV)
    kafka = dep.settings.kafka
    grant_least_privilege(secured_kafka.admin_bootstrap, kafka)
    admin = dataclasses.replace(
        kafka,
        bootstrap_servers=(secured_kafka.admin_bootstrap,),
        security_protocol="PLAINTEXT",
        ssl_cafile="",
        outcomes_topic=kafka.outcomes_topic + "-absent",
    )
    ensure_topics(admin, partitions=1)  # the predictions and dead-letter topics only
    code, out, err, seconds = command("run", "--config", str(dep.path)).finish(60)
    line = refusal_line(code, out, err)
    assert "kafka.group_id" in line and kafka.group_id in line, line
    assert f"topic {kafka.outcomes_topic} is not visible" in out + err, out + err
    print(f"no right on the group: exit {code} after {seconds:.1f}s: {line}")
