"""A Redis that refuses the password or the user's rights is named as such, in one line, by
every command and by the daemon, which exits instead of waiting for ever.

The tests start their own ``redis-server`` with a password (``requirepass``) and an ACL user
that may only PING, on a free port: the session's shared Redis has no password to get wrong.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from monitor import config
from monitor.cli import main
from monitor.errors import AccessRefusedError
from monitor.services import RedisServer
from monitor.store.client import check_rights, connect
from tests.support import ROOT

PASSWORD = "right-" + uuid.uuid4().hex
MODEL = '[[models]]\nname = "m"\nowner = "o"\ntask = "binary"\nfeatures = { a = "numeric" }\n'
#: Commands that read Redis, each with what it needs besides ``--config``.
READERS = [
    ["status"],
    ["status", "--json"],
    ["alerts", "list"],
    ["silence", "list"],
    ["history", "--model", "m"],
    ["retrain", "list"],
    ["baseline", "list", "--model", "m"],
]


@dataclass(frozen=True)
class Guarded:
    """A throwaway Redis that wants :data:`PASSWORD`, with users made by ``user(rules)``."""

    url: str
    user: Callable[[list[str]], tuple[str, str]]


@pytest.fixture(scope="module")
def guarded(
    tmp_path_factory: pytest.TempPathFactory, free_port_factory: Callable[[int], list[int]]
) -> Iterator[Guarded]:
    server = RedisServer(tmp_path_factory.mktemp("guarded-redis"), free_port_factory(1)[0])
    server.start()
    admin = redis.Redis(host=server.host, port=server.port)
    admin.config_set("requirepass", PASSWORD)
    admin = redis.Redis(host=server.host, port=server.port, password=PASSWORD)

    def user(rules: list[str]) -> tuple[str, str]:
        name, password = f"u{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        admin.execute_command("ACL", "SETUSER", name, "on", f">{password}", *rules)
        return name, password

    try:
        yield Guarded(server.url, user)
    finally:
        admin.close()
        server.stop()


def write_config(tmp_path: Path, url: str, *, password_env: str = "DW_TEST_REDIS_PASSWORD") -> Path:
    path = tmp_path / "config.toml"
    secret = f'password_env = "{password_env}"\n' if password_env else ""
    path.write_text(f'[redis]\nurl = "{url}"\n{secret}key_prefix = "dwtest:refused"\n{MODEL}')
    return path


def invoke(args: list[str], path: Path, password: str | None) -> tuple[int, str]:
    env = {"DW_TEST_REDIS_PASSWORD": password}
    result = CliRunner().invoke(main, [*args, "--config", str(path)], env=env)
    return result.exit_code, result.output


def one_line(output: str) -> str:
    assert "Traceback" not in output and output.count("\n") == 1, output
    return output.strip()


@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_a_wrong_password_is_one_line_naming_the_secret(
    tmp_path: Path, guarded: Guarded, command: list[str]
) -> None:
    code, output = invoke(command, write_config(tmp_path, guarded.url), "wrong")
    assert code == 1
    line = one_line(output)
    assert line.startswith(f"error: Redis at {guarded.url} refused the credentials (")
    assert line.endswith("check the password in $DW_TEST_REDIS_PASSWORD (redis.password_env)")
    assert "unreachable" not in line and "start it" not in line


def test_the_right_password_reads(tmp_path: Path, guarded: Guarded) -> None:
    code, output = invoke(["status"], write_config(tmp_path, guarded.url), PASSWORD)
    assert code == 0, output
    assert re.search(r"^m +NOT EVALUATED", output, re.MULTILINE), output


def test_a_missing_password_says_one_is_wanted(tmp_path: Path, guarded: Guarded) -> None:
    code, output = invoke(["status"], write_config(tmp_path, guarded.url, password_env=""), None)
    assert code == 1
    line = one_line(output)
    assert "refused the credentials" in line
    assert "this Redis wants a password: name the environment variable holding it in " in line


def test_an_unknown_user_names_the_user(tmp_path: Path, guarded: Guarded) -> None:
    url = guarded.url.replace("redis://", "redis://nobody@")
    code, output = invoke(["status"], write_config(tmp_path, url), PASSWORD)
    assert code == 1
    line = one_line(output)
    assert f"Redis at {url} refused the credentials" in line
    assert "and the user 'nobody' in redis.url" in line


def test_a_user_without_read_rights_is_one_line_naming_the_user(
    tmp_path: Path, guarded: Guarded
) -> None:
    name, password = guarded.user(["+ping"])  # may connect, may read nothing
    url = guarded.url.replace("redis://", f"redis://{name}@")
    code, output = invoke(["status"], write_config(tmp_path, url), password)
    assert code == 1
    line = one_line(output)
    assert line.startswith("error: Redis refused the user of redis.url a command Driftwatch needs")
    assert "docs/operations.md (Redis rights)" in line


def test_the_dashboard_does_not_start_with_a_wrong_password(
    tmp_path: Path, guarded: Guarded
) -> None:
    result = run_cli(["dashboard", "--port", "0"], write_config(tmp_path, guarded.url), "wrong")
    assert result.returncode == 1
    assert "refused the credentials" in one_line(result.stderr)


def run_cli(args: list[str], path: Path, password: str) -> subprocess.CompletedProcess[str]:
    """``driftwatch ARGS`` as a service manager starts it (the daemon and the dashboard run in
    the foreground: they must exit by themselves)."""
    env = {**os.environ, "DW_TEST_REDIS_PASSWORD": password}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args, "--config", str(path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_daemon_exits_on_a_wrong_password_in_one_line(tmp_path: Path, guarded: Guarded) -> None:
    result = run_cli(["run", "--http-port", "0"], write_config(tmp_path, guarded.url), "wrong")
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith(f"error: Redis at {guarded.url} refused the credentials (")
    assert "$DW_TEST_REDIS_PASSWORD (redis.password_env)" in line


def test_the_daemon_exits_when_its_user_lacks_rights(tmp_path: Path, guarded: Guarded) -> None:
    """The documented dashboard user (read-only) cannot run the daemon: it says so at once,
    instead of starting and waiting on its first write."""
    name, password = guarded.user(_documented_rules("driftwatch-dashboard", "dwtest:refused"))
    url = guarded.url.replace("redis://", f"redis://{name}@")
    result = run_cli(["run", "--http-port", "0"], write_config(tmp_path, url), password)
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert f"Redis at {url} refused user '{name}' a command Driftwatch needs" in line


def test_the_documented_daemon_user_passes_the_rights_check(
    guarded: Guarded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon's rights check passes the user docs/operations.md documents for the daemon,
    and refuses the read-only user documented for the dashboard."""

    def check(user: str) -> None:
        name, password = guarded.user(_documented_rules(user, "dwtest:refused"))
        monkeypatch.setenv("DW_TEST_REDIS_PASSWORD", password)
        url = guarded.url.replace("redis://", f"redis://{name}@")
        settings = config.RedisSettings(url, "DW_TEST_REDIS_PASSWORD", key_prefix="dwtest:refused")
        check_rights(connect(settings), settings, "dwtest:refused:parts")

    check("driftwatch")  # no error: every right it needs is granted
    with pytest.raises(AccessRefusedError, match=r"refused user 'u[0-9a-f]{8}' a command"):
        check("driftwatch-dashboard")  # reads only


def _documented_rules(user: str, prefix: str) -> list[str]:
    """The ACL rules docs/operations.md gives ``user``, for ``prefix``, without the password."""
    text = (ROOT / "docs" / "operations.md").read_text()
    line = re.search(rf"^ACL SETUSER {user} (.+)$", text, flags=re.MULTILINE)
    assert line is not None, user
    return [
        rule.replace("dw:*", f"{prefix}:*")
        for rule in line.group(1).split()
        if not rule.startswith(">") and rule != "on"
    ]
