"""docs/operations.md is what on-call people follow at night: every alert Driftwatch can fire has
its runbook, every command, metric, configuration key and dead-letter reason it names exists,
and the messages it tells them to look for are the ones the code prints."""

from __future__ import annotations

import functools
import re
import shlex
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from monitor.metrics import Metrics, ModelMetrics, PendingJoins
from monitor.vocab.alerts import ALERTNAMES
from monitor.vocab.deadletter import InvalidReason
from tests.monitor.test_docs_retraining import resolve
from tests.support import ROOT

DOC = ROOT / "docs" / "operations.md"
TEXT = DOC.read_text()
#: The failures issue 19 asks a runbook for, by their headings.
FAILURES = (
    "Kafka down",
    "Redis down",
    "Redis full",
    "Receiver down",
    "Dead letters piling up",
    "Consumer lag growing",
)
#: Configuration sections whose keys the doc may name as ``section.key``.
SECTIONS = (
    "kafka|redis|fields|ingest|windows|models|runtime|dashboard|alerting|retraining|audit|"
    "simulate|drift|performance|quality"
)


def section(heading: str, level: int) -> str:
    """The text under ``heading`` (at ``level`` #) up to the next heading of that level or above."""
    match = re.search(rf"^{'#' * level} {re.escape(heading)}\n(.*?)(?=^#{{1,{level}}} |\Z)", TEXT,
                      re.S | re.M)  # fmt: skip
    assert match, f"no {'#' * level} {heading} in {DOC.name}"
    return match.group(1)


