"""A private ``redis-server`` for development and tests, configured as production should be.

Driftwatch's exactly-once state lives in Redis, so even the local server runs with the settings the
design requires (``maxmemory-policy noeviction``: eviction silently loses state; AOF ``everysec``:
a crash loses at most a second) and nothing else (``save ""``: no RDB snapshots competing with AOF).
It listens on 127.0.0.1 only, is launched detached by us (``daemonize no`` so we know its pid from
the start), and is stopped by that recorded pid, never by name. The system's own Redis service, if
any, is left alone.

Asked for a password (``driftwatch services up`` does), it generates a random one into a 0600 file
in its 0700 state folder, kept across restarts, which configs name in ``redis.password_file``:
anyone who can write Driftwatch's keys can change its counts and verdicts, so even a development
Redis should not accept every local user. Test sessions start theirs without one.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

import redis as redis_py

from monitor.services import _process
from monitor.services.errors import ServiceError

__all__ = ["RedisServer", "ensure_redis_installed"]

logger = logging.getLogger(__name__)

#: The port Debian's redis-server package starts its own service on.
_SYSTEM_REDIS_PORT = 6379
#: apt-get on a slow mirror; bounds a hung install, not a slow one.
_APT_TIMEOUT_SECONDS = 900.0
#: How long the package's init script may take to bind its port after ``apt-get install``.
_APT_SERVICE_SETTLE_SECONDS = 3.0
_READY_POLL_SECONDS = 0.05

_INSTALL_HINT = (
    "Install it ('sudo apt-get install -y redis-server' on Debian/Ubuntu, 'brew install redis' "
    "on macOS) and retry."
)


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run an apt/service command non-interactively, capturing its output for error messages."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=_APT_TIMEOUT_SECONDS,
        check=False,
    )


def _stop_service_started_by_apt() -> None:
    """Stop the system Redis that ``apt-get install`` just started on 6379, and only that one.

    Debian's package starts a system-wide redis-server on 6379 as part of its install. Left running,
    it would take our default port and, worse, look like "our" Redis without our durability
    settings. We stop it only when it was *not* listening before the install we ran ourselves: a
    Redis that was already running belongs to someone and stays untouched. We use the init system's
    own command (``service``/``systemctl``), never a kill by name.
    """
    deadline = time.monotonic() + _APT_SERVICE_SETTLE_SECONDS
    while not _process.port_open("127.0.0.1", _SYSTEM_REDIS_PORT):
        if time.monotonic() >= deadline:
            return  # the package did not start a service (containers, policy-rc.d): nothing to do
        time.sleep(0.2)
    if service := shutil.which("service") or shutil.which("service", path="/usr/sbin:/sbin"):
        command = [service, "redis-server", "stop"]
    elif systemctl := shutil.which("systemctl"):
        command = [systemctl, "stop", "redis-server"]
    else:
        logger.warning(
            "apt-get started a system redis-server on port %d and no service manager was found "
            "to stop it; Driftwatch's Redis needs another port",
            _SYSTEM_REDIS_PORT,
        )
        return
    result = _run(command)
    if result.returncode != 0:
        logger.warning(
            "could not stop the system redis-server that apt-get started (%s): %s",
            " ".join(command),
            (result.stdout + result.stderr).strip(),
        )
    else:
        logger.info("stopped the system redis-server service that apt-get started on port 6379")


def ensure_redis_installed() -> str:
    """Return the path of ``redis-server``, installing Debian's package first when we may.

    As root with apt-get available we install it (``apt-get update`` only when the first install
    attempt fails, so an up-to-date machine doesn't pay for a refresh). Otherwise we raise a
    :class:`ServiceError` naming the command: we never escalate privileges ourselves.
    """
    path = shutil.which("redis-server")
    if path is not None:
        return path
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise ServiceError(f"redis-server is not on PATH. {_INSTALL_HINT}")
    was_listening = _process.port_open("127.0.0.1", _SYSTEM_REDIS_PORT)
    logger.info("redis-server not found; running apt-get install -y redis-server")
    install = [apt, "install", "-y", "redis-server"]
    result = _run(install)
    if result.returncode != 0:
        logger.info("apt-get install failed; running apt-get update and trying again")
        _run([apt, "update"])
        result = _run(install)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()[-20:]
        raise ServiceError(
            f"'apt-get install -y redis-server' failed (exit {result.returncode}); check network "
            "access to the Debian mirrors and retry.\n" + "\n".join(output)
        )
    if not was_listening:
        _stop_service_started_by_apt()
    path = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
    if path is None:
        raise ServiceError(f"apt-get installed redis-server but it is not on PATH. {_INSTALL_HINT}")
    return path


def _quote(value: str) -> str:
    """Quote a value for redis.conf, so paths with spaces or quotes survive."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class RedisServer(_process.PidFileProcess):
    """One ``redis-server`` process on 127.0.0.1, with its files under ``state_dir``.

    ``state_dir`` holds ``redis.conf``, ``redis.log`` (server log and its stdout/stderr),
    ``redis.pid``, ``redis.json`` (the port and whether it has a password, for ``load``),
    ``data/`` (the AOF) and, with ``password``, ``password`` (the default user's, 0600).
    """

    host = "127.0.0.1"

    def __init__(self, state_dir: Path, port: int, *, password: bool = False) -> None:
        self.state_dir = Path(state_dir).absolute()
        self.port = port
        #: The file holding the password (for ``redis.password_file``), or None without one.
        self.password_file = self.state_dir / "password" if password else None
        self.config_path = self.state_dir / "redis.conf"
        self.data_dir = self.state_dir / "data"
        self.log_file = self.state_dir / "redis.log"
        self.pid_file = self.state_dir / "redis.pid"
        self.state_file = self.state_dir / "redis.json"

    @classmethod
    def load(cls, state_dir: Path) -> RedisServer | None:
        """Return the server last started in ``state_dir`` (its recorded port), or None."""
        try:
            saved = json.loads((Path(state_dir) / "redis.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        return cls(state_dir, int(saved["port"]), password=bool(saved.get("password")))

    def __repr__(self) -> str:
        return f"RedisServer({str(self.state_dir)!r}, port={self.port}, pid={self.pid})"

    @property
    def url(self) -> str:
        """The URL for ``redis.Redis.from_url``."""
        return f"redis://{self.host}:{self.port}/0"

    def _owns(self, cmdline: str) -> bool:
        # Redis rewrites its process title to "redis-server 127.0.0.1:<port>" once running.
        return "redis-server" in cmdline and (
            f":{self.port}" in cmdline or str(self.config_path) in cmdline
        )

    def _config(self) -> str:
        """redis.conf: production durability settings, loopback only, files in ``state_dir``."""
        return f"""\
# Written by Driftwatch (monitor.services.redis); regenerated on every start.
bind 127.0.0.1
port {self.port}
protected-mode yes
# We launch and supervise the process ourselves, so we know its pid without a fork.
daemonize no
pidfile {_quote(str(self.pid_file))}
logfile {_quote(str(self.log_file))}
dir {_quote(str(self.data_dir))}
# Exactly-once state must survive a crash (at most ~1 s lost) and must never be evicted.
appendonly yes
appendfsync everysec
save ""
maxmemory-policy noeviction
""" + (f"requirepass {_quote(self.password())}\n" if self.password_file else "")

    def password(self) -> str:
        """The password in :attr:`password_file`, generated there (0600) on first use and kept
        across restarts, so configs naming the file keep working. Empty without a password."""
        if self.password_file is None:
            return ""
        try:
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return self.password_file.read_text(encoding="utf-8").strip()
        value = secrets.token_urlsafe(32)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(value + "\n")
        return value

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait for PING; a no-op when it already runs.

        Raises :class:`ServiceError` when the port is taken by another process, the server exits
        during start-up, or PING fails for ``timeout`` seconds (the server is then killed).
        """
        if self.is_running():
            logger.info("Redis already running at %s (pid %s)", self.url, self.pid)
            return
        self.pid_file.unlink(missing_ok=True)  # stale: its process is gone or is not ours
        if _process.port_open(self.host, self.port):
            hint = (
                " If it is the system's Redis service, stop it with 'sudo service redis-server "
                "stop' (or 'sudo systemctl stop redis-server'), or"
                if self.port == _SYSTEM_REDIS_PORT
                else f" Stop that process (`ss -ltnp 'sport = :{self.port}'` shows it), or"
            )
            raise ServiceError(
                f"port {self.port} on {self.host} is already in use by another process, not the "
                f"Redis recorded in {self.pid_file}.{hint} choose another port (redis_port)."
            )
        server = ensure_redis_installed()
        for folder in (self.state_dir, self.data_dir):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.chmod(0o700)  # made by an older version, or under a permissive umask
        # redis.conf holds the password: readable by its owner only, whatever the umask.
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(self._config())
        self.config_path.chmod(0o600)
        self.state_file.write_text(
            json.dumps({"port": self.port, "password": self.password_file is not None}),
            encoding="utf-8",
        )
        log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        started = time.monotonic()
        proc = _process.spawn(
            [server, str(self.config_path)], log_path=self.log_file, cwd=self.state_dir
        )
        _process.write_pid(self.pid_file, proc.pid)
        logger.info("started Redis (pid %d) on port %d; waiting for PING", proc.pid, self.port)
        self._wait_ready(proc.pid, log_offset, started + timeout)
        logger.info("Redis ready at %s after %.2fs", self.url, time.monotonic() - started)

    def _wait_ready(self, pid: int, log_offset: int, deadline: float) -> None:
        """PING until it answers (AOF loading answers LOADING first), watching the process."""
        client = redis_py.Redis(
            host=self.host,
            port=self.port,
            password=self.password() or None,
            socket_timeout=1.0,
            socket_connect_timeout=0.5,
        )
        try:
            while True:
                if not _process.pid_alive(pid):
                    self.pid_file.unlink(missing_ok=True)
                    raise ServiceError(
                        f"redis-server exited during start-up (port clash or bad config?). "
                        f"Log since start:\n{self._log_since(log_offset)}"
                    )
                try:
                    if client.ping():
                        return
                except redis_py.RedisError:
                    pass
                if time.monotonic() >= deadline:
                    self.kill()
                    raise ServiceError(
                        f"redis-server did not answer PING on port {self.port} in time and was "
                        f"killed. Log since start:\n{self._log_since(log_offset)}"
                    )
                time.sleep(_READY_POLL_SECONDS)
        finally:
            client.close()

    def _log_since(self, offset: int) -> str:
        """The log written since ``offset`` (the last 30 lines), for error messages."""
        try:
            with open(self.log_file, "rb") as handle:
                handle.seek(offset)
                lines = handle.read().decode("utf-8", "replace").splitlines()
        except FileNotFoundError:
            return f"({self.log_file} does not exist)"
        return "\n".join(lines[-30:]) or "(nothing logged)"

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (Redis then runs SHUTDOWN: fsyncs the AOF), SIGKILL after ``timeout`` seconds."""
        pid = self.pid
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return
        logger.info("stopping Redis (pid %d)", pid)
        _process.stop_pid(pid, timeout, "Redis")
        if _process.pid_alive(pid):
            raise ServiceError(f"Redis (pid {pid}) did not exit even after SIGKILL.")
        self.pid_file.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL the server, as a crash would; the next ``start`` replays the AOF."""
        pid = self.pid
        if pid is None:
            return
        logger.info("killing Redis (pid %d) with SIGKILL", pid)
        _process.signal_pid(pid, signal.SIGKILL)
        if not _process.wait_exit(pid, 10.0):
            raise ServiceError(f"Redis (pid {pid}) did not exit after SIGKILL.")
        self.pid_file.unlink(missing_ok=True)
