"""``driftwatch alerts test`` and ``alerts list`` through the real command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from tests.monitor.alert.support import Endpoint, serving

CONFIG = """
[redis]
url = "{redis_url}"
key_prefix = "{prefix}"

[[models]]
name = "m"
owner = "o"
task = "binary"
features = {{ a = "numeric" }}

[alerting]
enabled = true
route = {{ receiver = "owners" }}

[[alerting.receivers]]
name = "owners"
apprise_urls = [{{ env = "DW_TEST_HOOK" }}]
"""


def test_a_test_notification_reaches_the_receiver_and_says_it_is_a_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str, key_prefix: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(redis_url=redis_url, prefix=key_prefix))
    with serving(Endpoint()) as hook:
        monkeypatch.setenv("DW_TEST_HOOK", f"json://{hook.address}/hook")
        runner = CliRunner()
        sent = runner.invoke(
            main, ["alerts", "test", "--receiver", "owners", "--config", str(config)]
        )
        assert sent.exit_code == 0, sent.output
        ((_, body),) = hook.requests
        assert body["title"].startswith("[TEST]") and "no action needed" in body["message"]
        unknown = runner.invoke(
            main, ["alerts", "test", "--receiver", "x", "--config", str(config)]
        )
        assert unknown.exit_code == 2 and "use owners" in unknown.output
        listed = runner.invoke(main, ["alerts", "list", "--config", str(config)])
        assert listed.exit_code == 0 and listed.output.startswith("state")


def test_a_missing_secret_is_named_before_anything_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str, key_prefix: str
) -> None:
    monkeypatch.delenv("DW_TEST_HOOK", raising=False)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(redis_url=redis_url, prefix=key_prefix))
    runner = CliRunner()
    args = ["alerts", "test", "--receiver", "owners", "--config", str(config)]
    result = runner.invoke(main, args)
    assert result.exit_code == 2 and "alerting.receivers[0].apprise_urls[0]" in result.output
    assert "DW_TEST_HOOK" in result.output
    # Listing alerts reads Redis only: it needs no receiver's secret.
    listed = runner.invoke(main, ["alerts", "list", "--config", str(config)])
    assert listed.exit_code == 0, listed.output
