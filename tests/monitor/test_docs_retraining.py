"""docs/retraining.md says what people copy: its example config must load and do what its
comments say, its commands must exist with the options shown, its example payload must match the
schema, and its receiver snippet must verify a real signed request (and refuse a forged one)."""

from __future__ import annotations

import base64
import json
import re
import shlex
import time
import tomllib
from pathlib import Path
from typing import Any

import click
import jsonschema
import pytest
from standardwebhooks import Webhook

from monitor import config
from monitor.cli import main
from monitor.config import TargetSettings, host_allowed
from monitor.retrain.policy import decide
from monitor.retrain.targets import ResolvedTarget, build_request
from monitor.vocab.alerts import Alert
from tests.support import ROOT

DOC = ROOT / "docs" / "retraining.md"
TEXT = DOC.read_text()
WHSEC = "whsec_" + base64.b64encode(bytes(range(7, 39))).decode()
T0 = 1_800_000_000.0


def blocks(language: str) -> list[str]:
    """The fenced code blocks of the doc in ``language`` (indented ones included)."""
    found = re.findall(rf"^( *)```{language}\n(.*?)^\1```", TEXT, re.S | re.M)
    return [re.sub(rf"^{indent}", "", body, flags=re.M) for indent, body in found]


def example_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> config.Settings:
    """The documented config over the repository's (its models), secrets in env and files."""
    base = tomllib.loads((ROOT / "config.toml").read_text())
    (example,) = [b for b in blocks("toml") if "[retraining]" in b]
    for name in re.findall(r'env = "(\w+)"', example):
        monkeypatch.setenv(name, "json://127.0.0.1:1/" if "URL" in name else f"token-{name}")
    for i, path in enumerate(re.findall(r'file = "([^"]+)"', example)):
        secret = tmp_path / f"secret-{i}"
        secret.write_text(WHSEC + "\n")
        example = example.replace(f'file = "{path}"', f'file = "{secret}"')
    return config.parse({**base, **tomllib.loads(example)})


