"""``config check`` lists every problem of a file at once, and every command's help reads
cleanly: whole summaries in the command lists, no markup, every option explained."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from monitor.cli import main
from tests.support import ROOT


def test_config_check_lists_every_problem_with_model_names_and_near_misses(
    tmp_path: Path,
) -> None:
    text = (ROOT / "config.toml").read_text()
    broken = text.replace("group_id", "grup_id", 1).replace('task = "regression"', 'task = "x"')
    assert broken.count("grup_id") == 1 and 'task = "x"' in broken
    path = tmp_path / "config.toml"
    path.write_text(broken)
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{path}: 2 problems"
    assert "  kafka.grup_id: unknown key. Fix: rename it to group_id" in lines
    assert any(
        line.startswith("  models[1] (delivery-eta).task: 'x' is not allowed") for line in lines
    )
    assert "Traceback" not in result.output


def test_config_check_refuses_a_password_in_the_redis_url_without_printing_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    text = (ROOT / "config.toml").read_text()
    path.write_text(text.replace('url = "redis://', 'url = "redis://:hunter2@', 1))
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 2, result.output
    assert "hunter2" not in result.output
    line = next(line for line in result.output.splitlines() if "redis.url" in line)
    assert "a password must not be written in the URL (redis://:***@" in line
    assert "redis.password_env" in line and "redis.password_file" in line


def test_config_check_summary_shows_the_redis_user_of_a_sound_file(tmp_path: Path) -> None:
    """A user name alone (a Redis ACL user) is allowed, and shown."""
    path = tmp_path / "config.toml"
    text = (ROOT / "config.toml").read_text()
    path.write_text(text.replace('url = "redis://', 'url = "redis://driftwatch@', 1))
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{path}: OK")
    assert "  redis   redis://driftwatch@127.0.0.1:6379/0  prefix=" in result.output


def _commands(cmd: click.Command, path: tuple[str, ...]) -> Iterator[tuple[str, click.Command]]:
    yield " ".join(path), cmd
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            yield from _commands(sub, (*path, name))


def test_help_texts_are_whole_and_plain() -> None:
    """Command lists show whole summaries (click cuts long first sentences with "..."), no help
    shows reStructuredText backticks, and every option says what it does."""
    for name, cmd in _commands(main, ("driftwatch",)):
        text = cmd.get_help(click.Context(cmd, info_name=name))
        assert "``" not in text and ":func:" not in text, name
        if name != "driftwatch":
            assert not cmd.get_short_help_str(limit=55).endswith("..."), name
        bare = [p.name for p in cmd.params if isinstance(p, click.Option) and not p.help]
        assert not bare, (name, bare)


def test_top_level_help_lists_every_command_whole() -> None:
    result = CliRunner().invoke(main, ["--help"])
    commands = result.output.split("Commands:")[1]
    assert "..." not in commands and len(commands.strip().splitlines()) == len(main.commands)


SECRET = "hunter2-long-secret"
MODEL = '[[models]]\nname = "m"\nowner = "o"\ntask = "binary"\nfeatures = { a = "numeric" }\n'


@pytest.mark.parametrize(
    ("section", "commands"),
    [
        (f'[redis]\npassword_env = "{SECRET}"\n', ["config check", "status", "run"]),
        (f'[redis]\npassword_file = "/run/secrets/{SECRET}"\n', ["config check", "status", "run"]),
        (
            f'[redis]\nurl = "redis://driftwatch:{SECRET}@127.0.0.1:6379/0"\n',
            ["config check", "status", "run"],
        ),
        # status reads Redis only, so it never looks at Kafka's secrets
        (
            f'[kafka]\nsecurity_protocol = "SASL_SSL"\nsasl_password_env = "{SECRET}"\n',
            ["config check", "run"],
        ),
    ],
    ids=["password_env", "password_file", "redis.url", "sasl_password_env"],
)
def test_a_secret_written_in_the_wrong_place_is_never_printed(
    tmp_path: Path, section: str, commands: list[str]
) -> None:
    """``config check``, ``status`` and the daemon's start-up failure name the key and what is
    wrong, never the secret."""
    path = tmp_path / "config.toml"
    path.write_text(section + MODEL)
    key = section.split("\n")[-2].split(" = ")[0]
    for command in commands:
        args = (
            ["config", "check", str(path)]
            if command == "config check"
            else [command, "--config", str(path)]
        )
        result = subprocess.run(
            [sys.executable, "-m", "monitor", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 2, (command, output)
        assert SECRET not in output, (command, output)
        assert "Traceback" not in output and key in output, (command, output)
