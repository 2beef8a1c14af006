"""Times typed by people: ``--start``/``--end`` values and durations (``monitor.times``)."""

from __future__ import annotations

import pytest

from monitor.times import parse_duration, parse_start

#: 2027-01-15T08:00:00Z, the instant the ISO cases below name.
START = 1_800_000_000.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", START),
        ("now-3d", START - 3 * 86400),
        ("now+90m", START + 5400),
        ("2027-01-15T08:00:00Z", START),
        ("2027-01-15T09:00:00+01:00", START),
        ("2027-01-15 08:00:00", START),
    ],
)
def test_parse_start(text: str, expected: float) -> None:
    assert parse_start(text, START) == expected


def test_parse_start_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_start("yesterday", START)


@pytest.mark.parametrize(
    ("text", "expected"), [("300", 300.0), ("90s", 90.0), (" 5m ", 300.0), ("1.5h", 5400.0)]
)
def test_parse_duration(text: str, expected: float) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5 m", "-1s", "2w"])
def test_parse_duration_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_the_simulator_exports_the_same_parser() -> None:
    """One parser: the simulator's public ``parse_start`` is this module's, not a copy."""
    from monitor import simulate

    assert simulate.parse_start is parse_start