def subsections(text: str, level: int) -> dict[str, str]:
    """Heading → body of each ``level`` heading in ``text``."""
    parts = re.split(rf"^{'#' * level} (.+)\n", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_alert_has_a_runbook_and_every_runbook_an_alert() -> None:
    alerts = subsections(section("Alerts", 3), 4)
    assert {name.strip("`") for name in alerts} == set(ALERTNAMES.values())


@pytest.mark.parametrize("name", [f"`{n}`" for n in ALERTNAMES.values()] + list(FAILURES))
def test_each_runbook_says_what_it_means_how_to_confirm_what_to_do_and_when_it_clears(
    name: str,
) -> None:
    runbooks = subsections(section("Runbooks", 2), 4)
    assert name in runbooks, f"no runbook for {name}"
    body = runbooks[name]
    for part in ("**Means.**", "**Confirm", "**Do", "**Clears**"):
        assert part in body, f"the runbook for {name} lacks {part}"


def test_the_runbooks_refer_to_runbooks_that_exist() -> None:
    """*Kafka down*, *Redis down* …: the names a runbook sends the reader to are headings."""
    headings = set(re.findall(r"^#+ (.+)$", TEXT, re.M))
    referred = set(re.findall(r"(?<!\*)\*([A-Z][^*\n]+)\*(?!\*)", section("Runbooks", 2)))
    assert referred, "the pattern finds the references"
    assert referred <= headings, f"no such heading: {sorted(referred - headings)}"


def test_the_dead_letter_runbook_covers_every_reason() -> None:
    body = subsections(section("Runbooks", 2), 4)["Dead letters piling up"]
    missing = [r.value for r in InvalidReason if f"`{r.value}`" not in body]
    assert not missing, f"reasons without advice: {missing}"


def metric_names() -> set[str]:
    """Every metric the daemon serves, as scraped: counters with their ``_total``."""
    registry = CollectorRegistry()
    Metrics(registry)
    names = set()
    for family in registry.collect():
        names.add(family.name + ("_total" if family.type == "counter" else ""))
    for cls in (PendingJoins, ModelMetrics):
        names.update(g.name for g in vars(cls).values() if hasattr(g, "family"))
    return names


def test_the_doc_names_every_metric_and_only_metrics_that_exist() -> None:
    served = metric_names()
    named = set(re.findall(r"\bdriftwatch_[a-z_]+", TEXT))
    assert named - served == set(), "named in the doc but not served"
    assert served - named == set(), "served but not documented"


def test_the_alerts_gauge_counts_every_alert_name() -> None:
    assert f"M × {len(ALERTNAMES)} × 2 × 3" in TEXT


def doctor_checks() -> set[str]:
    """The names ``driftwatch doctor`` prints its findings under (``kafka.lag``,
    ``redis.memory``): they look like keys but are checks, found in monitor/doctor/'s source."""
    code = " ".join(p.read_text() for p in (ROOT / "monitor" / "doctor").glob("*.py"))
    pattern = r'(?:check = |\b(?:ok|warn|fail|from_error)\()"([a-z]+\.[a-z_]+)"'
    return set(re.findall(pattern, code))


def test_every_config_key_named_is_documented() -> None:
    """docs/config.md is checked against the dataclasses (tests/monitor/test_config.py)."""
    documented = (ROOT / "docs" / "config.md").read_text()
    named = set(re.findall(rf"`((?:{SECTIONS})\.[a-z_]+(?:\.[a-z_]+)*)[` ]", TEXT))
    assert len(named) >= 20  # the pattern finds them
    checks = doctor_checks()
    assert {"kafka.lag", "redis.memory"} <= checks  # the pattern finds them
    named -= checks
    named = {k for k in named if not k.endswith((".toml", ".yaml", ".conf"))}  # file names
    missing = sorted(k for k in named if f"`{k}`" not in documented)
    assert not missing, f"not in docs/config.md: {missing}"


def command_lines() -> list[str]:
    """Every ``driftwatch …`` line of the doc's shell blocks, continuations joined."""
    blocks = re.findall(r"^```sh\n(.*?)^```", TEXT, re.S | re.M)
    lines = [line.strip() for b in blocks for line in b.replace("\\\n", " ").splitlines()]
    return [line for line in lines if line.startswith("driftwatch ")]


def inline_commands() -> list[str]:
    prose = re.sub(r"^```.*?^```", "", TEXT, flags=re.S | re.M)
    return re.findall(r"`(driftwatch [^`]+)`", prose.replace("\n", " "))


def test_the_doc_shows_commands() -> None:
    assert len(command_lines()) >= 4
    assert len(inline_commands()) >= 15


@pytest.mark.parametrize("line", command_lines())
def test_every_command_block_line_parses(line: str) -> None:
    command, path, rest = resolve(shlex.split(line, comments=True))
    with command.make_context(" ".join(path), rest) as ctx:
        assert ctx.command is command


@pytest.mark.parametrize("text", inline_commands())
def test_every_command_in_the_prose_exists_with_its_options(text: str) -> None:
    command, path, rest = resolve(text.split())
    known = {opt for param in command.params for opt in param.opts}
    for word in rest:
        if word.startswith("--"):
            assert word in known, f"{' '.join(path)} has no option {word}"


#: What the runbooks tell people to look for in /readyz and the log, as the code words it.
MESSAGES = (
    "not yet assigned by the consumer group",
    "unavailable, consumption paused",
    "not answering for",
    "redis unreachable: ",
    "kafka unreachable: ",
    "recovered from",
    "window evaluation skipped",
    "Redis lost acknowledged writes",
    "Redis is at its maxmemory: raise it, or shorten ingest.label_horizon_seconds",
    "point redis.url at the primary",
    "no Kafka broker at",
    "gave up: ",
    "loop turned",
    "detector state of an older schema",
    "the reference holds no labelled pairs",
    "the reference holds no labelled scores: rebuild it with --label-column and --score-column",
)


@functools.cache
def source() -> str:
    """The package's Python source, implicitly joined string literals joined."""
    code = " ".join(p.read_text() for p in Path(ROOT / "monitor").rglob("*.py"))
    return re.sub(r'"\s*\n\s*f?"', "", code)


@pytest.mark.parametrize("message", MESSAGES)
def test_the_messages_quoted_are_the_codes(message: str) -> None:
    assert message in re.sub(r"\s+", " ", TEXT)
    assert message in source(), f"the code no longer says {message!r}"
