"""The key layout's version: a daemon marks an unmarked prefix, and every process refuses data a
newer release wrote (its layout is unknown here) instead of reading or writing it wrongly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import RedisSettings
from monitor.store import layout
from monitor.store.keys import Keys

MODEL = '[[models]]\nname = "m"\nowner = "o"\ntask = "binary"\nfeatures = { a = "numeric" }\n'


def test_only_a_writer_marks_an_unmarked_prefix_and_a_mark_is_never_replaced(
    redis_client: redis.Redis, redis_url: str, key_prefix: str
) -> None:
    settings = RedisSettings(url=redis_url, key_prefix=key_prefix)
    key = Keys(key_prefix).layout
    layout.check(redis_client, settings)  # a reader: data from before the marker is layout 1
    assert redis_client.get(key) is None
    layout.check(redis_client, settings, mark=True)
    assert redis_client.get(key) == str(layout.LAYOUT).encode()
    redis_client.set(key, layout.LAYOUT + 1)  # a newer release migrated the data
    for mark in (False, True):
        with pytest.raises(layout.NewerLayoutError) as raised:
            layout.check(redis_client, settings, mark=mark)
        said = str(raised.value)
        assert f"key layout {layout.LAYOUT + 1} under the prefix {key_prefix!r}" in said
        assert said.endswith(layout.FIX)
    assert redis_client.get(key) == str(layout.LAYOUT + 1).encode()


@pytest.fixture
def newer_data(tmp_path: Path, redis_client: redis.Redis, redis_url: str, key_prefix: str) -> Path:
    """A config whose prefix holds data of a layout newer than this release's."""
    redis_client.set(Keys(key_prefix).layout, layout.LAYOUT + 1)
    config = tmp_path / "config.toml"
    config.write_text(
        '[kafka]\nbootstrap_servers = ["127.0.0.1:9"]\n'  # never reached: Redis is checked first
        f'[redis]\nurl = "{redis_url}"\nkey_prefix = "{key_prefix}"\n'
        f"[runtime]\nhttp_port = 0\n{MODEL}"
    )
    return config


@pytest.mark.parametrize("command", [["run"], ["status"], ["alerts", "list"]])
def test_the_daemon_and_the_commands_refuse_a_newer_layout_in_one_line(
    newer_data: Path, command: list[str]
) -> None:
    result = CliRunner().invoke(main, [*command, "--config", str(newer_data)])
    assert result.exit_code == 1, result.output
    assert f"key layout {layout.LAYOUT + 1}" in result.output and layout.FIX in result.output
    assert "Traceback" not in result.output


def test_the_dashboard_does_not_start_on_a_newer_layout(newer_data: Path) -> None:
    """Checked before the command becomes Streamlit (a separate process: it replaces itself)."""
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "dashboard", "--config", str(newer_data)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"key layout {layout.LAYOUT + 1}" in done.stderr and "Traceback" not in done.stderr
