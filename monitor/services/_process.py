"""Process plumbing shared by the Kafka and Redis launchers.

Both services run as detached children (own session, output to a log file) so they outlive the
``driftwatch services up`` command that started them. They are found again only through the pid
file we wrote, and every signal goes to that recorded pid after checking that its command line is
still ours: we never look a process up by name (Kafka's own stop script does, and would kill a
colleague's broker).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

__all__ = [
    "command_line",
    "file_lock",
    "pid_alive",
    "port_open",
    "read_pid",
    "signal_pid",
    "spawn",
    "stop_pid",
    "tail",
    "wait_exit",
    "write_pid",
]

logger = logging.getLogger(__name__)

#: Children started by this Python process, by pid, so ``poll()`` can reap them. Without reaping, a
#: killed child stays a zombie and ``kill(pid, 0)`` keeps saying it is alive.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}

#: How often waits re-check a process or port; short enough that tests don't idle, long enough that
#: a 90-second wait does not spin a core.
_POLL_SECONDS = 0.1


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` detached from our terminal and session, appending its output to ``log_path``.

    ``start_new_session=True`` keeps Ctrl-C in the launching shell from reaching the service and
    lets it survive the launcher's exit.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    _CHILDREN[proc.pid] = proc
    return proc


def read_pid(path: Path) -> int | None:
    """Return the pid recorded in ``path``, or None when the file is missing or unreadable."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def write_pid(path: Path, pid: int) -> None:
    """Record ``pid`` atomically, so a concurrent reader never sees a half-written number."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{pid}\n", encoding="ascii")
    tmp.replace(path)


def command_line(pid: int) -> str | None:
    """Return the process's command line joined by spaces, or None if unknown (not Linux, gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()


def _is_zombie(pid: int) -> bool:
    """True when ``pid`` has exited but was not reaped yet (Linux only; False elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    # The state letter follows the parenthesised command name, which may itself contain ')'.
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs; reaps it first when it is our own child."""
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        _CHILDREN.pop(pid, None)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return not _is_zombie(pid)


def wait_exit(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``pid`` to exit; return True if it did."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True


def signal_pid(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to ``pid`` only, ignoring a process that is already gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def stop_pid(pid: int, timeout: float, name: str) -> None:
    """SIGTERM ``pid`` (clean shutdown for Kafka and Redis); SIGKILL it if alive after ``timeout``.

    The clean path matters: Kafka then skips log recovery on the next start, Redis fsyncs its AOF.
    """
    signal_pid(pid, signal.SIGTERM)
    if wait_exit(pid, timeout):
        return
    logger.warning("%s (pid %d) ignored SIGTERM for %.0fs; sending SIGKILL", name, pid, timeout)
    signal_pid(pid, signal.SIGKILL)
    wait_exit(pid, 10.0)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, n_lines: int = 30, max_bytes: int = 64 * 1024) -> str:
    """Return the last ``n_lines`` of ``path`` for error messages, or a note when it is missing.

    Only the last ``max_bytes`` are read, so a huge log never slows down error reporting.
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - max_bytes))
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return f"({path} does not exist)"
    if not lines:
        return f"({path} is empty)"
    return "\n".join(lines[-n_lines:])


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if missing) for the ``with`` block.

    Serialises two ``up``/``down`` calls, or two parallel jar downloads, on the same folder.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class PidFileProcess:
    """A service process found through its pid file, and only if it is still visibly ours."""

    pid_file: Path

    @property
    def pid(self) -> int | None:
        """The running process's pid, or None when it is not running."""
        pid = read_pid(self.pid_file)
        if pid is None or not pid_alive(pid) or not self._owns_cmdline(pid):
            return None
        return pid

    def is_running(self) -> bool:
        """True while the process recorded in the pid file is alive."""
        return self.pid is not None

    def _owns_cmdline(self, pid: int) -> bool:
        """True unless ``pid`` is visibly some other process (a pid reused after a crash)."""
        cmdline = command_line(pid)
        if cmdline is None:  # no /proc (macOS): trust the pid file
            return True
        return self._owns(cmdline)

    def _owns(self, cmdline: str) -> bool:
        raise NotImplementedError
