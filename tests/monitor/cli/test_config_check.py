"""``config check`` lists every problem of a file at once, and every command's help reads
cleanly: whole summaries in the command lists, no markup, every option explained."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
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


def test_config_check_summarises_a_sound_file_without_its_password(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    text = (ROOT / "config.toml").read_text()
    path.write_text(text.replace('url = "redis://', 'url = "redis://:hunter2@', 1))
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{path}: OK") and "hunter2" not in result.output
    assert ":***@" in result.output


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