def test_the_documented_config_loads_and_its_targets_resolve(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = example_settings(monkeypatch, tmp_path)
    retraining = settings.retraining
    assert settings.alerting.enabled and retraining.enabled
    kinds = {t.name: t.kind for t in retraining.targets}
    assert kinds == {"airflow": "airflow", "ml-hooks": "webhook", "github": "github"}
    for i, target in enumerate(retraining.targets):
        assert host_allowed(target.base_url, retraining.allowed_hosts)
        resolved = ResolvedTarget.resolve(target, f"retraining.targets[{i}]")  # secrets valid
        assert (resolved.signer is not None) == (target.kind == "webhook")
        assert resolved.authorization.startswith("Bearer ") == (target.kind != "webhook")
    perf, drift = retraining.policies
    assert (perf.name, perf.approval, perf.models) == ("performance-critical", "required", ())
    assert perf.min_new_labels > 0
    assert (drift.name, drift.models) == ("fraud-drift", ("fraud-detector",))


def test_the_documented_policies_do_what_their_comments_say(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Critical performance of any model goes to Airflow (after an hour); critical drift only
    of the fraud model, to GitHub; a warning of either asks nothing."""
    policies = example_settings(monkeypatch, tmp_path).retraining.policies

    def chosen(model: str, name: str, severity: str = "critical", hours: float = 7) -> str:
        labels = {"alertname": name, "model": model, "severity": severity, "owner": "o"}
        firing = Alert(labels, {}, "firing", T0, T0, T0, 1)
        opening = decide(policies, model, [firing], [], 10**6, T0 + hours * 3600)
        return opening.policy.target if opening is not None else "-"

    assert chosen("churn", "PerformanceDegraded") == "airflow"
    assert chosen("churn", "PerformanceDegraded", hours=0.5) == "-"
    assert chosen("fraud-detector", "FeatureDrift") == "github"
    assert chosen("fraud-detector", "FeatureDrift", hours=5) == "-"
    assert chosen("churn", "FeatureDrift") == "-"
    assert chosen("churn", "PerformanceDegraded", severity="warning") == "-"


def command_lines() -> list[str]:
    """Every ``driftwatch …`` line of the doc's shell blocks, continuations joined."""
    lines = []
    for block in blocks("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip().startswith("driftwatch "):
                lines.append(line.strip())
    return lines


def inline_commands() -> list[str]:
    """Every ``driftwatch …`` in backticks in the prose (syntax summaries allowed)."""
    prose = re.sub(r"^( *)```.*?^\1```", "", TEXT, flags=re.S | re.M)
    return re.findall(r"`(driftwatch [^`]+)`", prose.replace("\n", " "))


def resolve(words: list[str]) -> tuple[click.Command, list[str], list[str]]:
    """The command the words name, its path and the words after it; fails on an unknown name."""
    command: click.Command = main
    path = ["driftwatch"]
    rest = words[1:]
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        name = rest.pop(0).split("|")[0]
        assert name in command.commands, f"{' '.join(path)} has no command {name!r}"
        for alternative in words[len(path)].split("|")[1:]:  # `approve|reject`
            assert alternative in command.commands, f"no command {alternative!r}"
        command = command.commands[name]
        path.append(name)
    assert not isinstance(command, click.Group), f"{' '.join(path)} is a group, not a command"
    return command, path, rest


def test_the_doc_shows_commands() -> None:
    """The parsers below find what they should (an empty list would check nothing)."""
    assert len(command_lines()) >= 10
    assert len(inline_commands()) >= 10
    assert "driftwatch retrain list --state failed" in command_lines()


@pytest.mark.parametrize("line", command_lines())
def test_every_command_block_line_parses(line: str) -> None:
    """As click would parse it when typed: commands, options, choices and required ones."""
    command, path, rest = resolve(shlex.split(line, comments=True))
    with command.make_context(" ".join(path), rest) as ctx:
        assert ctx.command is command


@pytest.mark.parametrize("text", inline_commands())
def test_every_command_in_the_prose_exists_with_its_options(text: str) -> None:
    words = [w.strip("[]…,.") for w in text.split()]
    command, path, rest = resolve(words)
    known = {opt for param in command.params for opt in param.opts}
    for word in rest:
        if word.startswith("--"):
            assert word.split("=")[0] in known, f"{' '.join(path)} has no option {word}"


def test_the_example_payload_matches_the_schema() -> None:
    schema = json.loads((ROOT / "docs" / "schemas" / "retrain-payload.json").read_text())
    (example,) = blocks("json")
    jsonschema.Draft202012Validator(schema).validate(json.loads(example))


def test_the_links_and_config_keys_exist() -> None:
    for link in re.findall(r"\]\(([^)#]+)\)", TEXT):
        assert (DOC.parent / link).is_file(), link
    documented = (ROOT / "docs" / "config.md").read_text()
    for key in set(re.findall(r"`((?:retraining|alerting|audit)\.[a-z_.]+)`", TEXT)):
        assert f"`{key}`" in documented, f"{key} is not in docs/config.md"


def test_the_receiver_snippet_verifies_a_real_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """The documented handler, run on what a signed webhook target sends: taken once, a repeat
    is a duplicate (409, delivered for Driftwatch), a forgery or an old signature a 400."""
    (snippet,) = [b for b in blocks("python") if "standardwebhooks" in b]
    monkeypatch.setenv("DRIFTWATCH_WHSEC", WHSEC)
    started: list[dict[str, Any]] = []
    namespace: dict[str, Any] = {"start_retraining": started.append}
    exec(compile(snippet, str(DOC), "exec"), namespace)
    handle = namespace["handle"]
    settings = TargetSettings(name="hook", kind="webhook", url="https://hooks.example.com/x")
    target = ResolvedTarget(settings, signer=Webhook(WHSEC), secrets=(WHSEC,))
    event = "retrain:fraud-detector:1800004800"
    payload = {"event_id": event, "model": "fraud-detector"}
    request = build_request(target, event, payload, time.time())
    assert handle(request.body, request.headers) == 202
    assert started == [payload]
    assert handle(request.body, request.headers) == 409
    forged = request.body.replace(b"fraud-detector", b"fraud-detectos")
    assert handle(forged, request.headers) == 400
    old = build_request(target, event, payload, time.time() - 600)
    assert handle(old.body, old.headers) == 400
    assert len(started) == 1
